"""The rotation policy's cleanup rule (plan/rotation.py:old_versions), without an engine: which old
versions of a rotated secret/config go after a deploy. The executor only removes what it names."""

from __future__ import annotations

from collections.abc import Sequence

from stackctl.names import OBJECT_LABEL
from stackctl.observe import ObservedObject, ObservedService, ObservedStack
from stackctl.plan.rotation import DEFAULT_KEEP_VERSIONS, OldVersion, old_versions, used_names


def _version(name: str, base: str, created: str, ident: str = "") -> ObservedObject:
    labels = {OBJECT_LABEL: base} if name != base else {}
    return ObservedObject(ident or f"id-{name}", name, 1, {"Name": name, "Labels": labels}, labels, created)


def _service(name: str, *, secrets: Sequence[dict[str, str]] = (), configs: Sequence[dict[str, str]] = (),
             cred: str = "") -> ObservedService:
    cs: dict[str, object] = {"Secrets": list(secrets), "Configs": list(configs)}
    if cred:
        cs["Privileges"] = {"CredentialSpec": {"Config": cred}}
    return ObservedService(f"id-{name}", name, 1, {"Name": name, "TaskTemplate": {"ContainerSpec": cs}})


def _stack(*objs: ObservedObject, services: Sequence[ObservedService] = (),
           others: Sequence[ObservedService] = (), kind: str = "secrets") -> ObservedStack:
    observed = ObservedStack("shop", services={s.name: s for s in services}, other_services=list(others))
    getattr(observed, kind).update({o.name: o for o in objs})
    names = {o.id: o.name for o in objs}
    (observed.secret_names if kind == "secrets" else observed.config_names).update(names)
    return observed


def test_unused_versions_beyond_keep_go_oldest_first_and_the_used_one_stays() -> None:
    vs = [_version("shop_key", "shop_key", "2026-01-01")]
    vs += [_version(f"shop_key-{h * 4}", "shop_key", f"2026-01-0{day}") for day, h in enumerate("abcd", 2)]
    web = _service("shop_web", secrets=[{"SecretName": "shop_key-dddd"}])
    observed = _stack(*vs, services=[web])
    gone = old_versions({"secrets": {"shop_key": "shop_key-dddd"}}, observed, keep=2)
    assert [(o.kind, o.base, o.obj.name) for o in gone] == [("secret", "shop_key", "shop_key"),
                                                             ("secret", "shop_key", "shop_key-aaaa")]
    assert DEFAULT_KEEP_VERSIONS == 2
    assert old_versions({"secrets": {"shop_key": "shop_key-dddd"}}, observed, keep=0)[-1].obj.name == \
        "shop_key-cccc"
    assert [o.obj.name for o in old_versions({"secrets": {"shop_key": "x"}}, observed, keep=10)] == []


def test_a_version_another_stack_uses_by_id_or_a_credential_spec_uses_is_never_named() -> None:
    vs = [_version("shop_cfg", "shop_cfg", "1"), _version("shop_cfg-aaaa", "shop_cfg", "2"),
          _version("shop_cfg-bbbb", "shop_cfg", "3")]
    other = _service("blog_web", configs=[{"ConfigID": "id-shop_cfg"}])
    win = _service("shop_win", cred="shop_cfg-aaaa")
    observed = _stack(*vs, services=[win], others=[other], kind="configs")
    assert used_names(observed, "config") == {"shop_cfg", "shop_cfg-aaaa"}
    assert old_versions({"configs": {"shop_cfg": "shop_cfg-bbbb"}}, observed, keep=0) == \
        [OldVersion("config", "shop_cfg", vs[2])]


def test_only_the_keys_the_plan_chose_are_considered() -> None:
    observed = _stack(_version("shop_a", "shop_a", "1"), _version("shop_a-aaaa", "shop_a", "2"))
    assert old_versions({}, observed, keep=0) == []
    assert old_versions({"configs": {"shop_a": "shop_a"}}, observed, keep=0) == []
