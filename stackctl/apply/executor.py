"""The apply executor: execute a Plan against the engine, writing only what the plan changes.

Order: manager check, networks, secrets and configs, services, then removals (services
before the networks/secrets/configs they used). Independent objects of one phase are
written concurrently by a small thread pool. With `tiers` (stackctl.model.depends, through
apply/ordering.py) the services go tier by tier, and a gate waits for the dependencies a tier
names before it is written. Specs are POSTed as raw JSON, so the engine receives exactly the
spec the plan computed (plus the IDs of secrets/configs, the force-update counter and the image
pin). Every write is recorded in ApplyResult with what it replaced, so `undo` can put the stack
back. `stackctl rm` is a plan with nothing desired run through the same executor (keep_going).
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict

from stackctl.engine import Engine, remove_retrying, require_manager
from stackctl.errors import ApplyError, Diagnostic, EngineError
from stackctl.images import has_digest, normalize_image, spec_image, strip_digest
from stackctl.names import CONTENT_DIGEST_LABEL, SENSITIVE_LABEL, SPEC_DIGEST_LABEL
from stackctl.observe import ObservedService, ObservedStack, service_from_inspect
from stackctl.plan import (
    CREATE,
    REMOVE,
    UNCHANGED,
    UPDATE,
    Action,
    Plan,
    field_changes,
    normalize_service,
)
from stackctl.plan.rotation import DEFAULT_KEEP_VERSIONS, old_versions
from stackctl.resolve import RESOLVE_MODES, ImageResolver

# Service writes in flight at once. Measured on the lab (engine 20.10, fresh deploy, the writes
# alone, medians of 3 interleaved rounds; bench/README.md "Concurrent writes"): 100 services take
# 555 ms one at a time, 216 ms with 8, 154 ms with 16; but the SDK's connection pool keeps 10
# connections (docker.constants.DEFAULT_MAX_POOL_SIZE): past 10 threads urllib3 opens and throws
# away extra connections (and logs a warning each time), so 8 stays under that with room for the
# main thread.
DEFAULT_WORKERS = 8
REMOVE_RETRY_SECONDS = 20.0  # networks/secrets stay in use while tasks shut down


@dataclass
class ApplyEvent:
    """One line of deploy output: `Creating network X`, `Updating service X (id: …)`."""

    kind: str  # network | secret | config | service | warning
    action: str  # create | update | remove | warning | skip
    name: str
    id: str | None = None
    message: str = ""

    def text(self) -> str:
        if self.kind == "warning":
            return self.message
        if self.action == "skip":
            return f"Skipping {self.kind} {self.name}: {self.message}"
        verb = {"create": "Creating", "update": "Updating", "remove": "Removing"}[self.action]
        suffix = f" (id: {self.id})" if self.kind == "service" and self.action == UPDATE and self.id else ""
        return f"{verb} {self.kind} {self.name}{suffix}"


class AppliedJson(TypedDict):
    """One write in `deploy --format json` (`applied.created[]`...)."""

    kind: str
    name: str
    action: str
    id: str


class ApplyResultJson(TypedDict):
    """What apply did, in `deploy --format json` (`applied`)."""

    created: list[AppliedJson]
    updated: list[AppliedJson]
    removed: list[AppliedJson]
    conflicts: list[str]
    restarted: list[str]
    warnings: list[str]
    errors: list[dict[str, object]]


@dataclass
class AppliedObject:
    """A write that happened, with what it replaced (for undo and history)."""

    kind: str
    name: str
    action: str  # create | update | remove
    id: str
    previous_spec: dict[str, Any] | None = None  # update/remove: the spec before (secrets: no Data)
    spec: dict[str, Any] | None = None  # what was sent (secrets/configs: without Data)
    data: str | None = field(default=None, repr=False)  # secret/config Data (base64), for undo only

    def to_json(self) -> AppliedJson:
        return {"kind": self.kind, "name": self.name, "action": self.action, "id": self.id}


@dataclass
class ApplyResult:
    """Everything apply did; `undo(engine, result)` reverses it."""

    stack: str
    created: list[AppliedObject] = field(default_factory=list)
    updated: list[AppliedObject] = field(default_factory=list)
    removed: list[AppliedObject] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # services re-planned after "out of sequence"
    warnings: list[str] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)  # {kind, name, error}: what failed
    restarted: list[str] = field(default_factory=list)  # services force-updated for `restart: true`
    images: dict[str, str] = field(default_factory=dict)  # service -> image string sent / kept
    started_at: float = 0.0

    @property
    def writes(self) -> int:
        return len(self.created) + len(self.updated) + len(self.removed)

    @property
    def service_names(self) -> list[str]:
        """Services created or updated: the ones to wait for."""
        return [o.name for o in self.created + self.updated if o.kind == "service"]

    def previous_specs(self) -> dict[str, dict[str, Any]]:
        """Service name -> spec before this deploy (updated services only)."""
        return {o.name: o.previous_spec for o in self.updated if o.kind == "service" and o.previous_spec}

    def to_json(self) -> ApplyResultJson:
        return {
            "created": [o.to_json() for o in self.created],
            "updated": [o.to_json() for o in self.updated],
            "removed": [o.to_json() for o in self.removed],
            "conflicts": list(self.conflicts),
            "restarted": list(self.restarted),
            "warnings": list(self.warnings),
            "errors": [d.to_json() for d in self.errors],
        }


# --- engine failures ----------------------------------------------------------------------


def _error_text(err: Exception) -> str:
    """What a failed write says (engine failures come as EngineError from stackctl.engine)."""
    return err.message if isinstance(err, EngineError) else str(err)


# --- image resolution (stackctl/resolve.py) ------------------------------------------------


def _registry_auth(engine: Engine, with_registry_auth: bool) -> Callable[[str], str | None]:
    if not with_registry_auth:
        return lambda image: None
    return engine.registry_auth


# --- apply ------------------------------------------------------------------------------


@dataclass
class _Slot:
    """What one action of `_Run.parallel` reported, held until the actions before it are done."""

    ops: list[Callable[[], None]] = field(default_factory=list)
    done: bool = False


class _Run:
    """State of one apply: the result, the event sink, name→ID maps for references."""

    def __init__(self, engine: Engine, plan: Plan, resolve_image: str, with_registry_auth: bool,
                 on_event: Callable[[ApplyEvent], None] | None, workers: int,
                 remove_retry: float = REMOVE_RETRY_SECONDS, resolver: ImageResolver | None = None,
                 keep_going: bool = False) -> None:
        self.engine = engine
        self.plan = plan
        self.observed: ObservedStack = plan.observed or ObservedStack(stack=plan.stack)
        self.result = ApplyResult(stack=plan.stack, started_at=time.time())
        self.on_event = on_event
        self.workers = max(1, workers)
        self.auth = _registry_auth(engine, with_registry_auth)
        # The deploy's resolver (its cache holds what planning looked up), or one of our own.
        self.resolver = resolver or ImageResolver(engine, send_auth=with_registry_auth)
        self.mode = resolve_image
        self.lock = threading.Lock()
        self.secret_ids = {n: o.id for n, o in self.observed.all_secrets.items()}
        self.config_ids = {n: o.id for n, o in self.observed.all_configs.items()}
        self.engine_lost = False  # a write failed because the engine stopped or went away
        self.remove_retry = remove_retry
        self.restart: set[str] = set()  # unchanged services to force-update (`restart: true`)
        self.keep_going = keep_going
        self.failed = threading.Event()  # a write failed: launch no more (unless keep_going)
        self.local = threading.local()  # .slot: the _Slot of the action this thread writes

    # events and bookkeeping. Inside `parallel` they go to the action's slot and come out in plan
    # order (see _Slot); outside, at once.
    def _note(self, op: Callable[[], None]) -> None:
        slot: _Slot | None = getattr(self.local, "slot", None)
        if slot is not None:
            slot.ops.append(op)
            return
        with self.lock:
            op()

    def emit(self, event: ApplyEvent) -> None:
        on_event = self.on_event
        if on_event is not None:
            self._note(lambda: on_event(event))

    def warn(self, text: str) -> None:
        self._note(lambda: self.result.warnings.append(text))
        self.emit(ApplyEvent("warning", "warning", "", message=text))

    def record(self, obj: AppliedObject) -> None:
        done = {CREATE: self.result.created, UPDATE: self.result.updated,
                REMOVE: self.result.removed}[obj.action]
        self._note(lambda: done.append(obj))

    def fail(self, action: Action, err: Exception | str) -> None:
        verb = {CREATE: "create", UPDATE: "update", REMOVE: "remove"}.get(action.action, action.action)
        text = err if isinstance(err, str) else _error_text(err)
        if isinstance(err, EngineError) and err.connection_failed:
            self.engine_lost = True
        self.failed.set()
        diagnostic = Diagnostic(f"failed to {verb} {action.kind} {action.name}: {text}")
        failure = {"kind": action.kind, "name": action.name, "error": text}

        def note() -> None:
            self.result.errors.append(diagnostic)
            self.result.failures.append(failure)

        self._note(note)

    def parallel(self, fn: Callable[[Action], None], actions: Iterable[Action]) -> None:
        """`fn` on each action, up to `workers` at once. What each one reports (events, writes,
        warnings, errors) is held back and let out in the actions' order, so the output and
        `result` read the same whatever order the engine answered in. After a failed write no
        further one starts (unless keep_going); those in flight finish and are recorded."""
        items = list(actions)
        if not items:
            return
        slots = [_Slot() for _ in items]
        flushed = 0

        def one(index: int) -> None:
            nonlocal flushed
            slot = slots[index]
            if not (self.failed.is_set() and not self.keep_going):
                self.local.slot = slot
                try:
                    fn(items[index])
                finally:
                    self.local.slot = None
            with self.lock:
                slot.done = True
                while flushed < len(slots) and slots[flushed].done:
                    for op in slots[flushed].ops:
                        op()
                    slots[flushed].ops.clear()
                    flushed += 1

        if len(items) == 1 or self.workers == 1:
            for index in range(len(items)):
                one(index)
            return
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            list(pool.map(one, range(len(items))))

    # networks
    def create_network(self, action: Action) -> None:
        body = dict(action.desired or {})
        body.setdefault("Name", action.name)
        body.setdefault("Driver", "overlay")
        body.setdefault("CheckDuplicate", True)
        self.emit(ApplyEvent("network", CREATE, action.name))
        try:
            resp = self.engine.create("network", body)
        except EngineError as err:
            self.fail(action, err)
            return
        self.record(AppliedObject("network", action.name, CREATE, resp.get("Id", ""), spec=body))

    # secrets and configs
    def write_file_object(self, action: Action) -> None:
        kind = action.kind
        spec = copy.deepcopy(action.desired or {})
        labels = dict(spec.get("Labels") or {})
        if action.digest:
            labels[CONTENT_DIGEST_LABEL] = action.digest
        spec["Labels"] = labels
        data = spec.get("Data")
        shown = {k: v for k, v in spec.items() if k != "Data"}
        ids = self.secret_ids if kind == "secret" else self.config_ids
        if action.action == CREATE:
            self.emit(ApplyEvent(kind, CREATE, action.name))
            try:
                resp = self.engine.create(kind, spec)
            except EngineError as err:
                self.fail(action, err)
                return
            new_id = resp.get("ID", "")
            with self.lock:
                ids[action.name] = new_id
            self.record(AppliedObject(kind, action.name, CREATE, new_id, spec=shown, data=data))
            return
        self.emit(ApplyEvent(kind, UPDATE, action.name, action.id))
        try:
            self.engine.update(kind, action.id or "", action.version or 0, spec)
        except EngineError as err:
            self.fail(action, err)
            return
        self.record(AppliedObject(kind, action.name, UPDATE, action.id or "",
                                  previous_spec=action.current, spec=shown, data=data))

    # services
    def service_spec(self, action: Action, current: dict[str, Any] | None) -> dict[str, Any]:
        spec = copy.deepcopy(action.desired or {})
        labels = dict(spec.get("Labels") or {})
        if action.digest:
            labels[SPEC_DIGEST_LABEL] = action.digest
        if action.sensitive_keys:  # which keys later plans hide, whatever the files say then
            labels[SENSITIVE_LABEL] = ",".join(action.sensitive_keys)
        spec["Labels"] = labels
        tt = spec.setdefault("TaskTemplate", {})
        cs = tt.setdefault("ContainerSpec", {})
        for ref in cs.get("Secrets") or []:
            if not ref.get("SecretID"):
                ref["SecretID"] = self.secret_ids.get(ref.get("SecretName", ""), "")
        for ref in cs.get("Configs") or []:
            if not ref.get("ConfigID"):
                ref["ConfigID"] = self.config_ids.get(ref.get("ConfigName", ""), "")
        # The docker CLI always sends a Privileges object; so do we, so that `docker service
        # inspect` of our services and of the reference's read the same.
        privileges = cs.setdefault("Privileges", {})
        for key, default in (("CredentialSpec", None), ("SELinuxContext", None), ("NoNewPrivileges", False)):
            privileges.setdefault(key, default)
        cred = privileges.get("CredentialSpec") or {}
        if cred.get("Config") in self.config_ids:
            cred["Config"] = self.config_ids[cred["Config"]]
        if current is not None:
            force = (current.get("TaskTemplate") or {}).get("ForceUpdate")
            if action.name in self.restart:  # `restart: true` on a dependency that was updated
                tt["ForceUpdate"] = int(force or 0) + 1
            elif force:
                tt["ForceUpdate"] = force
            else:
                tt.pop("ForceUpdate", None)
        cs["Image"] = self.image_for(action, cs.get("Image", ""), current)
        return spec

    def image_for(self, action: Action, image: str, current: dict[str, Any] | None) -> str:
        """The image string to send, following --resolve-image (see docs/deploy.md)."""
        image = normalize_image(image)
        current_image = spec_image(current)
        unchanged = current is not None and not action.image_changed and current_image and \
            strip_digest(normalize_image(current_image)) == strip_digest(image)
        query = self.mode == "always" or (self.mode == "changed" and not unchanged)
        if query and not has_digest(image):
            pinned = self.resolver.resolve(image)
            if pinned:
                return pinned
            if not unchanged:
                self.resolver.note_unresolved(image)  # one warning for all, after the writes
        if unchanged and current_image:
            return current_image  # keep the existing (possibly pinned) string: nothing moves
        return image

    def write_service(self, action: Action) -> None:
        if action.action == CREATE:
            self.create_service(action)
        else:
            self.update_service(action, action.current or {}, action.id or "", action.version or 0,
                                retry=True)

    def create_service(self, action: Action) -> None:
        spec = self.service_spec(action, None)
        headers = self._auth_headers(spec)
        self.emit(ApplyEvent("service", CREATE, action.name))
        try:
            resp = self.engine.create("service", spec, headers=headers)
        except EngineError as err:
            self.fail(action, err)
            return
        self.note_image(action.name, spec)
        self.record(AppliedObject("service", action.name, CREATE, resp.get("ID", ""), spec=spec))
        for w in resp.get("Warnings") or []:
            self.warn(w)

    def update_service(self, action: Action, current: dict[str, Any], service_id: str, version: int,
                       *, retry: bool) -> None:
        spec = self.service_spec(action, current)
        headers = self._auth_headers(spec)
        self.emit(ApplyEvent("service", UPDATE, action.name, service_id))
        try:
            resp = self.engine.update("service", service_id, version, spec, headers=headers)
        except EngineError as err:
            # "update out of sequence" is a plain 500: tell it by the service's version instead.
            fresh = self.moved_since(service_id, version) if retry and err.status else None
            if fresh is not None:
                self.replan_service(action, fresh)
                return
            self.fail(action, err)
            return
        self.note_image(action.name, spec)
        self.record(AppliedObject("service", action.name, UPDATE, service_id, previous_spec=current,
                                  spec=spec))
        for w in resp.get("Warnings") or []:
            self.warn(w)

    def moved_since(self, service_id: str, version: int) -> ObservedService | None:
        """The service as it is now when its version moved past `version` (someone else updated
        it since we observed it), else None."""
        try:
            fresh = service_from_inspect(self.engine.inspect("service", service_id))
        except EngineError:
            return None
        return fresh if fresh.version != version else None

    def replan_service(self, action: Action, fresh: ObservedService) -> None:
        """Someone updated the service since we looked: compare again and update once more."""
        service_id = fresh.id
        self._note(lambda: self.result.conflicts.append(action.name))
        have = normalize_service(fresh.spec, self.observed)
        want = normalize_service(action.desired or {}, self.observed)
        if not field_changes(have, want):
            self.emit(ApplyEvent("service", "skip", action.name, service_id,
                                 message="changed concurrently to the desired spec"))
            return
        self.warn(f"service {action.name} changed while deploying (update out of sequence); planned it again")
        self.update_service(action, fresh.spec, service_id, fresh.version, retry=False)

    def _auth_headers(self, spec: dict[str, Any]) -> dict[str, str] | None:
        image = spec_image(spec)
        token = self.auth(image) if image else None
        return {"X-Registry-Auth": token} if token else None

    def note_image(self, name: str, spec: dict[str, Any]) -> None:
        image = spec_image(spec)
        self._note(lambda: self.result.images.__setitem__(name, image))

    # removals
    def remove(self, action: Action) -> None:
        self.emit(ApplyEvent(action.kind, REMOVE, action.name, action.id))
        try:
            remove_retrying(self.engine, action.kind, action.id or "",
                            self.remove_retry if action.kind != "service" else 0)
        except EngineError as err:
            self.fail(action, err)
            return
        self.record(AppliedObject(action.kind, action.name, REMOVE, action.id or "",
                                  previous_spec=action.current))


class Gate(Protocol):
    """Waits, before a tier is written, for the dependencies it names (apply/ordering.py)."""

    def before(self, tier: Sequence[str], writing: Sequence[str], result: ApplyResult) -> list[str]:
        """Block until the dependencies of `writing` hold their conditions (raise ApplyError if one
        fails); return the unchanged services of `tier` to force-update (`restart: true`)."""
        ...


def apply_plan(
    engine: Engine,
    plan: Plan,
    *,
    resolve_image: str = "always",
    with_registry_auth: bool = False,
    on_event: Callable[[ApplyEvent], None] | None = None,
    workers: int = DEFAULT_WORKERS,
    check_manager: bool = True,
    tiers: Sequence[Sequence[str]] | None = None,
    gate: Gate | None = None,
    remove_retry: float = REMOVE_RETRY_SECONDS,
    keep_going: bool = False,
    resolver: ImageResolver | None = None,
) -> ApplyResult:
    """Write the plan's changes; raise ApplyError (carrying `.result`) if any write failed.

    Unchanged objects get no call at all. A phase that failed stops the later phases (no
    service is written when one of its networks could not be created), unless `keep_going`
    (`rm`: remove all that can be removed). `tiers`: service names (as in the plan), dependencies
    first; each tier is written once `gate` let it through. None: every service at once.
    """
    assert resolve_image in RESOLVE_MODES, resolve_image  # commands/_options.check_resolve_image
    if check_manager:
        require_manager(engine)
    run = _Run(engine, plan, resolve_image, with_registry_auth, on_event, workers, remove_retry, resolver,
               keep_going)
    phases: list[Callable[[], None]] = [
        lambda: run.parallel(run.create_network, plan.by_kind("network", CREATE)),
        lambda: run.parallel(run.write_file_object,
                             plan.by_kind("secret", CREATE, UPDATE) + plan.by_kind("config", CREATE, UPDATE)),
        lambda: _write_services(run, plan, tiers, gate),
        lambda: run.parallel(run.remove, plan.by_kind("service", REMOVE)),
        lambda: run.parallel(run.remove, plan.by_kind("secret", REMOVE) + plan.by_kind("config", REMOVE)),
        lambda: run.parallel(run.remove, plan.by_kind("network", REMOVE)),
    ]
    result = run.result
    for phase in phases:
        try:
            phase()
        except ApplyError as err:  # a dependency failed: nothing after it is written
            err.result = result  # type: ignore[attr-defined]
            raise
        if result.errors and not keep_going:
            break
    unresolved = run.resolver.warning()
    if unresolved:
        run.warn(unresolved)
    if result.errors:
        done = f"{result.writes} change{'s' if result.writes != 1 else ''} applied before the failure"
        message = f"deploy of stack {plan.stack} failed ({done})"
        if run.engine_lost:
            message = (f"deploy of stack {plan.stack} failed: the Docker engine went away during the deploy "
                       f"({done}); rerun the same deploy once the engine is back: it converges")
        failure = ApplyError(message, list(result.errors))
        failure.result = result  # type: ignore[attr-defined]
        raise failure
    return result


def _write_services(run: _Run, plan: Plan, tiers: Sequence[Sequence[str]] | None, gate: Gate | None) -> None:
    """The services phase: all at once, or tier by tier behind the gate."""
    writes = plan.by_kind("service", CREATE, UPDATE)
    if tiers is None:
        run.parallel(run.write_service, writes)
        return
    unchanged = {a.name: a for a in plan.by_kind("service", UNCHANGED)}
    placed: set[str] = set()
    for tier in [*tiers, [a.name for a in writes if not any(a.name in t for t in tiers)]]:
        placed.update(tier)
        actions = [a for a in writes if a.name in tier]
        restart = gate.before(tier, [a.name for a in actions], run.result) if gate is not None else []
        for name in restart:
            if name in unchanged and name not in run.restart:
                run.restart.add(name)
                with run.lock:
                    run.result.restarted.append(name)
                actions.append(copy.copy(unchanged[name]))
        run.parallel(run.write_service, actions)
        if run.result.errors:
            return


# --- undo -------------------------------------------------------------------------------


def undo(engine: Engine, result: ApplyResult, *,
         on_event: Callable[[ApplyEvent], None] | None = None,
         order: Sequence[str] | None = None) -> list[str]:
    """Put the stack back as it was before `result`: restore updated services to their previous
    specs (and secrets/configs to their previous labels), re-create removed services, remove
    created objects. `order` (service names, dependencies first): the services are put back one
    at a time in the reverse order, dependents before what they depend on. Returns the problems
    (empty when everything was undone)."""
    problems: list[str] = []

    def emit(ev: ApplyEvent) -> None:
        if on_event is not None:
            on_event(ev)

    services = [o for o in result.updated if o.kind == "service"] + \
        [o for o in result.created if o.kind == "service"]
    if order is not None:
        rank = {name: index for index, name in enumerate(order)}
        services.sort(key=lambda o: -rank.get(o.name, len(rank)))
    for obj in services:
        if obj.action == UPDATE:
            _restore_service(engine, obj, emit, problems)
        else:
            emit(ApplyEvent("service", REMOVE, obj.name, obj.id))
            try:
                remove_retrying(engine, "service", obj.id, 0)
            except EngineError as err:
                problems.append(f"failed to remove service {obj.name}: {_error_text(err)}")
    for obj in [o for o in result.removed if o.kind == "service"]:
        emit(ApplyEvent("service", CREATE, obj.name, message="re-creating the removed service"))
        try:
            spec = copy.deepcopy(obj.previous_spec or {})
            (spec.get("TaskTemplate") or {}).pop("ForceUpdate", None)
            engine.create("service", spec)
        except EngineError as err:
            problems.append(f"failed to re-create service {obj.name}: {_error_text(err)}")
    for obj in [o for o in result.updated if o.kind in ("secret", "config")]:
        emit(ApplyEvent(obj.kind, UPDATE, obj.name, obj.id, message="restoring the previous labels"))
        try:
            live = engine.inspect(obj.kind, obj.id)
            spec = dict(obj.spec or {})
            spec["Labels"] = (obj.previous_spec or {}).get("Labels") or {}
            if obj.data is not None:
                spec["Data"] = obj.data
            engine.update(obj.kind, obj.id, int((live.get("Version") or {}).get("Index") or 0), spec)
        except EngineError as err:
            problems.append(f"failed to restore {obj.kind} {obj.name}: {_error_text(err)}")
    for kind in ("secret", "config", "network"):
        for obj in [o for o in result.created if o.kind == kind]:
            emit(ApplyEvent(kind, REMOVE, obj.name, obj.id))
            try:
                remove_retrying(engine, kind, obj.id, REMOVE_RETRY_SECONDS)
            except EngineError as err:
                problems.append(f"failed to remove {kind} {obj.name}: {_error_text(err)}")
    return problems


def _restore_service(engine: Engine, obj: AppliedObject, emit: Callable[[ApplyEvent], None],
                     problems: list[str]) -> None:
    emit(ApplyEvent("service", UPDATE, obj.name, obj.id, message="restoring the previous spec"))
    try:
        live = engine.inspect("service", obj.id)
        spec = copy.deepcopy(obj.previous_spec or {})
        force = ((live.get("Spec") or {}).get("TaskTemplate") or {}).get("ForceUpdate")
        if force:
            spec.setdefault("TaskTemplate", {})["ForceUpdate"] = force
        engine.update("service", obj.id, int((live.get("Version") or {}).get("Index") or 0), spec)
    except EngineError as err:
        problems.append(f"failed to restore service {obj.name}: {_error_text(err)}")


# --- old versions of rotated secrets and configs ---------------------------------------------


def collect_old_versions(engine: Engine, plan: Plan, *, keep: int = DEFAULT_KEEP_VERSIONS,
                         on_event: Callable[[ApplyEvent], None] | None = None) -> tuple[list[AppliedObject],
                                                                                       list[str]]:
    """Remove the old versions of the plan's secrets/configs that `plan.rotation.old_versions` names
    (the rotation policy decides; this only removes).

    Runs after the deploy converged (or right after apply with --detach). A version the engine
    refuses to remove is reported, not fatal. Returns (removed, problems).
    """
    from stackctl.observe import observe_stack

    if not any(plan.versions.values()):
        return [], []
    removed: list[AppliedObject] = []
    problems: list[str] = []
    for old in old_versions(plan.versions, observe_stack(engine, plan.stack), keep=keep):
        kind, obj = old.kind, old.obj
        if on_event is not None:
            on_event(ApplyEvent(kind, REMOVE, obj.name, obj.id, message="old version"))
        try:
            remove_retrying(engine, kind, obj.id, 0)
        except EngineError as err:  # an old version that stays is harmless
            problems.append(f"old version {obj.name} of {kind} {old.base} not removed: {_error_text(err)}")
            continue
        shown = {k: v for k, v in obj.spec.items() if k != "Data"}
        removed.append(AppliedObject(kind, obj.name, REMOVE, obj.id, previous_spec=shown))
    return removed, problems


__all__ = [
    "ApplyEvent",
    "Gate",
    "ApplyResult",
    "AppliedObject",
    "RESOLVE_MODES",
    "UNCHANGED",
    "apply_plan",
    "collect_old_versions",
    "undo",
]
