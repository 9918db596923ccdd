"""An in-memory stand-in for stackctl's engine gateway (stackctl.engine.Engine), for fast unit tests.

A fake of our own gateway, not of the Docker engine: it keeps objects in dicts and answers the
gateway's typed methods with the status codes the lab's engine gives (measured on engine 20.10,
API 1.41): 404 for a missing object, 409 for a name that exists, 500 for an update with a stale
version ("update out of sequence"), 400 for removing a network/secret/config a service uses.
The lab tests keep checking the real engine; this one only lets the logic above it run fast.
"""

from __future__ import annotations

import copy
import io
import itertools
import struct
import types
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from stackctl.engine import Engine, LogStream
from stackctl.errors import REFUSED, EngineError

KINDS = ("service", "task", "node", "network", "secret", "config", "volume")


def refusal(status: int, reason: str) -> EngineError:
    """An EngineError as stackctl.engine.translate makes it from an engine answer."""
    return EngineError(f"Error response from daemon: {reason}", status=status, reason=reason, failure=REFUSED)


def log_frame(text: str, *, task: str, stamp: str = "2026-11-28T18:00:00Z", stream: int = 1) -> bytes:
    """One line of a service log as the engine sends it with `details` and `timestamps`."""
    details = f"com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id={task}"
    payload = f"{stamp} {details} {text}\n".encode()
    return struct.pack(">BxxxL", stream, len(payload)) + payload


class FakeEngine(Engine):
    """Objects by kind and ID; `calls` records (method, kind) pairs; `failures` injects errors."""

    def __init__(self, *, api_version: str = "1.41", manager: bool = True) -> None:
        self.host = "fake://engine"
        self._api_version = api_version
        self.manager = manager
        self.store: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KINDS}
        self.calls: list[tuple[str, str]] = []
        self.failures: dict[tuple[str, str], EngineError] = {}  # (method, kind) -> raised once
        # service ID -> the raw (multiplexed) bytes its log answers; see `log_frame`
        self.logs: dict[str, bytes] = {}
        self._ids = itertools.count(1)
        self._index = itertools.count(10)

    @property
    def api_version(self) -> str:
        return self._api_version

    def _record(self, method: str, kind: str) -> None:
        self.calls.append((method, kind))
        failure = self.failures.pop((method, kind), None)
        if failure is not None:
            raise failure

    # seeding helpers (not part of the gateway)
    def add(self, kind: str, spec: Mapping[str, Any], **extra: Any) -> str:
        """Put an object in place without recording a call; returns its ID."""
        ident = f"{kind[:3]}{next(self._ids):05d}"
        if kind == "network":
            obj = {"Id": ident, "Scope": "swarm", "Driver": "overlay", **copy.deepcopy(dict(spec))}
        elif kind == "volume":
            obj = {"Name": spec["Name"], **copy.deepcopy(dict(spec))}
            ident = spec["Name"]
        else:
            obj = {"ID": ident, "Version": {"Index": next(self._index)},
                   "CreatedAt": datetime.now(timezone.utc).isoformat(), "Spec": copy.deepcopy(dict(spec))}
        obj.update(copy.deepcopy(extra))
        self.store[kind][ident] = obj
        return ident

    # the gateway's typed methods
    def info(self) -> dict[str, Any]:
        self._record("info", "")
        return {"Swarm": {"ControlAvailable": self.manager},
                "SystemTime": datetime.now(timezone.utc).isoformat()}

    def objects(self, kind: str, filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        self._record("objects", kind)
        return [copy.deepcopy(o) for o in self.store[kind].values() if _matches(o, dict(filters or {}))]

    def inspect(self, kind: str, ident: str) -> dict[str, Any]:
        self._record("inspect", kind)
        return copy.deepcopy(self._find(kind, ident))

    def create(self, kind: str, spec: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
               ) -> dict[str, Any]:
        self._record("create", kind)
        name = spec.get("Name", "")
        if any(_name(o) == name for o in self.store[kind].values()):
            raise refusal(409, f"rpc error: code = AlreadyExists desc = {kind} {name} already exists")
        ident = self.add(kind, spec)
        return {"Id": ident} if kind == "network" else {"ID": ident}

    def update(self, kind: str, ident: str, version: int, spec: Mapping[str, Any], *,
               headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        self._record("update", kind)
        obj = self._find(kind, ident)
        if obj["Version"]["Index"] != version:
            raise refusal(500, "rpc error: code = Unknown desc = update out of sequence")
        if kind == "service":
            obj["PreviousSpec"] = obj["Spec"]
        obj["Spec"] = copy.deepcopy(dict(spec))
        obj["Version"] = {"Index": next(self._index)}
        return {}

    def remove(self, kind: str, ident: str) -> None:
        self._record("remove", kind)
        obj = self._find(kind, ident)
        users = [_name(s) for s in self.store["service"].values() if _uses(s, kind, obj)]
        if users:
            raise refusal(400, f"rpc error: code = InvalidArgument desc = {kind} '{_name(obj)}' is in use by "
                          f"the following service: {', '.join(users)}")
        del self.store[kind][obj.get("ID") or obj.get("Id") or obj["Name"]]

    def image_digest(self, image: str, *, registry_auth: str | None = None,
                     timeout: float = 5.0) -> str | None:
        self._record("image_digest", "")
        return None

    def registry_auth(self, image: str) -> str | None:
        return None

    def service_logs(self, service_id: str, params: Mapping[str, Any]) -> LogStream:
        """The bytes stored in `logs` as they are (the engine's filters are the lab's to test)."""
        self._record("service_logs", "service")
        svc = self._find("service", service_id)
        failure = self.failures.pop(("service_logs", "service"), None)
        if failure is not None:
            raise failure
        body = io.BytesIO(self.logs.get(svc["ID"], b""))
        return LogStream(types.SimpleNamespace(raw=body, close=body.close), self)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the fake answers the gateway's typed methods only")

    post = delete = stream = get

    def log_calls(self) -> None:
        pass

    def close(self) -> None:
        pass

    def _find(self, kind: str, ident: str) -> dict[str, Any]:
        for obj in self.store[kind].values():
            if ident in (obj.get("ID"), obj.get("Id"), _name(obj)):
                return obj
        raise refusal(404, f"{kind} {ident} not found")


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("Spec") or {}).get("Name") or obj.get("Name") or "")


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("Spec") or {}).get("Labels") or obj.get("Labels") or {})


def _matches(obj: Mapping[str, Any], filters: dict[str, Any]) -> bool:
    for key, wanted in filters.items():
        values = [wanted] if isinstance(wanted, str) else list(wanted)
        if key == "label":
            labels = _labels(obj)
            if not all((labels.get(v.split("=", 1)[0]) == v.split("=", 1)[1]) if "=" in v else v in labels
                       for v in values):
                return False
        elif key == "name" and not any(_name(obj).startswith(v) for v in values):
            return False
        elif key == "id" and not any(str(obj.get("ID") or obj.get("Id")).startswith(v) for v in values):
            return False
        elif key == "service" and obj.get("ServiceID") not in values:
            return False
    return True


def _uses(service: Mapping[str, Any], kind: str, obj: Mapping[str, Any]) -> bool:
    """Whether a service refers to a network, secret or config (by name or ID)."""
    task = (service.get("Spec") or {}).get("TaskTemplate") or {}
    keys = {_name(obj), str(obj.get("ID") or obj.get("Id") or "")}
    if kind == "network":
        return any(n.get("Target") in keys for n in task.get("Networks") or [])
    refs = (task.get("ContainerSpec") or {}).get("Secrets" if kind == "secret" else "Configs") or []
    name_key, id_key = ("SecretName", "SecretID") if kind == "secret" else ("ConfigName", "ConfigID")
    return any(r.get(name_key) in keys or r.get(id_key) in keys for r in refs)
