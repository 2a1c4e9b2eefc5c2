#!/usr/bin/env bash
# Validates template.yaml with both checkers, offline and without AWS credentials: cfn-lint checks
# resource schemas and intrinsic functions, `sam validate` checks the SAM transform (each catches
# mistakes the other misses). Then scripts/template_branches.py renders every condition branch
# (each option of the trigger and its IAM), asserts what it creates, checks the Rules, and runs
# both checkers on each render. Needs the venv from scripts/setup.sh.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bin="$root/.venv/bin"
for tool in cfn-lint sam python; do
  if [ ! -x "$bin/$tool" ]; then
    echo "error: $bin/$tool is missing; run scripts/setup.sh (it installs scripts/requirements-test.txt)" >&2
    exit 1
  fi
done

# No credentials or profile may leak into the check, and nothing is sent home.
export SAM_CLI_TELEMETRY=0 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE

"$bin/cfn-lint" template.yaml
"$bin/sam" validate --template-file template.yaml --region us-east-1
"$bin/python" scripts/template_branches.py
