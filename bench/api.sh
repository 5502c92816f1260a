#!/usr/bin/env bash
# Authenticated management API throughput against the unauthenticated path, in one run on one
# server: the same messages read through
#   - the public web chat history   GET /v1/chat/demo/conversations/{id}/messages   (a chat token)
#   - the management API            GET /v1/tenants/demo/conversations/{id}/messages
#     with an API key (SHA-256 lookup) and with a JWT access token (HS256 + the person's row).
# Each is driven by `switchboard loadtest --get` at the same concurrency, twice, alternating.
# Usage: bench/api.sh [connections] [requests-per-connection]
set -euo pipefail
# The load comes from one address at machine speed: the public chat limits are for people.
export SWITCHBOARD__CHAT__REQUESTS_PER_IP_PER_SECOND=0 SWITCHBOARD__CHAT__SESSIONS_PER_IP_PER_MINUTE=0 \
  SWITCHBOARD__CHAT__MESSAGES_PER_USER_PER_SECOND=0 SWITCHBOARD__CHAT__MESSAGES_PER_TENANT_PER_SECOND=0 \
  SWITCHBOARD__CHAT__MAX_SOCKETS_PER_IP=0
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard/target}"
CONN="${1:-50}"
REQS="${2:-400}"
BIN="$CARGO_TARGET_DIR/release/switchboard"
cargo build --release --quiet --bin switchboard
DATA="$(mktemp -d)"
PORT=18093
URL="http://127.0.0.1:$PORT"
SWITCHBOARD__AUTH__API_PER_SECOND=1000000 SWITCHBOARD__LOG__LEVEL=warn \
  "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" 2>"$DATA/serve.log" & PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 200); do curl -fsS "$URL/health" >/dev/null 2>&1 && break; sleep 0.05; done

PASSWORD='benchmark passphrase 1'
echo "$PASSWORD" | "$BIN" --data-dir "$DATA" user create --email bench@example.com --name Bench --role super_admin >/dev/null
KEY="$("$BIN" --data-dir "$DATA" apikey create --tenant demo --name bench --scope read)"
JWT="$(curl -fsS -X POST "$URL/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"bench@example.com\",\"password\":\"$PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
CHAT="$(curl -fsS -X POST "$URL/v1/chat/demo/sessions" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
CONV=""
for text in hello "what can you do" "tell me a joke" "when are you open" thanks; do
  CONV="$(curl -fsS -X POST "$URL/v1/chat/demo/messages" -H 'content-type: application/json' \
    -H "authorization: Bearer $CHAT" \
    -d "{\"text\":\"$text\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["conversation_id"])')"
done
PUBLIC="/v1/chat/demo/conversations/$CONV/messages?limit=10"
MANAGED="/v1/tenants/demo/conversations/$CONV/messages?limit=10"

run() { # name path [token]
  local args=(loadtest --url "$URL" --conversations "$CONN" --messages "$REQS" --get "$2" --json)
  [ -n "${3:-}" ] && args+=(--bearer "$3")
  "$BIN" "${args[@]}" | python3 -c "import json,sys; r=json.load(sys.stdin); print(f\"$1: {r['messages_per_s']:.0f} req/s  p50 {r['latency_ms']['p50']:.2f} ms  p99 {r['latency_ms']['p99']:.2f} ms  errors {r['errors']}\")"
}
echo "== $(nproc) cores; $CONN connections x $REQS requests each"
run warmup "$PUBLIC" "$CHAT" >/dev/null
for round in 1 2; do
  echo "-- round $round"
  run "chat token (web chat history)     " "$PUBLIC" "$CHAT"
  run "API key                           " "$MANAGED" "$KEY"
  run "JWT access token                  " "$MANAGED" "$JWT"
done
