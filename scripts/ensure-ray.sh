#!/usr/bin/env bash
# Idempotently prepare what the real-Ray tests need (test/ray/):
#   - a Python venv with ray[client]==2.58.0 at $RAY_VENV (default: <repo>/.cache/ray-venv),
#     installed from the wheel index the machine's pip config points at (the public
#     index is unreachable, so --retries 0 avoids pip's slow retries);
#   - the iproute2 (`ip netns`) and openssl CLIs, installed with apt-get when missing.
set -euo pipefail

RAY_VERSION=2.58.0
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RAY_VENV="${RAY_VENV:-$repo_root/.cache/ray-venv}"

missing=()
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if ((${#missing[@]})); then
  echo "ensure-ray: installing ${missing[*]}" >&2
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

if "$RAY_VENV/bin/ray" --version 2>/dev/null | grep -q "version $RAY_VERSION\b"; then
  echo "ensure-ray: ray $RAY_VERSION already in $RAY_VENV" >&2
  exit 0
fi

echo "ensure-ray: creating $RAY_VENV with ray[client]==$RAY_VERSION" >&2
mkdir -p "$(dirname "$RAY_VENV")"
[ -x "$RAY_VENV/bin/python" ] || python3 -m venv "$RAY_VENV"
"$RAY_VENV/bin/pip" install --retries 0 --disable-pip-version-check "ray[client]==$RAY_VERSION"
"$RAY_VENV/bin/ray" --version
