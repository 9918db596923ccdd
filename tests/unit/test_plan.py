"""make_plan and its renderers on hand-made observed state (no engine)."""

from __future__ import annotations

import base64
import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from stackctl.convert import convert_stack
from stackctl.errors import PlanError
from stackctl.images import normalize_image as familiar_image
from stackctl.images import strip_digest as unpinned_image
from stackctl.names import CONTENT_DIGEST_LABEL, OBJECT_LABEL, SPEC_DIGEST_LABEL
from stackctl.observe import ObservedNode, ObservedObject, ObservedService, ObservedStack
from stackctl.plan import (
    CREATE,
    REMOVE,
    UNCHANGED,
    UPDATE,
    content_digest,
    make_plan,
    normalize_service,
    spec_digest,
    version_name,
)
from stackctl.render.plan import plan_json, render_plan_text

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "plan"
STACK = "st"


def _config(replicas: int = 2, env: str = "1", constraint: str = "node.role == worker",
            secret_file: str = "") -> dict[str, Any]:
    return {
        "version": "3.8",
        "services": {
            "web": {
                "image": "busybox",
                "environment": {"A": env},
                "deploy": {"replicas": replicas, "placement": {"constraints": [constraint]}},
                "secrets": ["pw"],
                "ports": [{"target": 80, "published": 8080, "protocol": "tcp", "mode": "ingress"}],
            },
            "api": {"image": "busybox:latest", "deploy": {"replicas": 0}, "networks": ["back"]},
        },
        "networks": {"back": {"driver_opts": {"encrypted": ""}}},
        "secrets": {"pw": {"file": secret_file or "/pw"}},
    }


def _desired(secret: bytes = b"s3cret", **kw: Any) -> Any:
    return convert_stack(_config(**kw), STACK, read_file=lambda path: secret)


NET_IDS = {"st_default": "n0default", "st_back": "n1back", "ingress": "n2ingress"}


def _nodes() -> list[ObservedNode]:
    return [
        ObservedNode("id-m", "mgr-1", "manager", "active", "ready", "linux", "x86_64"),
        ObservedNode("id-w1", "wrk-1", "worker", "active", "ready", "linux", "x86_64", {"pcidss": "yes"}),
        ObservedNode("id-w2", "wrk-2", "worker", "active", "ready", "linux", "x86_64"),
    ]


def engine_view(spec: dict[str, Any], secret_ids: dict[str, str], *, label: bool = True) -> dict[str, Any]:
    """What a 20.10 engine returns for a spec we sent: IDs, defaults and enum zero values filled."""
    s = copy.deepcopy(spec)
    if label:
        s["Labels"][SPEC_DIGEST_LABEL] = spec_digest(normalize_service(spec, _names_only()))
    tt = s["TaskTemplate"]
    tt["ForceUpdate"] = 0
    tt["Runtime"] = "container"
    tt.setdefault("RestartPolicy", {}).setdefault("Condition", "any")
    tt["RestartPolicy"].setdefault("MaxAttempts", 0)
    tt["Placement"].setdefault("Platforms", [{"Architecture": "amd64", "OS": "linux"}])
    for net in tt.get("Networks") or []:
        net["Target"] = NET_IDS[net["Target"]]
    cs = tt["ContainerSpec"]
    cs["Isolation"] = "default"
    cs["Image"] = cs["Image"] + "@sha256:" + "ab" * 32
    for ref in cs.get("Secrets") or []:
        ref["SecretID"] = secret_ids[ref["SecretName"]]
    s["EndpointSpec"].setdefault("Mode", "vip")
    return s


def _names() -> dict[str, str]:
    return {v: k for k, v in NET_IDS.items()}


def _names_only() -> ObservedStack:
    """An observed swarm that only knows the network IDs (what normalising needs)."""
    return ObservedStack(stack=STACK, network_names=_names())


def observed_from(desired: Any, *, secret_digest_label: bool = True) -> ObservedStack:
    """An ObservedStack holding exactly what deploying `desired` would have made."""
    obs = ObservedStack(stack=STACK, nodes=_nodes())
    obs.network_names = _names()
    for name, body in desired.networks.items():
        net = ObservedObject(NET_IDS[name], name, None, {
            "Name": name, "Id": NET_IDS[name], "Scope": "swarm", "Driver": body.get("Driver"),
            "Options": {**(body.get("Options") or {}),
                        "com.docker.network.driver.overlay.vxlanid_list": "4097"},
            "Labels": body["Labels"], "Internal": False, "Attachable": False,
            "IPAM": {"Driver": "default", "Options": None,
                     "Config": [{"Subnet": "10.0.1.0/24", "Gateway": "10.0.1.1"}]},
        }, labels=body["Labels"])
        obs.networks[name] = net
        obs.all_networks[name] = net
    obs.all_networks["ingress"] = ObservedObject("n2ingress", "ingress", None,
                                                 {"Name": "ingress", "Scope": "swarm"}, {})
    secret_ids = {}
    for i, (name, spec) in enumerate(desired.secrets.items()):
        labels = dict(spec["Labels"])
        if secret_digest_label:
            labels[CONTENT_DIGEST_LABEL] = content_digest(spec)
        obj = ObservedObject(f"sec{i}", name, 11, {"Name": name, "Labels": labels}, labels)
        obs.secrets[name] = obj
        obs.all_secrets[name] = obj
        secret_ids[name] = obj.id
    for i, (name, spec) in enumerate(desired.services.items()):
        obs.services[name] = ObservedService(f"svc{i}", name, 100 + i, engine_view(spec, secret_ids))
    return obs


# --- normalisation and images -----------------------------------------------------------------


@pytest.mark.parametrize("ref,want", [
    ("busybox", "busybox:latest"),
    ("busybox:1.36", "busybox:1.36"),
    ("docker.io/library/nginx", "nginx:latest"),
    ("docker.io/dockersamples/atsea_app", "dockersamples/atsea_app:latest"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("app@sha256:" + "a" * 64, "app@sha256:" + "a" * 64),
])
def test_familiar_image(ref: str, want: str) -> None:
    assert familiar_image(ref) == want


def test_unpinned_image_keeps_a_digest_the_user_wrote() -> None:
    assert unpinned_image("app:1@sha256:" + "a" * 64) == "app:1"
    assert unpinned_image("app@sha256:" + "a" * 64) == "app@sha256:" + "a" * 64


def test_engine_defaults_normalise_away() -> None:
    desired = _desired()
    observed = observed_from(desired)
    for name, spec in desired.services.items():
        assert normalize_service(spec, observed) == normalize_service(observed.services[name].spec, observed)


# --- plans ------------------------------------------------------------------------------------


def test_unchanged_stack_has_no_changes() -> None:
    desired = _desired()
    plan = make_plan(desired, observed_from(desired), prune=False)
    assert not plan.has_changes
    assert {a.action for a in plan.actions} == {UNCHANGED}
    assert [a.kind for a in plan.actions] == ["network", "network", "secret", "service", "service"]


def test_fresh_stack_creates_everything_in_order() -> None:
    desired = _desired()
    plan = make_plan(desired, ObservedStack(stack=STACK, nodes=_nodes()), prune=False)
    assert [(a.kind, a.name, a.action) for a in plan.actions] == [
        ("network", "st_back", CREATE),
        ("network", "st_default", CREATE),
        ("secret", "st_pw", CREATE),
        ("service", "st_api", CREATE),
        ("service", "st_web", CREATE),
    ]
    assert plan.counts() == {CREATE: 5, UPDATE: 0, REMOVE: 0, UNCHANGED: 0, "kept": 0}


def test_edit_names_exactly_the_changed_fields() -> None:
    observed = observed_from(_desired())
    desired = _desired(replicas=3, env="2", constraint="node.labels.pcidss == yes")
    plan = make_plan(desired, observed, prune=False)
    web = plan.action_for("service", "st_web")
    assert web is not None and web.action == UPDATE
    assert {c.path for c in web.changes} == {
        "Mode.Replicated.Replicas",
        "TaskTemplate.ContainerSpec.Env",
        "TaskTemplate.Placement.Constraints",
    }
    replicas = next(c for c in web.changes if c.path == "Mode.Replicated.Replicas")
    assert (replicas.old, replicas.new, replicas.drift) == (2, 3, False)
    assert plan.action_for("service", "st_api").action == UNCHANGED  # type: ignore[union-attr]
    assert plan.counts()[UPDATE] == 1


def test_scale_outside_the_file_is_drift() -> None:
    desired = _desired()
    observed = observed_from(desired)
    svc = observed.services["st_web"]
    svc.previous_spec = copy.deepcopy(svc.spec)  # what `docker service scale` leaves behind
    svc.spec["Mode"]["Replicated"]["Replicas"] = 5
    plan = make_plan(desired, observed, prune=False)
    web = plan.action_for("service", "st_web")
    assert web is not None and web.action == UPDATE and web.drift
    assert [(c.path, c.old, c.new, c.drift) for c in web.changes] == [
        ("Mode.Replicated.Replicas", 5, 2, True)]


def test_drift_and_file_change_are_told_apart() -> None:
    observed = observed_from(_desired())
    svc = observed.services["st_web"]
    svc.previous_spec = copy.deepcopy(svc.spec)
    svc.spec["Mode"]["Replicated"]["Replicas"] = 5
    plan = make_plan(_desired(env="2"), observed, prune=False)
    web = plan.action_for("service", "st_web")
    assert web is not None
    assert {c.path: c.drift for c in web.changes} == {
        "Mode.Replicated.Replicas": True,
        "TaskTemplate.ContainerSpec.Env": False,
    }


def test_reference_deployed_service_without_digest_label_is_unchanged() -> None:
    desired = _desired()
    observed = observed_from(desired)
    for svc in observed.services.values():
        svc.spec["Labels"].pop(SPEC_DIGEST_LABEL)
    assert not make_plan(desired, observed, prune=False).has_changes


def test_changed_secret_content_is_a_new_version_shown_by_digest_only() -> None:
    observed = observed_from(_desired(secret=b"old-value"))
    plan = make_plan(_desired(secret=b"new-value"), observed, prune=False)
    new_name = version_name("st_pw", content_digest({"Data": base64.b64encode(b"new-value").decode()}))
    assert new_name.startswith("st_pw-") and len(new_name) == len("st_pw-") + 8
    secret = plan.action_for("secret", new_name)
    assert secret is not None and secret.action == CREATE
    assert secret.desired is not None and secret.desired["Name"] == new_name
    assert secret.desired["Labels"][OBJECT_LABEL] == "st_pw"
    assert [c.path for c in secret.changes] == ["Data"]
    assert secret.changes[0].old.startswith("sha256:") and len(secret.changes[0].old) == 19
    assert plan.action_for("secret", "st_pw") is None  # the old version is left for rollback
    web = plan.action_for("service", "st_web")
    assert web is not None and web.action == UPDATE
    assert [(c.path, c.old, c.new) for c in web.changes] == [
        ("TaskTemplate.ContainerSpec.Secrets[0].SecretName", "st_pw", new_name)]
    ref = web.desired["TaskTemplate"]["ContainerSpec"]["Secrets"][0]
    assert ref["File"]["Name"] == "pw"  # same path inside the container
    api = plan.action_for("service", "st_api")
    assert api is not None and api.action == UNCHANGED
    assert plan.versions["secrets"] == {"st_pw": new_name}
    dumped = json.dumps(plan_json(plan)) + render_plan_text(plan)
    assert f"+ secret {new_name} (sha256:" in dumped and "~ Data: " in dumped
    for value in (b"old-value", b"new-value"):
        assert value.decode() not in dumped
        assert base64.b64encode(value).decode() not in dumped


def _rotated(observed: ObservedStack, secret: bytes, name: str, created: str) -> None:
    """Add a kept version of st_pw holding `secret` to the observed state."""
    data = base64.b64encode(secret).decode()
    labels = {"com.docker.stack.namespace": STACK, OBJECT_LABEL: "st_pw",
              CONTENT_DIGEST_LABEL: content_digest({"Data": data})}
    obj = ObservedObject("id-" + name, name, 3, {"Name": name, "Labels": labels}, labels, created=created)
    observed.secrets[name] = obj
    observed.all_secrets[name] = obj


def test_content_back_to_a_kept_version_reuses_it() -> None:
    observed = observed_from(_desired(secret=b"old-value"))
    observed.secrets["st_pw"].created = "2024-01-01T00:00:00Z"
    _rotated(observed, b"newer", "st_pw-aaaaaaaa", "2024-01-02T00:00:00Z")
    observed.services["st_web"].spec["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["SecretName"] = \
        "st_pw-aaaaaaaa"
    plan = make_plan(_desired(secret=b"old-value"), observed, prune=False)
    assert not plan.by_kind("secret", CREATE)
    assert plan.versions["secrets"] == {"st_pw": "st_pw"}
    web = plan.action_for("service", "st_web")
    assert web is not None and [(c.old, c.new) for c in web.changes] == [("st_pw-aaaaaaaa", "st_pw")]


def test_unchanged_content_on_a_later_version_changes_nothing() -> None:
    observed = observed_from(_desired(secret=b"old-value"))
    _rotated(observed, b"newer", "st_pw-aaaaaaaa", "2024-01-02T00:00:00Z")
    observed.services["st_web"].spec["TaskTemplate"]["ContainerSpec"]["Secrets"][0]["SecretName"] = \
        "st_pw-aaaaaaaa"
    plan = make_plan(_desired(secret=b"newer"), observed, prune=True)
    assert not plan.has_changes, render_plan_text(plan)  # old version st_pw is not pruned either


def test_reference_secret_without_digest_is_not_rotated() -> None:
    observed = observed_from(_desired(secret=b"old-value"), secret_digest_label=False)
    plan = make_plan(_desired(secret=b"new-value"), observed, prune=False)
    assert not plan.has_changes
    secret = plan.action_for("secret", "st_pw")
    assert secret is not None and "not verifiable" in secret.notes[0]


def test_config_rotation_repoints_the_config_reference() -> None:
    cfg = _config()
    cfg["configs"] = {"conf": {"file": "/conf"}}
    cfg["services"]["web"]["configs"] = [{"source": "conf", "target": "/etc/app.conf"}]
    files = {"/pw": b"pw", "/conf": b"a=1"}
    desired = convert_stack(cfg, STACK, read_file=lambda p: files[p])
    observed = observed_from(desired)
    for i, (name, spec) in enumerate(desired.configs.items()):
        obj = ObservedObject(f"cfg{i}", name, 5, dict(spec), dict(spec["Labels"]))
        observed.configs[name] = observed.all_configs[name] = obj
    for svc in observed.services.values():
        for ref in svc.spec["TaskTemplate"]["ContainerSpec"].get("Configs") or []:
            ref["ConfigID"] = "cfg0"
    assert not make_plan(desired, observed, prune=False).has_changes
    files["/conf"] = b"a=2"
    plan = make_plan(convert_stack(cfg, STACK, read_file=lambda p: files[p]), observed, prune=False)
    (new,) = plan.by_kind("config", CREATE)
    assert new.name.startswith("st_conf-")
    web = plan.action_for("service", "st_web")
    assert web is not None
    refs = web.desired["TaskTemplate"]["ContainerSpec"]["Configs"]
    assert refs[0]["ConfigName"] == new.name and refs[0]["File"]["Name"] == "/etc/app.conf"


def test_pins_use_the_recorded_version_or_fail_naming_it() -> None:
    observed = observed_from(_desired(secret=b"old-value"))
    _rotated(observed, b"newer", "st_pw-aaaaaaaa", "2024-01-02T00:00:00Z")
    plan = make_plan(_desired(secret=b"whatever-now"), observed, prune=False,
                     pins={"secrets": {"st_pw": "st_pw-aaaaaaaa"}})
    assert not plan.by_kind("secret", CREATE)
    web = plan.action_for("service", "st_web")
    assert web is not None and [(c.old, c.new) for c in web.changes] == [("st_pw", "st_pw-aaaaaaaa")]
    with pytest.raises(PlanError) as info:
        make_plan(_desired(), observed, prune=False, pins={"secrets": {"st_pw": "st_pw-gone1234"}})
    assert "secret st_pw-gone1234 (the version of st_pw that revision used) no longer exists" in \
        info.value.diagnostics[0].message


def test_prune_removes_dropped_secrets_and_configs_but_not_externals() -> None:
    desired = _desired()
    observed = observed_from(desired)
    labels = {"com.docker.stack.namespace": STACK}
    observed.configs["st_old"] = ObservedObject("c9", "st_old", 1, {"Name": "st_old"}, labels)
    observed.secrets["st_gone"] = ObservedObject("s9", "st_gone", 1, {"Name": "st_gone"}, labels)
    observed.all_secrets["shared"] = ObservedObject("s8", "shared", 1, {"Name": "shared"}, {})
    _rotated(observed, b"older", "st_pw-bbbbbbbb", "2023-01-01T00:00:00Z")
    assert not make_plan(desired, observed, prune=False).has_changes
    plan = make_plan(desired, observed, prune=True)
    assert [(a.kind, a.name) for a in plan.actions if a.action == REMOVE] == [
        ("secret", "st_gone"), ("config", "st_old")]


def test_missing_external_secret_is_an_error_before_any_write() -> None:
    cfg = _config()
    cfg["secrets"]["pw"] = {"external": True, "name": "ext_pw"}
    desired = convert_stack(cfg, STACK)
    with pytest.raises(PlanError) as info:
        make_plan(desired, ObservedStack(stack=STACK, nodes=_nodes()), prune=False)
    assert [d.message for d in info.value.diagnostics] == ["service web: secret not found: ext_pw"]


def test_missing_external_network_uses_the_reference_wording() -> None:
    cfg = _config()
    cfg["networks"]["back"] = {"external": True, "name": "shared"}
    plan = make_plan(convert_stack(cfg, STACK, read_file=lambda p: b"x"),
                     ObservedStack(stack=STACK, nodes=_nodes()), prune=False, strict=False)
    assert plan.errors[0].message == (
        'network "shared" is declared as external, but could not be found. '
        "You need to create a swarm-scoped network before the stack is deployed")


def test_changed_network_is_a_warning_not_an_action() -> None:
    observed = observed_from(_desired())
    observed.networks["st_back"].spec["Options"].pop("encrypted")
    plan = make_plan(_desired(), observed, prune=False)
    back = plan.action_for("network", "st_back")
    assert back is not None and back.action == UNCHANGED
    assert [c.path for c in back.changes] == ["Options.encrypted"]
    assert "recreate needed; not applied" in back.warnings[0]
    assert not plan.has_changes
    assert any("recreate needed" in w.message for w in plan.warnings)


def test_unsatisfiable_constraint_names_it_and_the_nodes() -> None:
    nodes = _nodes()
    nodes[1].labels = {}
    observed = ObservedStack(stack=STACK, nodes=nodes)
    plan = make_plan(_desired(constraint="node.labels.pcidss == yes"), observed, prune=False, strict=False)
    assert len(plan.errors) == 1
    msg = plan.errors[0].message
    assert "`node.labels.pcidss == yes`" in msg
    assert "mgr-1 (manager, no labels)" in msg and "wrk-2 (worker, no labels)" in msg


def test_constraint_satisfied_by_a_labelled_node_passes() -> None:
    plan = make_plan(_desired(constraint="node.labels.pcidss == yes"),
                     ObservedStack(stack=STACK, nodes=_nodes()), prune=False)
    assert not plan.errors


def test_max_replicas_per_node_beyond_the_eligible_nodes() -> None:
    cfg = _config(replicas=5)
    cfg["services"]["web"]["deploy"]["placement"]["max_replicas_per_node"] = 2
    plan = make_plan(convert_stack(cfg, STACK, read_file=lambda p: b"x"),
                     ObservedStack(stack=STACK, nodes=_nodes()), prune=False, strict=False)
    assert len(plan.errors) == 1 and "max_replicas_per_node 2" in plan.errors[0].message


def test_port_taken_by_another_stack() -> None:
    observed = ObservedStack(stack=STACK, nodes=_nodes())
    observed.other_services.append(ObservedService("o1", "other_web", 3, {
        "Name": "other_web", "Labels": {"com.docker.stack.namespace": "other"},
        "EndpointSpec": {"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080}]}}))
    plan = make_plan(_desired(), observed, prune=False, strict=False)
    assert [d.message for d in plan.errors] == [
        "service st_web: port 8080/tcp is already published by service other_web (stack other)"]


def test_mode_change_is_blocking() -> None:
    desired = _desired()
    observed = observed_from(desired)
    observed.services["st_api"].spec["Mode"] = {"Global": {}}
    plan = make_plan(desired, observed, prune=False, strict=False)
    assert any("mode changes from global to replicated" in d.message for d in plan.errors)


def test_prune_removes_own_objects_only() -> None:
    desired = _desired()
    observed = observed_from(desired)
    observed.services["st_old"] = ObservedService("svc9", "st_old", 7, {"Name": "st_old", "Labels": {
        "com.docker.stack.namespace": STACK}})
    observed.networks["st_gone"] = ObservedObject("n9", "st_gone", None, {"Name": "st_gone"},
                                                  {"com.docker.stack.namespace": STACK})
    without = make_plan(desired, observed, prune=False)
    assert not without.has_changes
    plan = make_plan(desired, observed, prune=True)
    assert [(a.kind, a.name) for a in plan.actions if a.action == REMOVE] == [
        ("network", "st_gone"), ("service", "st_old")]


def test_volume_with_other_driver_options_warns() -> None:
    cfg = _config()
    cfg["volumes"] = {"data": {"driver_opts": {"type": "tmpfs", "device": "tmpfs"}}}
    cfg["services"]["web"]["volumes"] = [{"type": "volume", "source": "data", "target": "/data"}]
    observed = ObservedStack(stack=STACK, nodes=_nodes())
    observed.volumes["st_data"] = ObservedObject("st_data", "st_data", None,
                                                 {"Name": "st_data", "Driver": "local", "Options": {}})
    plan = make_plan(convert_stack(cfg, STACK, read_file=lambda p: b"x"), observed, prune=False)
    assert any("volume st_data exists" in w.message and "never changes" in w.message for w in plan.warnings)


# --- rendering ------------------------------------------------------------------------------


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()


def _mixed_plan() -> Any:
    observed = observed_from(_desired())
    svc = observed.services["st_web"]
    svc.previous_spec = copy.deepcopy(svc.spec)
    svc.spec["Mode"]["Replicated"]["Replicas"] = 5
    observed.networks["st_back"].spec["Options"].pop("encrypted")
    observed.services["st_old"] = ObservedService("svc9old", "st_old", 7, {"Name": "st_old", "Labels": {
        "com.docker.stack.namespace": STACK}})
    cfg = _config(env="2", constraint="node.labels.pcidss == yes")
    cfg["services"]["worker"] = {"image": "busybox:1.36", "deploy": {"mode": "global"}}
    desired = convert_stack(cfg, STACK, read_file=lambda p: b"s3cret")
    return make_plan(desired, observed, prune=True)


def test_render_mixed_plan_golden() -> None:
    _golden("mixed.txt", render_plan_text(_mixed_plan()))


def test_render_no_changes_golden() -> None:
    desired = _desired()
    _golden("no-changes.txt", render_plan_text(make_plan(desired, observed_from(desired), prune=False)))


def test_render_fresh_golden() -> None:
    plan = make_plan(_desired(), ObservedStack(stack=STACK, nodes=_nodes()), prune=False)
    _golden("fresh.txt", render_plan_text(plan))


def test_render_json_golden() -> None:
    _golden("mixed.json", json.dumps(plan_json(_mixed_plan()), indent=2, sort_keys=True) + "\n")


def test_summary_line() -> None:
    text = render_plan_text(_mixed_plan())
    assert text.splitlines()[-1] == "Plan: 1 to create, 1 to update, 1 to remove, 4 unchanged."


# --- one normaliser: explicit values the engine keeps, fields the engine predates ----------------


def _with_container(desired: Any, name: str, **fields: Any) -> Any:
    desired = copy.deepcopy(desired)
    desired.services[name]["TaskTemplate"]["ContainerSpec"].update(fields)
    return desired


def test_adding_init_false_is_a_change() -> None:
    """`docker stack deploy` stores Init: false; an unset Init is not the same spec."""
    base = _desired()
    plan = make_plan(_with_container(base, "st_web", Init=False), observed_from(base), prune=False)
    web = plan.action_for("service", "st_web")
    assert web is not None and web.action == UPDATE
    assert [(c.path, c.old, c.new) for c in web.changes] == [("TaskTemplate.ContainerSpec.Init", None, False)]


def test_start_interval_is_no_change_for_an_engine_that_predates_it() -> None:
    base = _desired()
    check = {"Healthcheck": {"Test": ["CMD", "true"], "StartInterval": 2_000_000_000}}
    stored = observed_from(_with_container(base, "st_web", Healthcheck={"Test": ["CMD", "true"]}))
    stored.api_version = "1.41"
    plan = make_plan(_with_container(base, "st_web", **check), stored, prune=False)
    assert plan.action_for("service", "st_web").action == UNCHANGED  # type: ignore[union-attr]
    stored.api_version = "1.44"
    plan = make_plan(_with_container(base, "st_web", **check), stored, prune=False)
    assert plan.action_for("service", "st_web").action == UPDATE  # type: ignore[union-attr]
