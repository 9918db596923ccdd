"""Golden tests of the plain-text and JSON renderings of ps, services and ls.

Regenerate after an intended change with `STACKCTL_UPDATE_GOLDEN=1 pytest tests/unit/test_render_tables.py`
and review the diff.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest

from stackctl.inspect_tasks import parse_time, service_statuses, stack_summaries, task_rows
from stackctl.render.tables import (
    LS_HEADERS,
    SERVICES_HEADERS,
    ls_cells,
    ls_json,
    plain_table,
    print_ps,
    ps_json,
    ps_text,
    services_cells,
    services_json,
    shorten,
)

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent.parent / "golden" / "ps"


def check_golden(name: str, actual: str, folder: Path = GOLDEN) -> None:
    """Compare with (or, under STACKCTL_UPDATE_GOLDEN=1, write) the golden file `folder/name`."""
    path = folder / name
    if os.environ.get("STACKCTL_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
    assert path.exists(), f"missing golden file {path} (run with STACKCTL_UPDATE_GOLDEN=1)"
    assert actual == path.read_text()


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


@pytest.mark.parametrize(("fixture", "all_tasks", "no_trunc", "golden"), [
    ("ps_mixed_stack.json", False, False, "mixed_default.txt"),
    ("ps_mixed_stack.json", True, False, "mixed_all.txt"),
    ("ps_mixed_stack.json", False, True, "mixed_no_trunc.txt"),
    ("ps_lab_recorded.json", False, False, "lab_default.txt"),
    ("ps_lab_recorded.json", False, True, "lab_no_trunc.txt"),
])
def test_ps_text(fixture: str, all_tasks: bool, no_trunc: bool, golden: str) -> None:
    doc = load(fixture)
    now = parse_time(doc["now"])
    rows = task_rows(doc["tasks"], doc["services"], doc["nodes"], now=now, all_tasks=all_tasks)
    statuses = service_statuses(doc["services"], doc["tasks"])
    check_golden(golden, ps_text(rows, statuses, no_trunc=no_trunc))


def test_ps_json() -> None:
    doc = load("ps_mixed_stack.json")
    now = parse_time(doc["now"])
    rows = task_rows(doc["tasks"], doc["services"], doc["nodes"], now=now)
    statuses = service_statuses(doc["services"], doc["tasks"])
    check_golden("mixed.json", json.dumps(ps_json("ts1", rows, statuses, now), indent=2) + "\n")


def test_print_ps_to_a_pipe_is_the_plain_text() -> None:
    doc = load("ps_lab_recorded.json")
    now = parse_time(doc["now"])
    rows = task_rows(doc["tasks"], doc["services"], doc["nodes"], now=now)
    statuses = service_statuses(doc["services"], doc["tasks"])
    out, err = io.StringIO(), io.StringIO()
    print_ps(rows, statuses, no_trunc=False, stream=out, summary_stream=err)
    assert out.getvalue() + "\n" + err.getvalue() == ps_text(rows, statuses, no_trunc=False)
    assert "converged" not in out.getvalue()  # stdout: the table only; the summary goes to stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


LONG = "convwidestackname_application-server"


def _long_rows() -> tuple[list, list]:
    doc = load("ps_mixed_stack.json")
    for obj in doc["services"]:
        obj["Spec"]["Name"] = obj["Spec"]["Name"].replace("ts1_", f"{LONG}_")
        image = obj["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        obj["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] = "registry.example.com:5000/team/" + image
    for task in doc["tasks"]:
        task["ID"] = "3ykbwsig597c" + task["ID"] + "x" * 13
        task["Spec"]["ContainerSpec"]["Image"] = "registry.example.com:5000/team/busybox:latest"
    now = parse_time(doc["now"])
    return (task_rows(doc["tasks"], doc["services"], doc["nodes"], now=now),
            service_statuses(doc["services"], doc["tasks"]))


def test_ps_at_80_columns_shortens_cells_and_never_wraps(monkeypatch: pytest.MonkeyPatch) -> None:
    rows, statuses = _long_rows()
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    term, err = _Terminal(), io.StringIO()
    print_ps(rows, statuses, no_trunc=False, stream=term, summary_stream=err)
    lines = term.getvalue().splitlines()
    assert len(lines) == len(rows) + 1  # one line per task: nothing wrapped
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert lines[0].split() == ["ID", "NAME", "IMAGE", "NODE", "DESIRED", "STATE", "CURRENT", "STATE",
                                "ERROR", "PORTS"]
    assert lines[1].split()[0] == "3ykbwsig597c"  # IDs: 12 characters, whole
    assert any("…" in line for line in lines[1:])  # long names shortened at the end
    pipe = io.StringIO()
    print_ps(rows, statuses, no_trunc=False, stream=pipe, summary_stream=io.StringIO())
    assert pipe.getvalue().splitlines()[0].split() == lines[0].split()  # same columns as a pipe
    assert LONG in pipe.getvalue()  # a pipe has no width: nothing shortened beyond the defaults


def test_no_trunc_shows_everything_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    rows, statuses = _long_rows()
    monkeypatch.setenv("COLUMNS", "80")
    term = _Terminal()
    print_ps(rows, statuses, no_trunc=True, stream=term, summary_stream=io.StringIO())
    text = term.getvalue()
    assert "…" not in text and LONG in text and "3ykbwsig597c" + rows[0].id[12:] in text
    assert len(text.splitlines()) == len(rows) + 1


def test_terminal_rows_are_coloured_without_changing_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    rows, statuses = _long_rows()
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.delenv("NO_COLOR", raising=False)
    term, pipe = _Terminal(), io.StringIO()
    print_ps(rows, statuses, no_trunc=False, stream=term, summary_stream=io.StringIO())
    print_ps(rows, statuses, no_trunc=False, stream=pipe, summary_stream=io.StringIO())
    assert "\x1b[31m" in term.getvalue()
    assert re.sub(r"\x1b\[[0-9;]*m", "", term.getvalue()) == pipe.getvalue()


def test_shorten_keeps_quotes_and_ends_with_an_ellipsis() -> None:
    assert shorten("abcdefghij", 5) == "abcd…"
    assert shorten('"task: non-zero exit (1)"', 10) == '"task: n…"'
    assert shorten("short", 10) == "short"


def test_services_and_ls() -> None:
    doc = load("ps_mixed_stack.json")
    statuses = service_statuses(doc["services"], doc["tasks"])
    stacks = stack_summaries(doc["services"], doc["networks"], doc["secrets"], doc["configs"])
    text = (plain_table(SERVICES_HEADERS, [services_cells(s) for s in statuses]) + "\n"
            + plain_table(LS_HEADERS, [ls_cells(s) for s in stacks]) + "\n"
            + json.dumps(services_json("ts1", statuses), indent=2) + "\n"
            + json.dumps(ls_json(stacks), indent=2) + "\n")
    check_golden("services_and_ls.txt", text)


def test_the_live_rollout_table_keeps_one_line_per_service_at_80_columns() -> None:
    from rich.console import Console

    from stackctl.apply.wait import ServiceProgress
    from stackctl.render.progress import _table

    progress = [ServiceProgress(name=f"{LONG}_{i}", running=1, desired=2, message="1/2 running",
                                task_error="task: non-zero exit (1): " + "x" * 80) for i in range(3)]
    out = io.StringIO()
    Console(file=out, width=80).print(_table(progress, "rollout", 80))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 + len(progress) and all(len(line) <= 80 for line in lines)
    assert lines[1].split() == ["SERVICE", "TASKS", "UPDATE", "STATE", "NEWEST", "TASK", "ERROR"]
