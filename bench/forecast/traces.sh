#!/bin/sh
# bench/forecast/traces.sh - forecast accuracy and backtest on every
# recorded trace, one JSON line per (trace, kind) on stdout. The numbers of
# BENCHMARKS.md "## Autoscaler" come from this script.
#
#   bench/forecast/traces.sh [BUILD_DIR] [TRACES_DIR]
#
# The backtest scenario is the same for every trace: the worker rate is set
# so that the trace's busiest step needs 20 workers (rate = peak / 20), with
# 32 partitions, --max 32, a 60 s start-up, a 60 s SLO and 0.05 USD per
# worker-hour. The peak comes from a first run's CSV (arrivals_per_s).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
traces=${2:-$here/../../../shared/data/traces}
bin=$build/bin/bountyfleet-autoscaler
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for trace in "$traces"/*.csv; do
    name=$(basename "$trace" .csv)
    printf '{"trace":"%s","kind":"forecast","result":%s}\n' "$name" \
        "$("$bin" forecast-eval --trace "$trace")"
    "$bin" backtest --trace "$trace" --csv "$tmp/series.csv" >/dev/null
    rate=$(awk -F, 'NR > 1 && $2 > m { m = $2 } END { printf "%.6g", m / 20 }' \
        "$tmp/series.csv")
    printf '{"trace":"%s","kind":"backtest","worker_rate":%s,"result":%s}\n' "$name" \
        "$rate" "$("$bin" backtest --trace "$trace" --worker-rate "$rate" \
            --startup 60 --partitions 32 --slo 60 --price 0.05 --min 1 --max 32 \
            --format json)"
done
