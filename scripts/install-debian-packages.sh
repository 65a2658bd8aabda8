#!/usr/bin/env bash
# Installs Debian packages with apt-get, for the setup scripts (setup-test-deps.sh, setup-e2e.sh):
#   bash scripts/install-debian-packages.sh <who> [package…]
# The caller passes only the packages it found missing, so with none this does nothing (and a
# machine that has everything needs neither apt nor root). As root it runs apt-get itself,
# otherwise through sudo. <who> prefixes the message, so the log says which setup asked.
set -euo pipefail

who="${1:?usage: install-debian-packages.sh <who> [package…]}"
shift
[ $# -gt 0 ] || exit 0

echo "$who: installing $* (Debian packages)" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "$who: installing $* needs root: run this as root, or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
