#!/usr/bin/env bash
# Optional baseline for `make bench`: docker-compose 1.29.2 (pure-Python loading) in its own venv.
# PyYAML 5.4.1 (which compose 1.29.2 pins) does not build on Python >= 3.10 with Cython 3
# ("AttributeError: cython_sources"); building it without build isolation against Cython < 3 works.
# Without this venv the bench uses the numbers documented in shared/reference/compose-v1-python.md §2.
set -euo pipefail
VENV="${BENCH_COMPOSE_V1_VENV:-/tmp/stackctl-bench-compose-v1}"
PYTHON="${PYTHON:-python3}"
if [ -x "$VENV/bin/docker-compose" ]; then
  echo "docker-compose 1.29.2 already in $VENV"; exit 0
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q "cython<3" wheel "setuptools<70"
"$VENV/bin/pip" install -q --no-build-isolation "pyyaml==5.4.1"
# the release's own requirements.txt pins (as in compose-v1-python.md §2)
"$VENV/bin/pip" install -q docker-compose==1.29.2 docker==5.0.0 requests==2.24.0 urllib3==1.25.11 \
  python-dotenv==0.17.0 websocket-client==0.57.0 texttable==1.6.2 distro==1.5.0 idna==2.10 chardet==3.0.4
"$VENV/bin/docker-compose" version
