"""The command line: parse and dispatch only.

Every command body imports its implementation from `stackctl.commands.<name>` when it
runs, so `stackctl --version` and `--help` never pay for docker, jsonschema or deepdiff.
Each implementation returns an exit code; errors derived from StackctlError become
one-line-per-problem messages on stderr, never a traceback.
"""


import gc
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from stackctl import __version__
from stackctl.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, StackctlError


def _usage_errors_exit_with(code: int) -> None:
    """click's parse errors (unknown option, missing argument) exit like our own UsageError."""
    import importlib
    import importlib.util

    # typer >= 0.22 vendors click as typer._click; older ones use click itself.
    vendored = importlib.util.find_spec("typer._click") is not None
    exceptions = importlib.import_module("typer._click.exceptions" if vendored else "click.exceptions")
    exceptions.UsageError.exit_code = code


_usage_errors_exit_with(EXIT_USAGE)


def examples(*lines: str) -> str:
    """A command's epilog: its examples, kept as written (click's \\b stops the re-wrapping)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


class _Command(TyperCommand):
    """Usage lines as docker prints them: `ps [OPTIONS] STACK`, not typer's `{STACK}`."""

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p
                for p in super().collect_usage_pieces(ctx)]


app = typer.Typer(
    name="stackctl",
    help="Declarative stack deployer for Docker Swarm: validate, diff, deploy and troubleshoot stacks.",
    epilog=examples("stackctl validate -c docker-stack.yml", "stackctl deploy shop -c docker-stack.yml",
                    "stackctl ps shop"),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help and usage errors: typer's rich formatting imports rich.markdown, pygments and
    # markdown_it (~120 ms), which alone breaks the 150 ms budget of `stackctl --help` (bench/README.md).
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
lab_app = typer.Typer(help="A throwaway multi-node swarm on this machine (needs root).", no_args_is_help=True,
                      rich_markup_mode=None, short_help="A throwaway multi-node swarm on this machine.",
                      epilog=examples("stackctl lab up", 'eval "$(stackctl lab env)"',
                                      "stackctl lab status"))
app.add_typer(lab_app, name="lab")
secrets_app = typer.Typer(
    help="SOPS/age-encrypted files for secrets, configs and env files (docs/secrets.md).",
    no_args_is_help=True,
    rich_markup_mode=None, short_help="Encrypt files with .sops.yaml's rules; check they decrypt.",
    epilog=examples("stackctl secrets encrypt secrets/db.sops.yaml",
                    "printf %s \"$PW\" | stackctl secrets encrypt --stdin db_password.sops",
                    "stackctl secrets check secrets/*.sops.* --age-identity ~/.config/sops/age/keys.txt"))
app.add_typer(secrets_app, name="secrets")
agent_app = typer.Typer(help="Keep swarms equal to git: a GitOps agent (docs/agent.md).",
                        no_args_is_help=True,
                        rich_markup_mode=None, short_help="Keep swarms equal to git (a GitOps agent).",
                        epilog=examples("stackctl agent check --config agent.yml",
                                        "stackctl agent run --config agent.yml --once",
                                        "stackctl agent sync shop --config agent.yml"))
app.add_typer(agent_app, name="agent")

EnvFiles = Annotated[
    list[str] | None,
    typer.Option("--env-file", metavar="FILE",
                 help="Variables for interpolation (repeatable; the shell wins)."),
]
EnvName = Annotated[str | None, typer.Option("--env", metavar="ENV", help="Environment from stackctl.yml.")]
# With --env the files come from stackctl.yml, so -c is optional there; without it the default
# stack files of the current directory are used (stackctl.pipeline.default_stack_file).
OptionalComposeFiles = Annotated[
    list[str] | None,
    typer.Option("--compose-file", "-c", metavar="FILE",
                 help="Stack file (repeatable, merged in order; '-' reads stdin; default: compose.yaml, "
                      "compose.yml, docker-compose.yaml, docker-compose.yml or docker-stack.yml; "
                      "with --env: merged last)."),
]
OptionalStack = Annotated[
    str | None, typer.Argument(
        metavar="STACK", help="Stack name (default: stackctl.yml's with --env, else the file's name:).")
]


def _complete_stack(incomplete: str) -> list[str]:
    from stackctl.completion import stack_names

    return [name for name in stack_names() if name.startswith(incomplete)]


def _complete_service(ctx: typer.Context, incomplete: str) -> list[str]:
    from stackctl.completion import service_names

    stack = ctx.params.get("stack") or ""
    return [name for name in service_names(stack) if name.startswith(incomplete)]


Stack = Annotated[str, typer.Argument(metavar="STACK", help="Stack name.", autocompletion=_complete_stack)]


def _values(kind: str) -> Callable[[str], list[str]]:
    """A Tab completer for a flag with fixed values, read where they are checked."""
    def complete(incomplete: str) -> list[str]:
        from stackctl.commands import _options
        from stackctl.resolve import RESOLVE_MODES

        values = {"text": _options.TEXT_FORMATS, "table": _options.TABLE_FORMATS,
                  "yaml": _options.YAML_FORMATS, "list": _options.LIST_FORMATS,
                  "resolve": RESOLVE_MODES}[kind]
        return [v for v in values if v.startswith(incomplete)]

    return complete


def _set_project(value: str | None) -> None:
    if value:
        os.environ["STACKCTL_PROJECT"] = value


ProjectFile = Annotated[
    str | None,
    typer.Option("--project", metavar="FILE", callback=_set_project, expose_value=False,
                 help="Project file for --env (default: ./stackctl.yml)."),
]


def _set_age_identity(value: str | None) -> None:
    if value:  # read where files are decrypted (stackctl/secrets/decrypt.py), beside SOPS_AGE_KEY*
        if not os.path.isfile(value) or not os.access(value, os.R_OK):
            raise typer.BadParameter(f"{value}: no such readable file (an age key file)")
        os.environ["STACKCTL_AGE_IDENTITY"] = value


AgeIdentity = Annotated[
    str | None,
    typer.Option("--age-identity", metavar="FILE", callback=_set_age_identity, expose_value=False,
                 help="age key file for SOPS/age-encrypted files (besides SOPS_AGE_KEY_FILE, "
                      "SOPS_AGE_KEY and ~/.config/sops/age/keys.txt)."),
]
Format = Annotated[str, typer.Option("--format", metavar="FORMAT", help="Output format: text or json.",
                                     autocompletion=_values("text"))]
TableFormat = Annotated[str, typer.Option("--format", metavar="FORMAT", help="Output format: table or json.",
                                          autocompletion=_values("table"))]
NoTrunc = Annotated[bool, typer.Option(
    "--no-trunc", help="Never cut a cell (rows may run past the terminal's edge).")]
ListFormat = Annotated[str, typer.Option(
    "--format", "-o", metavar="FORMAT",
    help="Output format: table (fitted to the terminal; columns empty in every row left out), wide (every "
         "column, no cell cut to fit: rows may run past the terminal's edge) or json.",
    autocompletion=_values("list"))]
Context = Annotated[str | None, typer.Option("--context", metavar="CONTEXT", help="Docker context to use.")]
Timeout = Annotated[str, typer.Option(
    "--timeout", metavar="DURATION", help="Bound on waiting for convergence (10m, 90s; 0: no limit).")]
LockTimeout = Annotated[str, typer.Option(
    "--lock-timeout", metavar="DURATION", help="How long to wait for another deploy's lock.")]
Detach = Annotated[bool, typer.Option("--detach", "-d", help="Do not wait for convergence.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors and warnings.")]
RollbackOnFailure = Annotated[bool, typer.Option(
    "--rollback-on-failure", help="Undo the whole deploy if any service fails or the wait times out.")]

Debug = Annotated[bool, typer.Option("--debug", help="Log engine calls to stderr (secrets never shown).")]
WithRegistryAuth = Annotated[bool, typer.Option(
    "--with-registry-auth", help="Send the registry credentials of this client to the swarm agents.")]
TargetsOption = Annotated[str | None, typer.Option(
    "--targets", metavar="NAMES", help="With --env of many swarms: only these targets, comma-separated "
                                      "(docs/fan-out.md).")]
WaveOption = Annotated[int | None, typer.Option(
    "--wave", metavar="N", help="With --env of many swarms: only wave N (from 1).")]
HistoryMax = Annotated[int, typer.Option(
    "--history-max", metavar="N", help="Revisions of the stack to keep in the swarm (0: no limit).")]


def _run(impl: Callable[..., int], **kwargs: Any) -> None:
    """Call a command implementation and turn its outcome into an exit code."""
    try:
        code = impl(**kwargs)
    except StackctlError as err:
        from stackctl.render.diagnostics import print_error

        print_error(err, fmt=kwargs.get("fmt", "text"))
        raise typer.Exit(err.exit_code) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except BrokenPipeError:
        # `stackctl ps | head`: the reader went away; that is not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(0) from None
    except Exception as err:  # last line of defence: no traceback reaches a user (re-raised or said)
        if os.environ.get("STACKCTL_TRACEBACK"):
            raise
        from stackctl.engine import describe_engine_failure

        engine_problem = describe_engine_failure(err)  # the engine died or refused mid-command
        if engine_problem:
            print(f"error: {engine_problem}", file=sys.stderr)
            raise typer.Exit(EXIT_ERROR) from None
        print(f"stackctl: internal error: {type(err).__name__}: {err}", file=sys.stderr)
        print("(set STACKCTL_TRACEBACK=1 to see the traceback, and please report it)", file=sys.stderr)
        raise typer.Exit(EXIT_ERROR) from None
    raise typer.Exit(code or 0)


def _version_callback(value: bool) -> None:
    if value:
        print(f"stackctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Declarative stack deployer for Docker Swarm."""


# --- load / validate -------------------------------------------------------------------


@app.command(cls=_Command, short_help="Check stack files: YAML, variables, schema, meaning.",
             epilog=examples("stackctl validate -c docker-stack.yml",
                             "stackctl validate --env prod --format json"))
def validate(
    compose_file: OptionalComposeFiles = None,
    env_file: EnvFiles = None,
    env: EnvName = None,
    fmt: Format = "text",
    skip_interpolation: Annotated[bool, typer.Option(
        "--skip-interpolation", help="Check the files as written, leaving ${VAR} unexpanded.")] = False,
    project: ProjectFile = None,
    age_identity: AgeIdentity = None,
) -> None:
    """Check stack files: YAML, interpolation, schema and meaning. Exit 1 on any problem."""
    from stackctl.commands import validate as impl

    _run(impl.run, files=compose_file or [], env_files=env_file or [], env=env, fmt=fmt,
         skip_interpolation=skip_interpolation)


@app.command(cls=_Command, short_help="Print the merged, interpolated, normalised stack.",
             epilog=examples("stackctl config -c docker-stack.yml -c prod.yml",
                             "stackctl config --env prod --format json"))
def config(
    compose_file: OptionalComposeFiles = None,
    env_file: EnvFiles = None,
    env: EnvName = None,
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help="Output format: yaml or json.",
                                     autocompletion=_values("yaml"))] = "yaml",
    skip_interpolation: Annotated[
        bool, typer.Option("--skip-interpolation", help="Output the merged config without interpolating.")
    ] = False,
    project: ProjectFile = None,
    age_identity: AgeIdentity = None,
) -> None:
    """Print the merged, interpolated, normalised stack (as `docker stack config`)."""
    from stackctl.commands import config as impl

    _run(impl.run, files=compose_file or [], env_files=env_file or [], env=env, fmt=fmt,
         skip_interpolation=skip_interpolation)


# --- plan / deploy ---------------------------------------------------------------------


@app.command(cls=_Command, short_help="Show what deploy would change (exit 2: changes).",
             epilog=examples("stackctl diff shop -c docker-stack.yml",
                             "stackctl diff shop --prune --format json",
                             "stackctl diff --env dev --against prod"))
def diff(
    stack: OptionalStack = None,
    compose_file: OptionalComposeFiles = None,
    env_file: EnvFiles = None,
    env: EnvName = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Also plan removal of objects the file dropped.")
    ] = False,
    fmt: Format = "text",
    context: Context = None,
    debug: Debug = False,
    against: Annotated[
        str | None,
        typer.Option("--against", metavar="ENV",
                     help="Compare the rendered stacks of --env and this environment."),
    ] = None,
    resolve_image: Annotated[
        str, typer.Option("--resolve-image", metavar="MODE", autocompletion=_values("resolve"),
                          help="Ask the registry for digests (a tag pushed anew is a change): always, "
                               "changed or never.")
    ] = "always",
    with_registry_auth: Annotated[bool, typer.Option(
        "--with-registry-auth", help="Look images up with this client's registry credentials.")
    ] = False,
    targets: TargetsOption = None,
    wave: WaveOption = None,
    project: ProjectFile = None,
    age_identity: AgeIdentity = None,
) -> None:
    """Show what deploy would change. Exit 0: no changes, 2: changes, 1: error (64: bad flags)."""
    from stackctl.commands import diff as impl

    extra: dict[str, Any] = {"against": against} if against else {}
    if targets or wave is not None:
        extra.update(targets=targets, wave=wave)
    _run(impl.run, stack=stack, files=compose_file or [], env_files=env_file or [], env=env, prune=prune,
         fmt=fmt, context=context, debug=debug, resolve_image=resolve_image,
         with_registry_auth=with_registry_auth, **extra)


@app.command(cls=_Command, short_help="Create or update the stack; wait until it converged.",
             epilog=examples("stackctl deploy shop -c docker-stack.yml",
                             "stackctl deploy shop --prune --timeout 5m --rollback-on-failure",
                             "stackctl deploy --env prod --plan-only"))
def deploy(
    stack: OptionalStack = None,
    compose_file: OptionalComposeFiles = None,
    env_file: EnvFiles = None,
    env: EnvName = None,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Remove the stack's services, networks, secrets and configs the file no longer has.")
    ] = False,
    resolve_image: Annotated[
        str, typer.Option("--resolve-image", metavar="MODE", autocompletion=_values("resolve"),
                          help="Query the registry for digests: always, changed or never.")
    ] = "always",
    with_registry_auth: WithRegistryAuth = False,
    detach: Detach = False,
    quiet: Quiet = False,
    plan_only: Annotated[bool, typer.Option("--plan-only", help="Print the plan and stop.")] = False,
    timeout: Timeout = "10m",
    rollback_on_failure: RollbackOnFailure = False,
    lock_timeout: LockTimeout = "10m",
    keep_versions: Annotated[int, typer.Option(
        "--keep-versions", metavar="N",
        help="Unused old versions of each rotated secret/config to keep for rollback.")
    ] = 2,
    history_max: HistoryMax = 10,
    no_deps_order: Annotated[bool, typer.Option(
        "--no-deps-order", help="Write every service at once, ignoring depends_on (as docker stack deploy).")
    ] = False,
    targets: TargetsOption = None,
    wave: WaveOption = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="With --env of many swarms: continue the last rollout at its first wave not done, "
                         "with the same images.")] = False,
    fmt: Format = "text",
    context: Context = None,
    debug: Debug = False,
    project: ProjectFile = None,
    age_identity: AgeIdentity = None,
) -> None:
    """Create or update the stack so the swarm matches the files (only what changed).

    With --env naming an environment of many swarms (targets: in stackctl.yml), wave by wave."""
    from stackctl.commands import deploy as impl

    _run(impl.run, stack=stack, files=compose_file or [], env_files=env_file or [], env=env, prune=prune,
         resolve_image=resolve_image, with_registry_auth=with_registry_auth, detach=detach, quiet=quiet,
         plan_only=plan_only, timeout=timeout, rollback_on_failure=rollback_on_failure, fmt=fmt,
         context=context, debug=debug, lock_timeout=lock_timeout, keep_versions=keep_versions,
         history_max=history_max, no_deps_order=no_deps_order, targets=targets, wave=wave, resume=resume)


@app.command(cls=_Command, short_help="Deploy an environment with the images another one runs.",
             epilog=examples("stackctl promote --from dev --to prod --plan-only",
                             "stackctl promote --from dev --to prod --rollback-on-failure"))
def promote(
    source: Annotated[str, typer.Option("--from", metavar="ENV",
                                        help="Environment whose running images ship.")],
    target: Annotated[str, typer.Option("--to", metavar="ENV", help="Environment to deploy.")],
    prune: Annotated[bool, typer.Option("--prune", help="Remove what the target's files dropped.")] = False,
    detach: Detach = False,
    quiet: Quiet = False,
    plan_only: Annotated[bool, typer.Option("--plan-only", help="Print pins and plan; stop.")] = False,
    timeout: Timeout = "10m",
    rollback_on_failure: RollbackOnFailure = False,
    lock_timeout: LockTimeout = "10m",
    with_registry_auth: WithRegistryAuth = False,
    targets: TargetsOption = None,
    wave: WaveOption = None,
    fmt: Format = "text",
    debug: Debug = False,
    project: ProjectFile = None,
    age_identity: AgeIdentity = None,
) -> None:
    """Deploy --to's stack with each image pinned to what --from runs right now (stackctl.yml).

    An environment of many swarms gets the same pins on every target, wave by wave."""
    from stackctl.commands import promote as impl

    _run(impl.run, source=source, target=target, prune=prune, detach=detach, quiet=quiet, plan_only=plan_only,
         timeout=timeout, rollback_on_failure=rollback_on_failure, fmt=fmt, debug=debug,
         lock_timeout=lock_timeout, with_registry_auth=with_registry_auth, targets=targets, wave=wave)


@app.command(cls=_Command, short_help="Remove a deploy lock left by a deploy that died.",
             epilog=examples("stackctl unlock shop"))
def unlock(
    stack: Stack,
    context: Context = None,
    debug: Debug = False,
) -> None:
    """Remove a stack's deploy lock left behind by a deploy that died."""
    from stackctl.commands import unlock as impl

    _run(impl.run, stack=stack, context=context, debug=debug)


@app.command(cls=_Command, short_help="List, show or compare the revisions deploys recorded.",
             epilog=examples("stackctl history shop", "stackctl history shop 2 3",
                             "stackctl history --env prod"))
def history(
    stack: Annotated[str | None, typer.Argument(metavar="STACK", help="Stack name (default: --env's).",
                                                autocompletion=_complete_stack)] = None,
    revisions: Annotated[list[int] | None, typer.Argument(
        metavar="[N [M]]", help="N: show revision N (metadata and config); N M: what changed from N to M.",
        show_default=False)] = None,
    no_trunc: NoTrunc = False,
    env: EnvName = None,
    fmt: ListFormat = "table",
    context: Context = None,
    debug: Debug = False,
    project: ProjectFile = None,
) -> None:
    """List the stack's revisions (every deploy that wrote something, with its status), show or diff them.

    --env of many swarms: every target's revisions, with the rollout each belongs to."""
    from stackctl.commands import history as impl

    _run(impl.run, stack=stack, revisions=revisions or [], fmt=fmt, context=context, debug=debug,
         no_trunc=no_trunc, env=env)


@app.command(cls=_Command, short_help="Redeploy a recorded revision and wait, as deploy does.",
             epilog=examples("stackctl rollback shop", "stackctl rollback shop --to 3 --plan-only",
                             "stackctl rollback shop --to 3 --timeout 5m"))
def rollback(
    stack: Stack,
    to: Annotated[
        int | None, typer.Option(
            "--to", metavar="N", help="Revision to restore (default: the last deployed one before the last).")
    ] = None,
    timeout: Timeout = "10m",
    detach: Detach = False,
    rollback_on_failure: Annotated[
        bool, typer.Option("--rollback-on-failure", help="Undo the rollback if any service fails.")
    ] = False,
    plan_only: Annotated[bool, typer.Option("--plan-only", help="Print the plan and stop (writes nothing).")
                         ] = False,
    history_max: HistoryMax = 10,
    quiet: Quiet = False,
    fmt: Format = "text",
    context: Context = None,
    debug: Debug = False,
    age_identity: AgeIdentity = None,
) -> None:
    """Redeploy a recorded revision, waiting and exiting as deploy does."""
    from stackctl.commands import rollback as impl

    _run(impl.run, stack=stack, to=to, timeout=timeout, detach=detach,
         rollback_on_failure=rollback_on_failure, quiet=quiet, fmt=fmt, context=context, debug=debug,
         plan_only=plan_only, history_max=history_max)


# --- troubleshooting and lifecycle ---------------------------------------------------------


@app.command(cls=_Command, short_help="List the stack's tasks: node, state and full error.",
             epilog=examples("stackctl ps shop", "stackctl ps shop -f name=web -f desired-state=running",
                             "stackctl ps shop --all -o wide"))
def ps(
    stack: Stack,
    filter_: Annotated[
        list[str] | None, typer.Option(
            "--filter", "-f", metavar="KEY=VALUE",
            help="Filter tasks (repeatable; same key: OR, different keys: AND). Keys: id, name (service "
                 "or task name, with or without the stack prefix), node (hostname or ID), desired-state "
                 "(running, shutdown, accepted, ready), label.")
    ] = None,
    no_trunc: Annotated[bool, typer.Option(
        "--no-trunc", help="Show full IDs, image digests and errors (cells are never cut).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="Print only task IDs (12 characters).")] = False,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Include old (shut down) tasks.")] = False,
    fmt: ListFormat = "table",
    context: Context = None,
    debug: Debug = False,
) -> None:
    """List the stack's tasks, with node, state and the full error."""
    from stackctl.commands import ps as impl

    _run(impl.run, stack=stack, filters=filter_ or [], no_trunc=no_trunc, quiet=quiet, all_tasks=all_,
         fmt=fmt, context=context, debug=debug)


@app.command("ls", cls=_Command, short_help="List stacks, whoever deployed them.",
             epilog=examples("stackctl ls", "stackctl ls --format json"))
def ls_(
    no_trunc: NoTrunc = False,
    fmt: ListFormat = "table",
    context: Context = None,
    debug: Debug = False,
) -> None:
    """List stacks (including those deployed by `docker stack deploy`)."""
    from stackctl.commands import ls as impl

    _run(impl.run, fmt=fmt, context=context, debug=debug, no_trunc=no_trunc)


@app.command(cls=_Command, short_help="List the stack's services: mode, replicas, image, ports.",
             epilog=examples("stackctl services shop", "stackctl services shop -q"))
def services(
    stack: Stack,
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="Print only service IDs (12 characters).")] = False,
    no_trunc: Annotated[bool, typer.Option(
        "--no-trunc", help="Show full IDs and image digests (cells are never cut).")] = False,
    fmt: ListFormat = "table",
    context: Context = None,
    debug: Debug = False,
) -> None:
    """List the stack's services: mode, replicas running/desired, image, ports."""
    from stackctl.commands import services as impl

    _run(impl.run, stack=stack, quiet=quiet, no_trunc=no_trunc, fmt=fmt, context=context, debug=debug)


@app.command(cls=_Command, short_help="Remove stacks (volumes and external objects are kept).",
             epilog=examples("stackctl rm shop", "stackctl rm shop shop-staging --keep-history"))
def rm(
    stacks: Annotated[list[str], typer.Argument(metavar="STACK...", help="Stack name(s).",
                                                autocompletion=_complete_stack)],
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Do not wait for networks to be gone.")
    ] = False,
    keep_history: Annotated[
        bool, typer.Option("--keep-history", help="Keep the stack's revision history in the swarm.")
    ] = False,
    fmt: Format = "text",
    context: Context = None,
    debug: Debug = False,
) -> None:
    """Remove stacks: services, then networks, secrets and configs. Volumes and externals are kept."""
    from stackctl.commands import rm as impl

    _run(impl.run, stacks=stacks, detach=detach, fmt=fmt, context=context, debug=debug,
         keep_history=keep_history)


@app.command(cls=_Command, short_help="Show the logs of the stack's services.",
             epilog=examples("stackctl logs shop", "stackctl logs shop web --follow --tail 20",
                             "stackctl logs shop web -t --since 10m"))
def logs(
    stack: Stack,
    service: Annotated[str | None, typer.Argument(
        metavar="SERVICE", help="Service (with or without the stack prefix; default: all).",
        autocompletion=_complete_service)] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f",
                                         help="Keep printing new lines as they come.")] = False,
    tail: Annotated[str, typer.Option("--tail", "-n", metavar="N",
                                      help="Lines from the end of each log, or 'all'.")] = "all",
    since: Annotated[str | None, typer.Option(
        "--since", metavar="TIME",
        help="Only lines since a time (2026-11-25T16:49:05Z) or a duration ago (10m, 1h30m).")] = None,
    timestamps: Annotated[bool, typer.Option("--timestamps", "-t",
                                             help="Show each line's timestamp.")] = False,
    no_task_ids: Annotated[bool, typer.Option("--no-task-ids",
                                              help="Leave task IDs out of the prefix.")] = False,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Show full task and node IDs.")] = False,
    no_resolve: Annotated[bool, typer.Option(
        "--no-resolve", help="Show service and node IDs instead of their names.")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="Print the lines alone, without the prefix.")] = False,
    details: Annotated[bool, typer.Option(
        "--details", help="Show the extra attributes a log driver adds (e.g. --log-opt labels).")] = False,
    context: Context = None,
    debug: Debug = False,
) -> None:
    """Show the logs of the stack's services, prefixed with task and node (as docker service logs)."""
    from stackctl.commands import logs as impl

    _run(impl.run, stack=stack, service=service, follow=follow, tail=tail, since=since, context=context,
         debug=debug, timestamps=timestamps, no_task_ids=no_task_ids, no_trunc=no_trunc,
         no_resolve=no_resolve, raw=raw, details=details)


@app.command(cls=_Command, short_help="Print a shell completion script (bash, zsh, fish).",
             epilog=examples('source <(stackctl completion bash)',
                             'stackctl completion zsh > "${fpath[1]}/_stackctl"',
                             "stackctl completion fish > ~/.config/fish/completions/stackctl.fish"))
def completion(
    shell: Annotated[str, typer.Argument(metavar="SHELL", help="bash, zsh or fish.")],
) -> None:
    """Print a script that completes commands, options, stack and service names (from the engine)."""
    from stackctl import completion as impl

    def show(shell: str) -> int:
        sys.stdout.write(impl.script(shell))
        return 0

    _run(show, shell=shell)


# --- encrypted files -----------------------------------------------------------------------


@secrets_app.command("encrypt", cls=_Command, short_help="Encrypt files with the .sops.yaml rules (sops).",
                     epilog=examples("stackctl secrets encrypt secrets/db.sops.yaml",
                                     "printf %s \"$PW\" | stackctl secrets encrypt --stdin db_password.sops"))
def secrets_encrypt(
    files: Annotated[list[str], typer.Argument(metavar="FILE...", help="Files to encrypt in place.")],
    stdin: Annotated[bool, typer.Option(
        "--stdin", help="Read the plaintext from stdin and write FILE encrypted (no plaintext file).")
    ] = False,
) -> None:
    """Encrypt each FILE in place with sops and the creation rule of .sops.yaml that matches it."""
    from stackctl.commands import secrets as impl

    _run(impl.encrypt, files=files, stdin=stdin)


@secrets_app.command("check", cls=_Command, short_help="Check that files decrypt with the keys at hand.",
                     epilog=examples("stackctl secrets check secrets/db.sops.yaml",
                                     "stackctl secrets check db.sops.yaml --data-key db.password",
                                     "stackctl secrets check db.sops.yaml --age-identity key.txt"))
def secrets_check(
    files: Annotated[list[str], typer.Argument(metavar="FILE...", help="SOPS or age files.")],
    data_key: Annotated[str | None, typer.Option(
        "--data-key", metavar="PATH", help="Also check this dotted key is in the document (db.password).")
    ] = None,
    age_identity: AgeIdentity = None,
) -> None:
    """Decrypt each FILE in memory and say whether it works (a digest, never the content). Exit 1 if not."""
    from stackctl.commands import secrets as impl

    _run(impl.check, files=files, data_key=data_key)


# --- the lab ----------------------------------------------------------------------------


_LabName = Annotated[str, typer.Option(
    "--name", envvar="STACKCTL_LAB_NAME", metavar="NAME",
    help="Which lab (several run side by side; env STACKCTL_LAB_NAME).")]


@lab_app.command("up", cls=_Command, short_help="Start a lab swarm: managers, workers, a registry.",
                 epilog=examples("stackctl lab up",
                                 "stackctl lab up --name b --managers 3 --workers 1",
                                 "stackctl lab up --workers 3 --label wrk-1:pcidss=yes"))
def lab_up(
    workers: Annotated[int, typer.Option("--workers", metavar="N", help="Number of worker nodes.")] = 2,
    managers: Annotated[
        int, typer.Option("--managers", metavar="N", help="Number of managers: 1, 3 or 5.")] = 1,
    label: Annotated[
        list[str] | None, typer.Option("--label", metavar="NODE:KEY=VALUE",
                                       help="Node label (repeatable).")
    ] = None,
    bridge: Annotated[
        str | None, typer.Option("--bridge", metavar="NAME",
                                 help="Bridge name (env STACKCTL_LAB_BRIDGE, default lab only).")
    ] = None,
    subnet: Annotated[
        str | None, typer.Option("--subnet", metavar="CIDR",
                                 help="IPv4 /24 (env STACKCTL_LAB_SUBNET, default lab only).")
    ] = None,
    name: _LabName = "default",
    registry: Annotated[
        bool, typer.Option("--registry/--no-registry", help="Run the lab registry (TLS, password).")
    ] = True,
    ssh: Annotated[bool, typer.Option("--ssh/--no-ssh", help="Run sshd on every manager.")] = True,
) -> None:
    """Start managers and workers, each a real dockerd in its own network namespace."""
    from stackctl.commands import lab as impl

    _run(impl.up, workers=workers, labels=label or [], bridge=bridge, subnet=subnet, name=name,
         managers=managers, registry=registry, ssh=ssh)


@lab_app.command("down", cls=_Command, short_help="Stop the lab and remove everything it made.",
                 epilog=examples("stackctl lab down", "stackctl lab down --name b"))
def lab_down(name: _LabName = "default") -> None:
    """Stop the lab and remove everything it made (namespaces, bridge, processes, mounts)."""
    from stackctl.commands import lab as impl

    _run(impl.down, name=name)


@lab_app.command("status", cls=_Command, short_help="Show the lab's nodes and whether they are Ready.",
                 epilog=examples("stackctl lab status", "stackctl lab status --format json"))
def lab_status(fmt: TableFormat = "table", name: _LabName = "default") -> None:
    """Show the lab's nodes and whether they are Ready, and its registry."""
    from stackctl.commands import lab as impl

    _run(impl.status, fmt=fmt, name=name)


@lab_app.command("env", cls=_Command, short_help="Print the export lines for the lab (DOCKER_HOST...).",
                 epilog=examples('eval "$(stackctl lab env)"', 'eval "$(stackctl lab env --name b)"'))
def lab_env(name: _LabName = "default") -> None:
    """Print exports for the lab: DOCKER_HOST, and STACKCTL_LAB_REGISTRY* when it runs a registry."""
    from stackctl.commands import lab as impl

    _run(impl.env, name=name)


# --- agent ---------------------------------------------------------------------------------------

AgentConfigFile = Annotated[str, typer.Option("--config", metavar="FILE", help="The agent's config (YAML).")]
AgentUrl = Annotated[str | None, typer.Option(
    "--url", metavar="URL", help="The running agent's address (default: from --config's listen:).")]
AgentTokenFile = Annotated[str | None, typer.Option(
    "--token-file", metavar="FILE", help="The API token (default: from --config's api_token_file:).")]
OptionalAgentConfig = Annotated[str | None, typer.Option(
    "--config", metavar="FILE", help="The agent's config: its address and token file.")]
AgentStackName = Annotated[str, typer.Argument(metavar="STACK", help="A stack of the agent's config.")]


@agent_app.command("run", cls=_Command, short_help="Keep the config's stacks equal to git until stopped.",
                   epilog=examples("stackctl agent run --config agent.yml",
                                   "stackctl agent run --config agent.yml --once"))
def agent_run(
    config: AgentConfigFile,
    once: Annotated[bool, typer.Option(
        "--once", help="One pass over every stack, then exit with deploy's exit codes (worst wins).")
    ] = False,
) -> None:
    """Fetch, plan and deploy each stack on start, on polling and webhooks; serve the API and /metrics."""
    from stackctl.commands import agent as impl

    _run(impl.run, config=config, once=once)


@agent_app.command("check", cls=_Command, short_help="Check an agent config (FILE:LINE for each problem).",
                   epilog=examples("stackctl agent check --config agent.yml"))
def agent_check(config: AgentConfigFile) -> None:
    """Check the agent's config against its schema and by meaning. Exit 1 on any problem."""
    from stackctl.commands import agent as impl

    _run(impl.check, config=config)


@agent_app.command("sync", cls=_Command, short_help="Ask a running agent to sync a stack now.",
                   epilog=examples("stackctl agent sync shop --config agent.yml",
                                   "stackctl agent sync shop --url http://127.0.0.1:9600 --token-file t"))
def agent_sync(name: AgentStackName, config: OptionalAgentConfig = None, url: AgentUrl = None,
               token_file: AgentTokenFile = None) -> None:
    """Fetch and pass over STACK now (a failed commit is tried again)."""
    from stackctl.commands import agent as impl

    _run(impl.sync, name=name, url=url, token_file=token_file, config=config)


@agent_app.command("approve", cls=_Command, short_help="Approve the plan a manual stack waits with.",
                   epilog=examples("stackctl agent approve shop --config agent.yml"))
def agent_approve(name: AgentStackName, config: OptionalAgentConfig = None, url: AgentUrl = None,
                  token_file: AgentTokenFile = None) -> None:
    """Apply the commit an `apply: manual` stack waits with."""
    from stackctl.commands import agent as impl

    _run(impl.approve, name=name, url=url, token_file=token_file, config=config)


@agent_app.command("stack", cls=_Command, short_help="Print a stack file that runs the agent on a manager.",
                   epilog=examples("stackctl agent stack > agent-stack.yml",
                                   "stackctl agent stack --image registry.example.com/stackctl:1"))
def agent_stack(
    image: Annotated[str, typer.Option("--image", metavar="IMAGE",
                                       help="The agent's image.")] = "stackctl:latest",
    config_file: Annotated[str, typer.Option(
        "--config-file", metavar="FILE", help="The agent config to ship as a swarm config.")] = "agent.yml",
    port: Annotated[int, typer.Option("--port", metavar="PORT",
                                      help="The port the agent listens on.")] = 9600,
) -> None:
    """Print a stack file: one agent replica on a manager, the docker socket, secrets, a healthcheck."""
    from stackctl.commands import agent as impl

    _run(impl.stack, image=image, config_file=config_file, port=port)


def main() -> None:
    # Fast path: `stackctl --version` needs nothing but the version string.
    if sys.argv[1:] == ["--version"]:
        print(f"stackctl {__version__}")
        return
    # A short-lived CLI that builds large trees (YAML, specs): the default cyclic-GC threshold (700)
    # makes full collections re-walk them again and again, ~25% of `config` on 1000 services
    # (bench/README.md). Collect rarely instead; reference counting still frees nearly everything.
    gc.set_threshold(100_000, 50, 50)
    if os.environ.get("_STACKCTL_COMPLETE"):  # a Tab in a shell that sourced `stackctl completion`
        from stackctl.completion import answer_completion_request

        answer_completion_request()
    app(prog_name="stackctl", complete_var="_STACKCTL_COMPLETE")


if __name__ == "__main__":
    main()
