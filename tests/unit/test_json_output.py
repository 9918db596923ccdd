"""`--format json`: every document is an object with `schema` (docs/json-output.md).

Commands that need no engine are run here; the engine commands are checked on the lab in
tests/integration/test_cli.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stackctl.apply.convergence import ServiceOutcome
from stackctl.cli import app

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "atsea-envs"


def _doc(args: list[str], code: int | None = None) -> dict:
    result = CliRunner().invoke(app, args, env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    if code is not None:
        assert result.exit_code == code, result.output
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict) and doc["schema"].startswith("stackctl."), doc
    return doc


def test_validate(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text("services:\n  web:\n    image: busybox\n")
    assert _doc(["validate", "-c", str(good), "--format", "json"], 0)["schema"] == "stackctl.validate/v1"
    bad = tmp_path / "bad.yml"
    bad.write_text("services:\n  web:\n    image: 3\n")
    doc = _doc(["validate", "-c", str(bad), "--format", "json"], 1)
    assert doc["schema"] == "stackctl.validate/v1" and doc["ok"] is False


def test_errors_are_a_document_too(tmp_path: Path) -> None:
    doc = _doc(["ps", "shop", "--format", "json"], 1)  # no engine at that address
    assert doc["schema"] == "stackctl.error/v1" and doc["ok"] is False and doc["error"]


def test_env_diff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKCTL_PROJECT", str(EXAMPLE / "stackctl.yml"))  # what --project sets
    doc = _doc(["diff", "--env", "dev", "--against", "prod", "--format", "json"], 2)
    assert doc["schema"] == "stackctl.env-diff/v1" and doc["changes"] is True and doc["differences"]


def test_deploy_outcomes_use_the_names_of_ps_and_services() -> None:
    """A service's name and convergence are `name` and `converged` everywhere."""
    outcome = ServiceOutcome(name="shop_web", state="converged", message="2/2 running", task_error=None,
                             running=2, desired=2)
    doc = outcome.to_json()
    assert doc["name"] == "shop_web" and doc["converged"] is True and doc["state"] == "converged"
    assert "service" not in doc
    failed = ServiceOutcome(name="shop_db", state="failed", message="0/1 running", task_error="x", running=0,
                            desired=1)
    assert failed.to_json()["converged"] is False
