#!/usr/bin/env bash
# The main job, end to end: a 3-node lab swarm, the AtSea shop's secrets, the AtSea stack deployed,
# and where each of its tasks runs. The lab stays up afterwards: `make down` (as root) removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
STACK="${STACK:-atsea}"
FILE=examples/atsea/docker-stack.yml
stackctl() { "$PYTHON" -m stackctl "$@"; }

echo "== stackctl lab up"
stackctl lab up
eval "$(stackctl lab env)"
export DOCKER_HOST

echo "== AtSea secrets"
examples/atsea/create-secrets.sh

echo "== stackctl deploy $STACK -c $FILE (waits until every service converged)"
stackctl deploy "$STACK" -c "$FILE" --timeout 3m
echo
echo "== stackctl services $STACK"
stackctl services "$STACK"
echo
echo "== stackctl ps $STACK: where the tasks run"
stackctl ps "$STACK"
echo
echo "The lab is still up: export DOCKER_HOST=$DOCKER_HOST  (remove it with: $([ "$(id -u)" -eq 0 ] || printf "sudo ")make down)"
