#!/usr/bin/env bash
# The main job, end to end: a 3-node lab swarm, the AtSea shop's secrets, the AtSea stack deployed,
# and where each of its tasks runs. The lab stays up afterwards: `sudo make down` removes it.
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

echo "== deploy $FILE as stack '$STACK'"
# For now the reference deployer; to become: stackctl deploy "$STACK" -c "$FILE"
docker stack deploy --resolve-image never -c "$FILE" "$STACK"

echo "== waiting for every service to have its replicas running"
for _ in $(seq 1 90); do
  pending=$(docker stack services "$STACK" --format '{{.Replicas}}' | awk -F'[/ ]' '$1 != $2' | wc -l)
  [ "$pending" -eq 0 ] && break
  sleep 1
done
docker stack services "$STACK"
echo
echo "== where the tasks run"
docker stack ps "$STACK" --filter desired-state=running \
  --format 'table {{.Name}}\t{{.Node}}\t{{.CurrentState}}\t{{.Error}}'
echo
echo "The lab is still up: export DOCKER_HOST=$DOCKER_HOST  (remove it with: sudo make down)"
[ "$pending" -eq 0 ]
