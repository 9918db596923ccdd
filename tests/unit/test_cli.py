"""The command line surface: every command documents itself the same way (issue 18).

A scan of every command and option, so a new flag without help or placeholder fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from stackctl.cli import app

ROOT = typer.main.get_command(app)


def _commands(group: Any = ROOT, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every (sub)command under `group` (typer vendors click, so groups are told by `.commands`)."""
    out = []
    for name, cmd in getattr(group, "commands", {}).items():
        out.append(((*path, name), cmd))
        out.extend(_commands(cmd, (*path, name)))
    return out


COMMANDS = _commands()
LEAVES = [(p, c) for p, c in COMMANDS if not hasattr(c, "commands")]


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_is_scanned() -> None:
    names = {" ".join(p) for p, _ in LEAVES}
    assert {"validate", "deploy", "ps", "logs", "history", "lab up", "completion"} <= names


@pytest.mark.parametrize(("path", "cmd"), LEAVES, ids=[" ".join(p) for p, _ in LEAVES])
def test_every_option_has_help_and_a_named_placeholder(path: tuple[str, ...], cmd: Any) -> None:
    ctx = typer.Context(cmd, info_name=path[-1])
    for param in cmd.params:
        if param.param_type_name == "option":
            if param.hidden:
                continue
            assert param.help, f"{' '.join(path)} {param.opts[0]} has no help text"
            if not param.is_flag:
                metavar = param.make_metavar(ctx)
                assert re.fullmatch(r"[A-Z][A-Z0-9_:=.-]*(\.\.\.)?", metavar), (
                    f"{' '.join(path)} {param.opts[0]}: placeholder {metavar!r} does not name its value")
        else:
            assert getattr(param, "help", None), f"{' '.join(path)} {param.name} has no help text"
            # NAME, NAME... or optional forms such as [N [M]]
            assert re.fullmatch(r"[A-Z]+(\.\.\.)?|\[[A-Z]+( \[[A-Z]+\])?\]", param.make_metavar(ctx)), \
                param.make_metavar(ctx)


@pytest.mark.parametrize(("path", "cmd"), LEAVES, ids=[" ".join(p) for p, _ in LEAVES])
def test_help_ends_with_examples(path: tuple[str, ...], cmd: Any) -> None:
    text = _help(path)
    assert "<str>" not in text and "<int>" not in text
    assert "{" not in text.splitlines()[0], "usage line shows STACK, not {STACK}"
    head, sep, tail = text.rpartition("Examples:")
    assert sep, f"{' '.join(path)}: no examples"
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 3
    assert all(re.match(r"(sudo |eval \")?.*stackctl ", line) for line in lines), lines


def test_summaries_are_not_cut() -> None:
    for path in [(), ("lab",)]:
        text = _help(path)
        commands = text.split("Commands:", 1)[1].split("Examples:", 1)[0]
        assert "…" not in commands
        assert not any(line.rstrip().endswith("...") for line in commands.splitlines())


def test_ps_filter_help_lists_its_keys() -> None:
    text = " ".join(_help(("ps",)).split())
    for key in ("id", "name", "node", "desired-state", "label"):
        assert key in text


def test_ps_name_filter_matches_the_short_service_name() -> None:
    from stackctl.commands.ps import scope_names

    assert scope_names("shop", {"name": ["web"]}) == {"name": ["web", "shop_web"]}
    assert scope_names("shop", {"name": ["shop_web.1"]}) == {"name": ["shop_web.1"]}
    assert scope_names("shop", {"node": ["wrk-1"]}) == {"node": ["wrk-1"]}


# --- exit codes (docs/exit-codes.md): usage errors are never confused with `diff`'s "changes" ----


@pytest.mark.parametrize("args", [
    ["diff", "shop", "-c", "x.yml", "--format", "xml"],
    ["history", "shop", "--format", "xml"],
    ["ps", "shop", "--format", "xml"],
    ["validate", "-c", "x.yml", "--format", "xml"],
    ["ps", "shop", "--bogus"],
    ["ps"],
    ["deploy", "shop", "-c", "x.yml", "--resolve-image", "sometimes"],
])
def test_usage_errors_exit_64_not_2(args: list[str]) -> None:
    from stackctl.errors import EXIT_CHANGES, EXIT_USAGE

    result = CliRunner().invoke(app, args, env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert result.exit_code == EXIT_USAGE != EXIT_CHANGES, result.output


def test_exit_code_table_documents_every_code() -> None:
    from pathlib import Path

    from stackctl import errors

    table = (Path(__file__).resolve().parents[2] / "docs" / "exit-codes.md").read_text()
    codes = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    for code in codes:
        assert re.search(rf"^\| {code} \|", table, re.M), f"exit code {code} missing from docs/exit-codes.md"


def test_lab_env_fails_when_the_lab_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    from stackctl.commands import lab

    monkeypatch.setattr(lab, "read_state", lambda name: None)  # a lab that was never started
    result = CliRunner().invoke(app, ["lab", "env", "--name", "never-started-xyz"])
    assert result.exit_code == 1 and "export" not in result.stdout
    assert "the lab is not up" in result.output
