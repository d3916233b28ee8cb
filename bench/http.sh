#!/usr/bin/env bash
# Stored decisions/s and p50/p99 of POST /v1/decisions (each a new incident, decided and stored
# before the answer) against, in the same run and under the same gunicorn configuration
# (`amends serve`'s options, worker count and class):
# - the peer (bench/peer.py): Flask, the same IncidentSchema, one durable insert per request
#   into a table of its own in the same database (SQLite: WAL, synchronous=FULL, BEGIN
#   IMMEDIATE; PostgreSQL: a schema of its own), none of the deciding. Targets: Amends >= 0.8 x
#   the peer (goal 1.0);
# - Amends' own bare JSON endpoint (GET /healthz). Target: decisions >= 0.3 x bare.
# On SQLite and on the local PostgreSQL. Each line also gives the CPU time per request, of the
# whole machine and of gunicorn alone (master and workers): on a machine this size the ratios
# are the ratios of those costs. The peer and Amends are measured in turns (warm-up, then
# Amends, peer, Amends, peer, ...) and each ratio uses the mean of its turns: this machine's
# speed drifts (by about 0.1 in the ratio over a morning), so more turns give a steadier one.
# Usage: bench/http.sh [sqlite|postgresql ...]  (env: DURATION=20s CONNECTIONS=8 WORKERS=2
# TURNS=2, PORT and PEER_PORT: free ports unless set)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-8}
WORKERS=${WORKERS:-2}
TURNS=${TURNS:-2}
if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
./dev install
# Ports of this run: free ones unless PORT / PEER_PORT say (another run of this script on the
# same machine must not be measured instead of ours).
free_ports() {
  .venv/bin/python -c 'import socket
held = [socket.socket() for _ in range(2)]
for s in held: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in held))'
}
read -r port_a port_b < <(free_ports)
PORT=${PORT:-$port_a}
PEER_PORT=${PEER_PORT:-$port_b}
port_free() {  # port_free PORT: fails when something already listens there
  .venv/bin/python -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null || {
    echo "bench: port $1 is in use (another run?); set PORT / PEER_PORT or leave them unset" >&2
    return 1; }
}
DATABASES=${*:-sqlite postgresql}

busy_ticks() {  # CPU time the whole machine spent busy (wrk and the database included)
  awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat
}

worker_ticks() {  # CPU time of the measured gunicorn's master and its workers
  local total=0 pid
  for pid in $measured $(pgrep -P "$measured"); do
    [ -r "/proc/$pid/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}

run() {  # run LABEL PID URL [wrk args]: prints "LABEL req/s p50 p99 CPU per request errors"
  local label=$1 measured=$2 url=$3; shift 3
  local out busy0 workers0 busy1 workers1
  busy0=$(busy_ticks); workers0=$(worker_ticks)
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url")
  busy1=$(busy_ticks); workers1=$(worker_ticks)
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx or 3xx responses:/ {print $5} /Socket errors/ {print}' <<<"$out")
  local requests hz
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  hz=$(getconf CLK_TCK)
  printf '  %-12s %9s req/s   p50 %8s   p99 %8s   CPU ms/request: %s all, %s gunicorn   %s\n' \
    "$label" "$rps" "$p50" "$p99" \
    "$(awk -v t=$((busy1 - busy0)) -v n="$requests" -v hz="$hz" 'BEGIN {printf "%.2f", t * 1000 / hz / n}')" \
    "$(awk -v t=$((workers1 - workers0)) -v n="$requests" -v hz="$hz" 'BEGIN {printf "%.2f", t * 1000 / hz / n}')" \
    "${errors:+errors: $errors}"
  echo "$rps" >"$results/$label"
}

wait_ready() {  # wait_ready URL PID: until URL answers (or PID is gone)
  for _ in $(seq 150); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

stop() {  # stop PID: SIGTERM to a gunicorn master we started, and wait for it
  [ -n "${1:-}" ] || return 0
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

results=$(mktemp -d)
server="" peer=""
trap 'stop "$server"; stop "$peer"; rm -rf "$results"' EXIT

ratio() {  # ratio LABEL NUMERATOR... / DENOMINATOR... TARGET: mean over mean, and the target
  awk -v label="$1" -v target="$4" -v num="$2" -v den="$3" -v dir="$results" '
    function mean(list,   n, i, parts, total, value) {
      n = split(list, parts, " "); total = 0
      for (i = 1; i <= n; i++) { getline value < (dir "/" parts[i]); close(dir "/" parts[i]); total += value }
      return total / n
    }
    BEGIN { r = mean(num) / mean(den)
            printf "  ratio %s: %.2f (target >= %s: %s)\n", label, r, target, (r >= target ? "met" : "MISSED") }'
}

for database in $DATABASES; do
  scratch=$(mktemp -d)
  if [ "$database" = postgresql ]; then
    schema="amends_bench_$$"
    peer_schema="amends_peer_$$"
    psql -q -h 127.0.0.1 -U postgres -d test -c "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" 2>/dev/null
    export AMENDS_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D$schema"
    .venv/bin/amends db upgrade >/dev/null
    peer_store=(--database-url "postgresql://postgres@127.0.0.1:5432/test" --schema "$peer_schema")
  else
    unset AMENDS_DATABASE_URL
    export AMENDS_DATA_DIR="$scratch"
    peer_store=(--data-dir "$scratch/peer")
  fi
  port_free "$PORT" && port_free "$PEER_PORT" || exit 1
  AMENDS_API_KEYS_FILE=${AMENDS_API_KEYS_FILE:-config/dev-api-keys.yaml} \
    .venv/bin/amends serve --port "$PORT" --workers "$WORKERS" >"$scratch/server.log" 2>&1 &
  server=$!
  .venv/bin/python bench/peer.py --port "$PEER_PORT" --workers "$WORKERS" "${peer_store[@]}" \
    >"$scratch/peer.log" 2>&1 &
  peer=$!
  wait_ready "http://127.0.0.1:$PORT/readyz" "$server" || { cat "$scratch/server.log"; exit 1; }
  wait_ready "http://127.0.0.1:$PEER_PORT/healthz" "$peer" || { cat "$scratch/peer.log"; exit 1; }
  echo "$database: Amends on :$PORT, peer on :$PEER_PORT; gunicorn $WORKERS sync workers, preload; wrk 2 threads, $CONNECTIONS connections, $DURATION each ($(date -u +%H:%M:%S) UTC)"
  run warmup "$server" "http://127.0.0.1:$PORT/v1/decisions" -s bench/decision.lua >/dev/null
  run warmup "$peer" "http://127.0.0.1:$PEER_PORT/v1/incidents" -s bench/decision.lua >/dev/null
  # In turns: the bare endpoint before and after, Amends and the peer once each a turn.
  run bare-json-1 "$server" "http://127.0.0.1:$PORT/healthz"
  amends_runs="" peer_runs=""
  for turn in $(seq "$TURNS"); do
    run "decisions-$turn" "$server" "http://127.0.0.1:$PORT/v1/decisions" -s bench/decision.lua
    run "peer-$turn" "$peer" "http://127.0.0.1:$PEER_PORT/v1/incidents" -s bench/decision.lua
    amends_runs="$amends_runs decisions-$turn" peer_runs="$peer_runs peer-$turn"
  done
  run bare-json-2 "$server" "http://127.0.0.1:$PORT/healthz"
  ratio "Amends decisions / peer (means of $TURNS turns)" "${amends_runs# }" "${peer_runs# }" 0.8
  ratio "Amends decisions / bare JSON (mean of before and after)" "${amends_runs# }" \
    "bare-json-1 bare-json-2" 0.3
  stored=$(.venv/bin/python - "$database" "$scratch" "${peer_schema:-}" <<'PY'
import sqlite3, sys
database, scratch, schema = sys.argv[1:]
if database == "postgresql":
    import psycopg
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test") as c:
        print(c.execute(f"SELECT count(*) FROM {schema}.peer_incidents").fetchone()[0])
else:
    print(sqlite3.connect(f"{scratch}/peer/peer.sqlite3").execute(
        "SELECT count(*) FROM peer_incidents").fetchone()[0])
PY
)
  echo "  rows the peer stored: $stored"
  stop "$server"; server=""
  stop "$peer"; peer=""
  if [ "$database" = postgresql ]; then
    psql -q -h 127.0.0.1 -U postgres -d test -c "DROP SCHEMA $schema CASCADE; DROP SCHEMA IF EXISTS $peer_schema CASCADE" 2>/dev/null
  fi
  rm -rf "$scratch"
done
