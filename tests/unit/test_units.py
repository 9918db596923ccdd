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
