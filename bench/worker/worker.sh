#!/bin/sh
# bench/worker/worker.sh - the worker's numbers for BENCHMARKS.md, one JSON
# line each, on the local stack (dev broker, Redis, AI simulator) that the
# integration tests start on loopback ports.
#
#   bench/worker/worker.sh [BUILD_DIR]
#
# 1. throughput: 20,000 reports already waiting, AI latency 0, default cap;
# 2. holding: 1,000 / 6,000 reports at a 1.5 s median AI latency (aisim
#    --latency-ms 1500) with --max-in-flight 64 (default) and 1000: the peak
#    in-flight count and RSS.
# Each run gives the worker --max-connections 3 x --max-in-flight (three
# analyses per report in parallel).
set -eu
build=${1:-build}
bin=$build/bin/test_worker
[ -x "$bin" ] || { echo "error: $bin not built" >&2; exit 1; }
"$bin" bench 20000 0 64
"$bin" bench 1000 1500 64
"$bin" bench 6000 1500 1000
