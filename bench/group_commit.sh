#!/usr/bin/env bash
# Does a group commit pay? A prototype (bench/group_commit.patch, applied in a scratch
# worktree of HEAD; it never lands): under gunicorn's gthread worker (GC_THREADS threads a
# worker), each process's request threads hand their SQLite writes to a leader, which writes
# the batch in one transaction (a savepoint each, the same re-read under the writer lock as
# shipped) and commits once. Prints stored decisions/s and CPU per decision of HEAD as
# shipped (sync workers; this checkout) and of the prototype with 2 and 4 threads a worker, and the mean
# batch the prototype committed. (The peer's lines of the gthread runs are not comparable:
# bench/peer.py keeps one connection per worker, which threads would share.)
# Usage: bench/group_commit.sh  (env as bench/http.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
./dev install
# The scratch tree shares this .venv: with another pyproject.toml its bench/http.sh would
# reinstall the venv from the scratch tree.
git diff --quiet HEAD -- pyproject.toml || { echo "bench: commit pyproject.toml first" >&2; exit 1; }
tree=$(mktemp -d)
git worktree add -q --detach "$tree" HEAD
trap 'git worktree remove --force "$tree"' EXIT
git -C "$tree" apply "$PWD/bench/group_commit.patch"
ln -s "$PWD/.venv" "$tree/.venv"
echo "== as shipped (this checkout), sync workers"
bench/http.sh sqlite | grep -E "^sqlite|decisions-"
for threads in 2 4; do
  echo "== prototype, gthread with $threads threads a worker"
  (cd "$tree" && GC_THREADS=$threads PYTHONPATH="$tree" bench/http.sh sqlite \
     | grep -E "decisions-|GROUPS")
done
