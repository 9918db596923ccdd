#!/usr/bin/env bash
# The test command: lint (ruff, mypy, the layer contract), N labs up, the whole pytest suite (unit +
# integration) on N pytest-xdist workers, each on a lab of its own, and ALWAYS every lab down.
# Keeps pytest's exit code; "no tests collected" (exit 5) counts as a failure.
#
#   STACKCTL_TEST_WORKERS  workers and labs (default 4: the tests mostly wait on the labs, so 4 fit
#                          in 2 cores); 0 runs the suite in one process on one lab, as before
#   STACKCTL_LAB_NAME      the labs' name stem (default `test`: labs test0 .. test3)
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
stackctl() { "$PYTHON" -m stackctl "$@"; }

# Lint and types first: no lab needed, and a failure here fails the run before any lab starts.
./scripts/lint.sh || exit 1

workers="${STACKCTL_TEST_WORKERS:-4}"
stem="${STACKCTL_LAB_NAME:-test}"
if [ "$workers" -gt 0 ]; then
  labs=()
  for ((i = 0; i < workers; i++)); do labs+=("$stem$i"); done
else
  labs=("$stem")
fi
logs="$(mktemp -d)"

labs_down() {
  echo "== stackctl lab down: ${labs[*]}"
  for lab in "${labs[@]}"; do
    stackctl lab down --name "$lab" >"$logs/down-$lab.log" 2>&1 &
  done
  local failed=0
  for job in $(jobs -p); do wait "$job" || failed=1; done
  [ "$failed" -eq 0 ] || { cat "$logs"/down-*.log >&2; echo "warning: a lab down failed" >&2; }
  rm -rf "$logs"
}
trap 'exit 130' INT
trap 'exit 143' TERM
trap labs_down EXIT

echo "== stackctl lab up: ${labs[*]}"
started=$SECONDS
pids=()
for lab in "${labs[@]}"; do
  stackctl lab up --name "$lab" >"$logs/up-$lab.log" 2>&1 &
  pids+=("$!")
done
failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    failed=1
    echo "lab up --name ${labs[$i]} failed:" >&2
    cat "$logs/up-${labs[$i]}.log" >&2
  fi
done
[ "$failed" -eq 0 ] || exit 1
echo "   ${#labs[@]} labs up in $((SECONDS - started))s"

echo "== pytest"
if [ "$workers" -gt 0 ]; then
  # Each worker gwN runs on lab N (tests/paths.py); an integration module stays on one worker
  # (its module fixtures are built once), slow modules start first (tests/conftest.py).
  STACKCTL_TEST_LABS="${labs[*]}" "$PYTHON" -m pytest -n "$workers" --dist loadgroup --no-loadscope-reorder "$@"
else
  STACKCTL_LAB_NAME="$stem" "$PYTHON" -m pytest "$@"
fi
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  rc=1
fi
exit "$rc"
