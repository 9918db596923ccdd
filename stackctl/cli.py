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

from stackctl import __version__
from stackctl.errors import EXIT_ERROR, EXIT_INTERRUPTED, StackctlError

app = typer.Typer(
    name="stackctl",
    help="Declarative stack deployer for Docker Swarm: validate, diff, deploy and troubleshoot stacks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help and usage errors: typer's rich formatting imports rich.markdown, pygments and
    # markdown_it (~120 ms), which alone breaks the 150 ms budget of `stackctl --help` (bench/README.md).
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
lab_app = typer.Typer(help="A throwaway multi-node swarm on this machine (needs root).", no_args_is_help=True,
                      rich_markup_mode=None)
app.add_typer(lab_app, name="lab")

ComposeFiles = Annotated[
    list[str],
    typer.Option("--compose-file", "-c", help="Stack file (repeatable, merged in order; '-' reads stdin)."),
]
EnvFiles = Annotated[
    list[str] | None,
    typer.Option("--env-file", help="Variables for interpolation (repeatable; the shell wins)."),
]
EnvName = Annotated[str | None, typer.Option("--env", help="Environment from stackctl.yml.")]
# With --env the files come from stackctl.yml, so -c is optional there.
OptionalComposeFiles = Annotated[
    list[str] | None,
    typer.Option("--compose-file", "-c",
                 help="Stack file (repeatable, merged in order; '-' reads stdin; with --env: merged last)."),
]
OptionalStack = Annotated[
    str | None, typer.Argument(help="Stack name (default: stackctl.yml's with --env, else the file's name:).")
]


def _set_project(value: str | None) -> None:
    if value:
        os.environ["STACKCTL_PROJECT"] = value


ProjectFile = Annotated[
    str | None,
    typer.Option("--project", callback=_set_project, expose_value=False,
                 help="Project file for --env (default: ./stackctl.yml)."),
]
Format = Annotated[str, typer.Option("--format", help="Output format: text|json (table|json for lists).")]
Context = Annotated[str | None, typer.Option("--context", help="Docker context to use.")]
Debug = Annotated[bool, typer.Option("--debug", help="Log engine calls to stderr (secrets never shown).")]


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
    except Exception as err:  # noqa: BLE001 - last line of defence: no traceback reaches a user
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


@app.command()
def validate(
    compose_file: OptionalComposeFiles = None,
    env_file: EnvFiles = None,
    env: EnvName = None,
    fmt: Format = "text",
    skip_interpolation: Annotated[bool, typer.Option("--skip-interpolation")] = False,
    project: ProjectFile = None,
) -> None:
    """Check stack files: YAML, interpolation, schema and meaning. Exit 1 on any problem."""
    from stackctl.commands import validate as impl

    _run(impl.run, files=compose_file or [], env_files=env_file or [], env=env, fmt=fmt,
         skip_interpolation=skip_interpolation)


@app.command()
def config(
    compose_file: OptionalComposeFiles = None,
    env_file: EnvFiles = None,
    env: EnvName = None,
    fmt: Format = "yaml",
    skip_interpolation: Annotated[
        bool, typer.Option("--skip-interpolation", help="Output the merged config without interpolating.")
    ] = False,
    project: ProjectFile = None,
) -> None:
    """Print the merged, interpolated, normalised stack (as `docker stack config`)."""
    from stackctl.commands import config as impl

    _run(impl.run, files=compose_file or [], env_files=env_file or [], env=env, fmt=fmt,
         skip_interpolation=skip_interpolation)


# --- plan / deploy ---------------------------------------------------------------------


@app.command()
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
        typer.Option("--against", help="Compare the rendered stacks of --env and this environment."),
    ] = None,
    project: ProjectFile = None,
) -> None:
    """Show what deploy would change. Exit 0: no changes, 2: changes, 1: error."""
    from stackctl.commands import diff as impl

    extra = {"against": against} if against else {}
    _run(impl.run, stack=stack, files=compose_file or [], env_files=env_file or [], env=env, prune=prune,
         fmt=fmt, context=context, debug=debug, **extra)


@app.command()
def deploy(
    stack: OptionalStack = None,
    compose_file: OptionalComposeFiles = None,
    env_file: EnvFiles = None,
    env: EnvName = None,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Remove the stack's services, networks, secrets and configs the file no longer has.")
    ] = False,
    resolve_image: Annotated[
        str, typer.Option("--resolve-image", help="Query the registry for digests: always|changed|never.")
    ] = "always",
    with_registry_auth: Annotated[bool, typer.Option("--with-registry-auth")] = False,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Do not wait for convergence.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    plan_only: Annotated[bool, typer.Option("--plan-only", help="Print the plan and stop.")] = False,
    timeout: Annotated[str, typer.Option("--timeout", help="Bound on waiting (Go duration).")] = "10m",
    rollback_on_failure: Annotated[
        bool, typer.Option("--rollback-on-failure", help="Undo the whole deploy if any service fails.")
    ] = False,
    lock_timeout: Annotated[
        str, typer.Option("--lock-timeout", help="How long to wait for another deploy's lock (Go duration).")
    ] = "10m",
    keep_versions: Annotated[int, typer.Option(
        "--keep-versions", help="Unused old versions of each rotated secret/config to keep for rollback.")
    ] = 2,
    no_deps_order: Annotated[bool, typer.Option(
        "--no-deps-order", help="Write every service at once, ignoring depends_on (as docker stack deploy).")
    ] = False,
    fmt: Format = "text",
    context: Context = None,
    debug: Debug = False,
    project: ProjectFile = None,
) -> None:
    """Create or update the stack so the swarm matches the files (only what changed)."""
    from stackctl.commands import deploy as impl

    _run(impl.run, stack=stack, files=compose_file or [], env_files=env_file or [], env=env, prune=prune,
         resolve_image=resolve_image, with_registry_auth=with_registry_auth, detach=detach, quiet=quiet,
         plan_only=plan_only, timeout=timeout, rollback_on_failure=rollback_on_failure, fmt=fmt,
         context=context, debug=debug, lock_timeout=lock_timeout, keep_versions=keep_versions,
         no_deps_order=no_deps_order)


@app.command()
def promote(
    source: Annotated[str, typer.Option("--from", help="Environment whose running images ship.")],
    target: Annotated[str, typer.Option("--to", help="Environment to deploy.")],
    prune: Annotated[bool, typer.Option("--prune", help="Remove what the target's files dropped.")] = False,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Do not wait for convergence.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    plan_only: Annotated[bool, typer.Option("--plan-only", help="Print pins and plan; stop.")] = False,
    timeout: Annotated[str, typer.Option("--timeout", help="Bound on waiting (Go duration).")] = "10m",
    rollback_on_failure: Annotated[
        bool, typer.Option("--rollback-on-failure", help="Undo the whole deploy if any service fails.")
    ] = False,
    lock_timeout: Annotated[
        str, typer.Option("--lock-timeout", help="How long to wait for another deploy's lock (Go duration).")
    ] = "10m",
    fmt: Format = "text",
    debug: Debug = False,
    project: ProjectFile = None,
) -> None:
    """Deploy --to's stack with each image pinned to what --from runs right now (stackctl.yml)."""
    from stackctl.commands import promote as impl

    _run(impl.run, source=source, target=target, prune=prune, detach=detach, quiet=quiet, plan_only=plan_only,
         timeout=timeout, rollback_on_failure=rollback_on_failure, fmt=fmt, debug=debug,
         lock_timeout=lock_timeout)


@app.command()
def unlock(
    stack: Annotated[str, typer.Argument(help="Stack name.")],
    context: Context = None,
    debug: Debug = False,
) -> None:
    """Remove a stack's deploy lock left behind by a deploy that died."""
    from stackctl.commands import unlock as impl

    _run(impl.run, stack=stack, context=context, debug=debug)


@app.command()
def history(
    stack: Annotated[str, typer.Argument(help="Stack name.")],
    fmt: Annotated[str, typer.Option("--format", help="Output format: table|json.")] = "table",
    context: Context = None,
    debug: Debug = False,
) -> None:
    """List the revisions recorded by successful deploys (kept in the swarm, last 10)."""
    from stackctl.commands import history as impl

    _run(impl.run, stack=stack, fmt=fmt, context=context, debug=debug)


@app.command()
def rollback(
    stack: Annotated[str, typer.Argument(help="Stack name.")],
    to: Annotated[
        int | None, typer.Option("--to", help="Revision to restore (default: the one before the latest).")
    ] = None,
    timeout: Annotated[str, typer.Option("--timeout", help="Bound on waiting (Go duration).")] = "10m",
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Do not wait for convergence.")] = False,
    rollback_on_failure: Annotated[
        bool, typer.Option("--rollback-on-failure", help="Undo the rollback if any service fails.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    fmt: Format = "text",
    context: Context = None,
    debug: Debug = False,
) -> None:
    """Redeploy a recorded revision, waiting and exiting as deploy does."""
    from stackctl.commands import rollback as impl

    _run(impl.run, stack=stack, to=to, timeout=timeout, detach=detach,
         rollback_on_failure=rollback_on_failure, quiet=quiet, fmt=fmt, context=context, debug=debug)


# --- troubleshooting and lifecycle ---------------------------------------------------------


@app.command()
def ps(
    stack: Annotated[str, typer.Argument(help="Stack name.")],
    filter_: Annotated[
        list[str] | None, typer.Option("--filter", "-f", help="KEY=VALUE (repeatable).")
    ] = None,
    no_trunc: Annotated[bool, typer.Option("--no-trunc")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Include old (shut down) tasks.")] = False,
    fmt: Annotated[str, typer.Option("--format")] = "table",
    context: Context = None,
    debug: Debug = False,
) -> None:
    """List the stack's tasks, with node, state and the full error."""
    from stackctl.commands import ps as impl

    _run(impl.run, stack=stack, filters=filter_ or [], no_trunc=no_trunc, quiet=quiet, all_tasks=all_,
         fmt=fmt, context=context, debug=debug)


@app.command("ls")
def ls_(
    fmt: Annotated[str, typer.Option("--format")] = "table",
    context: Context = None,
    debug: Debug = False,
) -> None:
    """List stacks (including those deployed by `docker stack deploy`)."""
    from stackctl.commands import ls as impl

    _run(impl.run, fmt=fmt, context=context, debug=debug)


@app.command()
def services(
    stack: Annotated[str, typer.Argument(help="Stack name.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    fmt: Annotated[str, typer.Option("--format")] = "table",
    context: Context = None,
    debug: Debug = False,
) -> None:
    """List the stack's services: mode, replicas running/desired, image, ports."""
    from stackctl.commands import services as impl

    _run(impl.run, stack=stack, quiet=quiet, fmt=fmt, context=context, debug=debug)


@app.command()
def rm(
    stacks: Annotated[list[str], typer.Argument(help="Stack name(s).")],
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Do not wait for networks to be gone.")
    ] = False,
    keep_history: Annotated[
        bool, typer.Option("--keep-history", help="Keep the stack's revision history in the swarm.")
    ] = False,
    fmt: Annotated[str, typer.Option("--format")] = "text",
    context: Context = None,
    debug: Debug = False,
) -> None:
    """Remove stacks: services, then networks, secrets and configs. Volumes and externals are kept."""
    from stackctl.commands import rm as impl

    _run(impl.run, stacks=stacks, detach=detach, fmt=fmt, context=context, debug=debug,
         keep_history=keep_history)


@app.command()
def logs(
    stack: Annotated[str, typer.Argument(help="Stack name.")],
    service: Annotated[str | None, typer.Argument(help="Service (without the stack prefix).")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
    tail: Annotated[str, typer.Option("--tail", help="Lines from the end of each log, or 'all'.")] = "all",
    since: Annotated[str | None, typer.Option("--since")] = None,
    context: Context = None,
    debug: Debug = False,
) -> None:
    """Show the logs of the stack's services, prefixed with task and node."""
    from stackctl.commands import logs as impl

    _run(impl.run, stack=stack, service=service, follow=follow, tail=tail, since=since, context=context,
         debug=debug)


# --- the lab ----------------------------------------------------------------------------


@lab_app.command("up")
def lab_up(
    workers: Annotated[int, typer.Option("--workers", help="Number of worker nodes.")] = 2,
    label: Annotated[
        list[str] | None, typer.Option("--label", help="NODE:KEY=VALUE node label (repeatable).")
    ] = None,
    bridge: Annotated[
        str | None, typer.Option("--bridge", help="Bridge name (env STACKCTL_LAB_BRIDGE).")
    ] = None,
    subnet: Annotated[
        str | None, typer.Option("--subnet", help="IPv4 /24 (env STACKCTL_LAB_SUBNET).")
    ] = None,
) -> None:
    """Start a manager and N workers, each a real dockerd in its own network namespace."""
    from stackctl.commands import lab as impl

    _run(impl.up, workers=workers, labels=label or [], bridge=bridge, subnet=subnet)


@lab_app.command("down")
def lab_down() -> None:
    """Stop the lab and remove everything it made (namespaces, bridge, processes, mounts)."""
    from stackctl.commands import lab as impl

    _run(impl.down)


@lab_app.command("status")
def lab_status(fmt: Annotated[str, typer.Option("--format")] = "table") -> None:
    """Show the lab's nodes and whether they are Ready."""
    from stackctl.commands import lab as impl

    _run(impl.status, fmt=fmt)


@lab_app.command("env")
def lab_env() -> None:
    """Print `export DOCKER_HOST=...` for the lab's manager."""
    from stackctl.commands import lab as impl

    _run(impl.env)


def main() -> None:
    # Fast path: `stackctl --version` needs nothing but the version string.
    if sys.argv[1:] == ["--version"]:
        print(f"stackctl {__version__}")
        return
    # A short-lived CLI that builds large trees (YAML, specs): the default cyclic-GC threshold (700)
    # makes full collections re-walk them again and again, ~25% of `config` on 1000 services
    # (bench/README.md). Collect rarely instead; reference counting still frees nearly everything.
    gc.set_threshold(100_000, 50, 50)
    app()


if __name__ == "__main__":
    main()
