#!/usr/bin/env bash
# Where the CPU of a stored decision goes. In a scratch worktree of HEAD with
# bench/stage_costs.patch applied, POST /v1/decisions stops after each stage in turn:
#   read      the body parsed and the key checked
#   validated + marshmallow and the policy's vocabulary
#   decided   + engine, decision core and presentation (nothing stored)
#   stored    + the durable write (the real endpoint)
# and bench/http.sh measures each against the bare JSON endpoint. The patch never lands.
# Usage: bench/stage_costs.sh [sqlite|postgresql]  (env as bench/http.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/scratch_tree.sh
scratch_tree stage_costs.patch
for stage in read validated decided stored; do
  echo "== stage: $stage"
  # The patched tree comes first on the path, ahead of the editable install of this one.
  (cd "$tree" && STAGE=$stage PYTHONPATH="$tree" bench/http.sh "${1:-sqlite}" | grep -v '^sqlite\|^postgresql')
done
