#!/usr/bin/env bash
# bench/producer/producer.sh - reports per second bountyfleet-producer sustains
# to the local broker (ops/devbroker), per framing and compression.
#
#   bench/producer/producer.sh [BUILD_DIR] [REPORTS]
#
# Starts a dev broker on an ephemeral port, publishes REPORTS (default
# 20000) synthetic reports (text from ops/demo-data, 10% exact and 10% near
# duplicates) as fast as the broker acknowledges them, and prints one JSON
# line per run with the producer's own summary. Confluent framing runs with
# a fixed --schema-id: the registry is asked once at start, not per report.
set -euo pipefail
build=${1:-build}
reports=${2:-20000}
bin="$build/bin"
[ -x "$bin/bountyfleet-producer" ] || { echo "build first: $bin/bountyfleet-producer" >&2; exit 2; }

tmp=$(mktemp -d)
"$bin/bountyfleet-devbroker" >"$tmp/broker.out" 2>"$tmp/broker.err" &
broker=$!
trap 'kill "$broker" 2>/dev/null; wait "$broker" 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do [ -s "$tmp/broker.out" ] && break; sleep 0.1; done
brokers=$(head -1 "$tmp/broker.out")

run() { # framing compression extra-flags...
    local framing=$1 compression=$2
    shift 2
    local summary
    summary=$("$bin/bountyfleet-producer" -q -b "$brokers" -t "bench-$framing-$compression" \
        --framing "$framing" -z "$compression" --synthetic "$reports" \
        --dup-ratio 0.1 --near-dup-ratio 0.1 "$@")
    printf '{"bench":"producer","framing":"%s","compression":"%s","reports":%s,"summary":%s}\n' \
        "$framing" "$compression" "$reports" "$summary"
}

run avro lz4
run avro none
run avro zstd
run json lz4
run confluent lz4 --schema-id 1
