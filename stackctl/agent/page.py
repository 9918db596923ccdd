"""The status page: server-rendered HTML, one row per stack, no JavaScript (pure functions).

Every value is escaped; nothing secret is shown (URLs without credentials, commits, statuses).
The page reloads itself every 10 s with a meta refresh.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from stackctl.units import elapsed

if TYPE_CHECKING:
    from stackctl.agent.core import StackState, TargetState
    from stackctl.history import Revision

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;width:100%}th,td{padding:.4rem .6rem;border-bottom:1px solid #ddd;
text-align:left;vertical-align:top}th{background:#f4f4f4}code{font-size:.9em}
.synced{color:#17692c}.failed,.error,.rolled-back,.timed-out{color:#b00020;font-weight:600}
.drifted,.held,.waiting-for-approval,.pending,.interrupted{color:#8a5a00;font-weight:600}small{color:#666}
.deployed,.up-to-date{color:#17692c}.unreachable{color:#b00020;font-weight:600}.not-started{color:#666}
tr.target td{border-bottom:1px dotted #eee;font-size:.95em}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _when(ts: float | None, now: float) -> str:
    if ts is None:
        return "never"
    text = f"{elapsed(max(0.0, now - ts))} ago"
    return f"{text} <small>{_e(time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(ts)))}</small>"


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="10"><title>{_e(title)}</title>'
        f"<style>{_STYLE}</style></head><body>{body}</body></html>\n"
    )


def status_page(
    states: Sequence[StackState],
    sources: dict[str, str],
    git_errors: dict[str, str],
    now: float | None = None,
) -> str:
    """The page at `/`: `sources` maps a source name to its URL without credentials."""
    now = time.time() if now is None else now
    rows = []
    for s in states:
        css = s.status.replace(" ", "-")
        commit = "—"
        if s.commit is not None:
            commit = f"<code>{_e(s.commit.sha[:12])}</code> {_e(s.commit.subject)}" + (
                f" <small>({_e(s.commit.author)})</small>" if s.commit.author else ""
            )
        head = ""
        if s.head and (s.commit is None or s.head != s.commit.sha):
            head = f"<br><small>branch at <code>{_e(s.head[:12])}</code></small>"
        drift = _e("; ".join(s.drift)) if s.drift else "none"
        message = f"<br><small>{_e(s.message)}</small>" if s.message else ""
        rows.append(
            f'<tr id="stack-{_e(s.name)}"><td><b>{_e(s.name)}</b><br><small>{_e(s.source)}</small></td>'
            f'<td class="{_e(css)}">{_e(s.status)}{message}</td><td>{commit}{head}</td>'
            f"<td>{_when(s.last_sync, now)}</td><td>{drift}</td><td>{_e(s.plan_summary or '—')}</td>"
            f'<td><a href="/stacks/{_e(s.name)}/history">history</a></td></tr>'
        )
        rows.extend(_target_row(s.name, t) for t in list(s.targets.values()))
    source_rows = "".join(
        f"<li><b>{_e(name)}</b> <code>{_e(url)}</code> "
        + (f'<span class="error">fetch failed: {_e(git_errors[name])}</span>' if git_errors.get(name) else "")
        + "</li>"
        for name, url in sources.items()
    )
    body = (
        f"<h1>stackctl agent</h1><p>Sources:</p><ul>{source_rows}</ul>"
        "<table><thead><tr><th>Stack</th><th>Status</th><th>Commit</th><th>Last sync</th>"
        "<th>Drift</th><th>Plan</th><th></th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        '<p><small><a href="/api/v1/stacks">JSON</a> · <a href="/metrics">metrics</a></small></p>'
    )
    return _page("stackctl agent", body)


def _target_row(stack: str, t: TargetState) -> str:
    """A target of a stack whose environment has many swarms: its part of the last rollout."""
    css = t.status.replace(" ", "-")
    commit = f"<code>{_e(t.commit[:12])}</code>" if t.commit else "—"
    if t.revision is not None:
        commit += f" <small>revision {t.revision}</small>"
    notes = [n for n in (t.message, t.rollback) if n]
    message = "".join(f"<br><small>{_e(n)}</small>" for n in notes)
    took = ""
    if t.started is not None and t.ended is not None:
        took = f" <small>({t.ended - t.started:.1f}s)</small>"
    drift = _e("; ".join(t.drift)) if t.drift else "none"
    return (
        f'<tr class="target" id="stack-{_e(stack)}-target-{_e(t.name)}"><td>&nbsp;&nbsp;↳ target '
        f"<b>{_e(t.name)}</b><br><small>wave {t.wave}</small></td>"
        f'<td class="{_e(css)}">{_e(t.status)}{took}{message}</td><td>{commit}</td><td></td>'
        f"<td>{drift}</td><td>{_e(t.plan_summary or '—')}</td><td></td></tr>"
    )


def history_page(stack: str, revisions: Sequence[Revision]) -> str:
    from stackctl.history_text import describe_git

    rows = "".join(
        f"<tr><td>{r.revision}</td><td>{_e(r.time)}</td><td>{_e(r.status)}</td>"
        f"<td>{_e(describe_git(r.git) or (r.user + '@' + r.host))}</td>"
        f"<td>{_e(r.summary()['description'])}</td></tr>"
        for r in reversed(revisions)
    )
    body = (
        f'<h1>History of {_e(stack)}</h1><p><a href="/">all stacks</a></p>'
        "<table><thead><tr><th>Revision</th><th>Updated</th><th>Status</th><th>From</th>"
        f"<th>Description</th></tr></thead><tbody>{rows or '<tr><td colspan=5>no revisions</td></tr>'}"
        "</tbody></table>"
    )
    return _page(f"history of {stack}", body)
