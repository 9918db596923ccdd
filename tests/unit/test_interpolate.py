"""Interpolation: the reference's substitution rules, casts, errors and variable sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackctl.errors import LoadError
from stackctl.load import yamlio
from stackctl.load.interpolate import build_environment, interpolate_doc, substitute

ENV = {"SET": "value", "EMPTY": ""}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$SET", "value"), ("${SET}", "value"), ("$UNSET", ""), ("${UNSET}", ""),
        ("${UNSET:-d}", "d"), ("${EMPTY:-d}", "d"), ("${SET:-d}", "value"),
        ("${UNSET-d}", "d"), ("${EMPTY-d}", ""), ("$$", "$"), ("$$SET", "$SET"), ("$$$$", "$$"),
        ("a${SET}b", "avalueb"), ("${EMPTY:?m}x", None), ("${SET:?m}", "value"), ("${EMPTY?m}", ""),
        # the default ends at the first "}", the rest is literal text (swarmlibs/promstack)
        ('${X:-{{ index .Service.Labels "ns"}}}', '{{ index .Service.Labels "ns"}}'),
        ("{{.Node.Hostname}}", "{{.Node.Hostname}}"),
        ("$UNSET-b}", "b}"),  # unbraced names take operators too
        ("${UNSET:-${SET}}", "${SET}"),  # defaults are not interpolated again... and end at the first }
    ],
)
def test_substitution(template: str, expected: str | None) -> None:
    out, problems = substitute(template, ENV.get)
    if expected is None:
        assert problems
    else:
        assert (out, problems) == (expected, [])


@pytest.mark.parametrize("template", ["$", "a $ b", "${", "$1", "${1}", "${SET"])
def test_invalid_templates(template: str) -> None:
    assert "invalid interpolation format" in substitute(template, ENV.get)[1][0]


def test_required_messages() -> None:
    assert substitute("${NOPE:?set it}", ENV.get)[1] == ["required variable NOPE is missing a value: set it"]
    assert substitute("${NOPE?}", ENV.get)[1] == ["required variable NOPE is not set"]


def doc_of(text: str) -> yamlio.SourceDoc:
    return yamlio.parse_yaml(text, "s.yml")


def test_every_error_of_a_file_is_reported_with_path_and_line() -> None:
    doc = doc_of("services:\n  a:\n    image: ${A:?need A}\n    user: ${B?}\n  b:\n    image: '$ x'\n")
    problems = interpolate_doc(doc, {}.get)
    assert [d.format() for d in problems] == [
        "s.yml:3: services.a.image: required variable A is missing a value: need A",
        "s.yml:4: services.a.user: required variable B is not set",
        's.yml:6: services.b.image: invalid interpolation format: "$ x" (escape a literal $ as $$)',
    ]


def test_keys_are_never_interpolated_and_lists_are() -> None:
    doc = doc_of("services:\n  $SET:\n    command: [$SET, x]\n")
    assert interpolate_doc(doc, ENV.get) == []
    assert doc.data == {"services": {"$SET": {"command": ["value", "x"]}}}


def test_casts_apply_only_where_the_string_changed() -> None:
    doc = doc_of(
        "services:\n  a:\n    deploy:\n      replicas: ${N}\n      update_config: {max_failure_ratio: $R}\n"
        "    read_only: ${RO}\n    ports: [{target: $P, published: 80}]\n"
        "    secrets: [{source: s, mode: '$M'}]\n"
        "    user: $N\n    labels: {x: '0440'}\n"
        "networks:\n  n:\n    external: ${EXT}\n"
    )
    env = {"N": "3", "R": "0.5", "RO": "yes", "P": "8080", "M": "0440", "EXT": "on"}
    assert interpolate_doc(doc, env.get) == []
    service = doc.data["services"]["a"]
    assert service["deploy"]["replicas"] == 3
    assert service["deploy"]["update_config"]["max_failure_ratio"] == 0.5
    assert service["read_only"] is True
    assert service["ports"][0]["target"] == 8080
    assert service["secrets"][0]["mode"] == 440  # decimal, as the reference does
    assert service["user"] == "3"
    assert service["labels"]["x"] == "0440"
    assert doc.data["networks"]["n"]["external"] is True


def test_failed_cast_is_an_error() -> None:
    doc = doc_of("services:\n  a:\n    deploy:\n      replicas: ${N}\n")
    problems = interpolate_doc(doc, {"N": "many"}.get)
    assert problems[0].path == "services.a.deploy.replicas"
    assert problems[0].line == 4


def test_environment_sources_and_precedence(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=dotenv\nB=dotenv\nC=dotenv\nD=dotenv\n")
    first = tmp_path / "one.env"
    first.write_text("B=one\nC=one\n# comment\nQ='quoted'\n")
    second = tmp_path / "two.env"
    second.write_text("C=two\n")
    env = build_environment([str(first), str(second)], {"D": "shell"}, str(tmp_path))
    assert (env["A"], env["B"], env["C"], env["D"], env["Q"]) == ("dotenv", "one", "two", "shell", "quoted")


def test_missing_env_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError):
        build_environment([str(tmp_path / "nope.env")], {}, str(tmp_path))


def test_an_unset_variable_warns_once_with_file_and_line() -> None:
    doc = doc_of("services:\n  a:\n    image: busybox:${TAG}\n    user: $TAG\n"
                 "    environment: {X: '${SET}', Y: '${D:-d}', Z: '${E-e}', W: $MISSING}\n")
    problems = interpolate_doc(doc, ENV.get)
    assert [d.format() for d in problems] == [
        "s.yml:3: warning: services.a.image: variable TAG is not set: using an empty string "
        "(set it, give it in an --env-file, or write ${TAG:-default})",
        "s.yml:5: warning: services.a.environment.W: variable MISSING is not set: using an empty string "
        "(set it, give it in an --env-file, or write ${MISSING:-default})",
    ]
    assert doc.data["services"]["a"]["image"] == "busybox:"


def test_unset_variables_are_warnings_of_the_loaded_stack(tmp_path: Path) -> None:
    from stackctl.pipeline import load_stack

    path = tmp_path / "stack.yml"
    path.write_text("services:\n  a:\n    image: busybox\n    environment: {X: $UNSET_FOR_TEST}\n")
    loaded = load_stack([str(path)], environ={})
    assert [(d.severity, d.line, d.message) for d in loaded.warnings] == [
        ("warning", 4, "variable UNSET_FOR_TEST is not set: using an empty string")]
