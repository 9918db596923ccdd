"""The oracle for `convert`: deploy with `docker stack deploy`, inspect, compare with our specs.

For each corpus stack: `docker stack config` (the reference loader) gives the merged config,
`convert_stack` turns it into specs, the reference deploys the same files to the lab, and
every service's engine `Spec` must equal ours after `normalize_service_spec` on both sides.
An override file keeps the lab quiet: `replicas: 0` for replicated services and an
unsatisfiable constraint for global ones, so no task (and no image pull) ever starts.

By default every convertible corpus stack runs (issue 4: every file the lab can run);
`STACKCTL_ORACLE_QUICK=1` runs a handful, for a quick local loop.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackctl.convert import convert_stack
from stackctl.convert.normalize_spec import normalize_service_spec
from tests.paths import CORPUS

pytestmark = pytest.mark.integration

STACK_PREFIX = "cv"

NO_NODE = "node.labels.stackctl-cv-none == 1"
OWNER_LABEL = "stackctl.test.owner=cv"

DEFAULT_CASES = [
    "dockersamples__atsea-sample-shop-app__docker-stack.yml",
    "dockersamples__example-voting-app__docker-stack.yml",
    "BretFisher__dogvscat__stack-swarmprom.yml",
    "stefanprodan__swarmprom__docker-compose.yml",
    "docker__cli__e2e__stack__testdata__stack-with-named-resources.yml",
    "vegasbrianc__prometheus__docker-traefik-stack.yml",
    "swarmlibs__promstack__docker-stack.yml",
    "BretFisher__docker-mastery-for-nodejs__sample-swarm__stack-vote.yml",
]
# The reference itself fails to deploy these (undefined network/volume/config in the file).
NOT_DEPLOYABLE = {
    "docker__cli__cli__compose__loader__full-example.yml",
    "docker__cli@df6e38b__cli__compose__loader__full-example.yml",
    "neuroforgede__bookstack-docker-swarm__bookstack.yml",
}


def _manifest() -> dict[str, dict[str, str]]:
    rows = (CORPUS / "MANIFEST.tsv").read_text().splitlines()
    header = rows[0].split("\t")
    return {cols[0]: dict(zip(header, cols, strict=False)) for cols in (r.split("\t") for r in rows[1:] if r)}


def _all_cases() -> list[str]:
    out = []
    for name, row in sorted(_manifest().items()):
        ok = row["ref_config"] == "ok" or row["ref_config_with_support"] == "ok"
        if ok and name not in NOT_DEPLOYABLE:
            out.append(name)
    return out


FEATURES_FILE = Path(__file__).parent / "data" / "convert-features.yml"
# Variables a case needs beyond the MANIFEST's (the reference run left them empty, which makes
# names the engine rejects); "{stack}" is replaced by the test's stack name.
EXTRA_ENV = {
    "ITISFoundation__osparc-simcore__services__docker-compose.yml": {"SWARM_STACK_NAME": "{stack}"},
    FEATURES_FILE.name: {"CV_SUFFIX": "{stack}"},
}
CASES = [FEATURES_FILE.name] + (DEFAULT_CASES if os.environ.get("STACKCTL_ORACLE_QUICK") else _all_cases())


def _docker(env: dict[str, str], *args: str, check: bool = True, input: str | None = None) -> str:
    out = subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=120, input=input)
    if check and out.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout


def _case_env(lab_env: dict[str, str], case: str, stack: str) -> dict[str, str]:
    """Like the corpus reference run: a bare environment plus the MANIFEST variables."""
    env = {
        "PATH": lab_env.get("PATH", "/usr/bin:/bin"),
        "HOME": "/home/user",
        "DOCKER_HOST": lab_env["DOCKER_HOST"],
    }
    row = _manifest().get(case, {})
    if row.get("env", "-") != "-":
        for pair in row["env"].split(";"):
            key, _, value = pair.partition("=")
            env[key] = value
    for key, value in EXTRA_ENV.get(case, {}).items():
        env[key] = value.replace("{stack}", stack)
    return env


def _quiet_override(base_config: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """Per service: replicas 0, or for global modes a constraint no node satisfies."""
    services: dict[str, Any] = {}
    for key, svc in (base_config.get("services") or {}).items():
        mode = ((svc or {}).get("deploy") or {}).get("mode") or "replicated"
        if mode.startswith("global"):
            services[key] = {"deploy": {"placement": {"constraints": [NO_NODE]}}}
        else:
            services[key] = {"deploy": {"replicas": 0}}
    override: dict[str, Any] = {"services": services}
    if "version" in raw:
        override = {"version": str(raw["version"]), **override}
    return override


class _Externals:
    """External networks/secrets/configs the file expects; created if missing, removed after."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.created: list[tuple[str, str]] = []

    def ensure(self, kind: str, name: str) -> None:
        if _docker(self.env, kind, "inspect", name, check=False).strip() not in ("", "[]"):
            return
        if kind == "network":
            _docker(
                self.env, "network", "create", "-d", "overlay", "--attachable", "--label", OWNER_LABEL, name
            )
        else:
            _docker(self.env, kind, "create", "--label", OWNER_LABEL, name, "-", input="cv-dummy")
        self.created.append((kind, name))

    def cleanup(self) -> None:
        for kind, name in reversed(self.created):
            for _ in range(30):
                if (
                    subprocess.run(["docker", kind, "rm", name], env=self.env, capture_output=True).returncode
                    == 0
                ):
                    break
                time.sleep(1)


def _network_ids(env: dict[str, str]) -> dict[str, str]:
    out = _docker(env, "network", "ls", "--no-trunc", "--format", "{{.Name}}\t{{.ID}}")
    return dict(line.split("\t") for line in out.splitlines() if line)


def _diff(ours: Any, theirs: Any, path: str = "") -> list[str]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        lines = []
        for key in sorted(set(ours) | set(theirs)):
            sub = f"{path}.{key}" if path else key
            if key not in theirs:
                lines.append(f"{sub}: only ours = {json.dumps(ours[key])}")
            elif key not in ours:
                lines.append(f"{sub}: only engine = {json.dumps(theirs[key])}")
            else:
                lines += _diff(ours[key], theirs[key], sub)
        return lines
    if ours != theirs:
        return [f"{path}: ours {json.dumps(ours)} != engine {json.dumps(theirs)}"]
    return []


def _case_id(name: str) -> str:
    parts = name.split("__")
    return parts[1][:24] + ":" + parts[-1][:30] if len(parts) > 2 else name


@pytest.mark.parametrize("corpus_file", CASES, ids=_case_id)
def test_engine_spec_equals_converted_spec(
    corpus_file: str, stack_name: str, lab_env: dict[str, str], tmp_path: Path
) -> None:
    env = _case_env(lab_env, corpus_file, stack_name)
    stack_file = tmp_path / corpus_file
    source = FEATURES_FILE if corpus_file == FEATURES_FILE.name else CORPUS / "files" / corpus_file
    shutil.copy(source, stack_file)
    support = CORPUS / "support" / corpus_file
    if support.is_dir():
        shutil.copytree(support, tmp_path, dirs_exist_ok=True)
    raw = yaml.safe_load(stack_file.read_text()) or {}

    base = yaml.safe_load(_docker(env, "stack", "config", "-c", str(stack_file)))
    override_file = tmp_path / "cv-override.yml"
    override_file.write_text(yaml.safe_dump(_quiet_override(base, raw), sort_keys=False))
    files = ["-c", str(stack_file), "-c", str(override_file)]
    config = yaml.safe_load(_docker(env, "stack", "config", *files))

    for section in ("secrets", "configs"):
        for entry in (config.get(section) or {}).values():
            path = Path(str((entry or {}).get("file") or ""))
            if (entry or {}).get("file") and not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"cv dummy {path.name}\n")

    desired = convert_stack(config, stack_name, environ={})
    externals = _Externals(env)
    try:
        for name in desired.external_networks:
            externals.ensure("network", name)
        for name in desired.external_secrets:
            externals.ensure("secret", name)
        for name in desired.external_configs:
            externals.ensure("config", name)
        deadline = time.monotonic() + 60  # a published port the previous case's stack still holds
        while True:
            deploy = subprocess.run(
                ["docker", "stack", "deploy", "--detach=true", "--resolve-image", "never", *files,
                 stack_name],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if "is already in use by service" not in deploy.stderr or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert deploy.returncode == 0, f"docker stack deploy failed: {deploy.stderr.strip()}"

        network_ids = _network_ids(env)
        api_version = _docker(env, "version", "--format", "{{.Server.APIVersion}}").strip()
        problems: list[str] = []
        assert desired.services, "nothing to compare"
        for name, spec in sorted(desired.services.items()):
            engine = json.loads(_docker(env, "service", "inspect", "--format", "{{json .Spec}}", name))
            ours = normalize_service_spec(spec, network_ids, api_version=api_version)
            theirs = normalize_service_spec(engine, network_ids, api_version=api_version)
            problems += [f"{name}: {line}" for line in _diff(ours, theirs)]
        for name, body in sorted(desired.networks.items()):
            problems += [f"network {name}: {line}" for line in _network_problems(env, name, body)]
        for kind, objects in (("secret", desired.secrets), ("config", desired.configs)):
            for name, spec in sorted(objects.items()):
                engine = json.loads(_docker(env, kind, "inspect", "--format", "{{json .Spec}}", name))
                for key in ("Name", "Labels", "Data", "Templating", "Driver"):
                    if key == "Data" and kind == "secret":
                        continue  # the engine never returns secret data
                    if (spec.get(key) or None) != (engine.get(key) or None):
                        problems.append(
                            f"{kind} {name}: {key}: ours {spec.get(key)!r} != engine {engine.get(key)!r}"
                        )
        assert not problems, "engine and converted specs differ:\n" + "\n".join(problems)
    finally:
        subprocess.run(["docker", "stack", "rm", stack_name], env=env, capture_output=True, timeout=60)
        deadline = time.monotonic() + 60
        while (
            time.monotonic() < deadline
            and _docker(
                env,
                "service",
                "ls",
                "-q",
                "--filter",
                f"label=com.docker.stack.namespace={stack_name}",
                check=False,
            ).strip()
        ):
            time.sleep(1)
        externals.cleanup()


def _network_problems(env: dict[str, str], name: str, body: dict[str, Any]) -> list[str]:
    engine = json.loads(_docker(env, "network", "inspect", name))[0]
    problems = []
    if engine.get("Driver") != body["Driver"]:
        problems.append(f"Driver: ours {body['Driver']!r} != engine {engine.get('Driver')!r}")
    if (engine.get("Labels") or {}) != body.get("Labels", {}):
        problems.append(f"Labels: ours {body.get('Labels')!r} != engine {engine.get('Labels')!r}")
    engine_options = engine.get("Options") or {}
    for key, value in (body.get("Options") or {}).items():
        if engine_options.get(key) != value:
            problems.append(f"Options.{key}: ours {value!r} != engine {engine_options.get(key)!r}")
    for flag in ("Internal", "Attachable"):
        if bool(engine.get(flag)) != bool(body.get(flag)):
            problems.append(f"{flag}: ours {bool(body.get(flag))} != engine {bool(engine.get(flag))}")
    if "IPAM" in body:
        ours_ipam = body["IPAM"]
        theirs_ipam = engine.get("IPAM") or {}
        if ours_ipam.get("Driver") and ours_ipam["Driver"] != theirs_ipam.get("Driver"):
            problems.append(
                f"IPAM.Driver: ours {ours_ipam['Driver']!r} != engine {theirs_ipam.get('Driver')!r}"
            )
        ours_subnets = [c.get("Subnet") for c in ours_ipam.get("Config") or []]
        theirs_subnets = [c.get("Subnet") for c in theirs_ipam.get("Config") or []]
        if ours_subnets != theirs_subnets:
            problems.append(f"IPAM subnets: ours {ours_subnets} != engine {theirs_subnets}")
    return problems
