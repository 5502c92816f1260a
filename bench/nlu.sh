#!/usr/bin/env bash
# NLU figures for BENCHMARKS.md: accuracy, out-of-scope detection, training time, latency and
# model size on CLINC150 and BANKING77 (datasets/intent/), through `switchboard nlu test`.
# Usage: bench/nlu.sh [--json]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q
bin="${CARGO_TARGET_DIR:-target}/release/switchboard"
for d in clinc150 banking77; do
  echo "== $d"
  "$bin" nlu test --data "datasets/intent/$d/$d.jsonl" "$@" | sed -n '1,12p'
done
