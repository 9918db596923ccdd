"""Top-level networks, secrets, configs and volumes → Engine API create bodies."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping

from stackctl.convert.context import ConvertContext, as_string_map, is_external, object_name
from stackctl.convert.values import go_string
from stackctl.model import config as compose
from stackctl.model import spec as api
from stackctl.secrets.decrypt import DecryptError, pick

DEFAULT_NETWORK = "default"
DEFAULT_NETWORK_DRIVER = "overlay"

FileReader = Callable[[str], bytes]
# `x-data-key: db.password` on a secret/config picks one value out of its YAML/JSON (SOPS) file
DATA_KEY = "x-data-key"


def read_file_bytes(path: str) -> bytes:
    """A secret/config file's bytes, decrypted in memory when SOPS- or age-encrypted (docs/secrets.md)."""
    from stackctl.secrets.decrypt import read_file

    return read_file(path)


def service_network_keys(services: Mapping[str, compose.Service | None]) -> set[str]:
    """Network keys used by some service; a service without `networks:` uses `default`."""
    used: set[str] = set()
    for svc in services.values():
        nets = svc.get("networks") if isinstance(svc, Mapping) else None
        if not nets:
            used.add(DEFAULT_NETWORK)
        elif isinstance(nets, Mapping):
            used.update(str(k) for k in nets)
        else:
            used.update(str(k) for k in nets)
    return used


def convert_networks(ctx: ConvertContext) -> tuple[dict[str, api.NetworkCreate], list[str]]:
    """NetworkCreate bodies by name for the used, non-external networks, and the external names.

    Only networks some service uses are created (as `docker stack deploy` does). A used key
    with no top-level entry is reported by validate (undefined network), except `default`,
    which is implicit.
    """
    declared = ctx.config.get("networks") or {}
    created: dict[str, api.NetworkCreate] = {}
    external: list[str] = []
    for key in sorted(service_network_keys(ctx.services)):
        if key not in declared and key != DEFAULT_NETWORK:
            continue
        entry: compose.Network = declared.get(key) or {}
        name = object_name(ctx, key, entry)
        if is_external(entry):
            if name not in external:
                external.append(name)
            continue
        body: api.NetworkCreate = {
            "Name": name,
            "Driver": entry.get("driver") or DEFAULT_NETWORK_DRIVER,
            "Labels": ctx.labels(entry.get("labels")),
        }
        options = as_string_map(entry.get("driver_opts"))
        if options:
            body["Options"] = options
        if entry.get("internal"):
            body["Internal"] = True
        if entry.get("attachable"):
            body["Attachable"] = True
        ipam: compose.Ipam = entry.get("ipam") or {}
        if ipam.get("driver") or ipam.get("config"):
            body["IPAM"] = _ipam(ipam)
        created[name] = body
    return created, external


def _ipam(ipam: compose.Ipam) -> api.IPAM:
    out: api.IPAM = {}
    if ipam.get("driver"):
        out["Driver"] = ipam["driver"]
    configs: list[api.IPAMConfig] = []
    for given in ipam.get("config") or []:
        item: Mapping[str, object] = given  # the normaliser keeps `subnet`; a stored config may hold more
        pool: api.IPAMConfig = {}
        if item.get("subnet"):
            pool["Subnet"] = str(item["subnet"])
        if item.get("ip_range"):
            pool["IPRange"] = str(item["ip_range"])
        if item.get("gateway"):
            pool["Gateway"] = str(item["gateway"])
        if item.get("aux_addresses"):
            pool["AuxiliaryAddresses"] = as_string_map(item["aux_addresses"])
        configs.append(pool)
    if configs:
        out["Config"] = configs
    options = _get(ipam, "options")
    if options:
        out["Options"] = as_string_map(options)
    return out


def _get(entry: Mapping[str, object], key: str) -> object:
    """A key the normalised model does not name (kept from a stored config)."""
    return entry.get(key)


def convert_file_objects(
    ctx: ConvertContext,
    section: str,
    read_file: FileReader,
    environ: Mapping[str, str],
) -> tuple[dict[str, api.ObjectSpec], list[str]]:
    """SecretSpec or ConfigSpec bodies by name for every non-external entry, and external names.

    Every declared object is converted, used or not, like the reference. `Data` is base64,
    as the Engine API carries `[]byte`.
    """
    specs: dict[str, api.ObjectSpec] = {}
    external: list[str] = []
    kind = section[:-1]  # "secret" / "config"
    declared = (ctx.config.get("secrets") if section == "secrets" else ctx.config.get("configs")) or {}
    for key, given in declared.items():
        entry: compose.FileObject = given or {}
        name = object_name(ctx, key, entry)
        path = (section, key)
        if is_external(entry):
            if name not in external:
                external.append(name)
            continue
        spec: api.ObjectSpec = {"Name": name, "Labels": ctx.labels(entry.get("labels"))}
        driver = entry.get("driver") if section == "secrets" else None
        if driver:
            if entry.get("file"):
                ctx.error(
                    path, f"{kind} {key}: {kind}.driver and {kind}.file conflict; only use {kind}.driver"
                )
                continue
            spec["Driver"] = {"Name": str(driver)}
            options = as_string_map(entry.get("driver_opts"))
            if options:
                spec["Driver"]["Options"] = options
        else:
            data = _object_data(ctx, kind, key, entry, read_file, environ)
            if data is None:
                continue
            spec["Data"] = base64.b64encode(data).decode("ascii")
        if entry.get("template_driver"):
            spec["Templating"] = {"Name": str(entry["template_driver"])}
        specs[name] = spec
    return specs, external


def _object_data(
    ctx: ConvertContext,
    kind: str,
    key: str,
    entry: compose.FileObject,
    read_file: FileReader,
    environ: Mapping[str, str],
) -> bytes | None:
    path = (f"{kind}s", key)
    if entry.get("file"):
        filename = str(entry["file"])
        try:
            data = read_file(filename)
            data_key = _get(entry, DATA_KEY)
            if data_key:
                data = pick(filename, data, str(data_key))
            return data
        except IsADirectoryError:
            ctx.error(path + ("file",), f"{kind} {key}: {filename} is a directory, not a file")
        except FileNotFoundError:
            ctx.error(path + ("file",), f"{kind} {key}: file {filename} does not exist")
        except OSError as exc:
            ctx.error(path + ("file",), f"{kind} {key}: cannot read {filename}: {exc.strerror or exc}")
        except DecryptError as exc:  # the file and the reason, never the content
            ctx.error(path + ("file",), f"{kind} {key}: {exc}", hint=exc.hint)
        return None
    if entry.get("environment"):
        var = str(entry["environment"])
        if var not in environ:
            ctx.error(
                path + ("environment",),
                f"{kind} {key}: environment variable {var} is not set",
                hint=f"export {var} before deploying",
            )
            return None
        return environ[var].encode()
    content = _get(entry, "content")
    if content is not None:
        return go_string(content).encode()
    ctx.error(
        path, f"{kind} {key}: no file, environment or driver given", hint="set file: PATH or external: true"
    )
    return None


def convert_volumes(ctx: ConvertContext) -> dict[str, api.VolumeDecl]:
    """Declared volumes by actual name, as the mounts will ask for them (nothing is created)."""
    out: dict[str, api.VolumeDecl] = {}
    for key, given in (ctx.config.get("volumes") or {}).items():
        entry: compose.Volume = given or {}
        name = object_name(ctx, key, entry)
        if is_external(entry):
            out[name] = {"Name": name, "Key": key, "External": True}
            continue
        vol: api.VolumeDecl = {
            "Name": name,
            "Key": key,
            "External": False,
            "Labels": ctx.labels(entry.get("labels")),
        }
        if entry.get("driver"):
            vol["Driver"] = str(entry["driver"])
        options = as_string_map(entry.get("driver_opts"))
        if options:
            vol["DriverOpts"] = options
        out[name] = vol
    return out


def default_environ() -> Mapping[str, str]:
    return os.environ
