"""The agent's config: schema and meaning checks with FILE:LINE, resolved values (no engine, no git)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackctl.agent.config import DEFAULT_SOURCE, load_config, redact_url
from stackctl.errors import ValidationError

GOOD = """\
sources:
  - name: ops
    url: ssh://git@git.example.com/ops/stacks.git
    branch: main
    interval: 30s
    ssh_key_file: keys/deploy_key
    known_hosts_file: keys/known_hosts
stacks:
  - name: shop
    source: ops
    files: [shop/docker-stack.yml]
    drift: heal
    prune: false
    rollback_on_failure: true
    timeout: 2m
    windows:
      - deny: "0 16 * * 5"
        duration: 64h
  - name: crm
    project: envs/stackctl.yml
    env: prod
    source: ops
    apply: manual
listen: 127.0.0.1:0
webhook_secret_file: /run/secrets/webhook
api_token_file: /run/secrets/agent_token
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "agent.yml"
    path.write_text(text)
    return str(path)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ValidationError) as info:
        load_config(write(tmp_path, text))
    return [d.format() for d in info.value.diagnostics]


def test_good_config_resolves(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    ops = config.source("ops")
    assert ops.interval == 30.0 and ops.ref == "refs/heads/main"
    assert ops.ssh_key_file == str(tmp_path / "keys/deploy_key")
    shop = config.stack("shop")
    assert shop is not None and shop.drift == "heal" and shop.timeout == 120.0
    assert shop.windows[0].kind == "deny" and shop.windows[0].duration == 64 * 3600
    crm = config.stack("crm")
    assert crm is not None and crm.apply == "manual" and crm.project == "envs/stackctl.yml"
    assert crm.drift == "report" and crm.drift_interval == 300.0
    assert (config.host, config.port) == ("127.0.0.1", 0)


def test_one_source_needs_no_name(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "sources:\n  - url: file:///srv/git/stacks.git\nstacks:\n  - name: shop\n    files: [a.yml]\n",
        )
    )
    assert config.sources[0].name == DEFAULT_SOURCE and config.stacks[0].source == DEFAULT_SOURCE
    assert (config.host, config.port) == ("127.0.0.1", 9600)


def test_schema_errors_have_file_and_line(tmp_path: Path) -> None:
    text = GOOD.replace("drift: heal", "drift: fix").replace(
        "    prune: false\n", "    prune: false\n    prnue: 1\n"
    )
    out = problems(tmp_path, text)
    path = str(tmp_path / "agent.yml")
    assert f"{path}:12: stacks[0].drift: must be one of 'report', 'heal'" in out
    assert any(
        line.startswith(f"{path}:14: stacks[0].prnue: unknown key 'prnue'") and "prune" in line
        for line in out
    ), out


def test_meaning_errors(tmp_path: Path) -> None:
    text = GOOD.replace("source: ops\n    apply", "source: opz\n    apply").replace(
        "interval: 30s", "interval: 30x"
    )
    text = text.replace('deny: "0 16 * * 5"', 'deny: "0 25 * * 5"')
    out = "\n".join(problems(tmp_path, text))
    assert ":5: sources[0].interval: invalid duration" in out
    assert "stacks[1].source: no source named 'opz' (defined: ops)" in out
    assert ":17: stacks[0].windows[0].deny: invalid cron expression '0 25 * * 5'" in out


def test_files_or_project(tmp_path: Path) -> None:
    out = "\n".join(
        problems(
            tmp_path,
            "sources:\n  - url: file:///x.git\nstacks:\n  - name: a\n"
            "  - name: b\n    project: p.yml\n  - name: c\n    files: [../x.yml]\n",
        )
    )
    assert ":4: stacks[0]: stack 'a' needs either files: or project:" in out
    assert ":6: stacks[1].project: project: needs env:" in out
    assert ":8: stacks[2].files[0]: '../x.yml' is not a path inside the repository" in out


def test_token_with_ssh_url_refused(tmp_path: Path) -> None:
    out = "\n".join(
        problems(
            tmp_path,
            "sources:\n  - url: ssh://git@h/x.git\n    token_file: t\n"
            "stacks:\n  - name: a\n    files: [a.yml]\n",
        )
    )
    assert ":3: sources[0].token_file: a token works with https:// URLs only" in out


def test_redact_url() -> None:
    assert redact_url("https://bot:s3cret@git.example.com/x.git") == "https://git.example.com/x.git"
    assert redact_url("ssh://git@git.example.com/x.git") == "ssh://git@git.example.com/x.git"
    assert redact_url("file:///srv/x.git") == "file:///srv/x.git"
