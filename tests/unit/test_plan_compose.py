"""The plan in the stack file's words: compose keys, the file's units, FILE:LINE, kept objects.

Real stack files through the real loader (so lines and units are the file's), against an
observed swarm built by hand (tests/unit/test_plan.py's `observed_from`): no engine.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from stackctl.convert import convert_stack
from stackctl.pipeline import load_stack
from stackctl.plan import REMOVE, UPDATE, make_plan
from stackctl.render.plan import plan_json, render_plan_text
from tests.unit.test_plan import STACK, _golden, observed_from

OLD = """\
version: "3.8"
services:
  api:
    image: busybox:latest
    command: [sleep, "86400"]
    environment:
      LEVEL: info
    deploy:
      replicas: 0
      update_config:
        delay: 2s
  worker:
    image: busybox:latest
    deploy:
      replicas: 0
"""

NEW = """\
version: "3.8"
services:
  api:
    image: busybox:latest
    command: [sleep, "99999"]
    environment:
      LEVEL: debug
    deploy:
      replicas: 0
      update_config:
        delay: 5s
      resources:
        limits:
          memory: 64M
      placement:
        constraints:
          - node.role == manager
"""


def _load(tmp_path: Path, text: str, name: str = "stack.yml") -> Any:
    (tmp_path / name).write_text(text)
    return load_stack([name])


@pytest.fixture
def edited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """(observed: OLD deployed, loaded: NEW) with the file named `stack.yml` as the user gave it."""
    monkeypatch.chdir(tmp_path)
    old = _load(tmp_path, OLD)
    observed = observed_from(convert_stack(old.config, STACK))
    return observed, _load(tmp_path, NEW)


def _plan(edited: tuple[Any, Any], *, prune: bool) -> Any:
    observed, loaded = edited
    return make_plan(convert_stack(loaded.config, STACK), observed, prune=prune, sources=loaded.docs)


def _line(text: str, key: str) -> int:
    """1-based line of the first line of `text` that holds `key`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if key in line)


def test_changes_are_said_in_compose_keys_file_units_and_lines(edited: tuple[Any, Any]) -> None:
    plan = _plan(edited, prune=False)
    api = plan.action_for("service", "st_api")
    assert api is not None and api.action == UPDATE
    got = {(c.compose_path, c.old, c.new, c.file, c.line) for c in api.compose}
    assert got == {
        ("command", "[sleep, 86400]", "[sleep, 99999]", "stack.yml", _line(NEW, "command:")),
        ("environment.LEVEL", "info", "debug", "stack.yml", _line(NEW, "LEVEL:")),
        ("deploy.update_config.delay", "2s", "5s", "stack.yml", _line(NEW, "delay:")),
        ("deploy.resources.limits.memory", None, "64M", "stack.yml", _line(NEW, "memory:")),
        ("deploy.placement.constraints", None, "node.role == manager", "stack.yml",
         _line(NEW, "- node.role == manager")),
    }
    assert not any(c.drift for c in api.compose)


def test_a_dropped_service_is_kept_and_counted_without_prune(edited: tuple[Any, Any]) -> None:
    plan = _plan(edited, prune=False)
    assert plan.action_for("service", "st_worker") is None  # apply never sees it
    assert [(a.kind, a.name, a.action) for a in plan.kept] == [("service", "st_worker", "kept")]
    text = render_plan_text(plan)
    assert "  = service st_worker (id: svc1): not in the files; kept (use --prune to remove)" in text
    assert text.splitlines()[-1] == (
        "Plan: 0 to create, 1 to update, 0 to remove, 1 unchanged, 1 kept (not in the files).")
    _golden("compose-kept.txt", text)


def test_a_dropped_service_is_removed_with_prune(edited: tuple[Any, Any]) -> None:
    plan = _plan(edited, prune=True)
    worker = plan.action_for("service", "st_worker")
    assert worker is not None and worker.action == REMOVE and not plan.kept
    text = render_plan_text(plan)
    assert "  - service st_worker (id: svc1): not in the files; removed" in text
    _golden("compose-pruned.txt", text)


def test_only_kept_objects_is_not_no_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    observed = observed_from(convert_stack(_load(tmp_path, OLD).config, STACK))
    loaded = _load(tmp_path, OLD.split("  worker:")[0])
    plan = make_plan(convert_stack(loaded.config, STACK), observed, prune=False, sources=loaded.docs)
    assert not plan.has_changes
    text = render_plan_text(plan)
    assert "No changes. " not in text and "not in the files; kept" in text
    assert text.splitlines()[-1].endswith(", 2 unchanged, 1 kept (not in the files).")


def test_debug_adds_the_engine_path(edited: tuple[Any, Any]) -> None:
    text = render_plan_text(_plan(edited, prune=False), debug=True)
    assert "~ deploy.update_config.delay: 2s → 5s  (stack.yml:11)  [UpdateConfig.Delay]" in text
    assert "[UpdateConfig.Delay]" not in render_plan_text(_plan(edited, prune=False))


def test_json_carries_compose_and_engine_paths_and_kept(edited: tuple[Any, Any]) -> None:
    doc = json.loads(json.dumps(plan_json(_plan(edited, prune=False))))
    assert doc["schema"] == "stackctl.diff/v2"
    (api,) = [a for a in doc["actions"] if a["name"] == "st_api"]
    delay = next(c for c in api["changes"] if c["compose_path"] == "deploy.update_config.delay")
    assert delay == {"compose_path": "deploy.update_config.delay", "engine_path": "UpdateConfig.Delay",
                     "path": "UpdateConfig.Delay", "file": "stack.yml", "line": _line(NEW, "delay:"),
                     "old": "2s", "new": "5s", "element": False, "drift": False}
    memory = next(c for c in api["changes"] if c["compose_path"] == "deploy.resources.limits.memory")
    assert (memory["old"], memory["new"]) == (None, "64M")
    assert doc["kept"] == [{"kind": "service", "name": "st_worker", "id": "svc1"}]
    assert doc["summary"]["kept"] == 1


def test_a_field_no_file_sets_is_shown_by_engine_path_as_drift(edited: tuple[Any, Any]) -> None:
    observed, loaded = edited
    observed.services["st_api"].spec["TaskTemplate"]["ContainerSpec"]["Privileges"] = {
        "NoNewPrivileges": True}
    plan = make_plan(convert_stack(loaded.config, STACK), observed, prune=False, sources=loaded.docs)
    api = plan.action_for("service", "st_api")
    assert api is not None
    (field,) = [c for c in api.compose if c.compose_path is None]
    assert field.drift and field.engine_path.startswith("TaskTemplate.ContainerSpec.Privileges")
    assert "set on the swarm; no key in the files sets it" in render_plan_text(plan)


def test_env_entries_are_located_in_list_form_and_later_files(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    observed = observed_from(convert_stack(_load(tmp_path, OLD).config, STACK))
    (tmp_path / "base.yml").write_text(OLD)
    override = 'version: "3.8"\nservices:\n  api:\n    environment:\n      - A=1\n      - LEVEL=warn\n'
    (tmp_path / "prod.yml").write_text(override)
    loaded = load_stack(["base.yml", "prod.yml"])
    plan = make_plan(convert_stack(loaded.config, STACK), observed, prune=False, sources=loaded.docs)
    api = plan.action_for("service", "st_api")
    assert api is not None
    got = {(c.compose_path, c.old, c.new, c.file, c.line) for c in api.compose}
    assert ("environment.LEVEL", "info", "warn", "prod.yml", 6) in got
    assert ("environment.A", None, "1", "prod.yml", 5) in got


def test_drift_is_told_key_by_key_within_one_engine_field(edited: tuple[Any, Any]) -> None:
    """A variable added on the swarm is drift; the file's change of another variable is not."""
    observed, loaded = edited
    svc = observed.services["st_api"]
    svc.previous_spec = copy.deepcopy(svc.spec)  # what `docker service update --env-add` leaves
    svc.spec["TaskTemplate"]["ContainerSpec"]["Env"].append("EXTRA=1")
    plan = make_plan(convert_stack(loaded.config, STACK), observed, prune=False, sources=loaded.docs)
    api = plan.action_for("service", "st_api")
    assert api is not None and api.drift
    drift = {c.compose_path: c.drift for c in api.compose}
    assert drift["environment.EXTRA"] is True
    assert drift["environment.LEVEL"] is False and drift["deploy.update_config.delay"] is False
    text = render_plan_text(plan)
    assert ("~ environment.EXTRA: 1 → (none)  (stack.yml:6)  (drift: changed on the swarm, not in the file)"
            in text)


def test_a_changed_port_is_its_element_removed_and_added_at_its_line(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    old = OLD.replace("    environment:\n", '    ports: ["8080:80"]\n    environment:\n', 1)
    observed = observed_from(convert_stack(_load(tmp_path, old).config, STACK))
    new = old.replace('ports: ["8080:80"]', 'ports:\n      - "9090:80"')
    loaded = _load(tmp_path, new)
    plan = make_plan(convert_stack(loaded.config, STACK), observed, prune=False, sources=loaded.docs)
    api = plan.action_for("service", "st_api")
    assert api is not None
    assert [(c.compose_path, c.old, c.new, c.line) for c in api.compose] == [
        ("ports", "8080:80/tcp", None, _line(new, "ports:")),
        ("ports", None, "9090:80/tcp", _line(new, "9090"))]


def test_history_describes_the_deploy_by_compose_key(edited: tuple[Any, Any]) -> None:
    from types import SimpleNamespace

    from stackctl.history_text import describe_deploy

    plan = _plan(edited, prune=False)
    writes = [SimpleNamespace(kind="service", name="st_api", action="update")]
    assert describe_deploy(STACK, writes, plan) == (
        "update api (command, environment, deploy.update_config, +2)")
