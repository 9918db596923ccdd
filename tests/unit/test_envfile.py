"""Service env_file: kvfile semantics (not dotenv), merged into environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackctl.load.envfile import EnvFileError, parse_env_file, resolve_environment

LOOKUP = {"FROM_SHELL": "shell", "EMPTY_IN_FILE": "shell2"}.get


def test_kvfile_semantics(tmp_path: Path) -> None:
    path = tmp_path / "a.env"
    path.write_text(
        "\ufeffA=1\n# comment\n   \nB='quoted' # not a comment\nC=${X}\n  D=indented\n"
        "FROM_SHELL\nUNSET_BARE\nE=\n"
    )
    assert parse_env_file(str(path), LOOKUP) == [
        ("A", "1"), ("B", "'quoted' # not a comment"), ("C", "${X}"), ("D", "indented"),
        ("FROM_SHELL", "shell"), ("E", ""),
    ]


@pytest.mark.parametrize("line", ["A B=1", "A =1", "=1"])
def test_bad_keys(tmp_path: Path, line: str) -> None:
    path = tmp_path / "a.env"
    path.write_text(f"OK=1\n{line}\n")
    with pytest.raises(EnvFileError) as info:
        parse_env_file(str(path), LOOKUP)
    assert info.value.line == 2


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EnvFileError, match="not found"):
        parse_env_file(str(tmp_path / "nope"), LOOKUP)


def test_merge_into_environment(tmp_path: Path) -> None:
    (tmp_path / "one.env").write_text("A=one\nB=one\nEMPTY_IN_FILE=\n")
    (tmp_path / "two.env").write_text("B=two\nC=two\n")
    service = {"env_file": ["one.env", "./two.env"], "environment": {"C": "svc", "D": None, "FROM_SHELL": ""}}
    assert resolve_environment(service, str(tmp_path), LOOKUP, "s.yml", lambda p: 5, "web") == []
    assert service["environment"] == {
        "A": "one", "B": "two", "C": "svc", "D": None, "EMPTY_IN_FILE": "shell2", "FROM_SHELL": "shell",
    }


def test_missing_env_file_is_reported_at_its_line(tmp_path: Path) -> None:
    service = {"env_file": "nope.env"}
    problems = resolve_environment(service, str(tmp_path), LOOKUP, "s.yml", lambda p: 7, "web")
    assert problems[0].line == 7 and "not found" in problems[0].message
    assert problems[0].path == "services.web.env_file[0]"
