"""The schema fast path must never call valid what jsonschema rejects (stackctl/validate/fastcheck.py)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.gen import config_stack, deploy_stack
from stackctl.load.source import SourceDoc
from stackctl.validate import fastcheck
from stackctl.validate.schema import check_schema, compiled_validator, normalise_version, schemas_dir

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path("/work/shared/corpus/files")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))


def _fast(version: str) -> Any:
    is_valid = fastcheck.fast_validator.__wrapped__(schemas_dir() / f"compose-{version}.json")
    assert is_valid is not None
    return is_valid


def _mutations() -> list[tuple[str, dict[str, Any]]]:
    base = yaml.safe_load(config_stack(2))
    changes = {
        "port out of range (number)": ("services.svc000.ports", [70000]),
        "port out of range (string)": ("services.svc000.ports", ["70000:80"]),
        "port as number": ("services.svc000.ports", [8080]),
        "bad duration": ("services.svc000.healthcheck.interval", "30 seconds"),
        "duration as number": ("services.svc000.healthcheck.interval", 30),
        "bad memory": ("services.svc000.deploy.resources.limits.memory", "lots"),
        "memory as number": ("services.svc000.deploy.resources.limits.memory", 1024),
        "memory as bool": ("services.svc000.deploy.resources.limits.memory", True),
        "replicas as string": ("services.svc000.deploy.replicas", "two"),
        "replicas as float": ("services.svc000.deploy.replicas", 1.0),
        "unknown service key": ("services.svc000.imagee", "x"),
        "unknown top-level key": ("servicess", {}),
        "extension key": ("services.svc000.x-anything", {"a": 1}),
        "null environment value": ("services.svc000.environment.EMPTY", None),
        "labels as list": ("services.svc000.labels", ["a=b", "a=b"]),
        "bad restart condition": ("services.svc000.deploy.restart_policy.condition", "sometimes"),
        "command as number": ("services.svc000.command", 3),
        "network as number": ("services.svc000.networks", 3),
    }
    out = []
    for name, (path, value) in changes.items():
        data = copy.deepcopy(base)
        node = data
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
        out.append((name, data))
    return out


def _documents() -> list[tuple[str, Any]]:
    docs: list[tuple[str, Any]] = [("config_stack(50)", yaml.safe_load(config_stack(50))),
                                   ("deploy_stack(20)", yaml.safe_load(deploy_stack(20, replicas=1)))]
    files = sorted((ROOT / "tests" / "golden" / "validate").glob("*.yml"))
    files += sorted(CORPUS.glob("*.yml")) if CORPUS.is_dir() else []
    for path in files:
        try:
            docs.append((path.name, yaml.safe_load(path.read_text(encoding="utf-8"))))
        except yaml.YAMLError:
            continue
    return docs + _mutations()


@pytest.mark.parametrize(("name", "data"), _documents(), ids=lambda v: v if isinstance(v, str) else "")
def test_fast_verdict_agrees_with_jsonschema(name: str, data: Any) -> None:
    if not isinstance(data, dict):
        pytest.skip("not a mapping")
    version = normalise_version(str(data.get("version") or "") or None)
    if not (schemas_dir() / f"compose-{version}.json").exists():
        pytest.skip(f"no schema for {version}")
    slow_valid = not list(compiled_validator(version).iter_errors(data))
    fast_valid = _fast(version)(data)
    # the promise: fast "valid" implies jsonschema-valid. The reverse only costs speed: numbers where a
    # `ports`/`bytes` format applies always take the slow path.
    assert slow_valid or not fast_valid, name
    if slow_valid and not fast_valid:
        assert _has_numeric_formatted_value(data), f"{name}: valid, but not taken by the fast path"


def _has_numeric_formatted_value(data: dict[str, Any]) -> bool:
    for service in (data.get("services") or {}).values():
        if not isinstance(service, dict):
            continue
        ports = service.get("ports") or []
        resources = ((service.get("deploy") or {}).get("resources") or {}).values()
        memories = [r.get("memory") for r in resources if isinstance(r, dict)]
        values = [*ports, *memories, service.get("shm_size")]
        if any(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            return True
    return False


def test_invalid_document_still_gets_its_diagnostics() -> None:
    data = yaml.safe_load(config_stack(2))
    data["services"]["svc001"]["ports"] = [70000]
    doc = SourceDoc(filename="f.yml", data=data, lines={}, version="3.8")
    found = check_schema(doc)
    assert found and any("port" in d.message or "port" in (d.hint or "") for d in found)


def test_no_fast_path_without_a_writable_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file: the cache folder cannot be made
    assert fastcheck.fast_validator.__wrapped__(schemas_dir() / "compose-3.8.json") is None


def test_cached_code_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    schema = schemas_dir() / "compose-3.8.json"
    assert fastcheck.fast_validator.__wrapped__(schema) is not None
    cached = list((tmp_path / "stackctl" / "schema").glob("compose-3.8-*.bin"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    assert fastcheck.fast_validator.__wrapped__(schema) is not None
    assert cached[0].stat().st_mtime_ns == stamp
