"""One compose service → an Engine API ServiceSpec (docker-stack-reference §c.1, §c.4)."""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from stackctl.convert.context import (
    ConvertContext,
    as_string_map,
    is_external,
    object_name,
)
from stackctl.convert.objects import DEFAULT_NETWORK
from stackctl.convert.values import go_string
from stackctl.images import normalize_image
from stackctl.model import config as compose
from stackctl.names import IMAGE_LABEL
from stackctl.swarm import spec as api
from stackctl.swarm.modes import is_global
from stackctl.units import parse_bytes, parse_cpus, parse_duration

Path = tuple[str | int, ...]
_T = TypeVar("_T")

DEFAULT_FILE_MODE = 0o444
_NOT_USER_DEFINED = {"default", "bridge", "host", "none"}


class _Skip(Exception):
    """A sub-converter reported an error; the field is left out and conversion goes on."""


def convert_service(ctx: ConvertContext, key: str, svc: compose.Service) -> api.ServiceSpec | None:
    """The ServiceSpec for service `key`, or None when errors were recorded in `ctx`."""
    before = len(ctx.errors)
    path: Path = ("services", key)
    deploy: compose.Deploy = svc.get("deploy") or {}
    image = str(svc.get("image") or "")
    if not image:
        ctx.error(path + ("image",), f"invalid image reference for service {key}: no image specified")

    # Go's `omitempty`: a key is set only when its value is not empty (None, "", [], {})
    container: api.ContainerSpec = {"Image": normalize_image(image) if image else image}
    labels = ctx.labels(svc.get("labels"))
    container["Labels"] = labels
    if entrypoint := _shell_words(ctx, path + ("entrypoint",), svc.get("entrypoint")):
        container["Command"] = entrypoint
    if command := _shell_words(ctx, path + ("command",), svc.get("command")):
        container["Args"] = command
    if hostname := svc.get("hostname"):
        container["Hostname"] = hostname
    if env := _environment(svc.get("environment")):
        container["Env"] = env
    if working_dir := svc.get("working_dir"):
        container["Dir"] = working_dir
    if svc.get("user") is not None and (user := go_string(svc.get("user"))):
        container["User"] = user
    if svc.get("init") is not None:
        container["Init"] = bool(svc["init"])
    if stop_signal := svc.get("stop_signal"):
        container["StopSignal"] = stop_signal
    if svc.get("tty"):
        container["TTY"] = True
    if svc.get("stdin_open"):
        container["OpenStdin"] = True
    if svc.get("read_only"):
        container["ReadOnly"] = True
    if mounts := _try(lambda: _mounts(ctx, key, svc.get("volumes") or [])):
        container["Mounts"] = mounts
    if (grace := svc.get("stop_grace_period")) is not None:
        container["StopGracePeriod"] = _duration(ctx, path + ("stop_grace_period",), grace)
    if healthcheck := _try(lambda: _healthcheck(ctx, path + ("healthcheck",), svc.get("healthcheck"))):
        container["Healthcheck"] = healthcheck
    if hosts := _extra_hosts(svc.get("extra_hosts")):
        container["Hosts"] = hosts
    if dns := _dns_config(ctx, path, svc.get("dns"), svc.get("dns_search")):
        container["DNSConfig"] = dns
    if secrets := _secret_refs(ctx, key, svc.get("secrets") or []):
        container["Secrets"] = secrets
    configs = _config_refs(ctx, key, svc.get("configs") or [])
    credential_spec = _try(lambda: _credential_spec(ctx, key, svc.get("credential_spec")))
    if credential_spec and credential_spec.get("Config"):
        configs.append({"Runtime": {}, "ConfigID": "", "ConfigName": credential_spec["Config"]})
        configs.sort(key=lambda ref: ref["ConfigName"])
    if configs:
        container["Configs"] = configs
    if credential_spec:
        container["Privileges"] = {"CredentialSpec": credential_spec}
    if isolation := svc.get("isolation"):
        container["Isolation"] = isolation
    if sysctls := as_string_map(svc.get("sysctls")):
        container["Sysctls"] = sysctls
    cap_add, cap_drop = effective_capabilities(svc.get("cap_add") or [], svc.get("cap_drop") or [])
    if cap_add:
        container["CapabilityAdd"] = cap_add
    if cap_drop:
        container["CapabilityDrop"] = cap_drop
    if ulimits := _try(lambda: _ulimits(ctx, path + ("ulimits",), svc.get("ulimits"))):
        container["Ulimits"] = ulimits
    if svc.get("oom_score_adj"):
        container["OomScoreAdj"] = int(svc["oom_score_adj"])

    task: api.TaskTemplate = {"ContainerSpec": container}
    task["Resources"] = (
        _try(lambda: _resources(ctx, path + ("deploy", "resources"), deploy.get("resources"))) or {}
    )
    if restart := _try(lambda: _restart_policy(ctx, path, svc.get("restart"), deploy.get("restart_policy"))):
        task["RestartPolicy"] = restart
    task["Placement"] = _placement(deploy.get("placement"))
    if networks := _try(lambda: _networks(ctx, key, svc.get("networks"))):
        task["Networks"] = networks
    logging = svc.get("logging")
    if logging is not None:
        log_driver: api.Driver = {"Name": str(logging.get("driver") or "")}
        if options := as_string_map(logging.get("options")):
            log_driver["Options"] = options
        task["LogDriver"] = log_driver

    spec: api.ServiceSpec = {
        "Name": ctx.scope(key),
        "Labels": {**ctx.labels(deploy.get("labels")), IMAGE_LABEL: image},
        "TaskTemplate": task,
    }
    mode = _try(lambda: _mode(ctx, path + ("deploy",), deploy.get("mode"), deploy.get("replicas")))
    if mode is not None:
        spec["Mode"] = mode
    update = _try(
        lambda: _update_config(ctx, path + ("deploy", "update_config"), deploy.get("update_config"))
    )
    if update:
        spec["UpdateConfig"] = update
    rollback = _try(
        lambda: _update_config(ctx, path + ("deploy", "rollback_config"), deploy.get("rollback_config"))
    )
    if rollback:
        spec["RollbackConfig"] = rollback
    spec["EndpointSpec"] = _endpoint_spec(deploy.get("endpoint_mode"), svc.get("ports") or [])
    return spec if len(ctx.errors) == before else None


# --- helpers --------------------------------------------------------------------------------------


def _try(fn: Callable[[], _T]) -> _T | None:
    try:
        return fn()
    except _Skip:
        return None


def _duration(ctx: ConvertContext, path: Path, value: str | int) -> int:
    try:
        return parse_duration(value)
    except ValueError as exc:
        ctx.error(path, str(exc))
        raise _Skip from None


def _shell_words(ctx: ConvertContext, path: Path, value: str | Sequence[str] | None) -> list[str] | None:
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


def _environment(env: Mapping[str, object] | Sequence[str] | None) -> list[str]:
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


def _extra_hosts(hosts: Mapping[str, object] | Sequence[str] | None) -> list[str]:
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


def _dns_config(ctx: ConvertContext, path: Path, dns: str | Sequence[str] | None,
                search: str | Sequence[str] | None) -> api.DNSConfig | None:
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
    out: api.DNSConfig = {}
    if valid:
        out["Nameservers"] = valid
    if domains:
        out["Search"] = [str(d) for d in domains]
    return out


def _healthcheck(ctx: ConvertContext, path: Path, check: compose.Healthcheck | None
                 ) -> api.HealthConfig | None:
    if check is None:
        return None
    test: str | list[str] | None = check.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if check.get("disable"):
        if test:
            ctx.error(path, "test and disable can't be set at the same time")
            raise _Skip
        return {"Test": ["NONE"]}
    out: api.HealthConfig = {}
    if test:
        out["Test"] = [str(t) for t in test]

    def duration(compose_key: str, value: str | None) -> int | None:
        return None if value is None else _duration(ctx, path + (compose_key,), value) or None

    if interval := duration("interval", check.get("interval")):
        out["Interval"] = interval
    if timeout := duration("timeout", check.get("timeout")):
        out["Timeout"] = timeout
    if start_period := duration("start_period", check.get("start_period")):
        out["StartPeriod"] = start_period
    if start_interval := duration("start_interval", check.get("start_interval")):
        out["StartInterval"] = start_interval
    if check.get("retries"):
        out["Retries"] = int(check["retries"])
    return out


def effective_capabilities(add: Sequence[object], drop: Sequence[object]) -> tuple[list[str], list[str]]:
    """CLI capability rules: `CAP_`-prefixed upper case, `ALL` swallows the rest, add beats drop,
    `RESET` is dropped, both lists sorted and de-duplicated."""

    def norm(cap: object) -> str:
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


def _ulimits(ctx: ConvertContext, path: Path, ulimits: Mapping[str, int | compose.Ulimit] | None
             ) -> list[api.Ulimit]:
    out: list[api.Ulimit] = []
    for name, value in sorted((ulimits or {}).items()):
        soft: int | None
        hard: int | None
        if isinstance(value, Mapping):
            soft, hard = value.get("soft"), value.get("hard")
            if soft is None or hard is None:
                ctx.error(path + (name,), "ulimit needs both soft and hard")
                raise _Skip
        else:
            soft = hard = value
        out.append({"Name": str(name), "Soft": int(soft), "Hard": int(hard)})
    return out


def _credential_spec(ctx: ConvertContext, key: str, cred: compose.CredentialSpec | None
                     ) -> api.CredentialSpec | None:
    """Exactly one of config/file/registry; a `config:` is named here, resolved to an ID at apply."""
    if not cred:
        return None
    given = [
        (k, api_key)
        for k, api_key in (("config", "Config"), ("file", "File"), ("registry", "Registry"))
        if _str_at(cred, k)
    ]
    if not given:
        return None
    if len(given) > 1:
        names = [f'"{api_key}"' for _, api_key in given]
        joined = " and ".join(names) if len(names) == 2 else ", ".join(names[:-1]) + ", and " + names[-1]
        ctx.error(
            ("services", key, "credential_spec"), f"invalid credential spec: cannot specify both {joined}"
        )
        raise _Skip
    compose_key, api_key = given[0]
    value = _str_at(cred, compose_key)
    if compose_key == "config":
        configs = ctx.section("configs")
        assert value in configs, f"undefined config {value!r}: validate/meaning.py checks references"
        return {"Config": object_name(ctx, value, configs[value] or {})}
    return {"File": value} if api_key == "File" else {"Registry": value}


def _str_at(entry: Mapping[str, object], key: str) -> str:
    """`entry[key]` as text ("" when not set)."""
    value = entry.get(key)
    return str(value) if value else ""


def _secret_refs(ctx: ConvertContext, key: str, refs: Sequence[str | compose.FileRef]
                 ) -> list[api.SecretReference]:
    return [{"File": file, "SecretID": "", "SecretName": name}
            for name, file in _file_refs(ctx, key, "secrets", refs)]


def _config_refs(ctx: ConvertContext, key: str, refs: Sequence[str | compose.FileRef]
                 ) -> list[api.ConfigReference]:
    return [{"File": file, "ConfigID": "", "ConfigName": name}
            for name, file in _file_refs(ctx, key, "configs", refs)]


def _file_refs(ctx: ConvertContext, key: str, section: str, refs: Sequence[str | compose.FileRef]
               ) -> list[tuple[str, api.FileTarget]]:
    """Secret/config references: (object name, File{Name, UID, GID, Mode}), sorted by name."""
    kind = section[:-1]
    declared = ctx.section(section)
    out: list[tuple[str, api.FileTarget]] = []
    targets: set[str] = set()
    for given in refs:
        ref: compose.FileRef = {"source": given} if isinstance(given, str) else given or {}
        source = str(ref.get("source") or "")
        assert source in declared, f"undefined {kind} {source!r}: validate/meaning.py checks references"
        name = object_name(ctx, source, declared[source] or {})
        target = str(ref.get("target") or source)
        mode = ref.get("mode")
        file: api.FileTarget = {
            "Name": target,
            "UID": go_string(ref.get("uid")) or "0",
            "GID": go_string(ref.get("gid")) or "0",
            "Mode": DEFAULT_FILE_MODE if mode is None else int(mode),
        }
        assert target not in targets, \
            f"duplicate {kind} target {target!r}: validate/meaning.py checks references"
        targets.add(target)
        out.append((name, file))
    out.sort(key=lambda r: r[0])
    return out


def _mounts(ctx: ConvertContext, key: str, volumes: Sequence[str | compose.Mount]) -> list[api.Mount]:
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


def _mount(ctx: ConvertContext, path: Path, vol: str | compose.Mount) -> api.Mount:
    if isinstance(vol, str):
        ctx.error(path, f"short volume syntax {vol!r} was not expanded by the loader")
        raise _Skip
    kind = str(vol.get("type") or "volume")
    source = str(vol.get("source") or "")
    mount: api.Mount = {"Type": kind, "Target": str(vol.get("target") or "")}
    if source:
        mount["Source"] = source
    if vol.get("read_only"):
        mount["ReadOnly"] = True
    if vol.get("consistency"):
        mount["Consistency"] = str(vol["consistency"])

    given: Mapping[str, object] = vol  # any key by name, as convert/context.section reads a section

    def incompatible(*options: str) -> None:
        for option in options:
            if given.get(option) is not None:
                ctx.error(path + (option,), f"{option} options are incompatible with type {kind}")
                raise _Skip

    def bind_options() -> None:
        bind: compose.BindOptions = vol.get("bind") or {}
        if bind.get("propagation"):
            mount["BindOptions"] = {"Propagation": str(bind["propagation"])}

    if kind == "volume":
        incompatible("tmpfs", "bind", "cluster", "image")
        options: api.MountVolumeOptions = {}
        volume_opts: compose.VolumeOptions = vol.get("volume") or {}
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
                    driver: api.Driver = {"Name": str(entry.get("driver") or "")}
                    if driver_options := as_string_map(driver_opts):
                        driver["Options"] = driver_options
                    options["DriverConfig"] = driver
        if options:
            mount["VolumeOptions"] = options
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
        tmpfs: compose.TmpfsOptions = vol.get("tmpfs") or {}
        tmpfs_opts: api.MountTmpfsOptions = {}
        if tmpfs.get("size"):
            try:
                tmpfs_opts["SizeBytes"] = parse_bytes(tmpfs["size"])
            except ValueError as exc:
                ctx.error(path + ("tmpfs", "size"), str(exc))
                raise _Skip from None
        if tmpfs.get("mode") is not None:
            tmpfs_opts["Mode"] = int(tmpfs["mode"])
        if tmpfs_opts:
            mount["TmpfsOptions"] = tmpfs_opts
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
        image_opts: compose.ImageOptions = vol.get("image") or {}
        if image_opts.get("subpath"):
            mount["ImageOptions"] = {"Subpath": str(image_opts["subpath"])}
    else:
        ctx.error(path + ("type",), "volume type must be volume, bind, tmpfs, npipe, cluster or image")
        raise _Skip
    return mount


def _networks(ctx: ConvertContext, key: str,
              given: Mapping[str, compose.ServiceNetwork | None] | Sequence[str] | None
              ) -> list[api.NetworkAttachment]:
    """Attachments sorted by target; the service name is appended to aliases on user networks."""
    networks: Mapping[str, compose.ServiceNetwork | None]
    if not given:
        networks = {DEFAULT_NETWORK: None}
    elif not isinstance(given, Mapping):
        networks = {str(n): None for n in given}
    else:
        networks = given
    declared = ctx.section("networks")
    out: list[api.NetworkAttachment] = []
    for net_key, attach in networks.items():
        assert net_key in declared or net_key == DEFAULT_NETWORK, \
            f"undefined network {net_key!r}: validate/meaning.py checks references"
        target = object_name(ctx, net_key, declared.get(net_key) or {})
        aliases = [str(a) for a in ((attach or {}).get("aliases") or [])]
        if _user_defined(target):
            aliases.append(key)
        item: api.NetworkAttachment = {"Target": target}
        if aliases:
            item["Aliases"] = aliases
        if driver_opts := as_string_map((attach or {}).get("driver_opts")):
            item["DriverOpts"] = driver_opts
        out.append(item)
    return sorted(out, key=lambda n: n.get("Target", ""))


def _user_defined(target: str) -> bool:
    return target not in _NOT_USER_DEFINED and not target.startswith("container:")


def _resources(ctx: ConvertContext, path: Path, resources: compose.Resources | None) -> api.Resources:
    out: api.Resources = {}
    if not resources:
        return out
    blocks = (("limits", resources.get("limits")), ("reservations", resources.get("reservations")))
    for compose_key, block in blocks:
        if block is None:
            continue
        res: api.Limit = {}
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
        generic: list[api.GenericResource] = []
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
        if generic:
            res["GenericResources"] = generic
        if res.get("NanoCPUs") == 0:
            del res["NanoCPUs"]
        if res.get("MemoryBytes") == 0:
            del res["MemoryBytes"]
        if compose_key == "limits":
            out["Limits"] = res
        else:
            out["Reservations"] = res
    return out


_RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")


def _restart_policy(ctx: ConvertContext, path: Path, restart: str | None, policy: compose.RestartPolicy | None
                    ) -> api.RestartPolicy | None:
    """`deploy.restart_policy`, else the service-level `restart:` (docker run style) as a fallback."""
    out: api.RestartPolicy = {}
    if policy is not None:
        if condition := policy.get("condition"):
            out["Condition"] = condition
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
    out["Condition"] = "on-failure" if name == "on-failure" else "any"
    if count > 0:
        out["MaxAttempts"] = count
    return out


def _placement(placement: compose.Placement | None) -> api.Placement:
    out: api.Placement = {}
    if not placement:
        return out
    if constraints := [str(c) for c in placement.get("constraints") or []]:
        out["Constraints"] = constraints
    prefs: list[api.PlacementPreference] = []
    for pref in placement.get("preferences") or []:
        if spread := (pref or {}).get("spread"):
            prefs.append({"Spread": {"SpreadDescriptor": str(spread)}})
    if prefs:
        out["Preferences"] = prefs
    if placement.get("max_replicas_per_node"):
        out["MaxReplicas"] = int(placement["max_replicas_per_node"])
    return out


def _mode(ctx: ConvertContext, path: Path, given: str | None, replicas: int | None) -> api.Mode:
    mode = str(given or "")
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
        job: api.ReplicatedJob = {}
        if replicas is not None:
            job = {"MaxConcurrent": int(replicas), "TotalCompletions": int(replicas)}
        return {"ReplicatedJob": job}
    ctx.error(
        path + ("mode",), f"unknown mode: {mode}", hint="use replicated, global, replicated-job or global-job"
    )
    raise _Skip


def _update_config(ctx: ConvertContext, path: Path, block: compose.UpdateConfig | None
                   ) -> api.UpdateConfig | None:
    """Update/rollback settings; an absent parallelism means 1 once the block exists."""
    if block is None:
        return None
    parallelism = block.get("parallelism")
    out: api.UpdateConfig = {"Parallelism": 1 if parallelism is None else int(parallelism)}
    if (delay := block.get("delay")) is not None and (delay_ns := _duration(ctx, path + ("delay",), delay)):
        out["Delay"] = delay_ns
    if failure_action := block.get("failure_action"):
        out["FailureAction"] = failure_action
    if (monitor := block.get("monitor")) is not None and (
            monitor_ns := _duration(ctx, path + ("monitor",), monitor)):
        out["Monitor"] = monitor_ns
    if block.get("max_failure_ratio"):
        out["MaxFailureRatio"] = float(block["max_failure_ratio"])
    if order := block.get("order"):
        out["Order"] = order
    return out


def _endpoint_spec(mode: str | None, ports: Sequence[compose.Port]) -> api.EndpointSpec:
    out: api.EndpointSpec = {}
    if mode:
        out["Mode"] = str(mode).lower()
    configs: list[api.PortConfig] = []
    for port in ports:
        item: api.PortConfig = {}
        if port.get("protocol"):
            item["Protocol"] = str(port["protocol"])
        item["TargetPort"] = int(port.get("target") or 0)
        if port.get("published"):
            item["PublishedPort"] = int(port["published"])
        if port.get("mode"):
            item["PublishMode"] = str(port["mode"])
        configs.append(item)
    configs.sort(key=port_sort_key)
    if configs:
        out["Ports"] = configs
    return out


def port_sort_key(port: api.PortConfig) -> tuple[int, int, str, str]:
    """Published port first (as the CLI sorts), then the rest for a total order."""
    return (
        int(port.get("PublishedPort") or 0),
        int(port.get("TargetPort") or 0),
        str(port.get("Protocol") or "tcp"),
        str(port.get("PublishMode") or "ingress"),
    )
