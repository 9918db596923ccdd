"""YAML loading: YAML 1.2 scalars, lines, anchors/merge keys, and refusals."""

from __future__ import annotations

import time

import pytest

from stackctl.errors import LoadError
from stackctl.load import yamlio


def load(text: str) -> yamlio.SourceDoc:
    return yamlio.parse_yaml(text, "f.yml")


def messages(text: str) -> list[str]:
    with pytest.raises(LoadError) as info:
        doc = load(text)
        errors = yamlio.check_version(doc)
        if errors:
            raise LoadError(diagnostics=errors)
    return [d.format() for d in info.value.diagnostics]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", "yes"), ("on", "on"), ("off", "off"), ("y", "y"), ("true", True), ("False", False),
        ("0777", 0o777), ("0o17", 15), ("0x1f", 31), ("12", 12), ("1_000", 1000), ("08", 8.0),
        ("1.5", 1.5), ("~", None), ("null", None), ("", None), (".inf", float("inf")),
        ("2001-12-14", "2001-12-14"), ("0:0", "0:0"), ("1e3", 1000.0),
    ],
)
def test_plain_scalars_resolve_as_yaml_1_2(text: str, value: object) -> None:
    assert load(f"k: {text}\n").data["k"] == value


def test_quoted_and_tagged_scalars() -> None:
    doc = load('a: "0777"\nb: !!str 12\nc: !!int "12"\n')
    assert doc.data == {"a": "0777", "b": "12", "c": 12}


def test_lines_of_keys_and_items() -> None:
    doc = load("services:\n  web:\n    ports:\n      - 80\n      - 81\n")
    assert doc.lines[("services",)] == 1
    assert doc.lines[("services", "web", "ports")] == 3
    assert doc.lines[("services", "web", "ports", 1)] == 5


def test_anchors_merge_keys_and_extension_fields() -> None:
    doc = load(
        "x-common: &common\n  image: busybox\n  labels: {a: b}\n"
        "x-more: &more\n  user: root\n"
        "services:\n  web:\n    <<: [*common, *more]\n    image: nginx\n    x-note: hi\n"
    )
    web = doc.data["services"]["web"]
    assert web == {"image": "nginx", "labels": {"a": "b"}, "user": "root", "x-note": "hi"}
    assert doc.data["x-common"]["image"] == "busybox"


def test_aliases_are_independent_copies() -> None:
    doc = load("a: &x {k: 1}\nb: *x\n")
    doc.data["a"]["k"] = 2
    assert doc.data["b"]["k"] == 1


def test_duplicate_key_names_both_lines() -> None:
    assert messages("services:\n  web:\n    image: a\n\n    image: b\n") == [
        'f.yml:5: mapping key "image" already defined at line 3'
    ]


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        name, prev = chr(ord("a") + i), chr(ord("a") + i - 1)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    start = time.monotonic()
    out = messages("\n".join(lines) + "\n")
    assert time.monotonic() - start < 2
    assert "document too large" in out[0]


def test_recursive_alias_is_refused() -> None:
    assert "contains it" in messages("a: &a\n  b: *a\n")[0]


@pytest.mark.parametrize("text", ["x: " + "[" * 3000 + "]" * 3000 + "\n",
                                  "".join("  " * i + f"k{i}:\n" for i in range(400))])
def test_deep_nesting_is_refused_cleanly(text: str) -> None:
    assert "nesting deeper than" in messages(text)[0]


def test_binary_and_bad_utf8_are_refused() -> None:
    with pytest.raises(LoadError, match="NUL"):
        yamlio.decode_text(b"a: 1\n\x00", "f.yml")
    with pytest.raises(LoadError) as info:
        yamlio.decode_text(b"a: 1\nb: \xff\n", "f.yml")
    assert info.value.diagnostics[0].line == 2
    assert yamlio.decode_text(b"\xef\xbb\xbfa: 1\n", "f.yml") == "a: 1\n"


@pytest.mark.parametrize("text", ["- a\n", "just text\n"])
def test_top_level_must_be_a_mapping(text: str) -> None:
    assert messages(text)[0].endswith("top-level object must be a mapping")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_an_empty_file_is_said_to_be_empty(text: str) -> None:
    assert "the file is empty (or only comments)" in messages(text)[0]


def test_a_tab_is_called_a_tab() -> None:
    out = messages('version: "3.8"\nservices:\n  web:\n\timage: busybox\n')
    assert out[0].startswith("f.yml:4: invalid YAML: a tab character at column 1"), out
    assert "spaces" in out[0]


@pytest.mark.parametrize("quote", ['"', "'"])
def test_an_unclosed_quote_is_reported_where_it_opens(quote: str) -> None:
    text = f'version: "3.8"\nservices:\n  web:\n    image: {quote}busybox\n    command: x\n  api:\n'
    out = messages(text)
    assert out[0].startswith("f.yml:4: invalid YAML: the quote opened at column 12 is never closed"), out


def test_syntax_error_has_a_line() -> None:
    out = messages("services:\n  web: [\n")
    assert out[0].startswith("f.yml:") and "invalid YAML" in out[0]


@pytest.mark.parametrize(("raw", "version"), [(None, "3.13"), ('""', "3.13"), ('"3"', "3.13"),
                                              ('"3.0"', "3.0"), ('"3.8"', "3.8"), ('"3.13"', "3.13")])
def test_version_normalised(raw: str | None, version: str) -> None:
    doc = load(f"version: {raw}\n" if raw else "services: {}\n")
    assert yamlio.check_version(doc) == []
    assert doc.version == version


@pytest.mark.parametrize("raw", ['"2.4"', '"3.14"', '"1.0"', '"4"'])
def test_unsupported_versions_are_rejected_with_file_and_line(raw: str) -> None:
    out = messages(f"services: {{}}\nversion: {raw}\n")
    assert out[0].startswith("f.yml:2: version: unsupported Compose file version")


def test_go_number_formatting() -> None:
    cases = {1.0: "1", 1.5: "1.5", 1e6: "1e+06", 123456.0: "123456", 1e-5: "1e-05", 0.0001: "0.0001",
             1e21: "1e+21", 12345678901234567890: "12345678901234567890", -2.5: "-2.5"}
    for value, text in cases.items():
        assert yamlio.go_number(value) == text


def test_a_large_file_loads_fast() -> None:
    services = "".join(
        f"  s{i}:\n    image: busybox\n    environment: {{A: '1'}}\n    ports: ['{8000 + i}:80']\n"
        f"    deploy: {{replicas: 2, labels: [a=b]}}\n" for i in range(1000)
    )
    start = time.monotonic()
    doc = load("version: '3.8'\nservices:\n" + services)
    assert len(doc.data["services"]) == 1000
    assert time.monotonic() - start < 2
