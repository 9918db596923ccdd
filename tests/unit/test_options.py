"""stackctl/commands/_options.py: one --format and one --resolve-image check for every command."""

from __future__ import annotations

import pytest

from stackctl.commands._options import (
    TABLE_FORMATS,
    TEXT_FORMATS,
    YAML_FORMATS,
    check_format,
    check_resolve_image,
)
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


def test_resolve_image_is_checked_once_with_one_message() -> None:
    assert [check_resolve_image(m) for m in ("always", "changed", "never")] == ["always", "changed", "never"]
    message = r"^invalid --resolve-image 'sometimes' \(always, changed or never\)$"
    with pytest.raises(UsageError, match=message):
        check_resolve_image("sometimes")


def test_the_layers_below_the_flag_assert_the_mode() -> None:
    """deploy() and apply_plan() are handed a checked mode: a bad one is a programming error."""
    from stackctl.apply import apply_plan
    from stackctl.deploy import DeployOptions, DeployRequest, deploy

    with pytest.raises(AssertionError):
        deploy(DeployRequest(stack="shop", config={}), DeployOptions(resolve_image="sometimes"))
    with pytest.raises(AssertionError):
        apply_plan(None, None, resolve_image="sometimes")  # type: ignore[arg-type]


def test_keep_versions_is_checked_once_by_the_command() -> None:
    """`--keep-versions` below 0 is the command's usage error (exit 64); deploy() asserts it."""
    from stackctl.commands.deploy import check_flags
    from stackctl.deploy import DeployOptions, DeployRequest, deploy

    with pytest.raises(UsageError, match="--keep-versions must be 0 or more"):
        check_flags("changed", "text", keep_versions=-1)
    with pytest.raises(AssertionError):
        deploy(DeployRequest(stack="shop", config={}), DeployOptions(keep_versions=-1))
