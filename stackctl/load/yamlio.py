"""YAML → SourceDoc: the line of every key, YAML 1.2 scalars, bounded alias expansion.

libyaml (when present) only parses and composes the node tree; the tree is then turned
into Python data here, so that scalars resolve the way the reference does (YAML 1.2:
`yes`/`on` stay strings, legacy `0777` is still octal), duplicate keys are caught with both
lines, and an alias bomb is refused after a fixed number of nodes instead of expanded.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stackctl.errors import Diagnostic, LoadError
from stackctl.load.source import KeyPath, SourceDoc

MAX_NODES = 1_000_000  # values built after alias expansion
MAX_DEPTH = 200  # nesting of mappings and lists
# libyaml composes recursively in C: 20,000 levels were fine here, 50,000 crashed the process.
C_COMPOSER_SAFE_DEPTH = 5_000

LATEST_VERSION = "3.13"
SUPPORTED_VERSIONS = frozenset(f"3.{minor}" for minor in range(14))

_PLAIN = "!plain"  # our tag for untagged plain scalars, resolved by `resolve_plain`
_MERGE_KEY = "<<"

if TYPE_CHECKING:

    class _Base(yaml.SafeLoader):
        """The loader interface used here, with the types types-PyYAML leaves out (the C loader has the
        same interface)."""

        def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str: ...
        def get_event(self) -> yaml.Event: ...

else:  # libyaml's composer when PyYAML was built with it (a feature check, not a fallback)
    _Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):
    """Composes nodes only; plain scalars keep a marker tag so we can resolve them as YAML 1.2."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is ScalarNode and implicit and implicit[0]:
            return _PLAIN
        return super().resolve(kind, value, implicit)


_INT_RE = re.compile(r"[-+]?(?:0[bB][01]+|0[oO]?[0-7]+|0[xX][0-9a-fA-F]+|[0-9]+)\Z")
_FLOAT_RE = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_TRUES = frozenset(("true", "True", "TRUE"))
_FALSES = frozenset(("false", "False", "FALSE"))
_INFS = frozenset((".inf", ".Inf", ".INF"))
_NANS = frozenset((".nan", ".NaN", ".NAN"))


def resolve_plain(text: str) -> Any:
    """Type of an untagged plain scalar, as Go's yaml.v3 decodes it into `any`."""
    if text in _NULLS:
        return None
    if text in _TRUES:
        return True
    if text in _FALSES:
        return False
    first = text[0]
    if first.isdigit() or first in "+-.":
        plain = text.replace("_", "") if "_" in text else text
        if _INT_RE.match(plain):
            return _parse_int(plain)
        if _FLOAT_RE.match(plain):
            return float(plain)
        sign = -1.0 if plain.startswith("-") else 1.0
        body = plain.lstrip("+-")
        if body in _INFS:
            return sign * math.inf
        if plain in _NANS:
            return math.nan
    return text


def _parse_int(plain: str) -> int | float:
    sign = -1 if plain.startswith("-") else 1
    body = plain.lstrip("+-")
    low = body.lower()
    if low.startswith("0x"):
        return sign * int(body[2:], 16)
    if low.startswith("0b"):
        return sign * int(body[2:], 2)
    if low.startswith("0o"):
        return sign * int(body[2:], 8)
    if len(body) > 1 and body.startswith("0"):
        try:
            return sign * int(body[1:], 8)  # YAML 1.1 octal, still honoured by the reference
        except ValueError:
            return float(plain)  # "08": not octal, but a valid float
    return sign * int(body)


_TAG_PREFIX = "tag:yaml.org,2002:"


def _tagged_scalar(node: ScalarNode) -> Any:
    tag = node.tag
    value = node.value
    if tag == _PLAIN:
        return resolve_plain(value)
    if not tag.startswith(_TAG_PREFIX):
        return value
    kind = tag[len(_TAG_PREFIX):]
    try:
        if kind == "int":
            return _parse_int(value.replace("_", ""))
        if kind == "float":
            return float(value.replace("_", ""))
        if kind == "bool":
            return value.lower() in ("true", "yes", "on", "y")
        if kind == "null":
            return None
    except ValueError:
        pass
    return value


class _Builder:
    """Turns a composed node tree into dicts and lists, recording the line of every key and item."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.lines: dict[KeyPath, int] = {}

    def fail(self, message: str, line: int | None, hint: str | None = None) -> LoadError:
        return LoadError(diagnostics=[Diagnostic(message, self.filename, line, hint=hint)])

    def build(self, node: Node, path: KeyPath, depth: int) -> Any:
        """Python data for `node`; the caller has checked the expanded size (`_expanded_size`)."""
        if type(node) is ScalarNode:
            if node.tag == _PLAIN:
                return resolve_plain(node.value)
            return _tagged_scalar(node)
        if depth > MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH} levels", node.start_mark.line + 1)
        if isinstance(node, SequenceNode):
            lines = self.lines
            out_list = []
            for index, item in enumerate(node.value):
                item_path = (*path, index)
                lines[item_path] = item.start_mark.line + 1
                if type(item) is ScalarNode and item.tag == _PLAIN:
                    out_list.append(resolve_plain(item.value))
                else:
                    out_list.append(self.build(item, item_path, depth + 1))
            return out_list
        return self.build_mapping(cast(MappingNode, node), path, depth)  # the third kind of node

    def build_mapping(self, node: MappingNode, path: KeyPath, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, int] = {}
        merges: list[MappingNode] = []
        lines = self.lines
        for key_node, value_node in node.value:
            if type(key_node) is not ScalarNode:
                raise self.fail("mapping keys must be strings", key_node.start_mark.line + 1)
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key == _MERGE_KEY and key_node.tag in (_PLAIN, _TAG_PREFIX + "merge"):
                merges.extend(self.merge_sources(value_node, depth))
                continue
            if key in seen:
                raise self.fail(f'mapping key "{key}" already defined at line {seen[key]}', line)
            seen[key] = line
            key_path = (*path, key)
            lines[key_path] = line
            if type(value_node) is ScalarNode and value_node.tag == _PLAIN:
                out[key] = resolve_plain(value_node.value)
            else:
                out[key] = self.build(value_node, key_path, depth + 1)
        for source in merges:  # explicit keys win, then earlier merge sources
            for key_node, value_node in source.value:
                key = key_node.value
                if key in out or key == _MERGE_KEY:
                    continue
                key_path = (*path, key)
                lines[key_path] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, key_path, depth + 1)
        return out

    def merge_sources(self, node: Node, depth: int) -> list[MappingNode]:
        if isinstance(node, MappingNode):
            return [self.flatten_merge(node, depth)]
        if isinstance(node, SequenceNode) and all(isinstance(n, MappingNode) for n in node.value):
            return [self.flatten_merge(n, depth) for n in node.value]
        raise self.fail("a merge key (<<) needs a mapping or a list of mappings", node.start_mark.line + 1)

    def flatten_merge(self, node: MappingNode, depth: int) -> MappingNode:
        """A merge source may itself contain `<<`: fold it into one flat mapping node."""
        if depth > MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH} levels", node.start_mark.line + 1)
        own = [(k, v) for k, v in node.value if not (isinstance(k, ScalarNode) and k.value == _MERGE_KEY)]
        nested = [v for k, v in node.value if isinstance(k, ScalarNode) and k.value == _MERGE_KEY]
        if not nested:
            return node
        pairs = list(own)
        keys = {k.value for k, _ in own}
        for value_node in nested:
            for source in self.merge_sources(value_node, depth + 1):
                for k, v in source.value:
                    if k.value not in keys:
                        keys.add(k.value)
                        pairs.append((k, v))
        return MappingNode(node.tag, pairs, node.start_mark, node.end_mark)


class _ShapeError(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def _expanded_size(node: Node, memo: dict[int, int], depth: int) -> int:
    """Number of values `node` stands for once aliases are expanded (shared nodes counted once each)."""
    if isinstance(node, ScalarNode):
        return 1
    known = memo.get(id(node))
    if known is not None:
        if known < 0:
            raise _ShapeError("an alias refers to a mapping or list that contains it",
                              node.start_mark.line + 1)
        return known
    if depth > MAX_DEPTH:
        raise _ShapeError(f"nesting deeper than {MAX_DEPTH} levels", node.start_mark.line + 1)
    memo[id(node)] = -1
    total = 1
    if isinstance(node, SequenceNode):
        for item in node.value:
            total += _expanded_size(item, memo, depth + 1)
    else:
        for _, value in node.value:
            total += 1 + _expanded_size(value, memo, depth + 1)
    memo[id(node)] = total
    return total


def decode_text(raw: bytes, filename: str) -> str:
    """Bytes → text; binary files and invalid UTF-8 are refused with the offending line."""
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        message = "binary file (contains NUL bytes), not YAML"
        raise LoadError(diagnostics=[Diagnostic(message, filename, line)])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise LoadError(
            diagnostics=[Diagnostic(f"invalid UTF-8 (byte 0x{raw[err.start]:02x})", filename, line)]
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


_INDENT = re.compile(r"\n([ \t]*)")


def _depth_bound(text: str) -> int:
    """An upper bound on nesting, found with C-speed string scans: every flow level needs a `[` or
    `{`, and every block level at least one more column of indentation (a list under a key may
    share its column, hence twice). Real stack files stay far below the limit, so the event scan
    below runs only for files that might really be deep."""
    widest = max((len(m) for m in _INDENT.findall(text)), default=0)
    return text.count("[") + text.count("{") + 2 * (widest + 1)


def _check_nesting(text: str, filename: str) -> None:
    """Refuse deep nesting before composing: libyaml's composer recurses in C, and some tens of
    thousands of nested `[`/`{` overflow the C stack (the process dies with SIGSEGV) before any
    Python check can run. The event stream is flat, so depth is counted there first."""
    if _depth_bound(text) < C_COMPOSER_SAFE_DEPTH:
        return  # deeper than MAX_DEPTH but below this is refused cleanly after composing
    loader = _Base(text)
    depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    line = event.start_mark.line + 1 if event.start_mark else None
                    raise LoadError(diagnostics=[Diagnostic(f"nesting deeper than {MAX_DEPTH} levels",
                                                            filename, line)])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        return  # the real parse reports it, with its position
    finally:
        loader.dispose()


def _yaml_problem(err: yaml.MarkedYAMLError, text: str, filename: str) -> Diagnostic:
    """The parser's error in the user's words: a tab said as a tab, an unclosed quote where it opens."""
    mark = err.problem_mark or err.context_mark
    message = " ".join(x for x in (err.context, err.problem) if x) or str(err)
    if mark is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t":
        return Diagnostic(f"invalid YAML: a tab character at column {mark.column + 1}", filename,
                          mark.line + 1, hint="YAML indents with spaces only: replace the tab with spaces")
    if err.context == "while scanning a quoted scalar" and err.context_mark is not None:
        where = err.context_mark
        runs_on = "it runs to the end of the file" if "end of stream" in (err.problem or "") else None
        return Diagnostic(f"invalid YAML: the quote opened at column {where.column + 1} is never closed",
                          filename, where.line + 1, hint=runs_on)
    return Diagnostic(f"invalid YAML: {message}", filename, mark.line + 1 if mark else None)


def parse_yaml(text: str, filename: str) -> SourceDoc:
    """Parse one stack file's text into a SourceDoc (version not yet checked)."""
    _check_nesting(text, filename)
    loader = _Loader(text)
    try:
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        raise LoadError(diagnostics=[_yaml_problem(err, text, filename)]) from None
    except yaml.YAMLError as err:
        raise LoadError(diagnostics=[Diagnostic(f"invalid YAML: {err}", filename)]) from None
    except RecursionError:
        raise LoadError(diagnostics=[Diagnostic("invalid YAML: nesting too deep", filename)]) from None
    if root is None:
        data: Any = None
        builder = _Builder(filename)
    else:
        builder = _Builder(filename)
        try:
            try:
                size = _expanded_size(root, {}, 0)
            except _ShapeError as err:
                raise builder.fail(str(err), err.line) from None
            if size > MAX_NODES:
                raise builder.fail(
                    f"document too large: {size:,} values after expanding aliases (limit {MAX_NODES:,})",
                    None, "an alias bomb (\"billion laughs\")? stackctl refuses to expand it")
            data = builder.build(root, (), 0)
        except RecursionError:
            raise builder.fail(f"nesting deeper than {MAX_DEPTH} levels", None) from None
    if root is None:
        raise LoadError(diagnostics=[Diagnostic("the file is empty (or only comments)", filename, None,
                                                hint="a stack file needs at least version: and services:")])
    if not isinstance(data, dict):
        line = root.start_mark.line + 1
        raise LoadError(diagnostics=[Diagnostic("top-level object must be a mapping", filename, line)])
    return SourceDoc(filename=filename, data=data, lines=builder.lines)


def check_version(doc: SourceDoc) -> list[Diagnostic]:
    """Normalise `doc.version` as the reference does; report versions it does not support."""
    raw = doc.data.get("version")
    line = doc.lines.get(("version",))
    doc.spec = "version" not in doc.data
    if raw is None or raw == "" or raw == "3":
        doc.version = LATEST_VERSION
        return []
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        doc.version = LATEST_VERSION
        return []  # the schema check reports the type
    text = raw if isinstance(raw, str) else go_number(raw)
    if text in SUPPORTED_VERSIONS:
        doc.version = text
        return []
    doc.version = text
    hint = "stackctl, like docker stack deploy, reads Compose file format 3.x (3.0 to 3.13)"
    if text.startswith(("1", "2")):
        hint = f"version {text} is a docker-compose (v1/v2) format; swarm stacks need 3.x"
    return [Diagnostic(f"unsupported Compose file version: {text}", doc.filename, line, "version", hint)]


def go_number(value: int | float) -> str:
    """A number as Go's fmt %v prints it: floats in shortest form, `e` notation from 1e+06 / below 1e-04."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    exp10 = len(digits) + int(exponent) - 1  # exponent of the leading digit
    prefix = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{mant}e{'+' if exp10 >= 0 else '-'}{abs(exp10):02d}"
    point = exp10 + 1  # digits before the decimal point
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return f"{prefix}{digits[:point]}.{digits[point:]}"


def load_file_text(text: str, filename: str) -> SourceDoc:
    """Parse and version-check one file; raise LoadError on a parse problem."""
    doc = parse_yaml(text, filename)
    errors = check_version(doc)
    if errors:
        raise LoadError(diagnostics=errors)
    return doc
