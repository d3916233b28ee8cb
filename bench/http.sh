#!/usr/bin/env bash
# Decisions/s and p50/p99 of POST /v1/decisions (each a new incident, stored) against a bare
# JSON endpoint (GET /healthz), under the same gunicorn configuration (`amends serve`), in one
# run, and their ratio; on SQLite and on the local PostgreSQL. Target: ratio >= 0.5.
# Each line also gives the CPU time per request, of the whole machine and of gunicorn alone:
# on a machine this size the ratio is the ratio of those costs.
# Usage: bench/http.sh [sqlite|postgresql ...]  (env: DURATION=20s CONNECTIONS=8 WORKERS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-8}
WORKERS=${WORKERS:-2}
PORT=${PORT:-8790}
if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
./dev install
DATABASES=${*:-sqlite postgresql}

busy_ticks() {  # CPU time the whole machine spent busy (wrk and the database included)
  awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat
}

worker_ticks() {  # CPU time of the gunicorn master and its workers
  local total=0 pid
  for pid in $server $(pgrep -P "$server"); do
    [ -r "/proc/$pid/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}

run() {  # run LABEL URL [wrk args]: prints "LABEL req/s p50 p99 CPU per request errors"
  local label=$1 url=$2; shift 2
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
  printf '  %-10s %9s req/s   p50 %8s   p99 %8s   CPU ms/request: %s all, %s gunicorn   %s\n' \
    "$label" "$rps" "$p50" "$p99" \
    "$(awk -v t=$((busy1 - busy0)) -v n="$requests" -v hz="$hz" 'BEGIN {printf "%.2f", t * 1000 / hz / n}')" \
    "$(awk -v t=$((workers1 - workers0)) -v n="$requests" -v hz="$hz" 'BEGIN {printf "%.2f", t * 1000 / hz / n}')" \
    "${errors:+errors: $errors}"
  echo "$rps" >"/tmp/amends-bench-$label"
}

for database in $DATABASES; do
  scratch=$(mktemp -d)
  if [ "$database" = postgresql ]; then
    schema="amends_bench_$$"
    psql -q -h 127.0.0.1 -U postgres -d test -c "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" 2>/dev/null
    export AMENDS_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D$schema"
    .venv/bin/amends db upgrade >/dev/null
  else
    unset AMENDS_DATABASE_URL
    export AMENDS_DATA_DIR="$scratch"
  fi
  AMENDS_API_KEYS_FILE=${AMENDS_API_KEYS_FILE:-config/dev-api-keys.yaml} \
    .venv/bin/amends serve --port "$PORT" --workers "$WORKERS" >"$scratch/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.2
  done
  echo "$database: gunicorn $WORKERS sync workers, preload; wrk 2 threads, $CONNECTIONS connections, $DURATION each"
  run warmup "http://127.0.0.1:$PORT/v1/decisions" -s bench/decision.lua >/dev/null
  # The bare endpoint before and after: this machine's speed drifts, and the ratio uses both.
  run bare-json "http://127.0.0.1:$PORT/healthz"
  mv /tmp/amends-bench-bare-json /tmp/amends-bench-bare-before
  run decisions "http://127.0.0.1:$PORT/v1/decisions" -s bench/decision.lua
  run bare-json "http://127.0.0.1:$PORT/healthz"
  awk -v d="$(cat /tmp/amends-bench-decisions)" -v b1="$(cat /tmp/amends-bench-bare-before)" \
    -v b2="$(cat /tmp/amends-bench-bare-json)" \
    'BEGIN { r = d / ((b1 + b2) / 2); printf "  ratio decisions / bare JSON (mean of before and after): %.2f (target >= 0.5: %s)\n", r, (r >= 0.5 ? "met" : "MISSED") }'
  kill "$server"; wait "$server" 2>/dev/null || true
  if [ "$database" = postgresql ]; then
    psql -q -h 127.0.0.1 -U postgres -d test -c "DROP SCHEMA $schema CASCADE" 2>/dev/null
  fi
  rm -rf "$scratch"
done
