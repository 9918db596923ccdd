"""`stackctl validate` on one small bad file per rule: the exact lines the user reads.

Golden files: tests/golden/validate/<case>.yml -> <case>.golden. Regenerate them with
`STACKCTL_UPDATE_GOLDEN=1 pytest tests/unit/test_validate_messages.py` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from stackctl.errors import EXIT_USAGE, UsageError

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "validate"
CASES = sorted(p.stem for p in GOLDEN.glob("*.yml"))
# Files the reference (`docker stack config`) accepts but stackctl must refuse.
REFUSED_THOUGH_REFERENCE_ACCEPTS = ["undefined_network", "undefined_secret", "no_image", "bad_constraint",
                                    "bad_enum", "port_99999", "missing_secret_file"]


def run_validate(name: str, fmt: str = "text") -> tuple[int, str, str]:
    import contextlib
    import io

    from stackctl.commands.validate import run

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(files=[f"{name}.yml"], env_files=[], env=None, fmt=fmt, skip_interpolation=False)
    return code, out.getvalue(), err.getvalue()


def render(code: int, out: str, err: str) -> str:
    return f"exit: {code}\n--- stdout\n{out}--- stderr\n{err}"


def update_golden(name: str, text: str) -> None:
    (GOLDEN / f"{name}.golden").write_text(text)


@pytest.fixture(autouse=True)
def _in_golden_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str) -> None:
    actual = render(*run_validate(name))
    if os.environ.get("STACKCTL_UPDATE_GOLDEN"):
        update_golden(name, actual)
    expected = (GOLDEN / f"{name}.golden").read_text()
    assert actual == expected


@pytest.mark.parametrize("name", REFUSED_THOUGH_REFERENCE_ACCEPTS)
def test_refused_with_a_located_message(name: str) -> None:
    code, _, err = run_validate(name)
    assert code == 1
    assert err.startswith(f"{name}.yml:")


def test_warnings_do_not_fail() -> None:
    code, out, err = run_validate("ignored_keys_warning")
    assert code == 0 and out.startswith("OK: 2 services")
    assert "depends_on" not in err and "container_name" in err  # depends_on is honoured (ordering)


def test_json_format_has_the_same_facts() -> None:
    code, out, err = run_validate("undefined_network", fmt="json")
    doc = json.loads(out)
    assert code == 1 and err == "" and doc["ok"] is False
    found = [(d["path"], d["severity"]) for d in doc["diagnostics"]]
    assert found == [("services.web.networks[1]", "error")]
    code, out, _ = run_validate("valid", fmt="json")
    assert code == 0 and json.loads(out)["ok"] is True


def test_env_is_a_usage_error() -> None:
    from stackctl.commands.validate import run

    with pytest.raises(UsageError, match="--env needs stackctl.yml") as info:
        run(files=["valid.yml"], env_files=[], env="prod", fmt="text", skip_interpolation=False)
    assert info.value.exit_code == EXIT_USAGE
