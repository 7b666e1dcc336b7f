#!/usr/bin/env bash
# ops/check-metrics-live against the real daemons: a worker and an
# autoscaler (actuator none) on the local stack (dev broker, redis-server,
# AI simulator), each serving /metrics on METRICS_ADDR. Every metric the
# alert rules and the dashboard use must be exported.
#
# A program that no longer reads METRICS_ADDR fails the test at once.
#
#   test_metrics_live.sh BIN_DIR
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
for p in bountyfleet-worker bountyfleet-autoscaler; do
    help=$("$BIN/$p" --help-markdown)
    # shellcheck disable=SC2016
    if ! grep -qF -- '| `METRICS_ADDR` |' <<<"$help"; then
        echo "FAIL: $p does not read METRICS_ADDR (its --help-markdown lacks it)" >&2
        exit 1
    fi
done
. "$ROOT/tests/ops/stack.sh"
stack_start "$BIN" 2

WPORT=$(free_port)
APORT=$(free_port)
KAFKA_BROKERS=$BROKERS REDIS_URL=$REDIS_URL OPENAI_BASE_URL=$AI_URL \
    OPENAI_API_KEY=test METRICS_ADDR="127.0.0.1:$WPORT" \
    start worker "$BIN/bountyfleet-worker" -X session.timeout.ms=6000
KAFKA_BROKERS=$BROKERS METRICS_ADDR="127.0.0.1:$APORT" \
    start autoscaler "$BIN/bountyfleet-autoscaler" --actuator none --interval 1
wait_http "http://127.0.0.1:$WPORT/healthz"
wait_http "http://127.0.0.1:$APORT/healthz"
# Some families appear with the autoscaler's first decision: wait for one
# (a counted action) rather than for a fixed time, which a loaded machine
# (the sanitizer stage) can overrun.
decided() {
    curl -fsS "http://127.0.0.1:$APORT/metrics" 2>/dev/null |
        grep -q '^bountyfleet_autoscaler_decisions_total{.*} [1-9]'
}
wait_until 60 decided || fail "the autoscaler made no decision in 60 s"
"$ROOT/ops/check-metrics-live" "http://127.0.0.1:$WPORT/metrics" "http://127.0.0.1:$APORT/metrics" ||
    fail "live daemons lack metrics the rules or the dashboard use"
