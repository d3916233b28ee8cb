#!/usr/bin/env bash
# Does a group commit pay? A prototype (bench/group_commit.patch, applied in a scratch
# worktree of HEAD; it never lands): under gunicorn's gthread worker (GC_THREADS threads a
# worker), each process's request threads hand their SQLite writes to a leader, which writes
# the batch in one transaction (a savepoint each, the same re-read under the writer lock as
# shipped) and commits once. Prints stored decisions/s and CPU per decision of HEAD as
# shipped (sync workers; this checkout) and of the prototype with 2 and 4 threads a
# worker, and the mean batch the prototype committed. (The peer's lines of the gthread runs
# are not comparable: bench/peer.py keeps one connection per worker, which threads would
# share.)
# Usage: bench/group_commit.sh  (env as bench/http.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/scratch_tree.sh
scratch_tree group_commit.patch
echo "== as shipped (this checkout), sync workers"
bench/http.sh sqlite | grep -E "^sqlite|decisions-"
for threads in 2 4; do
  echo "== prototype, gthread with $threads threads a worker"
  (cd "$tree" && GC_THREADS=$threads PYTHONPATH="$tree" bench/http.sh sqlite \
     | grep -E "decisions-|GROUPS")
done
