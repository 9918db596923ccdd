"""observe, the deploy lock, removal retries and apply's version conflicts, on the in-memory fake
of stackctl's engine gateway (tests/unit/fake_engine.py). The lab tests cover the real engine."""

from __future__ import annotations

import time
from typing import Any

import pytest

from stackctl.engine import remove_retrying, require_manager
from stackctl.errors import EngineError
from stackctl.lock import LockError, StackLock, lock_name, read_lock, unlock
from stackctl.observe import NAMESPACE_LABEL, observe_stack
from tests.unit.fake_engine import FakeEngine, refusal


def _swarm() -> FakeEngine:
    fake = FakeEngine(api_version="1.41")
    own = {NAMESPACE_LABEL: "shop"}
    net = fake.add("network", {"Name": "shop_default", "Labels": own})
    fake.add("network", {"Name": "ingress", "Labels": {}})
    fake.add("network", {"Name": "shop_local", "Labels": own}, Scope="local")
    sec = fake.add("secret", {"Name": "shop_db", "Labels": own})
    fake.add("secret", {"Name": "other_db", "Labels": {NAMESPACE_LABEL: "other"}})
    fake.add("config", {"Name": "shop_conf", "Labels": own})
    task = {"ContainerSpec": {"Image": "busybox", "Secrets": [{"SecretName": "shop_db", "SecretID": sec}]},
            "Networks": [{"Target": net}]}
    fake.add("service", {"Name": "shop_web", "Labels": own, "TaskTemplate": task})
    fake.add("service", {"Name": "other_web", "Labels": {NAMESPACE_LABEL: "other"}, "TaskTemplate": {}})
    fake.add("node", {"Role": "manager", "Availability": "active", "Labels": {"zone": "a"}},
             Description={"Hostname": "mgr-1", "Platform": {"OS": "linux", "Architecture": "x86_64"}},
             Status={"State": "ready"})
    fake.add("volume", {"Name": "shop_data", "Labels": own})
    return fake


# --- observe ----------------------------------------------------------------------------------


def test_observe_sorts_the_stack_from_the_rest_in_a_fixed_number_of_calls() -> None:
    fake = _swarm()
    seen = observe_stack(fake, "shop")
    assert list(seen.services) == ["shop_web"] and [s.name for s in seen.other_services] == ["other_web"]
    assert list(seen.networks) == ["shop_default"]  # the local-scope one is not the stack's
    assert set(seen.all_networks) == {"shop_default", "ingress", "shop_local"}
    assert list(seen.secrets) == ["shop_db"] and set(seen.all_secrets) == {"shop_db", "other_db"}
    assert list(seen.configs) == ["shop_conf"]
    assert seen.network_names[seen.networks["shop_default"].id] == "shop_default"
    assert seen.secret_names[seen.secrets["shop_db"].id] == "shop_db"
    assert [n.hostname for n in seen.nodes] == ["mgr-1"] and seen.nodes[0].labels == {"zone": "a"}
    assert seen.volumes_listed and list(seen.volumes) == ["shop_data"]
    assert seen.api_version == "1.41"
    assert len(fake.calls) == 6  # one list per kind, whatever the stack's size


def test_observe_without_volumes_still_plans() -> None:
    fake = _swarm()
    fake.failures[("objects", "volume")] = refusal(500, "volume plugin down")
    seen = observe_stack(fake, "shop")
    assert not seen.volumes_listed and seen.volumes == {}


def test_observe_failure_names_what_failed() -> None:
    fake = _swarm()
    fake.failures[("objects", "secret")] = refusal(503, "rpc error: code = Unavailable")
    with pytest.raises(EngineError) as err:
        observe_stack(fake, "shop")
    assert str(err.value) == "cannot read the swarm state: rpc error: code = Unavailable"
    assert err.value.status == 503


def test_a_worker_is_refused_before_any_write() -> None:
    with pytest.raises(EngineError, match="not a swarm manager"):
        require_manager(FakeEngine(manager=False))


# --- the deploy lock ------------------------------------------------------------------------------


def test_the_lock_is_one_config_taken_once() -> None:
    fake = FakeEngine()
    first = StackLock(fake, "shop", timeout=0)
    first.acquire()
    info = read_lock(fake, "shop")
    assert info is not None and info.name == lock_name("shop") and info.token == first.token
    waited: list[Any] = []
    second = StackLock(fake, "shop", timeout=0.2, poll=0.05, on_event=waited.append)
    with pytest.raises(LockError, match=f"stack shop is locked by another deploy: {first.holder}"):
        second.acquire()
    assert [(type(w).__name__, w.holder.token) for w in waited] == [("LockBusy", first.token)]
    second.release()  # never took it: must not remove the holder's lock
    assert read_lock(fake, "shop") is not None
    first.release()
    assert read_lock(fake, "shop") is None


def test_a_stale_lock_is_taken_over_and_the_old_holder_leaves_it_alone() -> None:
    fake = FakeEngine()
    old = StackLock(fake, "shop", timeout=0, ttl=0.0)
    old.acquire()
    time.sleep(0.01)
    new = StackLock(fake, "shop", timeout=0, ttl=0.0)
    new.acquire()
    assert read_lock(fake, "shop").token == new.token  # type: ignore[union-attr]
    old.release()
    assert read_lock(fake, "shop").token == new.token  # type: ignore[union-attr]
    info = unlock(fake, "shop")
    assert info is not None and info.token == new.token and read_lock(fake, "shop") is None
    assert unlock(fake, "shop") is None


def test_a_holder_that_said_it_needs_longer_keeps_its_lock() -> None:
    fake = FakeEngine()
    StackLock(fake, "shop", timeout=0, ttl=3600).acquire()  # a deploy with a long --timeout
    time.sleep(0.01)
    with pytest.raises(LockError):
        StackLock(fake, "shop", timeout=0, ttl=0.0).acquire()
    assert read_lock(fake, "shop").ttl == 3600  # type: ignore[union-attr]


def test_a_lock_the_engine_refuses_is_an_engine_error_not_a_wait() -> None:
    fake = FakeEngine()
    fake.failures[("create", "config")] = refusal(500, "rpc error: code = Unknown desc = raft down")
    with pytest.raises(EngineError) as err:
        StackLock(fake, "shop", timeout=5).acquire()
    assert str(err.value) == ("cannot take the deploy lock of stack shop: "
                              "rpc error: code = Unknown desc = raft down")


# --- removal retries ----------------------------------------------------------------------------


def test_removal_waits_while_in_use_and_counts_gone_as_removed() -> None:
    fake = _swarm()
    with pytest.raises(EngineError) as err:
        remove_retrying(fake, "network", "shop_default", 0)
    assert err.value.status == 400  # in use by shop_web, and no time to wait
    fake.failures[("remove", "secret")] = refusal(400, "secret 'shop_db' is in use")
    fake.remove("service", "shop_web")
    assert remove_retrying(fake, "secret", "shop_db", 5) is True  # refused once, then removed
    assert fake.calls.count(("remove", "secret")) == 2
    assert remove_retrying(fake, "secret", "shop_db", 5) is False  # already gone
    fake.failures[("remove", "config")] = refusal(500, "rpc error: code = Internal")
    with pytest.raises(EngineError):
        remove_retrying(fake, "config", "shop_conf", 5)  # not an in-use refusal: no retry
    assert fake.calls.count(("remove", "config")) == 1


# --- apply: a service updated by someone else meanwhile -------------------------------------------


def _deployed(fake: FakeEngine, env: str) -> Any:
    from stackctl.apply import apply_plan
    from stackctl.convert import convert_stack
    from stackctl.plan import make_plan

    config = {"services": {"web": {"image": "busybox", "environment": {"A": env}, "deploy": {"replicas": 0}}}}
    plan = make_plan(convert_stack(config, "shop"), observe_stack(fake, "shop"), prune=False)
    return plan, lambda: apply_plan(fake, plan, resolve_image="never")


def test_an_update_out_of_sequence_is_planned_again_once() -> None:
    fake = FakeEngine()
    _, apply = _deployed(fake, "1")
    apply()
    plan, apply = _deployed(fake, "2")
    web = next(iter(fake.store["service"].values()))
    fake.update("service", web["ID"], web["Version"]["Index"], {**web["Spec"], "Labels": {
        **web["Spec"]["Labels"], "touched": "yes"}})  # someone else, between plan and apply
    result = apply()
    assert result.conflicts == ["shop_web"] and not result.errors
    spec = fake.inspect("service", "shop_web")["Spec"]
    assert spec["TaskTemplate"]["ContainerSpec"]["Env"] == ["A=2"] and "touched" not in spec["Labels"]


def test_a_refused_update_of_an_unmoved_service_is_an_error_not_a_replan() -> None:
    from stackctl.errors import ApplyError

    fake = FakeEngine()
    _deployed(fake, "1")[1]()
    _, apply = _deployed(fake, "2")
    fake.failures[("update", "service")] = refusal(400, "invalid mount config")
    with pytest.raises(ApplyError) as err:
        apply()
    assert err.value.result.conflicts == []  # type: ignore[attr-defined]
    assert "failed to update service shop_web: Error response from daemon: invalid mount config" in \
        err.value.lines()
