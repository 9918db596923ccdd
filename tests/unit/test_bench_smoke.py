"""The benchmark's table and request counting on fake numbers (the benchmark itself is `make bench`)."""

from __future__ import annotations

from bench.proxy import RequestScanner, route
from bench.table import Row, render


def test_table_shows_values_ratio_target_and_calls() -> None:
    rows = [
        Row("`stackctl --help`", "`docker --help`", 0.095, 0.012, "< 150 ms", lambda r: r.ours < 0.150),
        Row("redeploy, unchanged", "`docker stack deploy`", 0.5, 0.2, "ratio < 0.5, 0 writes",
            lambda r: r.ratio < 0.5 and r.ours_calls[1] == 0, (9, 0), (4, 100)),
        Row("waiting deploy", "same", 12.5, None, "reported", None),
        Row("peak memory", "`docker stack config`", 81.0, 208.0, "reported", None, unit="MB",
            note="from time"),
    ]
    table = render(rows)
    lines = table.splitlines()
    assert lines[0].startswith("| case ") and "ratio" in lines[0]
    assert "| 95 ms " in lines[2] and "| 12 ms " in lines[2] and "7.92x" in lines[2] and "| yes " in lines[2]
    assert "2.50x" in lines[3] and "**NO**" in lines[3] and "9 / 0" in lines[3] and "4 / 100" in lines[3]
    assert "12.5 s" in lines[4] and "n/a" in lines[4]
    assert "81 MB" in lines[5] and "0.39x" in lines[5]
    assert lines[-1] == "- peak memory: from time"
    assert len({len(line) for line in lines[:6]}) == 1  # columns line up


def test_missing_measurement_is_not_a_pass() -> None:
    row = Row("fresh deploy", "`docker stack deploy`", None, 0.2, "ratio <= 1", lambda r: r.ratio <= 1)
    assert row.ratio is None and row.met is None
    assert "| - " in render([row]).splitlines()[2]


def test_scanner_counts_each_request_of_a_keep_alive_stream() -> None:
    seen: list[str] = []
    scanner = RequestScanner(lambda method, target: seen.append(route(method, target)))
    body = b'{"Name": "x"}'
    stream = (b"HEAD /_ping HTTP/1.1\r\nHost: d\r\n\r\n"
              + b"POST /v1.41/services/create HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body
              + b"POST /v1.41/services/abc/update?version=3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
              + b"5\r\nhello\r\n0\r\n\r\n"
              + b"DELETE /v1.41/configs/cfg1 HTTP/1.1\r\n\r\n")
    for i in range(0, len(stream), 7):  # arbitrary packet boundaries
        scanner.feed(stream[i:i + 7])
    assert seen == ["HEAD /_ping", "POST /services/create", "POST /services/{id}/update",
                    "DELETE /configs/{id}"]
