#!/usr/bin/env bash
# Runs every test of the project: formatting and lint gates, the Rust workspace tests (unit,
# integration, known-answer, property and pyodps cross-checks), and the pytest conformance suite
# that drives the MaxCompute emulator with pyodps. Installs what it needs first (scripts/setup.sh).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
step() { printf '==> %s\n' "$*"; }

bash scripts/setup.sh

export MC_PYTHON="$root/.venv/bin/python"

step "template.yaml: cfn-lint and sam validate (offline, no AWS credentials)"
bash scripts/validate-template.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test (workspace)"
cargo test --workspace

pytest_dirs=()
for dir in crates/*/tests/pyodps tests/pyodps; do
  if compgen -G "$dir/test_*.py" > /dev/null; then pytest_dirs+=("$dir"); fi
done
if [ ${#pytest_dirs[@]} -gt 0 ]; then
  step "building mc-emulator for the pytest conformance suite"
  cargo build -p maxcompute-emulator --bins
  export MC_EMULATOR_BIN="$root/target/debug/mc-emulator"
  step "pytest ${pytest_dirs[*]}"
  "$root/.venv/bin/python" -m pytest -q "${pytest_dirs[@]}"
fi
step "cargo lambda build --release --arm64 (the deployable bootstrap, aarch64 ELF check)"
bash scripts/build-lambda.sh

step "all tests passed"
