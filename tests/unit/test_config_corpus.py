"""The corpus: `stackctl config` equals the reference's `docker stack config` output, file by file.

Each file is copied to TMP/files/<name> (support files beside it), mirroring the reference
run at /corpus/files/<name>, and `/corpus` in the expected output is swapped for TMP.
Files the reference rejects must be rejected too.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import yaml

from stackctl.commands.config import dump_yaml
from stackctl.errors import StackctlError
from stackctl.pipeline import load_stack
from tests.paths import CORPUS

ROWS = list(csv.DictReader(open(CORPUS / "MANIFEST.tsv"), delimiter="\t")) if CORPUS.is_dir() else []


def _setup(row: dict[str, str], tmp_path: Path, with_support: bool) -> tuple[Path, dict[str, str]]:
    files = tmp_path / "files"
    files.mkdir()
    target = files / row["file"]
    shutil.copy(CORPUS / "files" / row["file"], target)
    support = CORPUS / "support" / row["file"]
    if with_support and support.is_dir():
        shutil.copytree(support, files, dirs_exist_ok=True)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/home/user"}
    if row["env"] != "-":
        env.update(kv.split("=", 1) for kv in row["env"].split(";") if "=" in kv)
    return target, env


def _cases() -> list[tuple[dict[str, str], bool]]:
    out = []
    for row in ROWS:
        out.append((row, False))
        if row["ref_config_with_support"] != "n/a":
            out.append((row, True))
    return out


@pytest.mark.parametrize(("row", "with_support"), _cases(),
                         ids=lambda v: v["file"][:70] if isinstance(v, dict)
                         else ("support" if v else "alone"))
def test_config_matches_reference(row: dict[str, str], with_support: bool, tmp_path: Path) -> None:
    target, env = _setup(row, tmp_path, with_support)
    accepted = (row["ref_config_with_support"] if with_support else row["ref_config"]) == "ok"
    if not accepted:
        with pytest.raises(StackctlError):
            load_stack([str(target)], environ=env, validate=False)
        return
    suffix = ".with-support.yml" if with_support else ".yml"
    expected = (CORPUS / "expected_config" / (row["file"] + suffix)).read_text()
    expected = expected.replace("/corpus/", str(tmp_path) + "/")
    stack = load_stack([str(target)], environ=env, validate=False)
    assert stack.config == yaml.safe_load(expected)
    assert dump_yaml(stack.config) == expected


def test_corpus_is_present() -> None:
    assert len(ROWS) == 40
