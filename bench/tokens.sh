#!/usr/bin/env bash
# Usage: bench/tokens.sh <switchboard binary before> <switchboard binary after>
# (each built with `cargo build --release` at the commit to compare).
# Alternating comparison: web chat POST end to end, SQLite synchronous=full, server on core 0, client on core 1.
set -euo pipefail
run() { # label binary port extra-env...
  local label=$1 bin=$2 port=$3; shift 3
  local data; data=$(mktemp -d)
  env "$@" SWITCHBOARD__LOG__LEVEL=warn taskset -c 0 "$bin" serve --listen 127.0.0.1:$port --data-dir "$data" 2>"$data/log" & local pid=$!
  for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.05; done
  taskset -c 1 "$bin" loadtest --url "http://127.0.0.1:$port" --conversations 50 --messages 4 >/dev/null
  local cpu0; cpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
  local out; out=$(taskset -c 1 "$bin" loadtest --url "http://127.0.0.1:$port" --conversations 200 --messages 25 --json)
  local cpu1; cpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
  kill $pid; wait $pid 2>/dev/null || true; rm -rf "$data"
  python3 -c "import json,sys; r=json.loads(sys.argv[1]); n=r['messages_sent']; print(f\"$label: {r['messages_per_s']:.0f} msg/s  p50 {r['latency_ms']['p50']:.1f} ms  p99 {r['latency_ms']['p99']:.1f} ms  errors {r['errors']}  server CPU {(int(sys.argv[2])-int(sys.argv[3]))*10/n*1000:.0f} ms per 1000 msgs\")" "$out" "$cpu1" "$cpu0"
}
OFF=(SWITCHBOARD__CHAT__REQUESTS_PER_IP_PER_SECOND=0 SWITCHBOARD__CHAT__SESSIONS_PER_IP_PER_MINUTE=0 SWITCHBOARD__CHAT__MESSAGES_PER_USER_PER_SECOND=0 SWITCHBOARD__CHAT__MESSAGES_PER_TENANT_PER_SECOND=0)
HIGH=(SWITCHBOARD__CHAT__REQUESTS_PER_IP_PER_SECOND=1000000 SWITCHBOARD__CHAT__SESSIONS_PER_IP_PER_MINUTE=1000000 SWITCHBOARD__CHAT__MESSAGES_PER_USER_PER_SECOND=1000000 SWITCHBOARD__CHAT__MESSAGES_PER_TENANT_PER_SECOND=1000000)
for round in 1 2; do
  echo "-- round $round"
  run "before (59ba292, user id in the body)   " "$1" 18701 X=1
  run "after (chat token, limits off)           " "$2" 18702 "${OFF[@]}"
  run "after (chat token, limits on, not reached)" "$2" 18703 "${HIGH[@]}"
done
