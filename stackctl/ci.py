"""Which CI system ran a command, and which job: read from the environment variables each sets.

Only identifiers are read (never tokens): enough to find the job that deployed a revision
(history records it; `history` shows it through `history_text.describe_ci`).
"""

from __future__ import annotations

from collections.abc import Mapping

# (system, variable that says so, {field: variable}): the first system whose marker is set wins.
_CI_SYSTEMS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("github-actions", "GITHUB_ACTIONS", {"repository": "GITHUB_REPOSITORY", "run": "GITHUB_RUN_ID",
                                          "commit": "GITHUB_SHA", "ref": "GITHUB_REF_NAME",
                                          "actor": "GITHUB_ACTOR"}),
    ("gitlab", "GITLAB_CI", {"repository": "CI_PROJECT_PATH", "pipeline": "CI_PIPELINE_ID",
                             "job": "CI_JOB_ID", "commit": "CI_COMMIT_SHA", "ref": "CI_COMMIT_REF_NAME",
                             "url": "CI_JOB_URL"}),
    ("jenkins", "JENKINS_URL", {"job": "JOB_NAME", "build": "BUILD_NUMBER", "url": "BUILD_URL",
                                "commit": "GIT_COMMIT"}),
)


def detect_ci(environ: Mapping[str, str]) -> dict[str, str]:
    """The CI system and job a deploy runs from, from its well-known variables ({} outside CI).

    Only identifiers are read (never tokens): enough to find the job that deployed a revision.
    """
    for system, marker, fields in _CI_SYSTEMS:
        if environ.get(marker) or (system == "jenkins" and environ.get("BUILD_URL")):
            out = {"system": system}
            out.update({key: environ[var] for key, var in fields.items() if environ.get(var)})
            if system == "github-actions" and "run" in out and "repository" in out:
                server = environ.get("GITHUB_SERVER_URL") or "https://github.com"
                out["url"] = f"{server}/{out['repository']}/actions/runs/{out['run']}"
            return out
    if environ.get("CI", "").lower() in ("1", "true", "yes"):
        return {"system": "ci"}
    return {}
