"""Schemas per Compose version: the corpus, version gating, messages, speed."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stackctl.load.source import SourceDoc
from stackctl.validate.schema import SUPPORTED_VERSIONS, check_schema, schemas_dir
from tests.paths import CORPUS

SCHEMA_REJECTED = {
    "docker-library__docs__geonetwork__stack.yml",  # long-syntax depends_on
    "docker__compose__tests__fixtures__v3-full__docker-compose.yml",  # cpus: 0.05 (a number)
}


def doc(data: dict, version: str | None = None) -> SourceDoc:
    version = version or str(data.get("version", "3.13"))
    return SourceDoc("stack.yml", data, {}, version)


def service(version: str, **keys: object) -> SourceDoc:
    return doc({"version": version, "services": {"web": {"image": "nginx", **keys}}})


def messages(d: SourceDoc) -> list[str]:
    return [f"{x.path}: {x.message}" + (f" ({x.hint})" if x.hint else "") for x in check_schema(d)]


# --- the generated files -------------------------------------------------------------------

def test_generated_schemas_are_up_to_date() -> None:
    result = subprocess.run([sys.executable, str(schemas_dir() / "generate.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_one_schema_per_version() -> None:
    names = sorted(p.name for p in schemas_dir().glob("compose-*.json"))
    assert names == sorted([*(f"compose-{v}.json" for v in SUPPORTED_VERSIONS), "compose-spec.json"])


# --- the corpus (needs the load stage for interpolation) -----------------------------------

def _manifest() -> list[dict[str, str]]:
    if not (CORPUS / "MANIFEST.tsv").exists():
        return []
    with open(CORPUS / "MANIFEST.tsv", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _corpus_docs(row: dict[str, str], tmp_path: Path) -> list[SourceDoc]:
    from stackctl import pipeline

    name = row["file"]
    shutil.copy(CORPUS / "files" / name, tmp_path / name)
    support = CORPUS / "support" / name
    if support.is_dir():
        shutil.copytree(support, tmp_path, dirs_exist_ok=True)
    env = dict(kv.split("=", 1) for kv in row["env"].split(";") if "=" in kv)
    stack = pipeline.load_stack([str(tmp_path / name)], environ=env, validate=False)
    return stack.docs


ACCEPTED = [r for r in _manifest() if "ok" in (r["ref_config"], r["ref_config_with_support"])]


@pytest.mark.parametrize("row", ACCEPTED, ids=lambda r: r["file"][:60])
def test_corpus_file_the_reference_accepts_passes(row: dict[str, str], tmp_path: Path) -> None:
    for source in _corpus_docs(row, tmp_path):
        assert [d.format() for d in check_schema(source)] == []


@pytest.mark.parametrize("name", sorted(SCHEMA_REJECTED))
def test_corpus_file_the_reference_rejects_fails(name: str, tmp_path: Path) -> None:
    from stackctl.errors import ValidationError

    row = next(r for r in _manifest() if r["file"] == name)
    with pytest.raises(ValidationError) as info:
        _corpus_docs(row, tmp_path)
    assert info.value.diagnostics


def test_corpus_counts() -> None:
    rows = _manifest()
    if not rows:
        pytest.skip("corpus not present")
    assert len(ACCEPTED) == 37
    assert len(rows) - len(ACCEPTED) == 3


# --- version gating --------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "value", "since"), [
    ("secrets", ["s"], "3.1"),
    ("configs", ["c"], "3.3"),
    ("init", True, "3.7"),
    ("isolation", "default", "3.5"),
    ("cgroupns_mode", "host", "3.9"),
    ("oom_score_adj", 100, "3.13"),
    ("x-extra", 1, "3.7"),
    ("deploy", {"rollback_config": {"parallelism": 1}}, "3.7"),
    ("deploy", {"endpoint_mode": "dnsrr"}, "3.2"),
    ("deploy", {"update_config": {"order": "start-first"}}, "3.4"),
    ("deploy", {"placement": {"preferences": [{"spread": "node.labels.az"}]}}, "3.3"),
    ("deploy", {"placement": {"max_replicas_per_node": 2}}, "3.8"),
    ("deploy", {"resources": {"limits": {"pids": 10}}}, "3.9"),
    ("healthcheck", {"start_period": "5s"}, "3.4"),
    ("healthcheck", {"start_interval": "1s"}, "3.12"),
    ("ports", [{"target": 80, "published": 8080}], "3.2"),
    ("volumes", [{"type": "tmpfs", "target": "/t", "tmpfs": {"size": 1000}}], "3.6"),
    ("networks", {"front": {"driver_opts": {"a": "b"}}}, "3.13"),
    ("build", {"context": ".", "x-bake": {}}, "3.11"),
])
def test_service_key_is_gated_by_version(key: str, value: object, since: str) -> None:
    index = SUPPORTED_VERSIONS.index(since)
    assert check_schema(service(since, **{key: value})) == []
    assert check_schema(service(SUPPORTED_VERSIONS[-1], **{key: value})) == []
    if index:
        before = SUPPORTED_VERSIONS[index - 1]
        assert check_schema(service(before, **{key: value})), f"{key} accepted in {before}"


def test_rollback_config_names_the_version_that_added_it() -> None:
    assert messages(service("3.6", deploy={"rollback_config": {"parallelism": 1}})) == [
        'services.web.deploy.rollback_config: unknown key "rollback_config" '
        '("rollback_config" needs version 3.7 or later; this file is 3.6)'
    ]


@pytest.mark.parametrize(("section", "entry", "since"), [
    ("networks", {"attachable": True}, "3.2"),
    ("networks", {"name": "x"}, "3.5"),
    ("volumes", {"name": "x"}, "3.4"),
    ("secrets", {"name": "x", "file": "./s"}, "3.5"),
    ("secrets", {"driver": "vault"}, "3.8"),
    ("configs", {"file": "./c", "template_driver": "golang"}, "3.8"),
])
def test_top_level_key_is_gated_by_version(section: str, entry: dict, since: str) -> None:
    def stack(version: str) -> SourceDoc:
        return doc({"version": version, "services": {"web": {"image": "nginx"}}, section: {"x": entry}})

    assert check_schema(stack(since)) == []
    before = SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.index(since) - 1]
    assert check_schema(stack(before))


def test_top_level_extensions_since_3_4() -> None:
    assert check_schema(doc({"version": "3.4", "services": {}, "x-common": {"a": 1}})) == []
    assert messages(doc({"version": "3.3", "services": {}, "x-common": 1})) == [
        'x-common: unknown key "x-common" ("x-common" needs version 3.4 or later; this file is 3.3)'
    ]


def test_ipam_gateway_is_a_deliberate_superset() -> None:
    ipam = {"config": [{"subnet": "10.1.0.0/24", "gateway": "10.1.0.1", "ip_range": "10.1.0.0/25",
                        "aux_addresses": {"host1": "10.1.0.5"}}]}
    stack = {"version": "3.0", "services": {"web": {"image": "nginx"}}, "networks": {"n": {"ipam": ipam}}}
    assert check_schema(doc(stack)) == []


def test_missing_version_reads_as_latest() -> None:
    assert check_schema(doc({"services": {"web": {"image": "nginx", "oom_score_adj": 5}}}, "3.13")) == []


@pytest.mark.parametrize("version", ["2.0", "3.14", "1.0", "4"])
def test_unsupported_version(version: str) -> None:
    (d,) = check_schema(doc({"version": version, "services": {}}, version))
    assert d.path == "version" and d.message == f"unsupported Compose file version: {version}"
    assert d.hint


# --- messages --------------------------------------------------------------------------------

@pytest.mark.parametrize(("keys", "expected"), [
    ({"imgae": "x"}, 'services.web.imgae: unknown key "imgae" (did you mean \'image\'?)'),
    ({"mem_limit": "1g"}, 'services.web.mem_limit: unknown key "mem_limit" '
                          "(set resource limits with deploy.resources.limits.memory)"),
    ({"read_only": "yes"}, "services.web.read_only: must be a boolean (use true or false)"),
    ({"environment": {"A": True}},
     'services.web.environment.A: must be a string, number or null (write it in quotes: "true")'),
    ({"networks": "front"}, "services.web.networks: must be a list or mapping"),
    ({"deploy": {"resources": {"limits": {"cpus": 0.5}}}},
     'services.web.deploy.resources.limits.cpus: must be a string (write it in quotes: "0.5")'),
    ({"deploy": {"resources": {"limits": {"memory": "12q"}}}},
     'services.web.deploy.resources.limits.memory: "12q" is not a valid byte size '
     "(a size such as 512M, 1.5G or 1024, in base 1024)"),
    ({"stop_grace_period": "1d"}, 'services.web.stop_grace_period: "1d" is not a valid duration '
                                  "(Go duration syntax, e.g. 10s, 1m30s, 1h; units ns, us, ms, s, m, h)"),
    ({"deploy": {"update_config": {"order": "first"}}},
     'services.web.deploy.update_config.order: must be one of start-first, stop-first (got "first") '
     "(did you mean 'stop-first'?)"),
    ({"ports": ["99999:80"]},
     'services.web.ports[0]: "99999:80" is not a valid port (published port 99999 '
     "is out of range 1-65535; syntax [IP:][PUBLISHED[-END]:]TARGET[-END][/tcp|udp|sctp])"),
    ({"ports": [[80]]}, "services.web.ports[0]: must be a number, string or mapping"),
    ({"ports": [{"target": 80, "publishd": 80}]},
     "services.web.ports[0].publishd: unknown key \"publishd\" (did you mean 'published'?)"),
    ({"ulimits": {"nofile": {"soft": 1}}}, 'services.web.ulimits.nofile: missing required key "hard"'),
    ({"cap_add": ["A", "B", "A"]}, 'services.web.cap_add[2]: duplicate item "A"'),
    ({"volumes": [{"source": "a", "target": "/b"}]}, 'services.web.volumes[0]: missing required key "type"'),
])
def test_messages(keys: dict, expected: str) -> None:
    assert messages(service("3.8", **keys)) == [expected]


def test_every_error_is_reported_and_sorted_by_line() -> None:
    data = {"version": "3.8", "services": {"web": {"image": 5, "imgae": "x", "read_only": "no"}}}
    lines = {("version",): 1, ("services",): 2, ("services", "web"): 3, ("services", "web", "image"): 4,
             ("services", "web", "imgae"): 5, ("services", "web", "read_only"): 6}
    found = check_schema(SourceDoc("s.yml", data, lines, "3.8"))
    assert [(d.line, d.path) for d in found] == [
        (4, "services.web.image"), (5, "services.web.imgae"), (6, "services.web.read_only")]
    assert found[0].format() == 's.yml:4: services.web.image: must be a string (write it in quotes: "5")'


def test_invalid_service_name() -> None:
    assert messages(doc({"version": "3.8", "services": {"a b": {"image": "x"}}})) == [
        'services.a b: invalid name "a b" (names may contain only letters, digits, ".", "_" and "-")']


def test_unquoted_version_number() -> None:
    assert messages(doc({"version": 3.8, "services": {}}, "3.8")) == [
        'version: must be a string (write it in quotes: "3.8")']


def test_top_level_must_be_a_mapping() -> None:
    assert [d.message for d in check_schema(SourceDoc("s.yml", [], {}, "3.13"))] == [  # type: ignore[arg-type]
        "top-level object must be a mapping"]


def test_a_thousand_services_validate_quickly() -> None:
    services = {f"svc{i}": {"image": "nginx:1", "ports": ["80"], "environment": {"A": "1"},
                            "deploy": {"replicas": 2, "update_config": {"delay": "10s"},
                                       "resources": {"limits": {"memory": "1g", "cpus": "0.5"}}},
                            "networks": ["a"]} for i in range(1000)}
    big = doc({"version": "3.8", "services": services, "networks": {"a": {}}})
    check_schema(big)  # compiles the validator once
    start = time.perf_counter()
    assert check_schema(big) == []
    assert time.perf_counter() - start < 2.0


def test_jsonschema_is_not_imported_by_the_module() -> None:
    code = "import sys, stackctl.validate.schema; print('jsonschema' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
