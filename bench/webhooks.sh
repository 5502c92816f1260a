#!/usr/bin/env bash
# Webhook acknowledgement latency per channel, and outbound sends through the pacing, against
# a fake platform API (examples/bare_axum.rs answers every API call as accepted).
# Usage: bench/webhooks.sh [conversations] [messages-per-conversation] [channel...]
#   channels: telegram whatsapp slack messenger twilio signal (default: all)
#   WAIT_SENDS=0 skips waiting for the paced replies (acknowledgements only).
set -euo pipefail
# The load comes from one address at machine speed: the public chat limits are for people.
export SWITCHBOARD__CHAT__REQUESTS_PER_IP_PER_SECOND=0 SWITCHBOARD__CHAT__SESSIONS_PER_IP_PER_MINUTE=0 \
  SWITCHBOARD__CHAT__MESSAGES_PER_USER_PER_SECOND=0 SWITCHBOARD__CHAT__MESSAGES_PER_TENANT_PER_SECOND=0 \
  SWITCHBOARD__CHAT__MAX_SOCKETS_PER_IP=0
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard/target}"
CONV="${1:-500}"
MSGS="${2:-10}"
shift 2 2>/dev/null || shift $#
CHANNELS="${*:-telegram whatsapp slack messenger twilio signal}"
WAIT_SENDS="${WAIT_SENDS:-1}"
BIN="$CARGO_TARGET_DIR/release/switchboard"
FAKE="$CARGO_TARGET_DIR/release/examples/bare_axum"
DATA="$(mktemp -d)"
ulimit -n 65536 2>/dev/null || true
cargo build --release --quiet --bin switchboard --example bare_axum
"$FAKE" 127.0.0.1:18190 2>/dev/null & FPID=$!
# The load comes from one address as fast as it can go: the webhook rate limits are off here.
# /metrics, read below, is on its own private address.
SWITCHBOARD__LOG__LEVEL=warn SWITCHBOARD__WEBHOOKS__PER_IP_PER_SECOND=0 SWITCHBOARD__WEBHOOKS__PER_TENANT_PER_SECOND=0 \
  SWITCHBOARD__METRICS__LISTEN=127.0.0.1:18192 \
  "$BIN" serve --listen 127.0.0.1:18191 --data-dir "$DATA" 2>"$DATA/serve.log" & SPID=$!
trap 'kill $SPID $FPID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:18191/health >/dev/null 2>&1 && break; sleep 0.1; done
api="api_base=http://127.0.0.1:18190"
"$BIN" --data-dir "$DATA" connector add --tenant demo --id tg --channel telegram --account-id 1 \
  --secret bot_token=1:x --secret webhook_secret=s3cret --setting "$api" >/dev/null
"$BIN" --data-dir "$DATA" connector add --tenant demo --id wa --channel whatsapp --account-id 555 \
  --secret access_token=x --secret app_secret=s3cret --secret verify_token=v --setting "$api" >/dev/null
"$BIN" --data-dir "$DATA" connector add --tenant demo --id sl --channel slack --account-id T1 \
  --secret bot_token=x --secret signing_secret=s3cret --setting "$api" >/dev/null
"$BIN" --data-dir "$DATA" connector add --tenant demo --id ms --channel messenger --account-id 4000000001 \
  --secret page_token=x --secret app_secret=s3cret --secret verify_token=v --setting "$api" >/dev/null
"$BIN" --data-dir "$DATA" connector add --tenant demo --id tw --channel twilio --account-id AC1 \
  --secret auth_token=s3cret --setting "$api" >/dev/null
"$BIN" --data-dir "$DATA" connector add --tenant demo --id sg --channel signal --account-id +15550002222 \
  --secret shared_secret=s3cret --setting "$api" >/dev/null
# Discord signs with Ed25519: the RFC 8032 test-1 key pair (seed for the load generator).
"$BIN" --data-dir "$DATA" connector add --tenant demo --id dc --channel discord --account-id 1300000000000000001 \
  --secret bot_token=x --secret public_key=d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a \
  --setting "$api" >/dev/null
sent() { curl -fsS http://127.0.0.1:18192/metrics | awk -v ch="$1" '$0 ~ "direction=\"out\"" && $0 ~ "channel=\""ch"\"" && $0 ~ "status=\"sent\"" {s+=$2} END {print s+0}'; }
declare -A ID=([telegram]=tg [whatsapp]=wa [slack]=sl [messenger]=ms [twilio]=tw [signal]=sg [discord]=dc)
declare -A ACCOUNT=([telegram]=1 [whatsapp]=555 [slack]=T1 [messenger]=4000000001 [twilio]=AC1 [signal]=+15550002222 [discord]=1300000000000000001)
declare -A SECRET=([discord]=9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60)
for ch in $CHANNELS; do
  set -- "$ch" "${ID[$ch]}" "${ACCOUNT[$ch]}"
  echo "== $1: webhook acknowledgements, $CONV conversations x $MSGS messages"
  "$BIN" loadtest --url http://127.0.0.1:18191 --conversations "$CONV" --messages "$MSGS" \
    --webhook "$1" --connector "$2" --secret "${SECRET[$1]:-s3cret}" --account-id "$3"
  [ "$WAIT_SENDS" = 1 ] || continue
  before=$(sent "$1"); start=$(date +%s.%N)
  target=$((CONV * MSGS))
  for _ in $(seq 1 600); do
    now=$(sent "$1"); [ "$now" -ge "$target" ] && break; sleep 0.5
  done
  end=$(date +%s.%N)
  echo "$1: replies sent to the fake API: $(sent "$1") of $target in $(echo "$end - $start" | bc) s after the last acknowledgement (paced at 1/s per chat after a burst of 3)"
done
