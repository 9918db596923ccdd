"""Multi-file merge: each case is checked against `docker stack config -c a -c b`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from stackctl.commands.config import dump_yaml
from stackctl.errors import LoadError
from stackctl.load.merge import merge_configs
from stackctl.pipeline import load_stack
from tests.unit._reference import reference_config

DATA = Path(__file__).parent / "data" / "load" / "merge"
ENV = {"HOME": "/home/user", "SHELLVAR": "from-shell"}


def copy(tmp_path: Path, *names: str) -> list[Path]:
    out = []
    for name in names:
        shutil.copy(DATA / name, tmp_path / name)
        out.append(tmp_path / name)
    return out


@pytest.mark.parametrize(("case", "files"), [
    ("merge-rules", ("base.yml", "override.yml")),
    ("merge-rules-2", ("base2.yml", "override2.yml")),
    ("merge-three", ("base.yml", "override.yml", "base.yml")),
])
def test_merge_equals_reference(case: str, files: tuple[str, ...], tmp_path: Path) -> None:
    paths = copy(tmp_path, *files)
    code, expected = reference_config(case, paths, ENV, tmp_path)
    assert code == 0
    stack = load_stack([str(p) for p in paths], environ=ENV, validate=False)
    assert stack.config == yaml.safe_load(expected)
    assert dump_yaml(stack.config) == expected


def test_version_mismatch_is_an_error(tmp_path: Path) -> None:
    paths = copy(tmp_path, "base2.yml", "unversioned.yml")
    code, _ = reference_config("merge-version-mismatch", paths, ENV, tmp_path)
    assert code != 0
    with pytest.raises(LoadError, match="version mismatched"):
        load_stack([str(p) for p in paths], environ=ENV, validate=False)


def test_relative_paths_resolve_against_the_first_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.yml").write_text('version: "3.8"\nservices:\n  s:\n    image: x\n')
    (tmp_path / "sub" / "b.yml").write_text(
        'version: "3.8"\nservices:\n  s:\n    volumes: ["./data:/data"]\nsecrets:\n  k:\n    file: ./k\n')
    files = [str(tmp_path / "a.yml"), str(tmp_path / "sub" / "b.yml")]
    stack = load_stack(files, environ=ENV, validate=False)
    assert stack.config["services"]["s"]["volumes"][0]["source"] == str(tmp_path / "data")
    assert stack.config["secrets"]["k"]["file"] == str(tmp_path / "k")


def test_stdin_as_first_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    monkeypatch.chdir(tmp_path)
    data = b'version: "3.8"\nservices:\n  s:\n    image: x\n    volumes: ["./d:/d"]\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    stack = load_stack(["-"], environ=ENV, validate=False)
    assert stack.working_dir == str(tmp_path)
    assert stack.config["services"]["s"]["volumes"][0]["source"] == str(tmp_path / "d")
    assert stack.docs[0].filename == "<stdin>"


def test_override_cannot_zero_scalars_but_can_zero_pointers() -> None:
    service = {"image": "a", "privileged": True, "deploy": {"replicas": 3}}
    base = {"version": "3.8", "services": {"s": service}}
    over = {"version": "3.8", "services": {"s": {"deploy": {"replicas": 0}}}}
    merged = merge_configs([base, over])["services"]["s"]
    assert merged["privileged"] is True and merged["deploy"]["replicas"] == 0


def test_top_level_entries_are_replaced_whole_and_extensions_come_from_the_first_file() -> None:
    base = {"version": "3.8", "services": {}, "networks": {"n": {"driver": "overlay", "attachable": True}},
            "x-a": 1}
    over = {"version": "3.8", "services": {}, "networks": {"n": {"name": "n", "external": True}}, "x-b": 2}
    merged = merge_configs([base, over])
    assert merged["networks"]["n"] == {"name": "n", "external": True}
    assert "x-b" not in merged and merged["x-a"] == 1
