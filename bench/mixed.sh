#!/usr/bin/env bash
# The demo bot's mixed traffic against the foundation's traffic, one server, one run:
#   - foundation: greetings, help, jokes, opening hours, thanks, bye (intent + template replies)
#   - mixed: the same plus knowledge questions (full-text search over the FAQ), reminders (a
#     store write each), a booking form (slots in the context, a stored submission), the
#     wellbeing questionnaire, and feedback, each conversation going through them in turn.
# Usage: bench/mixed.sh [conversations] [messages-per-conversation]
set -euo pipefail
# The load comes from one address at machine speed: the public chat limits are for people.
export SWITCHBOARD__CHAT__REQUESTS_PER_IP_PER_SECOND=0 SWITCHBOARD__CHAT__SESSIONS_PER_IP_PER_MINUTE=0 \
  SWITCHBOARD__CHAT__MESSAGES_PER_USER_PER_SECOND=0 SWITCHBOARD__CHAT__MESSAGES_PER_TENANT_PER_SECOND=0 \
  SWITCHBOARD__CHAT__MAX_SOCKETS_PER_IP=0
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard/target}"
CONV="${1:-500}"
MSGS="${2:-16}"
BIN="$CARGO_TARGET_DIR/release/switchboard"
cargo build --release --quiet --bin switchboard
DATA="$(mktemp -d)"
PORT=18094
URL="http://127.0.0.1:$PORT"
SWITCHBOARD__LOG__LEVEL=warn "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" 2>"$DATA/serve.log" & PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 200); do curl -fsS "$URL/health" >/dev/null 2>&1 && break; sleep 0.05; done

MIXED=(
  "hello"
  "Where can guests park their car?"
  "remind me to call the bakery tomorrow at 9"
  "book a table for 2 people tomorrow at 7pm"
  "my name is Sam Example"
  "sam@example.com"
  "yes"
  "Do you have gluten-free dishes?"
  "tell me a joke"
  "list my reminders"
  "when are you open"
  "start the wellbeing check"
  "cancel"
  "I want to give feedback"
  "5"
  "thanks"
)
text_args=()
for t in "${MIXED[@]}"; do text_args+=(--text "$t"); done

report() { python3 -c "import json,sys; r=json.load(sys.stdin); print(f\"$1: {r['messages_per_s']:.0f} msg/s  p50 {r['latency_ms']['p50']:.1f} ms  p99 {r['latency_ms']['p99']:.1f} ms  errors {r['errors']} {r['error_kinds']}\")"; }
echo "== $(nproc) cores; $CONV conversations x $MSGS messages, saturation"
"$BIN" loadtest --url "$URL" --conversations 50 --messages 8 >/dev/null
for round in 1 2; do
  echo "-- round $round"
  "$BIN" loadtest --url "$URL" --conversations "$CONV" --messages "$MSGS" --json | report "foundation traffic"
  "$BIN" loadtest --url "$URL" --conversations "$CONV" --messages "$MSGS" "${text_args[@]}" --json | report "mixed demo traffic"
done
