"""`stackctl completion SHELL`: the scripts, and what a Tab completes (commands, options, names)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from stackctl import completion
from stackctl.cli import app
from stackctl.errors import EXIT_USAGE

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_script_names_the_program_and_its_variable(shell: str) -> None:
    result = CliRunner().invoke(app, ["completion", shell])
    assert result.exit_code == 0, result.output
    assert "_STACKCTL_COMPLETE=complete_" + shell in result.output
    assert "stackctl" in result.output


def test_unknown_shell_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["completion", "tcsh"])
    assert result.exit_code == EXIT_USAGE
    assert "bash, zsh, fish" in result.output


def _tab(words: str, fake_services: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What bash would offer for `words` (the last word being completed)."""
    monkeypatch.setattr(completion, "_services", lambda filters: [
        s for s in fake_services
        if any(f == completion.STACK_LABEL or f.endswith("=" + s["Spec"]["Labels"][completion.STACK_LABEL])
               for f in filters["label"])])
    completion.answer_completion_request()
    parts = words.split(" ")
    env = {"_STACKCTL_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(parts) - 1)}
    result = CliRunner().invoke(app, [], env=env, prog_name="stackctl", complete_var="_STACKCTL_COMPLETE")
    return result.output.split()


SERVICES = [{"Spec": {"Name": f"{stack}_{svc}", "Labels": {completion.STACK_LABEL: stack}}}
            for stack, svc in [("shop", "web"), ("shop", "db"), ("blog", "app")]]


def test_tab_completes_commands_options_stacks_and_services(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _tab("stackctl p", SERVICES, monkeypatch) == ["promote", "ps"]
    assert "--no-trunc" in _tab("stackctl ps --n", SERVICES, monkeypatch)
    assert _tab("stackctl ps ", SERVICES, monkeypatch) == ["blog", "shop"]
    assert _tab("stackctl logs s", SERVICES, monkeypatch) == ["shop"]
    assert _tab("stackctl logs shop ", SERVICES, monkeypatch) == ["db", "web"]


def test_tab_without_an_engine_is_quick_and_offers_nothing() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DOCKER_HOST": "unix:///nonexistent/docker.sock",
           "_STACKCTL_COMPLETE": "complete_bash", "COMP_WORDS": "stackctl ps ", "COMP_CWORD": "2"}
    env.pop("DOCKER_CONTEXT", None)
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "stackctl"], env=env, capture_output=True, text=True,
                         timeout=30)
    assert time.monotonic() - start < 10
    assert out.returncode == 0 and out.stdout.strip() == "" and "Traceback" not in out.stderr


def test_tab_offers_the_values_of_resolve_image_and_format(monkeypatch: pytest.MonkeyPatch) -> None:
    modes = ["always", "changed", "never"]
    assert _tab("stackctl deploy shop --resolve-image ", SERVICES, monkeypatch) == modes
    assert _tab("stackctl diff shop --resolve-image c", SERVICES, monkeypatch) == ["changed"]
    assert _tab("stackctl ps shop --format ", SERVICES, monkeypatch) == ["table", "wide", "json"]
    assert _tab("stackctl ps shop -o w", SERVICES, monkeypatch) == ["wide"]
    assert _tab("stackctl validate --format ", SERVICES, monkeypatch) == ["text", "json"]
    assert _tab("stackctl config --format y", SERVICES, monkeypatch) == ["yaml"]
