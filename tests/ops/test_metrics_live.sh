#!/usr/bin/env bash
# ops/check-metrics-live against the real daemons: a worker and an
# autoscaler (actuator none) on the local stack (dev broker, redis-server,
# AI simulator), each serving /metrics on METRICS_ADDR. Every metric the
# alert rules and the dashboard use must be exported.
#
# Exits 77 (skipped) while a program does not read METRICS_ADDR yet: the
# metrics endpoints are being added on other branches; after they merge
# this test runs by itself.
#
#   test_metrics_live.sh BIN_DIR
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
for p in bountyfleet-worker bountyfleet-autoscaler; do
    if ! "$BIN/$p" --help-markdown | grep -q '`METRICS_ADDR`'; then
        echo "SKIP: $p does not read METRICS_ADDR yet"
        exit 77
    fi
done
tmp=$(mktemp -d)
pids=()
cleanup() {
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[$i]}" 2>/dev/null || true
        wait "${pids[$i]}" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$tmp"/*.log; do echo "== $f" >&2; tail -n 20 "$f" >&2; done; exit 1; }
start() { local name=$1; shift; "$@" >"$tmp/$name.out" 2>"$tmp/$name.log" & pids+=($!); }
first_line() {
    for _ in $(seq 300); do
        [ -s "$tmp/$1.out" ] && { head -n 1 "$tmp/$1.out"; return; }
        sleep 0.1
    done
    fail "$1 did not start"
}
free_port() {
    perl -MIO::Socket::INET -e \
        'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport'
}
wait_http() {
    for _ in $(seq 300); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return
        sleep 0.1
    done
    fail "$1 did not answer"
}

start devbroker "$BIN/bountyfleet-devbroker" --partitions 2
BROKERS=$(first_line devbroker)
REDIS_PORT=$(free_port)
start redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp"
start aisim "$BIN/bountyfleet-aisim"
AI_URL=$(first_line aisim)
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.1; done

WPORT=$(free_port)
APORT=$(free_port)
KAFKA_BROKERS=$BROKERS REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" OPENAI_BASE_URL=$AI_URL \
    OPENAI_API_KEY=test METRICS_ADDR="127.0.0.1:$WPORT" \
    start worker "$BIN/bountyfleet-worker" -X session.timeout.ms=6000
KAFKA_BROKERS=$BROKERS METRICS_ADDR="127.0.0.1:$APORT" \
    start autoscaler "$BIN/bountyfleet-autoscaler" --actuator none --interval 1
wait_http "http://127.0.0.1:$WPORT/healthz"
wait_http "http://127.0.0.1:$APORT/healthz"
sleep 2 # one autoscaler decision
"$ROOT/ops/check-metrics-live" "http://127.0.0.1:$WPORT/metrics" "http://127.0.0.1:$APORT/metrics" ||
    fail "live daemons lack metrics the rules or the dashboard use"
