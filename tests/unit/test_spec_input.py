"""Compose Specification input (files without `version:`): issue 14, input side (docs/ordering.md)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from stackctl.commands.config import dump_yaml
from stackctl.deploy import stack_for
from stackctl.errors import LoadError, UsageError, ValidationError
from stackctl.pipeline import load_stack
from stackctl.project import resolve_env_args
from tests.paths import REPO

DATA = REPO / "tests" / "unit" / "data" / "spec"
SPEC_FILE = DATA / "compose-config.yml"


def _write(tmp_path: Path, text: str, name: str = "stack.yml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _problems(path: str) -> list[tuple[int | None, str, str, str]]:
    with pytest.raises((LoadError, ValidationError)) as caught:
        load_stack([path], environ={})
    return [(d.line, d.path, d.severity, d.message) for d in caught.value.diagnostics]


# --- the file `docker compose config` prints ------------------------------------------------

def test_compose_config_output_validates_with_located_warnings_only() -> None:
    stack = load_stack([str(SPEC_FILE)], environ={})
    found = [(d.file, d.line, d.path, d.severity, d.message) for d in stack.warnings]
    name = str(SPEC_FILE)
    assert found == [
        (name, 31, "services.app.ports[0].app_protocol", "warning",
         '"app_protocol" is ignored by swarm stacks'),
        (name, 32, "services.app.pull_policy", "warning", '"pull_policy" is ignored by swarm stacks'),
    ]


def test_compose_config_output_renders() -> None:
    stack = load_stack([str(SPEC_FILE)], environ={}, validate=False)
    assert dump_yaml(stack.config) == (DATA / "compose-config.expected.yml").read_text()
    app = stack.config["services"]["app"]
    assert app["ports"] == [{"mode": "ingress", "target": 8080, "published": 28417, "protocol": "tcp"}]
    assert app["deploy"]["resources"]["limits"]["cpus"] == "0.25"
    assert app["depends_on"]["migrate"] == {"condition": "service_completed_successfully", "required": True,
                                            "restart": True}
    assert stack.config["name"] == "specdemo" and stack.config["version"] == "3.13"


def test_config_output_loads_again_to_the_same_model(tmp_path: Path) -> None:
    stack = load_stack([str(SPEC_FILE)], environ={}, validate=False)
    text = dump_yaml(stack.config).replace('version: "3.13"\n', "")
    again = load_stack([_write(tmp_path, text)], environ={}, validate=False)
    assert again.config == stack.config


def test_long_syntax_defaults_are_written_out(tmp_path: Path) -> None:
    path = _write(tmp_path, "services:\n  app:\n    image: busybox\n    depends_on:\n      db: {}\n"
                            "  db:\n    image: busybox\n")
    config = load_stack([path], environ={}).config
    expected = {"db": {"condition": "service_started", "required": True}}
    assert config["services"]["app"]["depends_on"] == expected


def test_list_syntax_output_is_unchanged(tmp_path: Path) -> None:
    path = _write(tmp_path, "services:\n  app:\n    image: busybox\n    depends_on: [db]\n"
                            "  db:\n    image: busybox\n")
    assert load_stack([path], environ={}).config["services"]["app"]["depends_on"] == ["db"]


def test_mixing_list_and_long_syntax_merges_per_dependency(tmp_path: Path) -> None:
    base = _write(tmp_path, "services:\n  app:\n    image: busybox\n    depends_on: [db]\n"
                            "  db:\n    image: busybox\n  cache:\n    image: busybox\n", "a.yml")
    over = _write(tmp_path, "name: later\nservices:\n  app:\n    depends_on:\n      cache:\n"
                            "        condition: service_started\n", "b.yml")
    config = load_stack([base, over], environ={}).config
    assert config["name"] == "later"
    assert set(config["services"]["app"]["depends_on"]) == {"db", "cache"}


def test_published_range_string_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "services:\n  app:\n    image: busybox\n    ports:\n"
                            "      - target: 80\n        published: \"8000-8001\"\n")
    assert _problems(path) == [(6, "services.app.ports[0].published", "error",
                                'published port "8000-8001" is not a port number')]


def test_host_ip_is_warned_about(tmp_path: Path) -> None:
    path = _write(tmp_path, "services:\n  app:\n    image: busybox\n    ports:\n"
                            "      - target: 80\n        published: \"80\"\n        host_ip: 127.0.0.1\n")
    warnings = load_stack([path], environ={}).warnings
    assert [(d.line, d.path) for d in warnings] == [(7, "services.app.ports[0].host_ip")]


def test_nested_keys_swarm_cannot_honour_are_warned_about(tmp_path: Path) -> None:
    path = _write(tmp_path, """\
services:
  app:
    image: busybox
    ports:
      - {target: 80, published: "80", host_ip: 0.0.0.0, name: web}
    networks:
      back: {interface_name: eth1}
    deploy:
      resources:
        reservations:
          devices: [{capabilities: [gpu]}]
networks:
  back:
    enable_ipv6: true
""")
    stack = load_stack([path], environ={})
    assert [(d.line, d.path) for d in stack.warnings] == [
        (5, "services.app.ports[0].name"),  # host_ip 0.0.0.0 asks for nothing: no warning
        (7, "services.app.networks.back.interface_name"),
        (11, "services.app.deploy.resources.reservations.devices"),
        (14, "networks.back.enable_ipv6"),
    ]
    assert stack.config["services"]["app"]["ports"] == [{"target": 80, "published": 80}]


def test_forbidden_keys_stay_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, "services:\n  app:\n    image: busybox\n    mem_limit: 1g\n")
    assert [p[1] for p in _problems(path)] == ["services.app.mem_limit"]


# --- versioned files keep the 3.x rules -----------------------------------------------------

def test_v3_file_refuses_long_syntax_with_a_hint(tmp_path: Path) -> None:
    path = _write(tmp_path, "version: '3.8'\nservices:\n  app:\n    image: busybox\n    depends_on:\n"
                            "      db: {condition: service_healthy}\n  db:\n    image: busybox\n")
    with pytest.raises(ValidationError) as caught:
        load_stack([path], environ={})
    [problem] = caught.value.diagnostics
    assert (problem.line, problem.message) == (5, "must be a list")
    assert "remove `version:`" in (problem.hint or "")


def test_v3_file_refuses_name_and_spec_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, "version: '3.13'\nname: x\nservices:\n  app:\n    image: busybox\n"
                            "    pull_policy: always\n")
    assert [(p[0], p[3]) for p in _problems(path)] == [(2, 'unknown key "name"'),
                                                      (6, 'unknown key "pull_policy"')]


# --- depends_on rules -----------------------------------------------------------------------

DEPENDS = """\
services:
  app:
    image: busybox
    depends_on:
      db:
        condition: service_healthy
      ghost:
        condition: service_started
      optional:
        required: false
      worker:
        condition: service_completed_successfully
      once:
        condition: service_completed_successfully
      job:
        condition: service_completed_successfully
  db:
    image: busybox
    depends_on: [app]
  worker:
    image: busybox
  once:
    image: busybox
    restart: on-failure
  job:
    image: busybox
    deploy:
      mode: replicated-job
"""


def test_depends_on_rules_are_located(tmp_path: Path) -> None:
    found = _problems(_write(tmp_path, DEPENDS))
    errors = [p for p in found if p[2] == "error"]
    assert errors == [
        (5, "services.app.depends_on.db", "error", 'service_healthy: "db" has no healthcheck'),
        (5, "services.app.depends_on.db", "error", "dependency cycle: app -> db -> app"),
        (7, "services.app.depends_on.ghost", "error", 'depends on undefined service "ghost"'),
        (11, "services.app.depends_on.worker", "error",
         'service_completed_successfully: "worker" never completes '
         "(swarm restarts its tasks when they exit)"),
    ]
    warnings = {p[1] for p in found if p[2] == "warning"}
    assert "services.app.depends_on.optional" in warnings
    assert "services.app.depends_on.once" in warnings  # completes, thanks to restart: on-failure
    assert "services.app.depends_on.job" not in warnings


def test_cycle_in_list_syntax_names_the_list_item(tmp_path: Path) -> None:
    path = _write(tmp_path, "version: '3.8'\nservices:\n  a:\n    image: busybox\n    depends_on:\n"
                            "      - b\n  b:\n    image: busybox\n    depends_on: [a]\n")
    errors = [p for p in _problems(path) if p[2] == "error"]
    assert errors == [(6, "services.a.depends_on[0]", "error", "dependency cycle: a -> b -> a")]


def test_healthy_dependency_with_healthcheck_passes(tmp_path: Path) -> None:
    path = _write(tmp_path, "services:\n  app:\n    image: busybox\n    depends_on:\n"
                            "      db: {condition: service_healthy}\n  db:\n    image: busybox\n"
                            "    healthcheck:\n      test: [CMD, 'true']\n")
    load_stack([path], environ={})


# --- name: as the default stack name --------------------------------------------------------

def test_name_is_the_default_stack_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: ${PREFIX}-shop\nservices:\n  app:\n    image: busybox\n")
    import os

    os.environ["PREFIX"] = "blue"
    try:
        stack, files, *_ = resolve_env_args(None, [path], [], None)
        stack = stack_for(stack, load_stack(files))
    finally:
        del os.environ["PREFIX"]
    assert stack == "blue-shop"


def test_stack_argument_wins_over_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: shop\nservices:\n  app:\n    image: busybox\n")
    assert stack_for(resolve_env_args(None, [path], [], "other")[0], load_stack([path])) == "other"


def test_no_name_and_no_argument_is_a_usage_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "version: '3.8'\nservices:\n  app:\n    image: busybox\n")
    with pytest.raises(UsageError):
        stack_for(None, load_stack([path]))


def test_name_from_stdin_is_read_with_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdin is read once, by the load; the name comes from that parse (no second read, no cache)."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"name: piped\nservices:\n  a:\n"
                                                                 b"    image: busybox\n")))
    stack, files, *_ = resolve_env_args(None, ["-"], [], None)
    loaded = load_stack(files, environ={})
    assert stack_for(stack, loaded) == "piped" and loaded.config["name"] == "piped"


def test_files_are_read_once_per_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stackctl.load import files as load_files

    path = _write(tmp_path, "name: shop\nservices:\n  app:\n    image: busybox\n")
    reads: list[str] = []
    real = load_files.read_source
    monkeypatch.setattr(load_files, "read_source", lambda name, stdin=None: reads.append(name) or real(name))
    monkeypatch.setattr("stackctl.pipeline.read_source", load_files.read_source)
    stack, files, *_ = resolve_env_args(None, [path], [], None)
    assert stack_for(stack, load_stack(files, environ={})) == "shop"
    assert reads == [path]


def test_invalid_name_is_located(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: My Shop\nservices:\n  app:\n    image: busybox\n")
    assert _problems(path) == [(1, "name", "error", 'invalid stack name "My Shop"')]


def test_env_file_long_syntax(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("A=1\n")
    path = _write(tmp_path, "services:\n  app:\n    image: busybox\n    env_file:\n"
                            "      - path: ./a.env\n        required: true\n"
                            "      - path: ./missing.env\n        required: false\n")
    app = load_stack([path], environ={}).config["services"]["app"]
    assert app["environment"] == {"A": "1"}
    assert app["env_file"] == ["./a.env"]


def test_inline_config_content_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "services:\n  app:\n    image: busybox\n    configs: [c]\n"
                            "configs:\n  c:\n    content: hello\n")
    expected = (7, "configs.c.content", "error", 'config "c": inline content is not supported')
    assert _problems(path) == [expected]
