#!/usr/bin/env bash
# The habits CI keeps (make lint; scripts/test.sh runs it before any lab starts): ruff (with the
# blind-except rule), mypy --strict on the whole package, and the layer contract of
# docs/architecture.md checked by import-linter ([tool.importlinter] in pyproject.toml).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
echo "== ruff"
"$PYTHON" -m ruff check stackctl tests || exit 1
echo "== mypy --strict stackctl"
"$PYTHON" -m mypy || exit 1
echo "== import-linter (the layer contract)"
"$PYTHON" -c 'import sys; from importlinter.cli import lint_imports_command; sys.argv[0] = "lint-imports"; lint_imports_command()' --no-cache || exit 1
