"""YAML text in the style of Go's yaml.v3 (what `docker stack config` prints), written directly.

PyYAML's pure-Python emitter is slow for 1000-service stacks and its C emitter cannot indent
lists under their key the way yaml.v3 does, so block structure is written here; only unusual
strings ask PyYAML's scalar analysis which quoting style they allow.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, cast

from stackctl.load.yamlio import go_number, resolve_plain

# Strings that are plain-safe in block context without further analysis.
_SIMPLE = re.compile(r"[A-Za-z0-9_/.][A-Za-z0-9_/.=+,@%-]*|-[A-Za-z0-9_/.=+,@%-]+")
_BASE60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
# Strings YAML 1.1 readers (and yaml.v3's emitter) take for something other than a string.
_OLD_NON_STRINGS = re.compile(
    r"y|Y|n|N|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|true|True|TRUE|false|False|FALSE"
    r"|null|Null|NULL|~|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|<<|="
)
_V11_NUMBER = re.compile(
    r"[-+]?(?:0b[0-1_]+|0[0-7_]+|(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|[1-9][0-9_]*(?::[0-5]?[0-9])+)"
    r"|[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*"
    r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?.*"
)


def _needs_double_quotes(value: str) -> bool:
    if value == "":
        return True
    return (
        not isinstance(resolve_plain(value), str)
        or bool(_OLD_NON_STRINGS.fullmatch(value))
        or bool(_V11_NUMBER.fullmatch(value))
        or bool(_BASE60.fullmatch(value))
    )


@lru_cache(maxsize=4096)
def _scalar_style(value: str) -> str:
    """'plain', 'single', 'double' or 'literal', as yaml.v3 picks for a block-context string."""
    if _needs_double_quotes(value):
        return "double"
    if _SIMPLE.fullmatch(value):
        return "plain"
    from yaml.emitter import Emitter

    # analyze_scalar reads only `allow_unicode` from its emitter: a stand-in spares building one
    analysis = Emitter.analyze_scalar(cast(Emitter, _ANALYZER), value)
    if analysis.multiline:
        return "literal" if analysis.allow_block else "double"
    if analysis.allow_block_plain and analysis.allow_flow_plain:
        return "plain"
    if analysis.allow_block_plain:
        return "plain"
    if analysis.allow_single_quoted:
        return "single"
    return "double"


class _Analyzer:
    """Just enough state for Emitter.analyze_scalar."""

    allow_unicode = True


_ANALYZER = _Analyzer()


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_number(value)
    text = str(value)
    style = _scalar_style(text)
    if style == "plain":
        return text
    if style == "single":
        return "'" + text.replace("'", "''") + "'"
    return json.dumps(text, ensure_ascii=False)


def _literal(text: str, indent: int) -> list[str]:
    if text.endswith("\n\n") or text == "\n":
        chomp = "+"
    elif text.endswith("\n"):
        chomp = ""
    else:
        chomp = "-"
    head = "|" + ("2" if text[:1] in (" ", "\n") else "") + chomp
    body = text[:-1] if text.endswith("\n") else text
    pad = " " * indent
    return [head] + [(pad + line) if line else "" for line in body.split("\n")]


def _inline(value: Any, indent: int, out: list[str], prefix: str) -> None:
    """Write `value` after `prefix` (e.g. `key:` or `- `), on that line when it is a scalar."""
    if isinstance(value, dict):
        if not value:
            out.append(prefix + (" {}" if prefix.endswith(":") else "{}"))
            return
        out.append(prefix)
        _mapping(value, indent, out)
        return
    if isinstance(value, list):
        if not value:
            out.append(prefix + (" []" if prefix.endswith(":") else "[]"))
            return
        out.append(prefix)
        _sequence(value, indent, out)
        return
    sep = " " if prefix.endswith(":") else ""
    if isinstance(value, str) and "\n" in value and _scalar_style(value) == "literal":
        lines = _literal(value, indent)
        out.append(prefix + sep + lines[0])
        out.extend(lines[1:])
        return
    out.append(prefix + sep + _scalar(value))


def _mapping(value: dict[Any, Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for key, item in value.items():
        _inline(item, indent + 2, out, f"{pad}{_scalar(key)}:")


def _sequence(value: list[Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for item in value:
        if isinstance(item, dict) and item:
            first = True
            for key, sub in item.items():
                lead = f"{pad}- " if first else f"{pad}  "
                _inline(sub, indent + 4, out, f"{lead}{_scalar(key)}:")
                first = False
        elif isinstance(item, list) and item:
            nested: list[str] = []
            _sequence(item, indent + 2, nested)
            nested[0] = f"{pad}- " + nested[0].lstrip()
            out.extend(nested)
        else:
            _inline(item, indent + 2, out, f"{pad}- ")


def dump(data: dict[str, Any]) -> str:
    """The YAML document for `data` (a mapping), ending with a newline."""
    out: list[str] = []
    if not data:
        return "{}\n"
    _mapping(data, 0, out)
    return "\n".join(out) + "\n"
