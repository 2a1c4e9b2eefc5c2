#!/usr/bin/env bash
# Builds the Lambda bootstrap for arm64 (template.yaml: provided.al2023, Architectures [arm64]) with
# `cargo lambda build --release --arm64` and checks that the result is an aarch64 ELF executable.
# cargo-lambda (pip, in .venv) cross-compiles with zig, so the venv's python3 (the one with the
# ziglang package) must come first on PATH. Run scripts/setup.sh first (scripts/test.sh does).
#
# Output: target/lambda/maxcompute-kafka-sink/bootstrap
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
step() { printf '==> %s\n' "$*"; }
die() { printf 'build-lambda: %s\n' "$*" >&2; exit 1; }

venv="$root/.venv"
[ -x "$venv/bin/cargo-lambda" ] || die "cargo-lambda is not in .venv; run scripts/setup.sh first"
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
  || die "Rust target aarch64-unknown-linux-gnu is missing; run scripts/setup.sh first"
export PATH="$venv/bin:$PATH"
python3 -c 'import ziglang' 2>/dev/null || die "python3 first on PATH has no ziglang"

bin=maxcompute-kafka-sink
out="$root/target/lambda/$bin/bootstrap"

step "cargo lambda build --release --arm64 --bin $bin ($(cargo lambda --version))"
start=$(date +%s)
cargo lambda build --release --arm64 --bin "$bin"
step "built in $(( $(date +%s) - start )) s"

[ -f "$out" ] || die "expected $out after the build"
# Check the ELF header directly (no dependency on file(1)): magic, 64-bit class, little endian,
# e_machine = 183 (EM_AARCH64).
header=$(od -An -tx1 -N20 "$out" | tr -d ' \n')
magic=${header:0:8}; class=${header:8:2}; data=${header:10:2}; machine=${header:36:4}
[ "$magic" = 7f454c46 ] || die "$out is not an ELF file"
[ "$class" = 02 ] && [ "$data" = 01 ] || die "$out is not a 64-bit little-endian ELF"
[ "$machine" = b700 ] || die "$out is not an aarch64 binary (e_machine bytes $machine)"
step "ok: $out is an aarch64 ELF ($(du -h "$out" | cut -f1))"
