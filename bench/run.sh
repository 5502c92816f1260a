#!/usr/bin/env bash
# The benchmark harness behind BENCHMARKS.md. Runs, on this machine and in one go:
#   1. a bare axum endpoint (the baseline: HTTP + JSON only),
#   2. Switchboard with durable storage (synchronous = full) and with synchronous = normal,
# each driven by `switchboard loadtest` at the same concurrency; then
#   3. Switchboard's resident memory while 100,000 conversations are created and stored.
# Usage: bench/run.sh [conversations] [messages-per-conversation]
set -euo pipefail
# The load comes from one address at machine speed: the public chat limits are for people.
export SWITCHBOARD__CHAT__REQUESTS_PER_IP_PER_SECOND=0 SWITCHBOARD__CHAT__SESSIONS_PER_IP_PER_MINUTE=0 \
  SWITCHBOARD__CHAT__MESSAGES_PER_USER_PER_SECOND=0 SWITCHBOARD__CHAT__MESSAGES_PER_TENANT_PER_SECOND=0 \
  SWITCHBOARD__CHAT__MAX_SOCKETS_PER_IP=0
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard/target}"
CONV="${1:-1000}"
MSGS="${2:-20}"
BIN="$CARGO_TARGET_DIR/release/switchboard"
BARE="$CARGO_TARGET_DIR/release/examples/bare_axum"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n 8192

cargo build --release --quiet --bin switchboard --example bare_axum

wait_up() { for _ in $(seq 1 200); do curl -sS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "not up: $1" >&2; return 1; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
warm() { "$BIN" loadtest --url "$1" --conversations 50 --messages 5 >/dev/null; }
# Two loads per target: offered 5,000 messages/s (latency at a fixed rate), then saturation
# (every conversation sends as soon as it is answered: the most the target can do here).
load() {
  local url="$1" name="$2"
  echo "-- $name: offered 5000 messages/s"
  "$BIN" loadtest --url "$url" --conversations "$CONV" --messages "$MSGS" --rate 5000 --json | tee "$OUT/$name-rate5000.json"
  echo "-- $name: saturation"
  "$BIN" loadtest --url "$url" --conversations "$CONV" --messages "$MSGS" --json | tee "$OUT/$name-saturation.json"
}

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB; loadtest: $CONV conversations x $MSGS messages"

echo "== baseline: bare axum"
"$BARE" 127.0.0.1:18090 2>/dev/null & BPID=$!
wait_up http://127.0.0.1:18090/
warm http://127.0.0.1:18090
load http://127.0.0.1:18090 bare
kill $BPID 2>/dev/null || true; wait $BPID 2>/dev/null || true

for sync in full normal; do
  echo "== switchboard, synchronous = $sync"
  DATA="$OUT/data-$sync"
  SWITCHBOARD__STORE__SYNCHRONOUS=$sync SWITCHBOARD__LOG__LEVEL=warn \
    "$BIN" serve --listen 127.0.0.1:18091 --data-dir "$DATA" 2>"$OUT/serve-$sync.log" & SPID=$!
  wait_up http://127.0.0.1:18091/health
  warm http://127.0.0.1:18091
  load http://127.0.0.1:18091 "switchboard-$sync"
  echo "rss_kib_after=$(rss_kib $SPID)"
  kill -TERM $SPID; wait $SPID || true
done

echo "== memory: 100,000 conversations (2 messages each, 1,000 at once), synchronous = full"
DATA="$OUT/data-rss"
SWITCHBOARD__LOG__LEVEL=warn "$BIN" serve --listen 127.0.0.1:18092 --data-dir "$DATA" 2>"$OUT/serve-rss.log" & SPID=$!
wait_up http://127.0.0.1:18092/health
( while kill -0 $SPID 2>/dev/null; do rss_kib $SPID >> "$OUT/rss-samples.txt" 2>/dev/null || true; sleep 1; done ) & SAMPLER=$!
"$BIN" loadtest --url http://127.0.0.1:18092 --conversations 100000 --concurrency 1000 --messages 2 --json | tee "$OUT/rss-load.json"
sleep 2
echo "rss_kib_peak=$(sort -n "$OUT/rss-samples.txt" | tail -1) rss_kib_after_load=$(rss_kib $SPID) samples=$(wc -l < "$OUT/rss-samples.txt")"
echo "database: $(du -sh "$DATA" | cut -f1); conversations stored: $(sqlite3 "$DATA/switchboard.db" 'SELECT count(*) FROM conversations' 2>/dev/null || echo '?')"
kill -TERM $SPID; wait $SPID || true
kill $SAMPLER 2>/dev/null || true
echo "== results in $OUT"
