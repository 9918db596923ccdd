#!/usr/bin/env bash
# Install what stackctl and its lab need, only what is missing (idempotent, quick when all is there).
#   system: docker.io (dockerd, containerd, runc, docker CLI), busybox-static, iptables, iproute2,
#           openssl, util-linux (nsenter/unshare), make, python3-pip,
#           docker-registry + apache2-utils (htpasswd -B) for the lab registry,
#           openssh-server + openssh-client for ssh:// to the lab managers,
#           tmux (a terminal of a given width for the table tests)
#           age (age, age-keygen) for age-encrypted secrets (docs/secrets.md)
#           git + chromium for stackctl agent (fetch; the status page in a headless browser)
#   python: stackctl itself, editable, with the test extras
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

missing=()
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
need_pkg() {  # package [command that proves it is there anyway]
  if [ -n "${2:-}" ] && command -v "$2" >/dev/null 2>&1; then return; fi
  pkg_installed "$1" || missing+=("$1")
}

if command -v dpkg-query >/dev/null 2>&1; then
  need_pkg docker.io dockerd
  need_pkg busybox-static
  need_pkg iptables iptables
  need_pkg iproute2 ip
  need_pkg openssl openssl
  need_pkg util-linux nsenter
  need_pkg make make
  need_pkg docker-registry docker-registry
  need_pkg apache2-utils htpasswd
  need_pkg openssh-server /usr/sbin/sshd
  need_pkg openssh-client ssh
  need_pkg tmux tmux
  need_pkg age age
  need_pkg git git              # stackctl agent: fetches stack repositories; its lab tests serve them
  need_pkg chromium chromium    # the agent's status page in a headless browser (lab test)
  "$PYTHON" -m pip --version >/dev/null 2>&1 || need_pkg python3-pip
fi

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing packages: ${missing[*]} (run as root: sudo make setup)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# pip is quick when everything is satisfied, and it catches changed requirements (a check of a few
# imports did not: a new dependency or a version cap went unnoticed).
if [ "${STACKCTL_SETUP_SKIP_PIP:-}" != 1 ]; then
  echo "setup: pip install -e '.[test]'"
  PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install -q -e '.[test]'
fi
