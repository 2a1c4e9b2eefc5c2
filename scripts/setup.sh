#!/usr/bin/env bash
# Installs, idempotently, everything the tests and the local demo need on a fresh Debian machine:
# Debian packages, a Python venv (.venv) with the pinned referee tools, and the Rust workspace's
# dependencies. Safe to re-run; each step is skipped when already satisfied.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
step() { printf '==> %s\n' "$*"; }

# cmake builds the bundled librdkafka (rdkafka's `cmake-build` feature); perl and make build the
# vendored OpenSSL that the error-topic producer needs for SASL_SSL/SSL clusters.
apt_packages=(python3-venv cmake perl make)
missing=()
for pkg in "${apt_packages[@]}"; do
  # python3-venv is only needed where the interpreter lacks the venv module (Debian's own python3).
  if [ "$pkg" = python3-venv ] && python3 -c 'import venv, ensurepip' 2>/dev/null; then
    continue
  fi
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
else
  step "Debian packages: nothing to install"
fi

if [ ! -x "$venv/bin/python" ]; then
  step "creating Python venv at .venv"
  python3 -m venv "$venv"
fi

requirements="$root/scripts/requirements-test.txt"
stamp="$venv/.requirements.sha256"
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  step "installing Python packages from scripts/requirements-test.txt"
  "$venv/bin/pip" install --disable-pip-version-check -q -r "$requirements"
  echo "$wanted" > "$stamp"
else
  step "Python packages up to date"
fi

# The Lambda runs on arm64 (template.yaml); cargo-lambda cross-compiles with zig but needs the
# Rust standard library for the target (scripts/build-lambda.sh).
if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  step "Rust target aarch64-unknown-linux-gnu present"
else
  step "adding Rust target aarch64-unknown-linux-gnu"
  rustup target add aarch64-unknown-linux-gnu
fi

step "fetching Rust dependencies"
(cd "$root" && cargo fetch --locked 2>/dev/null || cargo fetch)
step "setup done"
