"""--resolve-image against registry answers (a fake gateway): a moved tag is a change, a missing
image stops before any write, a registry that wants credentials is named."""

from __future__ import annotations

from typing import Any

import pytest

from stackctl.deploy import DeployOptions, DeployRequest, Notice, deploy, image_resolver, plan_for
from stackctl.engine import AUTH, MISSING, registry_verdict
from stackctl.errors import EXIT_OK, PlanError
from stackctl.images import pinned_digest
from stackctl.observe import observe_stack
from stackctl.plan import UPDATE
from stackctl.plan.images import RegistryAnswer, image_key
from stackctl.resolve import ImageResolver, images_to_resolve
from tests.unit.fake_engine import FakeEngine, refusal

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
REG = "reg.example:5000"
IMAGE = f"{REG}/lab/app:1"


class RegistryFake(FakeEngine):
    """The fake gateway plus a registry: tag -> digest, and whether it wants credentials."""

    def __init__(self, tags: dict[str, str], *, private: bool = False) -> None:
        super().__init__()
        self.tags = tags
        self.private = private
        self.lookups: list[tuple[str, bool]] = []

    def image_digest(self, image: str, *, registry_auth: str | None = None,
                     timeout: float = 5.0) -> str | None:
        self.lookups.append((image, registry_auth is not None))
        if self.private and registry_auth is None:
            raise refusal(500, f'Head "https://{REG}/v2/lab/app/manifests/1": no basic auth credentials')
        if image not in self.tags:
            raise refusal(404, "manifest unknown: manifest unknown")
        return self.tags[image]

    def registry_auth(self, image: str) -> str | None:
        return "token" if self.private else None


def _config(image: str = IMAGE) -> dict[str, Any]:
    return {"services": {"app": {"image": image}}}


def _deploy(fake: FakeEngine, mode: str = "always", image: str = IMAGE, events: list[object] | None = None,
            **options: Any) -> Any:
    opts = DeployOptions(resolve_image=mode, detach=True, **options)
    return deploy(DeployRequest("shop", _config(image)), opts, engine=fake,
                  on_event=events.append if events is not None else None)


def _spec_image(fake: FakeEngine) -> str:
    (service,) = fake.store["service"].values()
    return str(service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"])


def test_a_tag_pushed_anew_is_an_image_change_that_deploy_rolls_out() -> None:
    fake = RegistryFake({IMAGE: D1})
    assert _deploy(fake).exit_code == EXIT_OK and _spec_image(fake) == f"{IMAGE}@{D1}"
    assert not _deploy(fake).plan.has_changes
    fake.tags[IMAGE] = D2
    from stackctl.convert import convert_stack

    plan = plan_for(fake, convert_stack(_config(), "shop"), "shop", prune=False,
                    resolver=image_resolver(fake, "changed", False), resolve_image="changed")
    (action,) = plan.by_kind("service")
    assert action.action == UPDATE
    assert [(c.compose_path, c.old, c.new) for c in action.compose] == [
        ("image", f"{IMAGE}@{D1}", f"{IMAGE}@{D2}")]
    assert not _deploy(fake, "never").plan.has_changes  # never: tags only, the registry is not asked
    outcome = _deploy(fake, "always")
    assert outcome.plan.has_changes and _spec_image(fake) == f"{IMAGE}@{D2}"
    assert not _deploy(fake, "changed").plan.has_changes


def test_one_lookup_per_image_per_deploy_and_none_with_never() -> None:
    fake = RegistryFake({IMAGE: D1})
    _deploy(fake)
    assert fake.lookups == [(IMAGE, False)]
    fake.lookups.clear()
    _deploy(fake, "never", image=f"{REG}/lab/app:2")
    assert fake.lookups == []


def test_a_missing_tag_fails_before_any_write_naming_image_and_service() -> None:
    fake = RegistryFake({})
    with pytest.raises(PlanError) as caught:
        _deploy(fake, image=f"{REG}/lab/app:nope")
    (problem,) = caught.value.diagnostics
    assert f"{REG}/lab/app:nope" in problem.message and "service app" in problem.message
    assert problem.path == "services.app.image" and "manifest unknown" in problem.message
    assert fake.store["service"] == {} and fake.store["network"] == {}


def test_an_unreachable_registry_is_a_warning_and_the_tag_is_sent() -> None:
    fake = RegistryFake({})
    fake.image_digest = lambda image, **kw: (_ for _ in ()).throw(  # type: ignore[method-assign]
        refusal(500, 'Get "https://reg.example:5000/v2/": dial tcp: connection refused'))
    events: list[object] = []
    assert _deploy(fake, events=events).exit_code == EXIT_OK
    assert _spec_image(fake) == IMAGE
    assert any("could not be accessed on a registry" in getattr(e, "message", "") for e in events)


def test_a_private_registry_is_asked_with_credentials_and_named_without_registry_auth() -> None:
    fake = RegistryFake({IMAGE: D1}, private=True)
    events: list[object] = []
    _deploy(fake, events=events)
    assert fake.lookups == [(IMAGE, False), (IMAGE, True)] and _spec_image(fake) == f"{IMAGE}@{D1}"
    texts = [e.text for e in events if isinstance(e, Notice)]
    assert any("no basic auth credentials" in t and "--with-registry-auth" in t for t in texts)
    fake2 = RegistryFake({IMAGE: D1}, private=True)
    events2: list[object] = []
    _deploy(fake2, events=events2, with_registry_auth=True)
    assert fake2.lookups == [(IMAGE, True)]
    assert not any("--with-registry-auth" in e.text for e in events2 if isinstance(e, Notice))


def test_changed_asks_about_new_changed_and_pinned_services_only() -> None:
    fake = RegistryFake({IMAGE: D1, f"{REG}/lab/other:1": D1})
    _deploy(fake, "never")  # unpinned, same image label: nothing to ask
    from stackctl.convert import convert_stack

    observed = observe_stack(fake, "shop")
    assert images_to_resolve("changed", convert_stack(_config(), "shop").services, observed) == []
    assert images_to_resolve("always", convert_stack(_config(), "shop").services, observed) == [IMAGE]
    assert images_to_resolve("never", convert_stack(_config(), "shop").services, observed) == []
    moved = convert_stack(_config(f"{REG}/lab/other:1"), "shop").services
    assert images_to_resolve("changed", moved, observed) == [f"{REG}/lab/other:1"]
    pinned = RegistryFake({IMAGE: D1})
    _deploy(pinned, "always")  # pinned: its tag may move
    observed = observe_stack(pinned, "shop")
    assert images_to_resolve("changed", convert_stack(_config(), "shop").services, observed) == [IMAGE]


def test_image_keys_and_pins() -> None:
    assert image_key("nginx") == "nginx:latest"
    assert image_key(f"nginx:1@{D1}") is None
    assert pinned_digest(f"{IMAGE}@{D1}") == D1 and pinned_digest(IMAGE) is None
    assert RegistryAnswer(IMAGE, digest=D2).pinned == f"{IMAGE}@{D2}"
    assert ImageResolver(RegistryFake({}), credentials=lambda i: None).warning() is None


def test_registry_verdicts_by_status() -> None:
    assert registry_verdict(refusal(404, "manifest unknown")) == MISSING
    assert registry_verdict(refusal(401, "unauthorized: authentication required")) == AUTH
    anonymous = refusal(500, 'Head "https://x/v2/a/manifests/1": no basic auth credentials')
    assert registry_verdict(anonymous) == AUTH
    assert registry_verdict(refusal(500, "dial tcp: connection refused")) is None
