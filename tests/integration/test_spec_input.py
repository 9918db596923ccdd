"""A Compose Specification file in the shape `docker compose config` prints deploys on the lab, with
its `name:` as the stack name (issue 14, input side; docs/ordering.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STACK_PREFIX = "spec"
DATA = Path(__file__).resolve().parents[1] / "unit" / "data" / "spec" / "compose-config.yml"


def test_compose_config_output_deploys_under_its_name(tmp_path: Path, stack_name: str,
                                                      lab_env: dict[str, str], docker_client: Any,
                                                      run_stackctl: Any) -> None:
    path = tmp_path / "compose.yml"
    path.write_text(DATA.read_text().replace("specdemo", stack_name))
    res = run_stackctl("deploy", "-c", str(path), "--resolve-image", "never", "--timeout", "3m", env=lab_env)
    assert res.returncode == 0, res.stderr + res.stdout
    assert '"pull_policy" is ignored by swarm stacks' in res.stderr
    services = {s.name: s.attrs["Spec"] for s in docker_client.services.list(
        filters={"label": f"com.docker.stack.namespace={stack_name}"})}
    assert sorted(services) == [f"{stack_name}_app", f"{stack_name}_db", f"{stack_name}_migrate"]
    app = services[f"{stack_name}_app"]
    assert app["EndpointSpec"]["Ports"][0]["PublishedPort"] == 28417
    assert app["TaskTemplate"]["Resources"]["Limits"]["NanoCPUs"] == 250_000_000
    networks = [n["Target"] for n in app["TaskTemplate"]["Networks"]]
    assert docker_client.networks.get(networks[0]).name == f"{stack_name}_default"
    assert "ReplicatedJob" in services[f"{stack_name}_migrate"]["Mode"]
    again = run_stackctl("diff", "-c", str(path), env=lab_env)  # the name: again, and nothing to change
    assert again.returncode == 0, again.stderr + again.stdout
