"""One compose service → an Engine API ServiceSpec (docker-stack-reference §c.1, §c.4)."""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Mapping
from typing import Any

from stackctl.convert.context import (
    ConvertContext,
    as_string_map,
    is_external,
    object_name,
)
from stackctl.convert.objects import DEFAULT_NETWORK
from stackctl.convert.values import go_string
from stackctl.images import normalize_image
from stackctl.names import IMAGE_LABEL
from stackctl.swarm.modes import is_global
from stackctl.units import parse_bytes, parse_cpus, parse_duration

Path = tuple[str | int, ...]
Spec = dict[str, Any]

DEFAULT_FILE_MODE = 0o444
_NOT_USER_DEFINED = {"default", "bridge", "host", "none"}


class _Skip(Exception):
    """A sub-converter reported an error; the field is left out and conversion goes on."""


def convert_service(ctx: ConvertContext, key: str, svc: Mapping[str, Any]) -> Spec | None:
    """The ServiceSpec for service `key`, or None when errors were recorded in `ctx`."""
    before = len(ctx.errors)
    path: Path = ("services", key)
    deploy = svc.get("deploy") or {}
    image = svc.get("image")
    if not image:
        ctx.error(path + ("image",), f"invalid image reference for service {key}: no image specified")
        image = ""
    image = str(image)

    container: Spec = {"Image": normalize_image(image) if image else image}
    labels = ctx.labels(svc.get("labels"))
    container["Labels"] = labels
    _set(container, "Command", _shell_words(ctx, path + ("entrypoint",), svc.get("entrypoint")))
    _set(container, "Args", _shell_words(ctx, path + ("command",), svc.get("command")))
    _set(container, "Hostname", svc.get("hostname"))
    _set(container, "Env", _environment(svc.get("environment")))
    _set(container, "Dir", svc.get("working_dir"))
    _set(container, "User", go_string(svc.get("user")) if svc.get("user") is not None else None)
    if svc.get("init") is not None:
        container["Init"] = bool(svc["init"])
    _set(container, "StopSignal", svc.get("stop_signal"))
    _set(container, "TTY", bool(svc.get("tty")) or None)
    _set(container, "OpenStdin", bool(svc.get("stdin_open")) or None)
    _set(container, "ReadOnly", bool(svc.get("read_only")) or None)
    _set(container, "Mounts", _try(lambda: _mounts(ctx, key, svc.get("volumes") or [])))
    if svc.get("stop_grace_period") is not None:
        container["StopGracePeriod"] = _duration(ctx, path + ("stop_grace_period",), svc["stop_grace_period"])
    _set(
        container,
        "Healthcheck",
        _try(lambda: _healthcheck(ctx, path + ("healthcheck",), svc.get("healthcheck"))),
    )
    _set(container, "Hosts", _extra_hosts(svc.get("extra_hosts")))
    _set(container, "DNSConfig", _dns_config(ctx, path, svc.get("dns"), svc.get("dns_search")))
    _set(container, "Secrets", _file_refs(ctx, key, "secrets", svc.get("secrets") or []))
    configs = _file_refs(ctx, key, "configs", svc.get("configs") or [])
    credential_spec = _try(lambda: _credential_spec(ctx, key, svc.get("credential_spec")))
    if credential_spec and credential_spec.get("Config"):
        configs.append({"Runtime": {}, "ConfigID": "", "ConfigName": credential_spec["Config"]})
        configs.sort(key=lambda ref: ref["ConfigName"])
    _set(container, "Configs", configs)
    if credential_spec:
        container["Privileges"] = {"CredentialSpec": credential_spec}
    _set(container, "Isolation", svc.get("isolation"))
    _set(container, "Sysctls", as_string_map(svc.get("sysctls")))
    cap_add, cap_drop = effective_capabilities(svc.get("cap_add") or [], svc.get("cap_drop") or [])
    _set(container, "CapabilityAdd", cap_add)
    _set(container, "CapabilityDrop", cap_drop)
    _set(container, "Ulimits", _try(lambda: _ulimits(ctx, path + ("ulimits",), svc.get("ulimits"))))
    if svc.get("oom_score_adj"):
        container["OomScoreAdj"] = int(svc["oom_score_adj"])

    task: Spec = {"ContainerSpec": container}
    task["Resources"] = (
        _try(lambda: _resources(ctx, path + ("deploy", "resources"), deploy.get("resources"))) or {}
    )
    _set(
        task,
        "RestartPolicy",
        _try(lambda: _restart_policy(ctx, path, svc.get("restart"), deploy.get("restart_policy"))),
    )
    task["Placement"] = _placement(deploy.get("placement"))
    _set(task, "Networks", _try(lambda: _networks(ctx, key, svc.get("networks"))))
    logging = svc.get("logging")
    if logging is not None:
        log_driver: Spec = {"Name": str(logging.get("driver") or "")}
        _set(log_driver, "Options", as_string_map(logging.get("options")))
        task["LogDriver"] = log_driver

    spec: Spec = {
        "Name": ctx.scope(key),
        "Labels": {**ctx.labels(deploy.get("labels")), IMAGE_LABEL: image},
        "TaskTemplate": task,
    }
    mode = _try(lambda: _mode(ctx, path + ("deploy",), deploy.get("mode"), deploy.get("replicas")))
    if mode is not None:
        spec["Mode"] = mode
    _set(
        spec,
        "UpdateConfig",
        _try(lambda: _update_config(ctx, path + ("deploy", "update_config"), deploy.get("update_config"))),
    )
    _set(
        spec,
        "RollbackConfig",
        _try(
            lambda: _update_config(ctx, path + ("deploy", "rollback_config"), deploy.get("rollback_config"))
        ),
    )
    spec["EndpointSpec"] = _endpoint_spec(deploy.get("endpoint_mode"), svc.get("ports") or [])
    return spec if len(ctx.errors) == before else None


# --- helpers --------------------------------------------------------------------------------------


def _set(target: Spec, key: str, value: Any) -> None:
    """Set only meaningful values, like Go's `omitempty`."""
    if value is None or value == "" or value == [] or value == {}:
        return
    target[key] = value


def _try(fn: Any) -> Any:
    try:
        return fn()
    except _Skip:
        return None


def _duration(ctx: ConvertContext, path: Path, value: Any) -> int:
    try:
        return parse_duration(value)
    except ValueError as exc:
        ctx.error(path, str(exc))
        raise _Skip from None


def _shell_words(ctx: ConvertContext, path: Path, value: Any) -> list[str] | None:
    """`command`/`entrypoint`: a list passes as-is, a string is split shell-style (no `sh -c`)."""
    if value is None:
        return None
    if isinstance(value, list):
        return [go_string(v) for v in value]
    try:
        return shlex.split(str(value))
    except ValueError as exc:
        ctx.error(path, f"cannot split {value!r}: {exc}")
        return None


def _environment(env: Any) -> list[str]:
    """Sorted `K=V` strings; a key without a value stays bare `K` (the engine then leaves it unset)."""
    if not env:
        return []
    items: list[str] = []
    if isinstance(env, Mapping):
        for name, value in env.items():
            items.append(str(name) if value is None else f"{name}={go_string(value)}")
    else:
        items = [str(item) for item in env]
    return sorted(items)


def _extra_hosts(hosts: Any) -> list[str]:
    """`host:ip` (or `host=ip`, or a map) → swarmkit's `"ip host"`; list order is kept, a map is sorted."""
    if not hosts:
        return []
    pairs: list[tuple[str, str]] = []
    if isinstance(hosts, Mapping):
        pairs = [(str(h), go_string(ip)) for h, ip in sorted(hosts.items())]
    else:
        for item in hosts:
            text = str(item)
            sep = "=" if "=" in text and (":" not in text or text.index("=") < text.index(":")) else ":"
            host, found, ip = text.partition(sep)
            if found:
                pairs.append((host, ip))
    out = []
    for host, ip in pairs:
        if ip.startswith("[") and ip.endswith("]"):
            ip = ip[1:-1]
        out.append(f"{ip} {host}")
    return out


def _dns_config(ctx: ConvertContext, path: Path, dns: Any, search: Any) -> Spec | None:
    """Nameservers and search domains; the engine silently drops unparseable IPs, so we warn and drop."""
    servers = [dns] if isinstance(dns, str) else list(dns or [])
    domains = [search] if isinstance(search, str) else list(search or [])
    if not servers and not domains:
        return None
    valid = []
    for server in servers:
        try:
            ipaddress.ip_address(str(server))
            valid.append(str(server))
        except ValueError:
            ctx.warn(path + ("dns",), f"{server!r} is not an IP address; the engine ignores it")
    out: Spec = {}
    _set(out, "Nameservers", valid)
    _set(out, "Search", [str(d) for d in domains])
    return out


def _healthcheck(ctx: ConvertContext, path: Path, check: Any) -> Spec | None:
    if check is None:
        return None
    test = check.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if check.get("disable"):
        if test:
            ctx.error(path, "test and disable can't be set at the same time")
            raise _Skip
        return {"Test": ["NONE"]}
    out: Spec = {}
    _set(out, "Test", [str(t) for t in test] if test else None)
    for compose_key, api_key in (
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start_period", "StartPeriod"),
        ("start_interval", "StartInterval"),
    ):
        if check.get(compose_key) is not None:
            _set(out, api_key, _duration(ctx, path + (compose_key,), check[compose_key]) or None)
    if check.get("retries"):
        out["Retries"] = int(check["retries"])
    return out


def effective_capabilities(add: list[Any], drop: list[Any]) -> tuple[list[str], list[str]]:
    """CLI capability rules: `CAP_`-prefixed upper case, `ALL` swallows the rest, add beats drop,
    `RESET` is dropped, both lists sorted and de-duplicated."""

    def norm(cap: Any) -> str:
        text = str(cap).strip().upper()
        if text in ("ALL", "RESET") or text.startswith("CAP_"):
            return text
        return "CAP_" + text

    adds = {norm(c) for c in add}
    drops = {norm(c) for c in drop}
    if "ALL" in adds:
        adds = {"ALL"}
    if "ALL" in drops:
        drops = {"ALL"}
    drops -= adds
    return sorted(adds - {"RESET"}), sorted(drops - {"RESET"})


def _ulimits(ctx: ConvertContext, path: Path, ulimits: Any) -> list[Spec]:
    out = []
    for name, value in sorted((ulimits or {}).items()):
        if isinstance(value, Mapping):
            soft, hard = value.get("soft"), value.get("hard")
            if soft is None or hard is None:
                ctx.error(path + (name,), "ulimit needs both soft and hard")
                raise _Skip
        else:
            soft = hard = value
        out.append({"Name": str(name), "Soft": int(soft), "Hard": int(hard)})
    return out


def _credential_spec(ctx: ConvertContext, key: str, cred: Any) -> Spec | None:
    """Exactly one of config/file/registry; a `config:` is named here, resolved to an ID at apply."""
    if not cred:
        return None
    given = [
        (k, api)
        for k, api in (("config", "Config"), ("file", "File"), ("registry", "Registry"))
        if cred.get(k)
    ]
    if not given:
        return None
    if len(given) > 1:
        names = [f'"{api}"' for _, api in given]
        joined = " and ".join(names) if len(names) == 2 else ", ".join(names[:-1]) + ", and " + names[-1]
        ctx.error(
            ("services", key, "credential_spec"), f"invalid credential spec: cannot specify both {joined}"
        )
        raise _Skip
    compose_key, api_key = given[0]
    value = str(cred[compose_key])
    if compose_key == "config":
        configs = ctx.section("configs")
        assert value in configs, f"undefined config {value!r}: validate/meaning.py checks references"
        value = object_name(ctx, value, configs[value] or {})
    return {api_key: value}


def _file_refs(ctx: ConvertContext, key: str, section: str, refs: list[Any]) -> list[Spec]:
    """Secret/config references: File{Name, UID, GID, Mode} + name, empty ID, sorted by name."""
    kind = section[:-1]
    api = "Secret" if kind == "secret" else "Config"
    declared = ctx.section(section)
    out: list[Spec] = []
    targets: set[str] = set()
    for ref in refs:
        ref = {"source": ref} if isinstance(ref, str) else dict(ref or {})
        source = str(ref.get("source") or "")
        assert source in declared, f"undefined {kind} {source!r}: validate/meaning.py checks references"
        name = object_name(ctx, source, declared[source] or {})
        target = str(ref.get("target") or source)
        mode = ref.get("mode")
        file: Spec = {
            "Name": target,
            "UID": go_string(ref.get("uid")) or "0",
            "GID": go_string(ref.get("gid")) or "0",
            "Mode": DEFAULT_FILE_MODE if mode is None else int(mode),
        }
        assert target not in targets, \
            f"duplicate {kind} target {target!r}: validate/meaning.py checks references"
        targets.add(target)
        out.append({"File": file, f"{api}ID": "", f"{api}Name": name})
    out.sort(key=lambda r: r[f"{api}Name"])
    return out


def _mounts(ctx: ConvertContext, key: str, volumes: list[Any]) -> list[Spec]:
    out = []
    failed = False
    for index, vol in enumerate(volumes):
        try:
            out.append(_mount(ctx, ("services", key, "volumes", index), vol))
        except _Skip:
            failed = True
    if failed:
        raise _Skip
    return out


def _mount(ctx: ConvertContext, path: Path, vol: Any) -> Spec:
    if isinstance(vol, str):
        ctx.error(path, f"short volume syntax {vol!r} was not expanded by the loader")
        raise _Skip
    kind = str(vol.get("type") or "volume")
    source = str(vol.get("source") or "")
    mount: Spec = {"Type": kind, "Target": str(vol.get("target") or "")}
    if source:
        mount["Source"] = source
    if vol.get("read_only"):
        mount["ReadOnly"] = True
    if vol.get("consistency"):
        mount["Consistency"] = str(vol["consistency"])

    def incompatible(*options: str) -> None:
        for option in options:
            if vol.get(option) is not None:
                ctx.error(path + (option,), f"{option} options are incompatible with type {kind}")
                raise _Skip

    def bind_options() -> None:
        bind = vol.get("bind") or {}
        if bind.get("propagation"):
            mount["BindOptions"] = {"Propagation": str(bind["propagation"])}

    if kind == "volume":
        incompatible("tmpfs", "bind", "cluster", "image")
        options: Spec = {}
        volume_opts = vol.get("volume") or {}
        if volume_opts.get("nocopy"):
            options["NoCopy"] = True
        if volume_opts.get("subpath"):
            options["Subpath"] = str(volume_opts["subpath"])
        if source:
            declared = ctx.section("volumes")
            assert source in declared, f"undefined volume {source!r}: validate/meaning.py checks references"
            entry = declared[source] or {}
            mount["Source"] = object_name(ctx, source, entry)
            if not is_external(entry):
                options["Labels"] = ctx.labels(entry.get("labels"))
                driver_opts = entry.get("driver_opts")
                if entry.get("driver") or driver_opts is not None:
                    driver: Spec = {"Name": str(entry.get("driver") or "")}
                    _set(driver, "Options", as_string_map(driver_opts))
                    options["DriverConfig"] = driver
        _set(mount, "VolumeOptions", options)
    elif kind == "bind":
        if not source:
            ctx.error(path, 'invalid mount config for type "bind": field Source must not be empty')
            raise _Skip
        incompatible("volume", "tmpfs", "cluster", "image")
        bind_options()
    elif kind == "tmpfs":
        if source:
            ctx.error(path + ("source",), "invalid tmpfs source, source must be empty")
            raise _Skip
        incompatible("volume", "bind", "cluster", "image")
        tmpfs = vol.get("tmpfs") or {}
        tmpfs_opts: Spec = {}
        if tmpfs.get("size"):
            try:
                tmpfs_opts["SizeBytes"] = parse_bytes(tmpfs["size"])
            except ValueError as exc:
                ctx.error(path + ("tmpfs", "size"), str(exc))
                raise _Skip from None
        if tmpfs.get("mode") is not None:
            tmpfs_opts["Mode"] = int(tmpfs["mode"])
        _set(mount, "TmpfsOptions", tmpfs_opts)
    elif kind == "npipe":
        if not source:
            ctx.error(path, 'invalid mount config for type "npipe": field Source must not be empty')
            raise _Skip
        incompatible("volume", "tmpfs", "cluster", "image")
        bind_options()
    elif kind == "cluster":
        if not source:
            ctx.error(path, "invalid cluster source, source cannot be empty")
            raise _Skip
        incompatible("volume", "tmpfs", "bind", "image")
        if not source.startswith("group:"):
            declared = ctx.section("volumes")
            assert source in declared, f"undefined volume {source!r}: validate/meaning.py checks references"
            entry = declared[source] or {}
            mount["Source"] = str(entry.get("name") or ctx.scope(source))
    elif kind == "image":
        if not source:
            ctx.error(path, 'invalid mount config for type "image": field Source must not be empty')
            raise _Skip
        incompatible("volume", "tmpfs", "bind", "cluster")
        image_opts = vol.get("image") or {}
        if image_opts.get("subpath"):
            mount["ImageOptions"] = {"Subpath": str(image_opts["subpath"])}
    else:
        ctx.error(path + ("type",), "volume type must be volume, bind, tmpfs, npipe, cluster or image")
        raise _Skip
    return mount


def _networks(ctx: ConvertContext, key: str, networks: Any) -> list[Spec]:
    """Attachments sorted by target; the service name is appended to aliases on user networks."""
    if not networks:
        networks = {DEFAULT_NETWORK: None}
    elif not isinstance(networks, Mapping):
        networks = {str(n): None for n in networks}
    declared = ctx.section("networks")
    out = []
    for net_key, attach in networks.items():
        assert net_key in declared or net_key == DEFAULT_NETWORK, \
            f"undefined network {net_key!r}: validate/meaning.py checks references"
        target = object_name(ctx, net_key, declared.get(net_key) or {})
        aliases = [str(a) for a in ((attach or {}).get("aliases") or [])]
        if _user_defined(target):
            aliases.append(key)
        item: Spec = {"Target": target}
        _set(item, "Aliases", aliases)
        _set(item, "DriverOpts", as_string_map((attach or {}).get("driver_opts")))
        out.append(item)
    return sorted(out, key=lambda n: n["Target"])


def _user_defined(target: str) -> bool:
    return target not in _NOT_USER_DEFINED and not target.startswith("container:")


def _resources(ctx: ConvertContext, path: Path, resources: Any) -> Spec:
    out: Spec = {}
    if not resources:
        return out
    for compose_key, api_key in (("limits", "Limits"), ("reservations", "Reservations")):
        block = resources.get(compose_key)
        if block is None:
            continue
        res: Spec = {}
        if block.get("cpus") not in (None, ""):
            try:
                res["NanoCPUs"] = parse_cpus(block["cpus"])
            except ValueError as exc:
                ctx.error(path + (compose_key, "cpus"), str(exc))
                raise _Skip from None
        if block.get("memory") not in (None, ""):
            try:
                res["MemoryBytes"] = parse_bytes(block["memory"])
            except ValueError as exc:
                ctx.error(path + (compose_key, "memory"), str(exc))
                raise _Skip from None
        if compose_key == "limits" and block.get("pids"):
            res["Pids"] = int(block["pids"])
        generic = []
        for item in block.get("generic_resources") or [] if compose_key == "reservations" else []:
            discrete = (item or {}).get("discrete_resource_spec")
            if discrete:
                generic.append(
                    {
                        "DiscreteResourceSpec": {
                            "Kind": str(discrete.get("kind") or ""),
                            "Value": int(discrete.get("value") or 0),
                        }
                    }
                )
        _set(res, "GenericResources", generic)
        for key in ("NanoCPUs", "MemoryBytes"):
            if res.get(key) == 0:
                del res[key]
        out[api_key] = res
    return out


_RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")


def _restart_policy(ctx: ConvertContext, path: Path, restart: Any, policy: Any) -> Spec | None:
    """`deploy.restart_policy`, else the service-level `restart:` (docker run style) as a fallback."""
    if policy is not None:
        out: Spec = {}
        _set(out, "Condition", policy.get("condition"))
        if policy.get("delay") is not None:
            out["Delay"] = _duration(ctx, path + ("deploy", "restart_policy", "delay"), policy["delay"])
        if policy.get("max_attempts") is not None:
            out["MaxAttempts"] = int(policy["max_attempts"])
        if policy.get("window") is not None:
            out["Window"] = _duration(ctx, path + ("deploy", "restart_policy", "window"), policy["window"])
        return out
    if not restart:
        return None
    text = str(restart)
    name, _, count_text = text.partition(":")
    if name not in _RESTART_POLICIES:
        ctx.error(
            path + ("restart",),
            f"invalid restart policy: unknown policy '{name}' "
            "(must be one of 'no', 'always', 'on-failure', or 'unless-stopped')",
        )
        raise _Skip
    count = 0
    if count_text:
        if name != "on-failure":
            ctx.error(path + ("restart",), f"maximum retry count cannot be used with restart policy '{name}'")
            raise _Skip
        try:
            count = int(count_text)
        except ValueError:
            ctx.error(
                path + ("restart",), f"invalid restart policy: maximum retry count must be an integer: {text}"
            )
            raise _Skip from None
    if name == "no":
        return None
    out = {"Condition": "on-failure" if name == "on-failure" else "any"}
    if count > 0:
        out["MaxAttempts"] = count
    return out


def _placement(placement: Any) -> Spec:
    out: Spec = {}
    if not placement:
        return out
    _set(out, "Constraints", [str(c) for c in placement.get("constraints") or []])
    prefs = []
    for pref in placement.get("preferences") or []:
        if (pref or {}).get("spread"):
            prefs.append({"Spread": {"SpreadDescriptor": str(pref["spread"])}})
    _set(out, "Preferences", prefs)
    if placement.get("max_replicas_per_node"):
        out["MaxReplicas"] = int(placement["max_replicas_per_node"])
    return out


def _mode(ctx: ConvertContext, path: Path, mode: Any, replicas: Any) -> Spec:
    mode = str(mode or "")
    if is_global(mode):
        if replicas is not None:
            ctx.error(
                path + ("replicas",), "replicas can only be used with replicated or replicated-job mode"
            )
            raise _Skip
        return {"Global": {}} if mode == "global" else {"GlobalJob": {}}
    if mode in ("", "replicated"):
        return {"Replicated": {} if replicas is None else {"Replicas": int(replicas)}}
    if mode == "replicated-job":
        job: Spec = {}
        if replicas is not None:
            job = {"MaxConcurrent": int(replicas), "TotalCompletions": int(replicas)}
        return {"ReplicatedJob": job}
    ctx.error(
        path + ("mode",), f"unknown mode: {mode}", hint="use replicated, global, replicated-job or global-job"
    )
    raise _Skip


def _update_config(ctx: ConvertContext, path: Path, block: Any) -> Spec | None:
    """Update/rollback settings; an absent parallelism means 1 once the block exists."""
    if block is None:
        return None
    parallelism = block.get("parallelism")
    out: Spec = {"Parallelism": 1 if parallelism is None else int(parallelism)}
    if block.get("delay") is not None:
        _set(out, "Delay", _duration(ctx, path + ("delay",), block["delay"]) or None)
    _set(out, "FailureAction", block.get("failure_action"))
    if block.get("monitor") is not None:
        _set(out, "Monitor", _duration(ctx, path + ("monitor",), block["monitor"]) or None)
    if block.get("max_failure_ratio"):
        out["MaxFailureRatio"] = float(block["max_failure_ratio"])
    _set(out, "Order", block.get("order"))
    return out


def _endpoint_spec(mode: Any, ports: list[Any]) -> Spec:
    out: Spec = {}
    if mode:
        out["Mode"] = str(mode).lower()
    configs = []
    for port in ports:
        item: Spec = {}
        if port.get("protocol"):
            item["Protocol"] = str(port["protocol"])
        item["TargetPort"] = int(port.get("target") or 0)
        if port.get("published"):
            item["PublishedPort"] = int(port["published"])
        if port.get("mode"):
            item["PublishMode"] = str(port["mode"])
        configs.append(item)
    configs.sort(key=port_sort_key)
    _set(out, "Ports", configs)
    return out


def port_sort_key(port: Mapping[str, Any]) -> tuple[int, int, str, str]:
    """Published port first (as the CLI sorts), then the rest for a total order."""
    return (
        int(port.get("PublishedPort") or 0),
        int(port.get("TargetPort") or 0),
        str(port.get("Protocol") or "tcp"),
        str(port.get("PublishMode") or "ingress"),
    )
