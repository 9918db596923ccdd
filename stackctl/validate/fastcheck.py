"""A fast yes/no answer to "is this document valid against the schema?", in front of jsonschema.

jsonschema walks the schema in pure Python (~0.45 ms a service, plus ~40 ms to import), which made
schema checking the largest single cost of `stackctl config` (bench/README.md). A validator that
fastjsonschema generates from the same schema answers in about a sixth of the time. It is only a
pre-check: when it says "valid", there is nothing to report; when it says anything else, jsonschema runs
as before and produces the diagnostics, so every message stays the same.

Soundness: "valid" here must imply valid for jsonschema. fastjsonschema applies `format` only to
strings, while our `ports` and `bytes` checks also judge numbers, so the copy of the schema compiled here
forbids numbers wherever those formats apply: such documents simply take the slow path.

The generated code (~300 KB for one version) is compiled once and kept as marshalled byte-code in the
user's cache folder (keyed by schema, fastjsonschema and Python versions); loading it takes ~10 ms.
Without fastjsonschema or a writable cache folder, there is no fast path and nothing else changes.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import marshal
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stackctl.validate import format_checks

FORMATS: dict[str, Callable[[object], bool]] = {
    "duration": format_checks.is_duration,
    "ports": format_checks.is_ports,
    "bytes": format_checks.is_bytes,
}
NUMERIC_FORMATS = ("ports", "bytes")  # formats whose checks also judge numbers
ENTRY = "validate_stackctl_fast"
GENERATOR = "strings-only-formats,plain-exceptions"  # how the code is generated: part of the cache key


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "stackctl" / "schema"


def strings_only_formats(node: Any) -> Any:
    """A copy of the schema in which values under a numeric-judging format may not be numbers."""
    if isinstance(node, list):
        return [strings_only_formats(item) for item in node]
    if not isinstance(node, dict):
        return node
    copy = {key: strings_only_formats(value) for key, value in node.items()}
    if copy.get("format") in NUMERIC_FORMATS:
        rest = {key: value for key, value in copy.items() if key != "format"}
        return {"allOf": [rest, {"format": copy["format"], "not": {"type": "number"}}]}
    return copy


@functools.cache
def fast_validator(schema_path: Path) -> Callable[[Any], bool] | None:
    """`is_valid(data)` for the schema in this file, or None when no fast path is available."""
    if importlib.util.find_spec("fastjsonschema") is None:
        return None  # not installed (e.g. a distribution without the package): jsonschema alone
    import fastjsonschema

    try:
        schema_text = schema_path.read_text(encoding="utf-8")
    except OSError:
        return None
    parts = [schema_text, GENERATOR, fastjsonschema.VERSION, importlib.util.MAGIC_NUMBER.hex()]
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20]
    path = cache_dir() / f"{schema_path.stem}-{key}.bin"
    try:
        code = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        code = _compile_and_store(fastjsonschema, json.loads(schema_text), path)
        if code is None:
            return None
    namespace: dict[str, Any] = {"__name__": "stackctl_fastcheck_generated"}
    try:
        exec(code, namespace)
        validate = namespace[ENTRY]
    except Exception:  # noqa: BLE001 - a broken cache entry: no fast path, jsonschema decides
        return None
    failure = fastjsonschema.JsonSchemaException

    def is_valid(data: Any) -> bool:
        try:
            validate(data, custom_formats=FORMATS)
        except failure:
            return False
        except Exception:  # noqa: BLE001 - anything odd: let jsonschema judge (and explain)
            return False
        return True

    return is_valid


def _compile_and_store(fastjsonschema: Any, schema: dict[str, Any], path: Path) -> Any:
    schema = strings_only_formats(schema)
    schema.pop("$id", None)  # the entry point's name comes from $id: make it fixed
    schema["$id"] = "stackctl_fast"
    try:
        # plain exceptions: the failing branches of anyOf/oneOf raise on the happy path too, and a
        # detailed exception builds the whole sub-schema each time (~30 % of the run time)
        source = fastjsonschema.compile_to_code(schema, formats=FORMATS, detailed_exceptions=False)
        code = compile(source, str(path.with_suffix(".py")), "exec")
    except Exception:  # noqa: BLE001 - a schema fastjsonschema cannot compile: no fast path
        return None
    if f"def {ENTRY}(" not in source:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as out:
            out.write(marshal.dumps(code))
        os.replace(out.name, path)
    except OSError:
        return None  # no cache: compiling every time would cost more than it saves on small files
    return code
