"""Checks on the merged, normalised stack that a schema cannot express.

The reference accepts many of these files and then fails half way through a deploy (after
networks and secrets were created), or lets the engine refuse them; stackctl refuses them up
front. Keys that the swarm ignores give warnings naming the service and key.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping, Sequence

from stackctl.errors import Diagnostic
from stackctl.images import image_problem
from stackctl.load.source import SourceDoc, dotted, locate
from stackctl.names import scope
from stackctl.placement import constraint_problem, is_spread_key
from stackctl.swarm.modes import SERVICE_MODES as DEPLOY_MODES
from stackctl.swarm.modes import is_global, is_job
from stackctl.syntax.ports import PROTOCOLS, parse_port_spec
from stackctl.units import parse_bytes, parse_cpus, parse_duration

FAILURE_ACTIONS = ("pause", "continue", "rollback")
UPDATE_ORDERS = ("stop-first", "start-first")
RESTART_CONDITIONS = ("none", "on-failure", "any")
ENDPOINT_MODES = ("vip", "dnsrr")
PORT_MODES = ("ingress", "host")
SERVICE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
MAX_SERVICE_NAME = 63  # swarm limit for STACK_service
MIN_MEMORY_LIMIT = 4 * 1024 * 1024

# Service keys `docker stack deploy` does not apply, with what to do instead.
IGNORED_SERVICE_KEYS = {
    "build": "build and push the image, then name it in image:",
    "cgroup_parent": "not supported by swarm services",
    "cgroupns_mode": "not supported by swarm services",
    "container_name": "swarm names containers STACK_SERVICE.SLOT.ID",
    "devices": "not supported by swarm services",
    "domainname": "not supported by swarm services",
    "expose": "services on the same network reach each other on any port",
    "external_links": "put the services on a shared network instead",
    "ipc": "not supported by swarm services",
    "links": "services on the same network reach each other by name",
    "mac_address": "not supported by swarm services",
    "network_mode": "attach the service to networks instead",
    "pid": "not supported by swarm services",
    "privileged": "swarm services cannot run privileged; use cap_add",
    "security_opt": "not supported by swarm services",
    "shm_size": "mount a tmpfs volume at /dev/shm instead",
    "tmpfs": "use a volumes entry with type: tmpfs",
    "userns_mode": "not supported by swarm services",
}

DURATION_PATHS = (
    ("stop_grace_period",),
    ("healthcheck", "interval"), ("healthcheck", "timeout"), ("healthcheck", "start_period"),
    ("healthcheck", "start_interval"),
    ("deploy", "update_config", "delay"), ("deploy", "update_config", "monitor"),
    ("deploy", "rollback_config", "delay"), ("deploy", "rollback_config", "monitor"),
    ("deploy", "restart_policy", "delay"), ("deploy", "restart_policy", "window"),
)

Path = tuple[str | int, ...]


class _Checker:
    def __init__(self, config: Mapping[str, object], docs: Sequence[SourceDoc], working_dir: str,
                 stack: str | None, environ: Mapping[str, str] | None = None, decrypt: bool = False) -> None:
        self.config = config
        self.decrypt = decrypt
        self.environ = environ
        self.docs = docs
        self.working_dir = working_dir
        self.stack = stack
        self.out: list[Diagnostic] = []

    def report(self, path: Path, message: str, hint: str | None = None, severity: str = "error") -> None:
        file, line = locate(self.docs, path)
        self.out.append(Diagnostic(message, file, line, dotted(path), hint, severity))

    def warn(self, path: Path, message: str, hint: str | None = None) -> None:
        self.report(path, message, hint, "warning")

    def top(self, section: str) -> Mapping[str, object]:
        value = self.config.get(section)
        return value if isinstance(value, dict) else {}

    def undefined(self, path: Path, kind: str, name: str, section: str) -> None:
        defined = list(self.top(section))
        close = difflib.get_close_matches(name, defined, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"declare it under the top-level {section}:"
        self.report(path, f'undefined {kind} "{name}"', hint)

    # --- the checks --------------------------------------------------------------------

    def run(self) -> list[Diagnostic]:
        services = self.top("services")
        for name, service in services.items():
            if isinstance(service, dict):
                self.service(str(name), service)
        self.dependencies(services)
        self.top_level_objects()
        return self.out

    def service(self, name: str, svc: Mapping[str, object]) -> None:
        base: Path = ("services", name)
        self.service_name(base, name)
        self.image(base, svc)
        self.networks(base, svc)
        for kind, section in (("secret", "secrets"), ("config", "configs")):
            self.file_references(base, svc, kind, section)
        self.volumes(base, svc)
        credential = svc.get("credential_spec")
        if isinstance(credential, dict) and credential.get("config"):
            if credential["config"] not in self.top("configs"):
                self.undefined((*base, "credential_spec", "config"), "config", str(credential["config"]),
                               "configs")
        self.durations(base, svc)
        self.deploy(base, svc)
        self.ports(base, svc)
        oom = svc.get("oom_score_adj")
        if isinstance(oom, int) and not -1000 <= oom <= 1000:
            self.report((*base, "oom_score_adj"), f"must be between -1000 and 1000 (got {oom})")
        self.ignored_keys(base, svc)

    def service_name(self, base: Path, name: str) -> None:
        if not SERVICE_NAME.match(name):
            self.report(base, f'invalid service name "{name}"',
                        'use letters, digits, ".", "_" and "-", starting with a letter or digit')
            return
        if self.stack is not None:
            full = scope(self.stack, name)
            if len(full) > MAX_SERVICE_NAME:
                self.report(base, f'service name "{full}" is longer than {MAX_SERVICE_NAME} characters',
                            "shorten the stack or service name")
        elif len(name) + 2 > MAX_SERVICE_NAME:
            self.report(base, f'service name "{name}" is too long',
                        f"STACK_{name} must fit {MAX_SERVICE_NAME} characters")

    def image(self, base: Path, svc: Mapping[str, object]) -> None:
        image = svc.get("image")
        if not image:
            hint = "build: is ignored by stack deploy; push the image and name it" if "build" in svc else (
                "every swarm service needs an image")
            self.report(base, "no image specified", hint)
            return
        problem = image_problem(str(image))
        if problem:
            self.report((*base, "image"), f'invalid image reference "{image}": {problem}')

    def networks(self, base: Path, svc: Mapping[str, object]) -> None:
        networks = svc.get("networks") or {}
        names = list(networks) if isinstance(networks, (dict, list)) else []
        defined = self.top("networks")
        for net in names:
            if not isinstance(net, str):
                continue
            path = self.item_path((*base, "networks"), net)
            if net != "default" and net not in defined:
                self.undefined(path, "network", net, "networks")
            options = networks.get(net) if isinstance(networks, dict) else None
            if isinstance(options, dict):
                for key in ("ipv4_address", "ipv6_address"):
                    if options.get(key):
                        self.warn((*base, "networks", net, key), f'"{key}" is ignored by swarm services',
                                  "swarm assigns addresses from the network's subnet")

    def file_references(self, base: Path, svc: Mapping[str, object], kind: str, section: str) -> None:
        refs = svc.get(section) or []
        if not isinstance(refs, list):
            return
        defined = self.top(section)
        targets: dict[str, str] = {}
        for index, ref in enumerate(refs):
            source = ref if isinstance(ref, str) else ref.get("source") if isinstance(ref, dict) else None
            if not source:
                self.report((*base, section, index), f'undefined {kind} ""', f"name the {kind} in source:")
                continue
            path = self.item_path((*base, section), source, index)
            if source not in defined:
                self.undefined(path, kind, source, section)
            target = (ref.get("target") if isinstance(ref, dict) else None) or source
            if target in targets:
                self.report(path, f'duplicate {kind} target "{target}"',
                            f'"{targets[target]}" already uses it; give one of them another target')
            else:
                targets[target] = source

    def volumes(self, base: Path, svc: Mapping[str, object]) -> None:
        volumes = svc.get("volumes") or []
        if not isinstance(volumes, list):
            return
        defined = self.top("volumes")
        for index, volume in enumerate(volumes):
            if not isinstance(volume, dict):
                continue
            kind = volume.get("type") or "volume"
            source = volume.get("source")
            if not source:
                continue
            named = kind == "volume" or (kind == "cluster" and not str(source).startswith("group:"))
            if named and source not in defined:
                self.undefined((*base, "volumes", index), "volume", str(source), "volumes")

    def durations(self, base: Path, svc: Mapping[str, object]) -> None:
        for sub in DURATION_PATHS:
            value = _get(svc, sub)
            if value is None:
                continue
            try:
                if isinstance(value, str):
                    nanos = parse_duration(value)
                elif isinstance(value, (int, float)):
                    nanos = int(value)
                else:
                    raise TypeError(value)
            except (ValueError, TypeError, OverflowError):
                self.report((*base, *sub), f"{value!r} is not a valid duration",
                            "Go duration syntax, e.g. 10s, 1m30s, 1h")
                continue
            if nanos < 0:
                self.report((*base, *sub), f"duration {value!r} cannot be negative")

    def deploy(self, base: Path, svc: Mapping[str, object]) -> None:
        deploy = svc.get("deploy")
        if not isinstance(deploy, dict):
            return
        dpath: Path = (*base, "deploy")
        mode = deploy.get("mode") or "replicated"
        self.enum((*dpath, "mode"), deploy.get("mode"), DEPLOY_MODES)
        if is_global(str(mode)) and deploy.get("replicas") is not None:
            self.report((*dpath, "replicas"), f"replicas cannot be used with mode {mode}",
                        "only replicated and replicated-job services have replicas")
        self.enum((*dpath, "endpoint_mode"), deploy.get("endpoint_mode"), ENDPOINT_MODES)
        for block in ("update_config", "rollback_config"):
            conf = deploy.get(block)
            if isinstance(conf, dict):
                self.enum((*dpath, block, "failure_action"), conf.get("failure_action"), FAILURE_ACTIONS)
                self.enum((*dpath, block, "order"), conf.get("order"), UPDATE_ORDERS)
                ratio = conf.get("max_failure_ratio")
                if isinstance(ratio, (int, float)) and not 0 <= ratio <= 1:
                    self.report((*dpath, block, "max_failure_ratio"),
                                f"must be between 0 and 1 (got {ratio})")
        restart = deploy.get("restart_policy")
        if isinstance(restart, dict):
            self.enum((*dpath, "restart_policy", "condition"), restart.get("condition"), RESTART_CONDITIONS)
        self.resources(dpath, deploy.get("resources"))
        self.placement(dpath, deploy.get("placement"))
        if deploy.get("endpoint_mode") == "dnsrr":
            ports = svc.get("ports")
            ingress = [port.get("published") for port in (ports if isinstance(ports, list) else [])
                       if isinstance(port, dict) and (port.get("mode") or "ingress") == "ingress"
                       and port.get("published")]
            if ingress:
                shown = ", ".join(str(p) for p in ingress[:5]) + (", ..." if len(ingress) > 5 else "")
                self.report((*base, "ports"),
                            f"ports published in ingress mode ({shown}) cannot be used with "
                            "endpoint_mode dnsrr",
                            "publish them with mode: host, or use endpoint_mode vip")

    def enum(self, path: Path, value: object, allowed: Sequence[str]) -> None:
        if value in (None, ""):
            return
        if value not in allowed:
            close = difflib.get_close_matches(str(value), allowed, n=1)
            self.report(path, f"must be one of {', '.join(allowed)} (got {value!r})",
                        f"did you mean '{close[0]}'?" if close else None)

    def resources(self, dpath: Path, resources: object) -> None:
        if not isinstance(resources, dict):
            return
        for block in ("limits", "reservations"):
            res = resources.get(block)
            if not isinstance(res, dict):
                continue
            if res.get("cpus") not in (None, ""):
                try:
                    parse_cpus(res["cpus"])
                except ValueError as err:
                    self.report((*dpath, "resources", block, "cpus"), str(err))
            if res.get("memory") not in (None, ""):
                try:
                    memory = parse_bytes(res["memory"])
                except ValueError as err:
                    self.report((*dpath, "resources", block, "memory"), str(err))
                    continue
                if block == "limits" and 0 < memory < MIN_MEMORY_LIMIT:
                    self.report((*dpath, "resources", block, "memory"),
                                f"memory limit {memory} bytes is below the engine's minimum of 4MiB")

    def placement(self, dpath: Path, placement: object) -> None:
        if not isinstance(placement, dict):
            return
        for index, constraint in enumerate(placement.get("constraints") or []):
            problem = constraint_problem(str(constraint))
            if problem:
                self.report((*dpath, "placement", "constraints", index), *problem)
        for index, pref in enumerate(placement.get("preferences") or []):
            path = (*dpath, "placement", "preferences", index)
            if not isinstance(pref, dict) or set(pref) != {"spread"}:
                self.report(path, "placement preference must be a spread", "e.g. - spread: node.labels.zone")
                continue
            spread = str(pref["spread"] or "")
            if not is_spread_key(spread):
                # The engine accepts it and runs the service: every node then falls in one group,
                # so the preference does nothing. Warn; refuse only what cannot run.
                self.warn((*path, "spread"),
                          f"spread over {spread!r} has no effect: it names no node attribute",
                          "spread over a node attribute such as node.labels.zone")

    def ports(self, base: Path, svc: Mapping[str, object]) -> None:
        ports = svc.get("ports") or []
        if not isinstance(ports, list):
            return
        seen: dict[tuple[int, str], int] = {}
        for index, port in enumerate(ports):
            path = (*base, "ports", index)
            if not isinstance(port, dict):
                try:
                    parse_port_spec(port)
                except ValueError as err:
                    self.report(path, f"invalid port {port!r}", str(err))
                continue
            target, published = port.get("target"), port.get("published")
            if not isinstance(target, int) or not 1 <= target <= 65535:
                self.report((*path, "target"), f"target port must be in 1-65535 (got {target!r})")
            if published not in (None, 0) and (not isinstance(published, int) or not 1 <= published <= 65535):
                self.report((*path, "published"), f"published port must be in 1-65535 (got {published!r})")
            protocol = port.get("protocol") or "tcp"
            self.enum((*path, "protocol"), port.get("protocol"), PROTOCOLS)
            self.enum((*path, "mode"), port.get("mode"), PORT_MODES)
            if isinstance(published, int) and published:
                key = (published, str(protocol))
                if key in seen:
                    self.report(path, f"port {published}/{protocol} is published twice")
                seen[key] = index

    def ignored_keys(self, base: Path, svc: Mapping[str, object]) -> None:
        for key, hint in IGNORED_SERVICE_KEYS.items():
            if key in svc:
                self.warn((*base, key), f'"{key}" is ignored by swarm stacks', hint)
        if "restart" in svc:
            deploy = svc.get("deploy") or {}
            if isinstance(deploy, dict) and deploy.get("restart_policy"):
                self.warn((*base, "restart"), '"restart" is ignored: deploy.restart_policy is set')
            else:
                self.warn((*base, "restart"), '"restart" is only a fallback for deploy.restart_policy',
                          "use deploy.restart_policy")

    def dependencies(self, services: Mapping[str, object]) -> None:
        """depends_on: names that are services, no cycle, conditions the dependency can meet."""
        from stackctl.model import depends

        edges = depends.edges_of(self.config)
        for edge in edges:
            path = self.item_path(("services", edge.service, "depends_on"), edge.dependency)
            target = services.get(edge.dependency)
            if edge.dependency not in services:
                close = difflib.get_close_matches(edge.dependency, list(services), n=1)
                hint = f"did you mean '{close[0]}'?" if close else "name a service of this stack"
                if edge.required:
                    self.report(path, f'depends on undefined service "{edge.dependency}"', hint)
                else:
                    self.warn(path, f'optional dependency "{edge.dependency}" is not a service of this '
                              "stack: ignored", hint)
                continue
            target = target if isinstance(target, dict) else {}
            if edge.condition == depends.HEALTHY and not _has_healthcheck(target):
                self.report(path, f'service_healthy: "{edge.dependency}" has no healthcheck',
                            f"add a healthcheck: to {edge.dependency} (stackctl does not look inside images "
                            "for a HEALTHCHECK), or use condition: service_started")
            elif edge.condition == depends.COMPLETED:
                self.completion(path, edge.dependency, target)
        cycle = depends.find_cycle(services, edges)
        if cycle:
            first = self.item_path(("services", cycle[0], "depends_on"), cycle[1])
            self.report(first, "dependency cycle: " + " -> ".join(cycle),
                        "services cannot wait for each other; remove one of these depends_on entries")

    def completion(self, path: Path, name: str, target: Mapping[str, object]) -> None:
        """service_completed_successfully: a job completes; a service swarm restarts never does."""
        raw_deploy = target.get("deploy")
        deploy: Mapping[str, object] = raw_deploy if isinstance(raw_deploy, dict) else {}
        if is_job(str(deploy.get("mode"))):
            return
        raw_policy = deploy.get("restart_policy")
        policy: Mapping[str, object] = raw_policy if isinstance(raw_policy, dict) else {}
        restart = "" if "restart_policy" in deploy else str(target.get("restart") or "")
        fallback = restart.partition(":")[0]
        condition = policy.get("condition") or ("on-failure" if fallback == "on-failure" else "any")
        if condition == "any":
            self.report(path, f'service_completed_successfully: "{name}" never completes (swarm restarts '
                        "its tasks when they exit)",
                        "make it a job: deploy.mode: replicated-job")
        else:
            self.warn(path, f'service_completed_successfully: "{name}" is not a job; its tasks complete '
                      f"only because restart_policy is {condition}",
                      "a job says it better: deploy.mode: replicated-job")

    def top_level_objects(self) -> None:
        for key, net in self.top("networks").items():
            if isinstance(net, dict) and _is_external(net):
                for option in ("driver", "driver_opts", "ipam", "internal", "attachable", "labels"):
                    if net.get(option) not in (None, {}, [], False, ""):
                        self.warn(("networks", key, option),
                                  f'"{option}" is ignored for external network "{key}"',
                                  "the network already exists; stackctl does not create it")
        for key, vol in self.top("volumes").items():
            if isinstance(vol, dict) and _is_external(vol):
                for option in ("driver", "driver_opts", "labels"):
                    if vol.get(option):
                        self.report(("volumes", key, option),
                                    f'conflicting parameters "external" and "{option}" for volume "{key}"',
                                    "an external volume already exists; drop one of them")
        for section, kind in (("secrets", "secret"), ("configs", "config")):
            for key, obj in self.top(section).items():
                if isinstance(obj, dict):
                    self.file_object(section, kind, str(key), obj)

    def file_object(self, section: str, kind: str, key: str, obj: Mapping[str, object]) -> None:
        path: Path = (section, key)
        if _is_external(obj):
            for option in ("file", "environment", "driver", "template_driver"):
                if obj.get(option):
                    self.warn((*path, option), f'"{option}" is ignored for external {kind} "{key}"')
            return
        sources = [k for k in ("file", "environment", "driver") if obj.get(k)]
        if len(sources) > 1:
            self.report((*path, sources[-1]), f'{kind} "{key}" sets both {sources[0]} and {sources[1]}',
                        "use only one of file, environment, driver and external")
            return
        if obj.get("driver"):
            return
        variable = obj.get("environment")
        if variable:
            if self.environ is not None and str(variable) not in self.environ:
                self.report((*path, "environment"),
                            f'{kind} "{key}": environment variable {variable} is not set',
                            f"export {variable} (or set it in an env file) before deploying")
            return
        file = obj.get("file")
        if not file:
            needs = ("file:, environment:, driver: or external: true" if kind == "secret"
                     else "file: or external: true")
            self.report(path, f'{kind} "{key}" has no content', f"give it {needs}")
            return
        full = os.path.join(self.working_dir, os.path.expanduser(str(file)))
        file = _shown_path(full, self.working_dir)
        if not os.path.exists(full):
            self.report((*path, "file"), f'{kind} file "{file}" does not exist')
        elif os.path.isdir(full):
            self.report((*path, "file"), f'{kind} file "{file}" is a directory')
        elif not os.access(full, os.R_OK):
            self.report((*path, "file"), f'{kind} file "{file}" is not readable')
        elif self.decrypt:
            self.decrypts(path, kind, full, obj.get("x-data-key"))

    def decrypts(self, path: Path, kind: str, full: str, data_key: object) -> None:
        """An encrypted file decrypts with the keys at hand (and has its x-data-key): `validate`."""
        from stackctl.secrets.decrypt import DecryptError, encryption_of, read_file

        try:
            with open(full, "rb") as fh:
                head = fh.read(65536)
            if encryption_of(full, head) is None and not data_key:
                return
            read_file(full, data_key=str(data_key) if data_key else None)  # the plaintext is dropped
        except OSError:
            return  # reported above
        except DecryptError as err:
            self.report((*path, "file"), f"{kind} {path[-1]}: {err}", err.hint)

    # --- locating list items in the source ------------------------------------------------

    def item_path(self, list_path: Path, name: str, index: int | None = None) -> Path:
        """Path of the list item or map key naming `name` in the source files, if found."""
        for doc in reversed(self.docs):
            value = _get(doc.data, list_path)
            if isinstance(value, dict) and name in value:
                return (*list_path, name)
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item == name or (isinstance(item, dict) and item.get("source") == name):
                        return (*list_path, i)
        return (*list_path, index) if index is not None else (*list_path, name)


def _has_healthcheck(service: Mapping[str, object]) -> bool:
    check = service.get("healthcheck")
    if not isinstance(check, dict) or check.get("disable"):
        return False
    test = check.get("test")
    return bool(test) and not (isinstance(test, list) and test[:1] == ["NONE"])


def _shown_path(full: str, working_dir: str) -> str:
    """A path as the user thinks of it: relative to the stack's folder when inside it."""
    base = os.path.abspath(working_dir or ".")
    full = os.path.abspath(full)
    return os.path.relpath(full, base) if full.startswith(base + os.sep) else full


def _is_external(obj: Mapping[str, object]) -> bool:
    ext = obj.get("external")
    return bool(ext) if not isinstance(ext, dict) else True


def _get(data: object, path: Iterable[str | int]) -> object:
    for part in path:
        if isinstance(data, dict) and not isinstance(part, int):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def check_meaning(config: Mapping[str, object], docs: list[SourceDoc], working_dir: str,
                  stack: str | None = None, *, environ: Mapping[str, str] | None = None,
                  decrypt: bool = False) -> list[Diagnostic]:
    """Errors and warnings (by severity) on the merged config, sorted by file and line.

    `stack`, when known (deploy, diff), also checks that STACK_service fits the swarm's limit.
    `environ`, when given, is where `environment: VAR` secrets read their value: VAR must be set.
    `decrypt` (validate): every SOPS/age-encrypted secret or config file decrypts with the keys at
    hand (deploy and diff find out at convert, before any write, without decrypting twice).
    """
    found = _Checker(config, docs, working_dir, stack, environ, decrypt).run()
    order = {doc.filename: i for i, doc in enumerate(docs)}
    return sorted(found, key=lambda d: (order.get(d.file or "", -1), d.line or 0, d.path))
