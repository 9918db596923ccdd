"""The one table-fitting rule (render/tables.fit_table, a pure function) at several widths.

Each golden file under tests/golden/tables/ holds one table as a pipe gets it, then fitted to a
terminal of 200, 120, 100, 80, 70, 60 and 40 columns, then `-o wide`. Regenerate after an intended
change with `STACKCTL_UPDATE_GOLDEN=1 pytest tests/unit/test_table_fit.py` and review the diff.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from stackctl.names import NAMESPACE_LABEL as NAMESPACE
from stackctl.observe import stack_summaries
from stackctl.render.tables import (
    COLUMN_KINDS,
    HISTORY_HEADERS,
    LS_HEADERS,
    PS_HEADERS,
    SERVICES_HEADERS,
    CellValue,
    cut_image,
    fit_table,
    ls_cells,
    ps_cells,
    services_cells,
)
from stackctl.render.tasks import short_state, task_rows
from stackctl.swarm.services import service_statuses
from stackctl.swarm.times import parse_time
from stackctl.units import elapsed
from tests.paths import check_golden

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent.parent / "golden" / "tables"
WIDTHS = (200, 120, 100, 80, 70, 60, 40)
STACK = "atsea-shop-production"
REGISTRY = "10.213.47.1:5000"
IMAGES = {"web": f"{REGISTRY}/dockersamples/atsea_app:latest",
          "badmount": f"{REGISTRY}/dockersamples/atseasampleshopapp_payment_gateway:latest",
          "nowhere": "dockersamples/atsea_db:latest", "agent": "busybox:latest"}
SERVICE_NAMES = {"web": "appserver", "badmount": "payment-gateway", "nowhere": "database", "agent": "agent"}

Table = tuple[list[str], list[list[CellValue]]]


def _shop() -> dict:
    """The mixed-stack fixture as a shop: long stack and service names, images with a registry."""
    doc = json.loads((DATA / "ps_mixed_stack.json").read_text())
    for svc in doc["services"]:
        short = svc["Spec"]["Name"].removeprefix("ts1_")
        svc["Spec"]["Name"] = f"{STACK}_{SERVICE_NAMES[short]}"
        svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] = IMAGES[short]
    images = {s["ID"]: s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] for s in doc["services"]}
    for task in doc["tasks"]:
        task["Spec"]["ContainerSpec"]["Image"] = images[task["ServiceID"]]
    for obj in (*doc["services"], *doc["networks"], *doc["secrets"], *doc["configs"]):
        labels = obj["Labels"] if "Labels" in obj else obj["Spec"].get("Labels", {})
        if labels.get(NAMESPACE) == "ts1":
            labels[NAMESPACE] = STACK
    return doc


def ps_table(*, no_trunc: bool = False, wide: bool = False) -> Table:
    doc = _shop()
    rows = task_rows(doc["tasks"], doc["services"], doc["nodes"], now=parse_time(doc["now"]))
    return PS_HEADERS, [ps_cells(r, no_trunc=no_trunc, wide=wide) for r in rows]


def services_table() -> Table:
    doc = _shop()
    return SERVICES_HEADERS, [services_cells(s) for s in service_statuses(doc["services"], doc["tasks"])]


def ls_table() -> Table:
    doc = _shop()
    stacks = stack_summaries(doc["services"], doc["networks"], doc["secrets"], doc["configs"])
    return LS_HEADERS, [ls_cells(s) for s in stacks]


def history_table() -> Table:
    rows: list[list[CellValue]] = [
        ["1", "2024-05-01 11:02:13", "deployed", "ops@build-runner-07 (github-actions run 9126554)",
         "create 4 services, 1 network, 1 secret"],
        ["2", "2024-05-01 11:40:55", "failed", "ops@build-runner-07 (github-actions run 9126871)",
         "update appserver (image, environment, deploy.update_config)"],
        ["3", "2024-05-01 11:41:30", "rolled back", "ops@build-runner-07 (github-actions run 9126871)",
         "rollback to revision 1"],
        ["12", "2024-05-01 12:05:00", "deployed", "alice@laptop", "update payment-gateway (image)"],
    ]
    return HISTORY_HEADERS, rows


TABLES = {"ps": ps_table, "services": services_table, "ls": ls_table, "history": history_table}
# Widths at which the uncuttable cells (names, IDs, nodes, fixed-form columns) and the other
# columns' headers alone are wider than the terminal: only there may a line overflow.
OVERFLOWS = {"ps": {100, 80, 70, 60, 40}, "services": {80, 70, 60, 40}, "ls": {40}, "history": {40}}


def render(table: Table, width: int | None, *, wide: bool = False) -> list[str]:
    headers, rows = table
    return fit_table(headers, rows, width, wide=wide)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_golden_at_each_width(name: str) -> None:
    table = TABLES[name]()
    parts = ["-- a pipe (no width)", *render(table, None)]
    for width in WIDTHS:
        parts += [f"-- {width} columns " + "-" * max(0, width - len(f"-- {width} columns ")),
                  *render(table, width)]
    parts += ["-- -o wide (every column)", *render(table, None, wide=True)]
    check_golden(GOLDEN / f"{name}.txt", "\n".join(parts) + "\n")


@pytest.mark.parametrize("name", sorted(TABLES))
@pytest.mark.parametrize("width", WIDTHS)
def test_names_ids_and_nodes_are_never_cut(name: str, width: int) -> None:
    headers, rows = TABLES[name]()
    lines = render((headers, rows), width)
    assert len(lines) == len(rows) + 1
    keys = [i for i, h in enumerate(headers) if COLUMN_KINDS.get(h) in ("key", "fixed")]
    for row, line in zip(rows, lines[1:], strict=True):
        for i in keys:
            assert str(row[i]) in line, (headers[i], str(row[i]), line)
    too_wide = [line for line in lines if len(line) > width]
    if width in OVERFLOWS[name]:
        assert too_wide, f"{name} at {width}: expected the uncuttable cells alone not to fit"
    else:
        assert not too_wide, f"{name} at {width}: a line runs past the edge although it could fit"


@pytest.mark.parametrize("name", sorted(TABLES))
def test_a_table_that_fits_is_not_cut(name: str) -> None:
    table = TABLES[name]()
    whole = render(table, None)
    widest = max(len(line) for line in whole)
    assert render(table, widest) == whole
    text = "\n".join(render(table, 1000)).replace('…"', "")  # ps: its ERROR cells end at 60 characters
    assert "…" not in text


def test_columns_empty_in_every_row_are_left_out_unless_wide() -> None:
    headers, rows = services_table()
    rows = [row[:5] + [""] for row in rows]  # no service publishes a port
    assert "PORTS" not in render((headers, rows), None)[0]
    assert "PORTS" not in render((headers, rows), 80)[0]
    assert render((headers, rows), None, wide=True)[0].rstrip().endswith("PORTS")
    assert render((headers, []), None)[0].split() == ["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"]


def test_ps_short_state_says_the_error_and_replaces_the_error_column() -> None:
    lines = render(ps_table(), 200)
    assert lines[0].split() == ["ID", "NAME", "IMAGE", "NODE", "DESIRED", "CURRENT", "PORTS"]
    text = "\n".join(lines)
    assert "Failed 2m: non-zero exit (1)" in text and "Running 9m" in text
    assert "Pending 9m: no suitable node" in text


def test_a_running_state_stays_whole_while_the_image_can_still_give_way() -> None:
    """AtSea's ps at 80 columns: `Running 31s` whole, the long image cut to its tag (it was `Runnin…`
    beside `atsea_ap…:latest`: a state without an error part had no floor of its own)."""
    from stackctl.render.tables import Cell

    image = "10.213.47.1:5000/dockersamples/atseasampleshopapp_payment_gateway:latest"
    rows: list[list[CellValue]] = [
        [f"607kscin8to{i}", name, image, "wrk-1", "Running",
         Cell("Running 31 seconds ago", "Running 31s", 11), "", ""]
        for i, name in enumerate(["atsea_appserver.1", "atsea_payment_gateway.1", "atsea_visualizer.1"])]
    lines = fit_table(PS_HEADERS, rows, 80)
    assert all(len(line) <= 80 for line in lines), lines
    assert all(line.endswith("Running 31s") for line in lines[1:]), lines
    assert all(":latest" in line and "atsea_payment_gateway.1" in lines[2] for line in lines[1:]), lines


def test_no_trunc_and_wide_keep_every_cell_whole() -> None:
    doc = _shop()
    row = task_rows(doc["tasks"], doc["services"], doc["nodes"], now=parse_time(doc["now"]))[0]
    long_error = row.error
    assert len(long_error) > 60
    for table in (ps_table(no_trunc=True), ps_table(wide=True)):
        text = "\n".join(render(table, None, wide=True))
        assert f'"{long_error}"' in text and IMAGES["badmount"] in text


@pytest.mark.parametrize(("width", "cut"), [
    (47, "10.213.47.1:5000/dockersamples/atsea_app:latest"),
    (36, "10.2…/dockersamples/atsea_app:latest"),
    (35, "10.213.47.1:5000/…/atsea_app:latest"),
    (20, "10…/atsea_app:latest"),
    (18, "…/atsea_app:latest"),
    (17, "…atsea_app:latest"),
    (14, "atsea_…:latest"),
    (8, "atsea_a…"),
    (1, "…"),
])
def test_cut_image_keeps_the_registry_head_and_the_tag(width: int, cut: str) -> None:
    assert cut_image("10.213.47.1:5000/dockersamples/atsea_app:latest", width) == cut
    assert len(cut) <= width


@pytest.mark.parametrize(("seconds", "text"), [
    (0.4, "0s"), (8, "8s"), (119, "119s"), (120, "2m"), (7199, "119m"), (7200, "2h"), (47 * 3600, "47h"),
    (48 * 3600, "2d"), (400 * 86400, "400d"), (3 * 365 * 86400, "3y"), (-5, "0s"),
])
def test_short_state_ages_are_units_elapsed(seconds: float, text: str) -> None:
    """The CURRENT STATE's age is the one short-age formatter (a unit kept until two of the next)."""
    now = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    assert elapsed(seconds) == text
    assert short_state("running", now - timedelta(seconds=seconds), now) == f"Running {text}"


def test_short_state() -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    assert short_state("running", now - timedelta(seconds=8), now) == "Running 8s"
    assert short_state("failed", now - timedelta(minutes=2), now, "task: non-zero exit (3)") \
        == "Failed 2m: non-zero exit (3)"
    assert short_state("pending", None, now, "no suitable node") == "Pending: no suitable node"

