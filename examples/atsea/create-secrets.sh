#!/usr/bin/env bash
# Create the four external secrets the AtSea stack expects (idempotent; values are never printed).
#   revprox_cert, revprox_key  a self-signed TLS certificate and key (openssl)
#   postgres_password          a random password
#   staging_token              a random payment-gateway token
# Talks to $DOCKER_HOST, or to the stackctl lab's manager when DOCKER_HOST is unset.
set -euo pipefail

export DOCKER_HOST="${DOCKER_HOST:-unix:///run/stackctl-lab/mgr-1/docker.sock}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

have() { docker secret inspect "$1" >/dev/null 2>&1; }

if ! have revprox_cert || ! have revprox_key; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=atsea.lab" \
    -keyout "$work/revprox_key" -out "$work/revprox_cert" >/dev/null 2>&1
fi
openssl rand -hex 16 >"$work/postgres_password"
openssl rand -hex 24 >"$work/staging_token"

for name in revprox_cert revprox_key postgres_password staging_token; do
  if have "$name"; then
    echo "secret $name: exists"
  else
    docker secret create "$name" "$work/$name" >/dev/null
    echo "secret $name: created"
  fi
done
