"""The sensitive mark (stackctl/secrets/sensitive.py): values from encrypted env files followed
through interpolation, merge and normalisation (load), `stackctl config`, the plan (text, --debug,
JSON, drift), the recorded history and rollback. age files (pyrage, in process) with keys made on
the fly; the engine is the in-memory fake (tests/unit/fake_engine.py)."""

from __future__ import annotations

import hashlib
import json
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackctl.secrets import decrypt as dec
from stackctl.secrets.sensitive import Sensitive, collecting, note, placeholder, placeholder_digest, taint
from tests.sops_helpers import make_key
from tests.unit.fake_engine import FakeEngine


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def _secret(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for var in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", dec.IDENTITY_ENV_VAR):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    recipient = make_key(tmp_path / "keys.txt")
    (tmp_path / "recipient").write_text(recipient)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(tmp_path / "keys.txt"))
    yield tmp_path


def _age(folder: Path, name: str, text: str) -> Path:
    """`folder/name`: `text` encrypted for the folder's key (in process, no plaintext file)."""
    import pyrage

    recipient = pyrage.x25519.Recipient.from_str((folder / "recipient").read_text())
    path = folder / name
    path.write_bytes(pyrage.encrypt(text.encode(), [recipient]))
    return path


# --- the mark itself ---------------------------------------------------------------------------


def test_placeholders_say_the_digest_and_the_file() -> None:
    shown = placeholder("hunter2hunter2", "app.sops.env")
    assert shown == f"sha256:{_digest('hunter2hunter2')} (sensitive: from app.sops.env)"
    assert placeholder_digest(shown) == _digest("hunter2hunter2")
    assert placeholder_digest(placeholder("x")) == _digest("x")
    assert placeholder_digest("sha256:abc") is None and placeholder_digest(3) is None


def test_values_are_found_whole_or_inside_other_strings_when_long_enough() -> None:
    mark = Sensitive()
    mark.add("longsecret", "a.age")
    mark.add("1", "a.age")
    assert mark.source_of("longsecret") == "a.age"
    assert mark.source_of("postgres://u:longsecret@db") == "a.age"
    assert mark.source_of("1") is None and mark.source_of("1", short=True) == "a.age"  # short: by entry
    assert mark.source_of("v1.2", short=True) is None
    assert mark.hide("bad value longsecret here") == f"bad value {placeholder('longsecret', 'a.age')} here"
    assert mark.hide("count 1, v1.2") == f"count {placeholder('1', 'a.age')}, v1.2"
    assert "longsecret" not in repr(mark)
    scrubbed = mark.scrub({"a": ["x", "longsecret"], "b": 1})
    assert scrubbed == {"a": ["x", placeholder("longsecret", "a.age")], "b": 1}


def test_collecting_notes_values_and_taints_strings_built_with_them() -> None:
    with collecting() as mark:
        note("s3cr3t-value", "/p/vars.age")
        taint("--password=s3cr3t-value")
        taint("nothing here")
    assert mark.values == {"s3cr3t-value": "vars.age", "--password=s3cr3t-value": "vars.age"}
    note("elsewhere", "/x")  # outside a collector: nothing
    assert "elsewhere" not in mark.values


# --- load ------------------------------------------------------------------------------------------


STACK = """\
    version: "3.8"
    services:
      app:
        image: busybox
        command: ["sh", "-c", "run --token ${TOKEN}"]
        env_file: [./app.env.age, ./plain.env]
        environment:
          DB_URL: postgres://app:${DB_PASSWORD}@db/app
          OVERRIDDEN: plain-value
          FROM_SHELL:
      other:
        image: busybox
        environment:
          LEVEL: info
    """


def _stack(folder: Path, password: str, api_key: str, token: str) -> str:
    _age(folder, "app.env.age", f"API_KEY={api_key}\nOVERRIDDEN=enc-{api_key}\nSHORT=1\n")
    _age(folder, "vars.env.age", f"DB_PASSWORD={password}\nTOKEN={token}\nFROM_SHELL={password}\n")
    (folder / "plain.env").write_text("MODE=prod\n")
    path = folder / "stack.yml"
    path.write_text(textwrap.dedent(STACK))
    return str(path)


def _load(folder: Path, files: list[str]) -> Any:
    from stackctl.pipeline import load_stack

    return load_stack(files, env_files=[str(folder / "vars.env.age")], environ={})


def test_load_marks_env_file_values_and_interpolated_strings(folder: Path) -> None:
    password, api_key, token = _secret("pw"), _secret("key"), _secret("tok")
    loaded = _load(folder, [_stack(folder, password, api_key, token)])
    env = loaded.config["services"]["app"]["environment"]
    # the config keeps plain data: the engine gets the values
    assert env["API_KEY"] == api_key and env["DB_URL"] == f"postgres://app:{password}@db/app"
    assert env["OVERRIDDEN"] == "plain-value" and env["MODE"] == "prod"
    marked = loaded.sensitive.env
    assert ("app", "API_KEY") in marked and ("app", "SHORT") in marked and ("app", "DB_URL") in marked
    assert marked[("app", "API_KEY")] == "app.env.age" and marked[("app", "DB_URL")] == "vars.env.age"
    assert ("app", "OVERRIDDEN") not in marked and ("app", "MODE") not in marked  # `environment:` wins
    assert ("other", "LEVEL") not in marked

    shown = loaded.sensitive.redact_config(loaded.config)
    text = json.dumps(shown)
    for value in (password, api_key, token):
        assert value not in text
    senv = shown["services"]["app"]["environment"]
    assert senv["API_KEY"] == placeholder(api_key, "app.env.age")
    assert senv["SHORT"] == placeholder("1", "app.env.age")
    assert senv["MODE"] == "prod" and senv["OVERRIDDEN"] == "plain-value"
    assert shown["services"]["app"]["command"][2].startswith("sha256:")  # tainted by ${TOKEN}
    assert shown["services"]["other"] == loaded.config["services"]["other"]


def test_the_mark_survives_a_merge_and_the_config_command(folder: Path) -> None:
    from stackctl.commands.config import dump_yaml

    password, api_key, token = _secret("pw"), _secret("key"), _secret("tok")
    base = _stack(folder, password, api_key, token)
    (folder / "override.yml").write_text("version: '3.8'\nservices:\n  app:\n    environment:\n"
                                         "      EXTRA: x-${DB_PASSWORD}\n")
    loaded = _load(folder, [base, str(folder / "override.yml")])
    assert loaded.config["services"]["app"]["environment"]["API_KEY"] == api_key
    assert ("app", "EXTRA") in loaded.sensitive.env
    text = dump_yaml(loaded.sensitive.redact_config(loaded.config))
    assert password not in text and api_key not in text and token not in text
    assert f"API_KEY: 'sha256:{_digest(api_key)} (sensitive: from app.env.age)'" in text, text


def test_load_errors_do_not_quote_sensitive_values(folder: Path) -> None:
    from stackctl.errors import StackctlError
    from stackctl.pipeline import load_stack

    password = _secret("pw")
    _age(folder, "vars.env.age", f"REPLICAS=x{password}\n")
    (folder / "stack.yml").write_text("version: '3.8'\nservices:\n  app:\n    image: b\n    deploy:\n"
                                      "      replicas: ${REPLICAS}\n")
    with pytest.raises(StackctlError) as err:
        load_stack([str(folder / "stack.yml")], env_files=[str(folder / "vars.env.age")], environ={})
    text = "\n".join(err.value.lines())
    assert "replicas" in text and password not in text and "sensitive" in text, text


# --- plan, history, rollback (fake engine) -------------------------------------------------------


def _deploy(loaded: Any, engine: FakeEngine, stack: str = "s") -> Any:
    from stackctl.deploy import DeployOptions, DeployRequest, deploy

    request = DeployRequest(stack, loaded.config, loaded.working_dir, environ=loaded.environ,
                            sources=tuple(loaded.docs), sensitive=loaded.sensitive)
    return deploy(request, DeployOptions(resolve_image="never", detach=True), engine=engine)


def _env_of(engine: FakeEngine, name: str) -> dict[str, str]:
    spec = next(s["Spec"] for s in engine.store["service"].values() if s["Spec"]["Name"] == name)
    return dict(item.split("=", 1) for item in spec["TaskTemplate"]["ContainerSpec"]["Env"])


def test_plan_history_and_rollback_show_digests_never_values(folder: Path) -> None:
    from stackctl.convert import convert_stack
    from stackctl.deploy import plan_for, rollback_request
    from stackctl.history import HistoryError, get_revision
    from stackctl.render.plan import plan_json, render_plan_text

    engine = FakeEngine()
    first, second, third = _secret("first"), _secret("second"), _secret("third")
    api_key, token = _secret("key"), _secret("tok")
    stack_file = _stack(folder, first, api_key, token)
    outcome = _deploy(_load(folder, [stack_file]), engine)
    assert outcome.exit_code == 0
    assert _env_of(engine, "s_app")["DB_URL"] == f"postgres://app:{first}@db/app"  # the engine has it

    # the values change: the plan shows digests, in text, --debug and JSON, old values too
    old_token, token = token, _secret("tok2")
    _stack(folder, second, api_key, token)
    loaded = _load(folder, [stack_file])
    desired = convert_stack(loaded.config, "s", environ=loaded.environ)
    plan = plan_for(engine, desired, "s", prune=False, sources=loaded.docs, sensitive=loaded.sensitive)
    shown = render_plan_text(plan) + render_plan_text(plan, debug=True) + json.dumps(plan_json(plan))
    for value in (first, second, api_key, token, old_token):
        assert value not in shown, shown
    assert "command: sha256:" in shown, shown
    old_url, new_url = f"postgres://app:{first}@db/app", f"postgres://app:{second}@db/app"
    assert (f"environment.DB_URL: sha256:{_digest(old_url)} (sensitive) → sha256:{_digest(new_url)} "
            "(sensitive: from vars.env.age)") in shown, shown
    assert "environment.FROM_SHELL" in shown
    # without the files' mark, the service's label (written by the first deploy) still hides them
    unmarked = render_plan_text(plan_for(engine, desired, "s", prune=False, sources=loaded.docs))
    assert first not in unmarked and second not in unmarked and "environment.DB_URL: sha256:" in unmarked

    assert _deploy(loaded, engine).exit_code == 0
    assert _env_of(engine, "s_app")["DB_URL"] == new_url
    for number in (1, 2):
        stored = json.dumps(get_revision(engine, "s", number).to_json())
        for value in (first, second, api_key, token):
            assert value not in stored
        assert f"sha256:{_digest(api_key)} (sensitive: from app.env.age)" in stored
    histories = [c["Spec"]["Data"] for c in engine.store["config"].values()]
    assert histories and all(first not in h and second not in h for h in histories)

    # rollback to 1: the values are on the swarm (its previous spec); the plan hides them too
    request = rollback_request(get_revision(engine, "s", 1), "s", engine=engine)
    assert request.config["services"]["app"]["environment"]["DB_URL"] == old_url
    rolled = _deploy_request(request, engine)
    assert rolled.exit_code == 0 and _env_of(engine, "s_app")["DB_URL"] == old_url
    rendered = render_plan_text(rolled.plan, debug=True) + json.dumps(plan_json(rolled.plan))
    assert first not in rendered and second not in rendered and "sha256:" in rendered
    assert first not in json.dumps(get_revision(engine, "s", 3).to_json())

    # a value neither the spec nor the previous spec holds: refused before any write, naming the key
    _stack(folder, third, api_key, token)
    assert _deploy(_load(folder, [stack_file]), engine).exit_code == 0
    writes = len([c for c in engine.calls if c[0] in ("create", "update", "remove")])
    with pytest.raises(HistoryError) as err:
        rollback_request(get_revision(engine, "s", 2), "s", engine=engine)
    text = "\n".join(err.value.lines())
    assert "services.app.environment.DB_URL is sensitive (from vars.env.age)" in text, text
    assert "deploy that revision from its files" in text and second not in text
    assert len([c for c in engine.calls if c[0] in ("create", "update", "remove")]) == writes


def _deploy_request(request: Any, engine: FakeEngine) -> Any:
    from stackctl.deploy import DeployOptions, deploy

    return deploy(request, DeployOptions(resolve_image="never", detach=True), engine=engine)


def test_drift_of_a_sensitive_entry_shows_digests(folder: Path) -> None:
    from stackctl.convert import convert_stack
    from stackctl.deploy import plan_for
    from stackctl.render.plan import plan_json, render_plan_text

    engine = FakeEngine()
    password, api_key, token = _secret("pw"), _secret("key"), _secret("tok")
    loaded = _load(folder, [_stack(folder, password, api_key, token)])
    assert _deploy(loaded, engine).exit_code == 0
    svc = next(s for s in engine.store["service"].values() if s["Spec"]["Name"] == "s_app")
    changed = f"changed-{api_key}"  # someone sets it on the swarm (docker service update --env-add)
    env = svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    svc["PreviousSpec"] = json.loads(json.dumps(svc["Spec"]))
    svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] = [
        f"API_KEY={changed}" if e.startswith("API_KEY=") else e for e in env]
    desired = convert_stack(loaded.config, "s", environ=loaded.environ)
    plan = plan_for(engine, desired, "s", prune=False, sources=loaded.docs, sensitive=loaded.sensitive)
    text = render_plan_text(plan, debug=True) + json.dumps(plan_json(plan))
    assert "drift" in text and changed not in text and api_key not in text, text
    assert f"sha256:{_digest(changed)} (sensitive) → sha256:{_digest(api_key)}" in text, text


def test_convert_and_engine_errors_do_not_quote_sensitive_values(folder: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from stackctl.deploy import convert
    from stackctl.errors import ConvertError, StackctlError
    from tests.unit.fake_engine import refusal

    password, api_key, token = _secret("pw"), _secret("key"), _secret("tok")
    loaded = _load(folder, [_stack(folder, password, api_key, token)])

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise ConvertError(f"bad value {api_key}")

    monkeypatch.setattr("stackctl.convert.convert_stack", refuse)
    with pytest.raises(ConvertError) as err:
        convert("s", loaded.config, loaded.environ, sensitive=loaded.sensitive)
    assert api_key not in str(err.value) and placeholder(api_key, "app.env.age") in str(err.value)
    monkeypatch.undo()

    engine = FakeEngine()  # an engine that quotes the spec back in its refusal
    engine.failures[("create", "service")] = refusal(400, f"invalid env DB_PASSWORD={password}")
    with pytest.raises(StackctlError) as failed:
        _deploy(loaded, engine)
    text = "\n".join(failed.value.lines())
    assert password not in text and "sha256:" in text, text


def test_entries_the_last_deploy_marked_stay_hidden_when_the_files_drop_the_mark(folder: Path) -> None:
    from stackctl.convert import convert_stack
    from stackctl.deploy import plan_for
    from stackctl.names import SENSITIVE_LABEL
    from stackctl.render.plan import plan_json, render_plan_text

    engine = FakeEngine()
    password, api_key, token = _secret("pw"), _secret("key"), _secret("tok")
    assert _deploy(_load(folder, [_stack(folder, password, api_key, token)]), engine).exit_code == 0
    svc = next(s for s in engine.store["service"].values() if s["Spec"]["Name"] == "s_app")
    assert set(svc["Spec"]["Labels"][SENSITIVE_LABEL].split(",")) == {
        "environment.API_KEY", "environment.DB_URL", "environment.FROM_SHELL", "environment.SHORT", "command"}
    # now: no encrypted env file at all, API_KEY written in the clear, the others gone
    (folder / "plain.yml").write_text("version: '3.8'\nservices:\n  app:\n    image: busybox\n"
                                      "    environment:\n      API_KEY: now-in-the-clear\n")
    from stackctl.pipeline import load_stack

    loaded = load_stack([str(folder / "plain.yml")], environ={})
    assert not loaded.sensitive
    desired = convert_stack(loaded.config, "s", environ=loaded.environ)
    plan = plan_for(engine, desired, "s", prune=False, sources=loaded.docs, sensitive=loaded.sensitive)
    text = render_plan_text(plan, debug=True) + json.dumps(plan_json(plan))
    for value in (password, api_key, token):
        assert value not in text, text
    assert f"environment.API_KEY: sha256:{_digest(api_key)} (sensitive) → sha256:" in text, text
    assert "environment.DB_URL: sha256:" in text and "command: sha256:" in text, text


def test_short_values_are_hidden_in_plans_only_as_whole_values_and_configs_are_not_changed() -> None:
    from stackctl.plan.compose_terms import ComposeChange
    from stackctl.plan.model import UPDATE, Action, Plan
    from stackctl.plan.sensitive import redact_plan

    mark = Sensitive()
    mark.add("1", "app.age")
    mark.env[("web", "DEBUG")] = "app.age"
    mark.env[("web", "EMPTY")] = "app.age"
    act = Action("service", "s_web", UPDATE, compose=[
        ComposeChange("deploy.replicas", "Mode.Replicated.Replicas", "1", "2"),
        ComposeChange("deploy.labels.tier", "Labels", "1", "x-1"),
        ComposeChange("environment.DEBUG", "TaskTemplate.ContainerSpec.Env", "0", "1",
                      parts=("environment", "DEBUG"))])
    plan = redact_plan(Plan("s", [act]), mark)
    shown = {c.compose_path: (c.old, c.new) for c in plan.actions[0].compose}
    assert shown["deploy.replicas"] == ("1", "2")  # a short value: only where the files put it
    assert shown["deploy.labels.tier"] == ("1", "x-1")
    assert shown["environment.DEBUG"] == (placeholder("0"), placeholder("1", "app.age"))
    assert plan.actions[0].sensitive_keys == ("environment.DEBUG", "environment.EMPTY")
    config = {"services": {"web": {"environment": {"DEBUG": "1", "EMPTY": ""}}}}
    only_keys = Sensitive(env={("web", "EMPTY"): "app.age"})
    assert only_keys.redact_config(config)["services"]["web"]["environment"]["EMPTY"].startswith("sha256:")
    assert config["services"]["web"]["environment"] == {"DEBUG": "1", "EMPTY": ""}  # untouched


def test_a_revision_recorded_without_a_deploy_keeps_digests_only(folder: Path) -> None:
    """The agent's "found applied" revision goes through deploy.record_request, as a deploy's own:
    the sensitive values are stored as their digests (it used to call record_revision with the
    config in clear)."""
    from stackctl.deploy import DeployRequest, record_request
    from stackctl.history import DEPLOYED, get_revision

    engine = FakeEngine()
    password, api_key, token = _secret("pw"), _secret("key"), _secret("tok")
    loaded = _load(folder, [_stack(folder, password, api_key, token)])
    request = DeployRequest("s", loaded.config, loaded.working_dir, sensitive=loaded.sensitive)
    number = record_request(engine, request, {}, keep=10, status=DEPLOYED,
                            description=f"update app (image reg/app:{api_key})")  # the description too
    stored = json.dumps(get_revision(engine, "s", number).to_json())
    for value in (password, api_key, token):
        assert value not in stored
    assert f"sha256:{_digest(api_key)} (sensitive: from app.env.age)" in stored
    assert all(password not in c["Spec"]["Data"] for c in engine.store["config"].values())


def test_every_event_of_a_deploy_passes_one_filter() -> None:
    """deploy() puts on_event behind one filter: an event's text, its lists of text and its
    Diagnostics show the digest; a short value only as a whole text (progress like `1/1` stays)."""
    from stackctl.deploy import Notice, Warnings, _hiding
    from stackctl.errors import Diagnostic

    mark = Sensitive()
    mark.add("longsecret", "a.age")
    mark.add("1", "a.age")
    seen: list[object] = []
    emit = _hiding(seen.append, mark)
    emit(Notice("warning: the engine said longsecret", "warning"))
    emit(Notice("1/1 running", "info"))
    emit(Warnings((Diagnostic("image reg/longsecret:1 not found"),)))
    emit("a plain string event")
    assert seen[0] == Notice(f"warning: the engine said {placeholder('longsecret', 'a.age')}", "warning")
    assert seen[1] == Notice("1/1 running", "info")
    assert isinstance(seen[2], Warnings) and "longsecret" not in repr(seen[2]) and "sha256:" in repr(seen[2])
    assert seen[3] == "a plain string event"
