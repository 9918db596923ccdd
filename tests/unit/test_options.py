"""stackctl/commands/_options.py: one --format check for every command."""

from __future__ import annotations

import pytest

from stackctl.commands._options import TABLE_FORMATS, TEXT_FORMATS, YAML_FORMATS, check_format
from stackctl.errors import UsageError


@pytest.mark.parametrize(("given", "allowed", "expected"), [
    ("json", TABLE_FORMATS, "json"), ("JSON", TEXT_FORMATS, "json"), (" table ", TABLE_FORMATS, "table"),
    ("text", TABLE_FORMATS, "table"), ("table", TEXT_FORMATS, "text"), ("text", YAML_FORMATS, "yaml"),
    ("yaml", YAML_FORMATS, "yaml"),
])
def test_format_values_and_their_aliases(given: str, allowed: tuple[str, ...], expected: str) -> None:
    assert check_format(given, allowed) == expected


@pytest.mark.parametrize(("given", "allowed"),
                         [("xml", YAML_FORMATS), ("yaml", TABLE_FORMATS), ("", TEXT_FORMATS)])
def test_a_bad_format_is_a_usage_error_naming_the_choices(given: str, allowed: tuple[str, ...]) -> None:
    choices = ", ".join(allowed)
    with pytest.raises(UsageError, match=rf"invalid --format '{given}' \(expected one of: {choices}\)"):
        check_format(given, allowed)
