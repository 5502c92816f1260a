#!/usr/bin/env bash
# Web chat end to end on SQLite and on PostgreSQL, in one run, same load: BENCHMARKS.md
# "SQLite and PostgreSQL". For each store: offered 2,000 messages/s (latency at a fixed rate),
# then saturation, each with the Switchboard server's CPU time (user + system) per 1,000
# messages and, for PostgreSQL, the database server's too.
# Usage: bench/postgres.sh [conversations] [messages-per-conversation]
# PostgreSQL: SWITCHBOARD_BENCH_POSTGRES (a server URL without database), default the local one.
set -euo pipefail
export SWITCHBOARD__CHAT__REQUESTS_PER_IP_PER_SECOND=0 SWITCHBOARD__CHAT__SESSIONS_PER_IP_PER_MINUTE=0 \
  SWITCHBOARD__CHAT__MESSAGES_PER_USER_PER_SECOND=0 SWITCHBOARD__CHAT__MESSAGES_PER_TENANT_PER_SECOND=0 \
  SWITCHBOARD__CHAT__MAX_SOCKETS_PER_IP=0 SWITCHBOARD__LOG__LEVEL=warn
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard/target}"
CONV="${1:-1000}"
MSGS="${2:-20}"
PG="${SWITCHBOARD_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
BIN="$CARGO_TARGET_DIR/release/switchboard"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n 8192
cargo build --release --quiet --bin switchboard

TICK="$(getconf CLK_TCK)"
wait_up() { for _ in $(seq 1 300); do curl -sS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "not up: $1" >&2; return 1; }
# CPU ticks (user + system) of one process, and of every PostgreSQL server process.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_ticks() {
  local sum=0 p
  for p in $(pgrep -x postgres 2>/dev/null || true); do
    sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$sum"
}
# Runs one load and prints its JSON with the CPU figures added.
measure() {
  local pid="$1" name="$2"; shift 2
  local t0 p0 t1 p1
  t0="$(ticks "$pid")"; p0="$(pg_ticks)"
  "$BIN" loadtest --url http://127.0.0.1:18093 --conversations "$CONV" --messages "$MSGS" --json "$@" > "$OUT/$name.json" || true  # errors are part of the figures
  t1="$(ticks "$pid")"; p1="$(pg_ticks)"
  python3 - "$OUT/$name.json" "$name" "$((t1 - t0))" "$((p1 - p0))" "$TICK" <<'PY'
import json, sys
path, name, server, pg, tick = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
r = json.load(open(path))
n = max(r.get("answered", 0), 1)
r["name"] = name
r["server_cpu_s_per_1000"] = round(server / tick / n * 1000, 4)
if name.startswith("postgres"):
    r["postgres_cpu_s_per_1000"] = round(pg / tick / n * 1000, 4)
json.dump(r, open(path, "w"))
print(json.dumps(r))
PY
}

echo "== machine: $(nproc) cores; loadtest: $CONV conversations x $MSGS messages"
for store in sqlite postgres; do
  DATA="$OUT/data-$store"
  if [ "$store" = postgres ]; then
    db="switchboard_bench_$$"
    psql "$PG/postgres" -qc "CREATE DATABASE $db" >/dev/null
    url="$PG/$db"
  else
    url="sqlite://$DATA/switchboard.db"
  fi
  echo "== switchboard on $store"
  "$BIN" serve --listen 127.0.0.1:18093 --data-dir "$DATA" --store "$url" 2>"$OUT/serve-$store.log" & SPID=$!
  wait_up http://127.0.0.1:18093/health
  "$BIN" loadtest --url http://127.0.0.1:18093 --conversations 50 --messages 5 >/dev/null
  measure $SPID "$store-rate2000" --rate 2000
  measure $SPID "$store-saturation"
  kill -TERM $SPID; wait $SPID || true
  if [ "$store" = postgres ]; then psql "$PG/postgres" -qc "DROP DATABASE $db" >/dev/null; fi
done
echo "== results in $OUT"
