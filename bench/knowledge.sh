#!/usr/bin/env bash
# Knowledge retrieval figures for BENCHMARKS.md: index build time and search latency (p50/p99)
# over a generated base of 10,000 passages, through `switchboard kb bench`.
# Usage: bench/knowledge.sh [--passages N] [--queries N] [--json]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q
bin="${CARGO_TARGET_DIR:-target}/release/switchboard"
"$bin" kb bench "$@"
