#!/usr/bin/env bash
# How much a group commit could give at most: stored decisions/s of the same server with
# commits that wait for the disk (as shipped) and with commits that do not (SQLite
# `synchronous=NORMAL` in a scratch worktree of HEAD; PostgreSQL `synchronous_commit=off` for
# the session). A group commit still waits for the disk, once for several decisions, so it
# can at most close the gap between the two. The relaxed server never ships: it would lose
# acknowledged decisions on a power cut.
# Usage: bench/commit_bound.sh [sqlite|postgresql ...]  (env: DURATION=8s ROUNDS=2 WORKERS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-8s}
ROUNDS=${ROUNDS:-2}
WORKERS=${WORKERS:-2}
./dev install >/dev/null
here=$PWD
port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
scratch=$(mktemp -d)
relaxed=$(mktemp -d)
git worktree add -q --detach "$relaxed" HEAD
trap 'git worktree remove --force "$relaxed"; rm -rf "$scratch"' EXIT
sed -i 's/PRAGMA synchronous=FULL/PRAGMA synchronous=NORMAL/' "$relaxed/service/store/database.py"
grep -q "synchronous=NORMAL" "$relaxed/service/store/database.py"

measure() {  # measure LABEL TREE URL: prints LABEL and stored decisions/s
  local label=$1 tree=$2 url=$3 server
  export AMENDS_DATABASE_URL=$url AMENDS_API_KEYS_FILE=$here/config/dev-api-keys.yaml
  PYTHONPATH=$tree .venv/bin/amends db upgrade >/dev/null 2>&1
  PYTHONPATH=$tree .venv/bin/amends serve --port "$port" --workers "$WORKERS" \
    >"$scratch/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -sf "localhost:$port/healthz" >/dev/null && break; sleep 0.2; done
  wrk -t2 -c8 -d2s -s bench/decision.lua "http://127.0.0.1:$port/v1/decisions" >/dev/null
  printf '  %-40s %s\n' "$label" "$(wrk -t2 -c8 -d"$DURATION" -s bench/decision.lua \
    "http://127.0.0.1:$port/v1/decisions" | awk '/Requests\/sec/ {print $2 " decisions/s"}')"
  kill "$server"; wait "$server" 2>/dev/null || true
}

for database in ${*:-sqlite postgresql}; do
  echo "$database: gunicorn $WORKERS sync workers, wrk 2 threads, 8 connections, $DURATION each ($(date -u +%H:%M) UTC)"
  for round in $(seq "$ROUNDS"); do
    if [ "$database" = sqlite ]; then
      rm -f "$scratch"/durable.db* "$scratch"/relaxed.db*
      measure "durable (synchronous=FULL)" "$here" "sqlite:///$scratch/durable.db"
      measure "relaxed (synchronous=NORMAL)" "$relaxed" "sqlite:///$scratch/relaxed.db"
    else
      for schema in amends_durable_$$ amends_relaxed_$$; do
        psql -q -h 127.0.0.1 -U postgres -d test \
          -c "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" 2>/dev/null
      done
      base="postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D"
      measure "durable (synchronous_commit=on)" "$here" "${base}amends_durable_$$"
      measure "relaxed (synchronous_commit=off)" "$here" \
        "${base}amends_relaxed_$$%20-csynchronous_commit%3Doff"
      psql -q -h 127.0.0.1 -U postgres -d test -c \
        "DROP SCHEMA amends_durable_$$ CASCADE; DROP SCHEMA amends_relaxed_$$ CASCADE" 2>/dev/null
    fi
  done
done
