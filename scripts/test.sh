#!/usr/bin/env bash
# The test command: mypy, lab up, the whole pytest suite (unit + integration), and ALWAYS lab down.
# Keeps pytest's exit code; "no tests collected" (exit 5) counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
stackctl() { "$PYTHON" -m stackctl "$@"; }

# Types first: no lab needed, and a failure here fails the run before the lab starts.
echo "== mypy (the modules [tool.mypy] lists)"
"$PYTHON" -m mypy || exit 1

trap 'exit 130' INT
trap 'exit 143' TERM
trap 'echo "== stackctl lab down"; stackctl lab down || echo "warning: lab down failed" >&2' EXIT

echo "== stackctl lab up"
stackctl lab up || exit 1
echo "== pytest"
"$PYTHON" -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  rc=1
fi
exit "$rc"
