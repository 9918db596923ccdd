#!/usr/bin/env bash
# The main job, end to end: a 3-node lab swarm, the AtSea shop's secrets, the AtSea stack deployed,
# and where each of its tasks runs. The lab stays up afterwards: `make down` (as root) removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
# The lab: the default one, or $STACKCTL_LAB_NAME's (every `stackctl lab` command reads it).
STACK="${STACK:-atsea}"
FILES=(-c examples/atsea/docker-stack.yml -c examples/atsea/lab.yml)  # lab.yml: images from the lab registry
stackctl() { "$PYTHON" -m stackctl "$@"; }

echo "== stackctl lab up"
stackctl lab up
eval "$(stackctl lab env)"
export DOCKER_HOST

echo "== AtSea secrets"
examples/atsea/create-secrets.sh

# The shop's images come from the lab registry, so deploy records their digests and the nodes pull
# them with the credentials of a `docker login` of the demo's own (the caller's ~/.docker is left alone).
DOCKER_CONFIG="$(mktemp -d)"
export DOCKER_CONFIG
trap 'rm -rf "$DOCKER_CONFIG"' EXIT
echo "== docker login $STACKCTL_LAB_REGISTRY (the lab registry)"
if ! said="$(echo "$STACKCTL_LAB_REGISTRY_PASSWORD" | docker login "$STACKCTL_LAB_REGISTRY" -u lab --password-stdin 2>&1)"; then
  echo "$said" >&2
  exit 1
fi

echo "== stackctl deploy $STACK ${FILES[*]} --with-registry-auth (waits until every service converged)"
stackctl deploy "$STACK" "${FILES[@]}" --with-registry-auth --timeout 3m
echo
echo "== stackctl services $STACK"
stackctl services "$STACK"
echo
echo "== stackctl ps $STACK: where the tasks run"
stackctl ps "$STACK"
echo
down="make down"
[ "${STACKCTL_LAB_NAME:-default}" = default ] || down="stackctl lab down --name $STACKCTL_LAB_NAME"
echo "The lab is still up: export DOCKER_HOST=$DOCKER_HOST  (remove it with: $([ "$(id -u)" -eq 0 ] || printf "sudo ")$down)"
