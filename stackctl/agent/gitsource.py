"""A git source: fetch with the `git` CLI into a cache, read a commit, export its tree.

The `git` CLI, not a library: it honours the user's ssh config, ssh agent and credential helpers,
and every transport (ssh://, https://, file://, git://) the way operators already debug it.
Credentials never reach a command line, a log or the disk in clear:
- `ssh_key_file`: `GIT_SSH_COMMAND` names the key file and, with `known_hosts_file`, the only
  known hosts (strict checking);
- `token_file`: a credential helper given through the environment (`GIT_CONFIG_*`) that reads the
  token file when git asks; the token itself is in no argument and no variable;
- the repository URL is given as `remote.origin.url` through the environment too, so a URL with a
  password stays off the process list. Errors show the URL without credentials.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from stackctl.agent.config import SourceConfig
from stackctl.errors import StackctlError

FETCH_TIMEOUT = 120.0
TREES_KEPT = 3  # exported commits kept per source (the current one and a few before it)
LOCAL_REF = "refs/stackctl/head"

# The credential helper: answers `get` with the user and the token file's first line.
_HELPER = (
    '!f() { test "$1" = get || exit 0; echo "username=$STACKCTL_AGENT_TOKEN_USER"; '
    'printf "password=%s\\n" "$(head -n1 "$STACKCTL_AGENT_TOKEN_FILE")"; }; f'
)


# git's advice after a failed fetch: true for every failure, so it says nothing about this one
_BOILERPLATE = (
    "fatal: Could not read from remote repository",
    "Please make sure you have the correct access",
    "and the repository exists",
)


class GitError(StackctlError):
    """A fetch or a read of the repository failed (the message has no credentials)."""


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str
    subject: str
    time: str  # ISO 8601, the author's date

    def to_json(self) -> dict[str, str]:
        return {"commit": self.sha, "author": self.author, "subject": self.subject, "time": self.time}


Runner = Callable[..., "subprocess.CompletedProcess[bytes]"]


class GitSource:
    """One source's cache: a bare repository `CACHE/sources/NAME.git` and exported trees."""

    def __init__(self, config: SourceConfig, cache_dir: str, *, run: Runner = subprocess.run) -> None:
        self.config = config
        self.root = Path(cache_dir) / "sources"
        self.repo = self.root / f"{config.name}.git"
        self.trees = Path(cache_dir) / "trees" / config.name
        self._run = run
        self.fetches = 0  # how many fetches ran (tests: "401 fetches nothing")
        self._commits: dict[str, CommitInfo] = {}  # a full commit hash's info never changes

    # --- the environment git runs in ---------------------------------------------------------

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env["GIT_TERMINAL_PROMPT"] = "0"  # never wait for a password on a terminal
        settings: list[tuple[str, str]] = [("remote.origin.url", self.config.url)]
        cfg = self.config
        if cfg.ssh_key_file:
            ssh = ["ssh", "-i", _quote(cfg.ssh_key_file), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
            if cfg.known_hosts_file:
                ssh += [
                    "-o",
                    f"UserKnownHostsFile={_quote(cfg.known_hosts_file)}",
                    "-o",
                    "StrictHostKeyChecking=yes",
                ]
            env["GIT_SSH_COMMAND"] = " ".join(ssh)
        if cfg.token_file:
            env["STACKCTL_AGENT_TOKEN_FILE"] = cfg.token_file
            env["STACKCTL_AGENT_TOKEN_USER"] = cfg.token_user
            settings += [("credential.helper", ""), ("credential.helper", _HELPER)]
        start = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
        for i, (key, value) in enumerate(settings, start):
            env[f"GIT_CONFIG_KEY_{i}"] = key
            env[f"GIT_CONFIG_VALUE_{i}"] = value
        env["GIT_CONFIG_COUNT"] = str(start + len(settings))
        return env

    def _git(self, *args: str, timeout: float = FETCH_TIMEOUT, stdout: int | None = subprocess.PIPE) -> bytes:
        try:
            done = self._run(
                ["git", "-C", str(self.repo), *args],
                env=self.environ(),
                stdout=stdout,
                stderr=subprocess.PIPE,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GitError(
                f"git {args[0]} of {self.config.public_url} took more than {timeout:.0f}s"
            ) from None
        except OSError as err:
            raise GitError(f"cannot run git: {err.strerror} (install git)") from None
        if done.returncode != 0:
            raise GitError(
                f"git {args[0]} of {self.config.public_url} failed: {self._last_line(done.stderr)}"
            )
        return done.stdout or b""

    def _last_line(self, stderr: bytes | None) -> str:
        """What went wrong, from git's stderr: its own lines without the generic advice it adds."""
        lines = [ln.strip() for ln in (stderr or b"").decode(errors="replace").splitlines() if ln.strip()]
        useful = [ln for ln in lines if not ln.startswith(_BOILERPLATE)] or lines[-1:]
        text = "; ".join(useful[:2]) or "no message"
        return text.replace(self.config.url, self.config.public_url)

    # --- fetch, read, export -----------------------------------------------------------------

    def ensure_repo(self) -> None:
        if (self.repo / "HEAD").exists():
            return
        self.repo.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(
                ["git", "init", "--bare", "-q", str(self.repo)], check=True, capture_output=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError) as err:
            raise GitError(f"cannot create the cache repository {self.repo}: {err}") from None

    def fetch(self) -> str:
        """Fetch the branch (or tag) and return its commit SHA."""
        self.ensure_repo()
        self.fetches += 1
        self._git("fetch", "--quiet", "--no-tags", "--force", "origin", f"+{self.config.ref}:{LOCAL_REF}")
        return self.head()

    def head(self) -> str:
        return self._git("rev-parse", "--verify", f"{LOCAL_REF}^{{commit}}", timeout=30).decode().strip()

    def commit_info(self, sha: str) -> CommitInfo:
        """Author, subject and time of a commit (`git show` once per commit hash: every pass asks)."""
        if sha in self._commits:
            return self._commits[sha]
        out = self._git("show", "-s", "--format=%H%x00%an%x00%aI%x00%s", sha, timeout=30).decode(
            errors="replace"
        )
        full, author, when, subject = (out.strip().split("\x00") + ["", "", "", ""])[:4]
        info = CommitInfo(full or sha, author, subject, when)
        if full == sha:  # a full hash (a ref or a short hash may name another commit later)
            self._commits[sha] = info
        return info

    def export(self, sha: str) -> Path:
        """The commit's files in a directory of their own (made once per commit)."""
        target = self.trees / sha
        if target.is_dir():
            return target
        self.trees.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.trees) as tmp:
            archive = Path(tmp) / "tree.tar"
            with open(archive, "wb") as fh:
                self._git("archive", "--format=tar", sha, timeout=60, stdout=fh.fileno())
            files = Path(tmp) / "files"
            with tarfile.open(archive) as tar:
                tar.extractall(files, filter="data")
            os.replace(files, target)
        self._forget_old_trees(keep=sha)
        return target

    def _forget_old_trees(self, keep: str) -> None:
        trees = sorted(
            (p for p in self.trees.iterdir() if p.is_dir() and p.name != keep and len(p.name) >= 40),
            key=lambda p: p.stat().st_mtime,
        )
        for old in trees[: max(0, len(trees) - (TREES_KEPT - 1))]:
            shutil.rmtree(old, ignore_errors=True)


def _quote(path: str) -> str:
    import shlex

    return shlex.quote(path)
