"""The typed model (stackctl/model/config.py, spec.py) says what load and convert really make.

Every key of the corpus's normalised stacks (what `docker stack config` printed) is a key of the
compose TypedDicts, every key of their converted ServiceSpecs one of the ServiceSpec parts, and
the compose field registry and the Service TypedDict name the same service keys.
"""

from __future__ import annotations

import types
import typing
from typing import Union, get_args, get_origin, get_type_hints, is_typeddict

import pytest
import yaml

from stackctl.convert import convert_stack
from stackctl.errors import ConvertError
from stackctl.model import compose, config, spec
from stackctl.validate.meaning import check_meaning
from tests.paths import CORPUS

CONFIGS = sorted((CORPUS / "expected_config").glob("*.yml"))


def _undeclared(value: object, tp: object, path: str = "") -> list[str]:
    """The key paths of `value` its type `tp` does not declare (x- extension keys are free)."""
    if isinstance(tp, str):
        raise AssertionError(f"unresolved {tp} at {path}")
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        members = [m for m in get_args(tp) if _fits(value, m)]
        return _undeclared(value, members[0], path) if members else [f"{path}: {type(value).__name__}"]
    if is_typeddict(tp) and isinstance(value, dict):
        hints = get_type_hints(tp)
        out: list[str] = []
        for key, item in value.items():
            if str(key).startswith("x-"):
                continue
            if key not in hints:
                out.append(f"{path}.{key}")
            else:
                out += _undeclared(item, hints[key], f"{path}.{key}")
        return out
    if origin is dict and isinstance(value, dict):
        return [p for k, v in value.items() for p in _undeclared(v, get_args(tp)[1], f"{path}.{k}")]
    if origin is list and isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _undeclared(v, get_args(tp)[0], f"{path}[{i}]")]
    return [] if _fits(value, tp) else [f"{path}: {type(value).__name__} is not {tp}"]


def _fits(value: object, tp: object) -> bool:
    origin = get_origin(tp) or tp
    if tp is type(None):
        return value is None
    if is_typeddict(tp) or origin is dict:
        return isinstance(value, dict)
    if origin is list:
        return isinstance(value, list)
    if tp is object or tp is typing.Any:
        return True
    if tp is float:
        return isinstance(value, int | float)
    return isinstance(tp, type) and isinstance(value, tp)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name[:60])
def test_the_corpus_fits_the_typed_model(path: object) -> None:
    data = yaml.safe_load(path.read_text())  # type: ignore[attr-defined]
    assert _undeclared(data, config.Config) == []
    if any(d.severity == "error" for d in check_meaning(data, [], str(path.parent))):  # type: ignore[attr-defined]
        return  # validate rejects it: convert is handed validated stacks only
    try:
        desired = convert_stack(data, "st", read_file=lambda _: b"x", environ={})
    except ConvertError:
        return  # a stack the corpus keeps for its errors
    for name, service_spec in desired.services.items():
        assert _undeclared(service_spec, spec.ServiceSpec, name) == []


def test_the_registry_and_the_service_type_name_the_same_keys() -> None:
    registry = {row.key for row in compose.children("services.*") if row.load is not None}
    assert registry == set(get_type_hints(config.Service)) - {"oom_score_adj"}
