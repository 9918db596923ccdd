"""The value grammars of stackctl/units.py that no stage test covers: --timeout-like flags."""

from __future__ import annotations

import pytest

from stackctl.errors import UsageError
from stackctl.units import parse_timeout


@pytest.mark.parametrize(("text", "seconds"), [("10m", 600), ("1h30m", 5400), ("90s", 90), ("500ms", 0.5),
                                               ("2.5s", 2.5), ("45", 45), ("0", 0)])
def test_parse_timeout(text: str, seconds: float) -> None:
    assert parse_timeout(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "10x", "m10", "1 m", "5.", ".5"])
def test_parse_timeout_rejects(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_timeout(bad)


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (119.9, "119s"), (120, "2m"), (7199, "119m"),
                                               (7200, "2h"), (90000, "25h")])
def test_elapsed(seconds: float, text: str) -> None:
    from stackctl.units import elapsed

    assert elapsed(seconds) == text
