"""Stage 4, convert: a validated stack to Engine API specs (pure functions, no engine calls).

`convert_stack(config, stack)` takes the merged, normalised stack (the data `docker stack
config` prints) and returns a `DesiredStack` whose specs are Engine API JSON, CamelCase, as
`docker service inspect --format '{{json .Spec}}'` shows them. The mapping follows
docker-stack-reference §b and §c; `normalize_spec` makes engine-returned specs comparable.

Apply-time contract: every secret/config reference carries `SecretName`/`ConfigName` and an
empty `SecretID`/`ConfigID` to fill in; a `Privileges.CredentialSpec.Config` holds a config
*name* that must likewise be replaced by that config's ID. Network `Target`s are names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stackctl.errors import ConvertError, Diagnostic
from stackctl.names import descope

__all__ = ["ConvertError", "DesiredStack", "convert_stack"]


@dataclass
class DesiredStack:
    """What the stack file asks the swarm to hold, as Engine API request bodies."""

    stack: str
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → NetworkCreate body
    external_networks: list[str] = field(default_factory=list)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → SecretSpec
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → ConfigSpec
    external_secrets: list[str] = field(default_factory=list)
    external_configs: list[str] = field(default_factory=list)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → {Name, Key, External, ...}
    # STACK_svc → ServiceSpec (model/spec.py's, as the engine's JSON: what plan and apply send and compare)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[Diagnostic] = field(default_factory=list)

    def service_key(self, full_name: str) -> str:
        """`STACK_web` → `web`, the key in the stack file."""
        return descope(self.stack, full_name)


def convert_stack(
    config: Mapping[str, object],
    stack: str,
    *,
    read_file: Callable[[str], bytes] | None = None,
    environ: Mapping[str, str] | None = None,
) -> DesiredStack:
    """Convert the whole stack, reporting every problem at once as a `ConvertError`.

    `read_file` reads secret/config files (default: the filesystem; tests inject a fake);
    `environ` feeds secrets declared with `environment: VAR` (default: `os.environ`).
    """
    from stackctl.convert.context import ConvertContext
    from stackctl.convert.objects import (
        convert_file_objects,
        convert_networks,
        convert_volumes,
        default_environ,
        read_file_bytes,
    )
    from stackctl.convert.service import convert_service
    from stackctl.model.config import as_config

    ctx = ConvertContext(stack=stack, config=as_config(config))
    services_section = ctx.services
    if not stack.strip(" \t\"'"):
        ctx.error((), f'invalid stack name: "{stack}"')
    networks, external_networks = convert_networks(ctx)
    env = default_environ() if environ is None else environ
    reader = read_file or read_file_bytes
    secrets, external_secrets = convert_file_objects(ctx, "secrets", reader, env)
    configs, external_configs = convert_file_objects(ctx, "configs", reader, env)
    services: dict[str, dict[str, Any]] = {}
    for key in sorted(services_section):
        spec = convert_service(ctx, key, services_section[key] or {})
        if spec is not None:
            services[ctx.scope(key)] = dict(spec)
    if ctx.errors:
        count = len(ctx.errors)
        raise ConvertError(
            f"cannot convert stack {stack}: {count} problem{'s' if count > 1 else ''}",
            diagnostics=ctx.errors + ctx.warnings,
        )
    return DesiredStack(
        stack=stack,
        networks={name: dict(body) for name, body in networks.items()},
        external_networks=external_networks,
        secrets={name: dict(spec) for name, spec in secrets.items()},
        configs={name: dict(spec) for name, spec in configs.items()},
        external_secrets=external_secrets,
        external_configs=external_configs,
        volumes={name: dict(vol) for name, vol in convert_volumes(ctx).items()},
        services=services,
        warnings=ctx.warnings,
    )
