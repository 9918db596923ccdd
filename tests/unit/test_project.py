"""stackctl.yml: finding, validating and resolving environments (no engine)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stackctl.commands.env_diff import change_json, compare
from stackctl.errors import EXIT_ERROR, LoadError, UsageError, ValidationError
from stackctl.project import (
    EngineChoice,
    EnvironmentTarget,
    find_project,
    load_project,
    resolve_env_args,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "atsea-envs"

STACK = 'version: "3.8"\nservices:\n  web:\n    image: "busybox:${TAG:-latest}"\n    deploy:\n' \
        '      replicas: ${REPLICAS:-1}\n'


def write_project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "base.yml").write_text(STACK)
    (tmp_path / "prod.yml").write_text('version: "3.8"\nservices:\n  web:\n    deploy:\n      replicas: 3\n')
    (tmp_path / "dev.env").write_text("TAG=from-env-file\nREPLICAS=2\n")
    path = tmp_path / "stackctl.yml"
    path.write_text(text)
    return path


GOOD = """\
version: "1"
stack: shop
files: [base.yml]
variables:
  COMMON: yes
environments:
  dev:
    stack: shop-dev
    env_files: [dev.env]
    variables:
      TAG: dev
    context: lab
  prod:
    files: [prod.yml]
    host: tcp://prod:2376
"""


def test_resolve_environment(tmp_path: Path) -> None:
    project = load_project(str(write_project(tmp_path, GOOD)))
    dev = project.target("dev")
    assert dev == EnvironmentTarget(
        name="dev", stack="shop-dev", files=[str(tmp_path / "base.yml")],
        env_files=[str(tmp_path / "dev.env")], variables={"COMMON": "yes", "TAG": "dev"}, context="lab")
    prod = project.target("prod")
    assert prod.stack == "shop"
    assert prod.files == [str(tmp_path / "base.yml"), str(tmp_path / "prod.yml")]
    assert prod.host == "tcp://prod:2376" and prod.context is None


def test_variables_beat_env_files_and_shell_beats_variables(tmp_path: Path, monkeypatch) -> None:
    from stackctl.pipeline import load_stack

    monkeypatch.delenv("TAG", raising=False)
    monkeypatch.delenv("REPLICAS", raising=False)
    monkeypatch.setenv("STACKCTL_PROJECT", str(write_project(tmp_path, GOOD)))
    stack, files, env_files, environ, choice = resolve_env_args("dev", [], [])
    assert (stack, choice) == ("shop-dev", EngineChoice(context="lab"))
    config = load_stack(files, env_files=env_files, environ=environ).config
    assert config["services"]["web"]["image"] == "busybox:dev"  # variables > env file
    assert config["services"]["web"]["deploy"]["replicas"] == 2  # env file still used
    monkeypatch.setenv("TAG", "shell")
    _, files, env_files, environ, _ = resolve_env_args("dev", [], [])
    assert load_stack(files, env_files=env_files, environ=environ).config["services"]["web"]["image"] == \
        "busybox:shell"


def test_command_line_wins(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STACKCTL_PROJECT", str(write_project(tmp_path, GOOD)))
    extra = str(tmp_path / "prod.yml")
    stack, files, _, _, choice = resolve_env_args("dev", [extra], ["x.env"], "mine", context="other")
    assert stack == "mine" and choice == EngineChoice(context="other")
    assert files == [str(tmp_path / "base.yml"), extra]


def test_host_is_chosen_not_exported(tmp_path: Path, monkeypatch) -> None:
    """The environment's host wins over the shell's DOCKER_HOST/DOCKER_CONTEXT, without changing them."""
    monkeypatch.setenv("STACKCTL_PROJECT", str(write_project(tmp_path, GOOD)))
    monkeypatch.setenv("DOCKER_HOST", "unix:///elsewhere.sock")
    monkeypatch.setenv("DOCKER_CONTEXT", "elsewhere")
    _, _, _, _, choice = resolve_env_args("prod", [], [])
    assert choice == EngineChoice(host="tcp://prod:2376")
    assert os.environ["DOCKER_HOST"] == "unix:///elsewhere.sock"
    assert os.environ["DOCKER_CONTEXT"] == "elsewhere"


def test_without_env_passes_through() -> None:
    assert resolve_env_args(None, ["a.yml"], [], "s") == ("s", ["a.yml"], [], None, EngineChoice())
    with pytest.raises(LoadError, match="--env"):  # no stack file here: exit 1, as a missing -c file
        resolve_env_args(None, [], [], "s")


def test_unknown_environment_suggests(tmp_path: Path) -> None:
    project = load_project(str(write_project(tmp_path, GOOD)))
    with pytest.raises(UsageError, match="did you mean 'prod'"):
        project.target("prd")


def test_missing_file_is_located(tmp_path: Path) -> None:
    path = write_project(tmp_path, GOOD.replace("files: [prod.yml]", "files: [prod.yml, nope.yml]"))
    with pytest.raises(ValidationError) as caught:
        load_project(str(path)).target("prod")
    (diag,) = caught.value.diagnostics
    assert diag.line == 14 and diag.path == "environments.prod.files[1]" and "nope.yml" in diag.message


@pytest.mark.parametrize(
    ("text", "line", "path", "words"),
    [
        (GOOD.replace("    context: lab\n", "    contxt: lab\n"), 12, "environments.dev.contxt",
         "unknown key 'contxt'"),
        (GOOD.replace("stack: shop\n", "stack: 'bad name'\n"), 2, "stack", "invalid stack name"),
        (GOOD.replace("    host: tcp://prod:2376\n", "    host: tcp://prod:2376\n    context: x\n"), 13,
         "environments.prod", "context and host are exclusive"),
        (GOOD.replace("files: [base.yml]", "files: base.yml"), 3, "files", "must be list"),
        ("stack: x\n", 1, "", "missing key 'environments'"),
        (GOOD.replace("  COMMON: yes", "  COMMON: [1]"), 5, "variables.COMMON", "must be string"),
    ],
)
def test_schema_diagnostics(tmp_path: Path, text: str, line: int, path: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        load_project(str(write_project(tmp_path, text)))
    diag = caught.value.diagnostics[0]
    assert words in diag.message and diag.path == path and diag.line == line
    assert diag.format().startswith(f"{tmp_path / 'stackctl.yml'}:{line}: ")


def test_find_project(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("STACKCTL_PROJECT", raising=False)
    with pytest.raises(UsageError, match="--project"):
        find_project(cwd=str(tmp_path))
    path = write_project(tmp_path, GOOD)
    assert find_project(cwd=str(tmp_path)) == str(path)
    assert find_project(str(tmp_path)) == str(path)
    monkeypatch.chdir(tmp_path)
    assert find_project() == "stackctl.yml"


def test_compare_paths() -> None:
    a = {"services": {"web": {"deploy": {"replicas": 1}, "ports": [1]}, "old": {}}}
    b = {"services": {"web": {"deploy": {"replicas": 2}, "ports": [1, 2]}, "new": {"image": "x"}}}
    assert [c.text() for c in compare(a, b)] == [  # config_diff's words and order, as `history N M`
        "~ services.web.deploy.replicas: 1 → 2",
        "+ services.web.ports[1]: 2",
        '+ services.new: {"image": "x"}',
        "- services.old: {}",
    ]
    assert [change_json(c) for c in compare(a, b)] == [  # stackctl.env-diff/v1 (docs/json-output.md)
        {"op": "changed", "path": "services.web.deploy.replicas", "from": 1, "to": 2},
        {"op": "added", "path": "services.web.ports[1]", "to": 2},
        {"op": "added", "path": "services.new", "to": {"image": "x"}},
        {"op": "removed", "path": "services.old", "from": {}},
    ]


# --- the worked example ------------------------------------------------------------------------------


def _stackctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("HTTP_PORT", "HTTPS_PORT", "VISUALIZER_PORT")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "stackctl", *args], capture_output=True, text=True,
                          env=full, cwd=ROOT)


def test_example_prod_is_the_book() -> None:
    prod = _stackctl("config", "--env", "prod", "--project", str(EXAMPLE))
    book = _stackctl("config", "-c", "examples/atsea/docker-stack.yml")
    assert prod.returncode == 0, prod.stderr
    assert prod.stdout == book.stdout


def test_example_dev_against_prod() -> None:
    project = str(EXAMPLE / "stackctl.yml")
    result = _stackctl("diff", "--env", "dev", "--against", "prod", "--project", project)
    assert result.returncode == 2, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["--- dev (stack atsea-dev)", "+++ prod (stack atsea)"]
    assert "~ services.appserver.deploy.replicas: 1 → 2" in lines
    assert "+ services.payment_gateway.deploy.placement.constraints[1]: node.labels.pcidss == yes" in lines
    assert "~ services.reverse_proxy.ports[0].published: 18080 → 80" in lines
    same = _stackctl("diff", "--env", "prod", "--against", "prod", "--project", str(EXAMPLE))
    assert same.returncode == 0 and "the same" in same.stdout


def test_env_without_compose_file_option() -> None:
    # dev's database password is SOPS-encrypted for the example's DEMO key (docs/secrets.md)
    result = _stackctl("validate", "--env", "dev", "--project", str(EXAMPLE),
                       "--age-identity", str(EXAMPLE / "DEMO-age-key.txt"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: 5 services")
    no_key = _stackctl("validate", "--env", "dev", "--project", str(EXAMPLE), env={"HOME": "/nonexistent"})
    assert no_key.returncode == 1 and "dev-postgres-password.sops: no key" in no_key.stderr, no_key.stderr
    missing = _stackctl("validate")
    assert missing.returncode == EXIT_ERROR and "--env" in missing.stderr


@pytest.mark.parametrize("present", [
    ["docker-stack.yml"],
    ["docker-compose.yml", "docker-stack.yml"],
    ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml", "docker-stack.yml"],
    ["compose.yml"],
])
def test_default_stack_file_when_no_c_is_given(tmp_path: Path, present: list[str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from stackctl.project import DEFAULT_STACK_FILES, default_stack_file

    for name in present:
        (tmp_path / name).write_text("services:\n  web:\n    image: busybox\n")
    chosen = default_stack_file(tmp_path)
    expected = min(present, key=DEFAULT_STACK_FILES.index)
    assert Path(chosen).name == expected
    assert f"Using stack file {expected}" in capsys.readouterr().err  # said on stderr, stdout stays clean


def test_default_stack_file_is_used_by_the_commands(tmp_path: Path) -> None:
    (tmp_path / "docker-stack.yml").write_text("services:\n  web:\n    image: busybox\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run([sys.executable, "-m", "stackctl", "validate"], capture_output=True, text=True,
                        env=env, cwd=tmp_path)
    assert ok.returncode == 0 and ok.stdout.startswith("OK: 1 service"), ok.stderr
    assert "Using stack file docker-stack.yml (no -c given)" in ok.stderr
    (tmp_path / "docker-stack.yml").unlink()
    none = subprocess.run([sys.executable, "-m", "stackctl", "validate"], capture_output=True, text=True,
                          env=env, cwd=tmp_path)
    assert none.returncode == EXIT_ERROR and "compose.yaml" in none.stderr and "--env" in none.stderr
