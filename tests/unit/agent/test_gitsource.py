"""Git credentials reach the git CLI without a command line, a variable or a log holding them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stackctl.agent.config import SourceConfig
from stackctl.agent.gitsource import GitError, GitSource


def test_token_reaches_git_through_the_credential_helper_only(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("ghp_s3cr3t-value\n")
    source = GitSource(
        SourceConfig("ops", "https://git.example.com/ops/stacks.git", token_file=str(token)),
        str(tmp_path / "cache"),
    )
    env = source.environ({"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert not any("s3cr3t" in value for value in env.values())
    cp = subprocess.run(
        ["git", "credential", "fill"],
        input="protocol=https\nhost=git.example.com\n\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert cp.returncode == 0, cp.stderr
    assert "username=x-access-token" in cp.stdout and "password=ghp_s3cr3t-value" in cp.stdout


def test_ssh_key_and_known_hosts(tmp_path: Path) -> None:
    source = GitSource(
        SourceConfig(
            "ops",
            "ssh://git@h/x.git",
            ssh_key_file="/run/secrets/deploy key",
            known_hosts_file="/run/secrets/known_hosts",
        ),
        str(tmp_path),
    )
    env = source.environ({})
    assert env["GIT_SSH_COMMAND"] == (
        "ssh -i '/run/secrets/deploy key' -o IdentitiesOnly=yes -o BatchMode=yes "
        "-o UserKnownHostsFile=/run/secrets/known_hosts -o StrictHostKeyChecking=yes"
    )
    assert env["GIT_TERMINAL_PROMPT"] == "0"


def test_fetch_errors_show_no_password(tmp_path: Path) -> None:
    source = GitSource(SourceConfig("ops", "http://bot:hunter2@127.0.0.1:9/stacks.git"), str(tmp_path))
    with pytest.raises(GitError) as info:
        source.fetch()
    assert "hunter2" not in info.value.message and "http://127.0.0.1:9/stacks.git" in info.value.message


def test_fetch_and_export_a_real_repository(tmp_path: Path) -> None:
    work = tmp_path / "work"
    env = {
        "GIT_AUTHOR_NAME": "Ann",
        "GIT_AUTHOR_EMAIL": "a@x",
        "GIT_COMMITTER_NAME": "Ann",
        "GIT_COMMITTER_EMAIL": "a@x",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True, env=env, timeout=30)
    (work / "app").mkdir()
    (work / "app" / "stack.yml").write_text("version: '3.8'\n")
    subprocess.run(["git", "-C", str(work), "add", "-A"], check=True, env=env, timeout=30)
    subprocess.run(
        ["git", "-C", str(work), "commit", "-qm", "first: the stack"], check=True, env=env, timeout=30
    )
    source = GitSource(SourceConfig("ops", f"file://{work}"), str(tmp_path / "cache"))
    sha = source.fetch()
    info = source.commit_info(sha)
    assert info.sha == sha and info.author == "Ann" and info.subject == "first: the stack"
    runs: list[object] = []
    real_run = source._run
    source._run = lambda *a, **k: runs.append(a) or real_run(*a, **k)
    assert source.commit_info(sha) == info and runs == []  # a commit's info is asked of git once
    source._run = real_run
    tree = source.export(sha)
    assert (tree / "app" / "stack.yml").read_text() == "version: '3.8'\n"
    assert source.export(sha) == tree
    bad = GitSource(SourceConfig("ops", f"file://{work}", branch="nope"), str(tmp_path / "cache2"))
    with pytest.raises(GitError):
        bad.fetch()
