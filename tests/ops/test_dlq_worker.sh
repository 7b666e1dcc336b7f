#!/usr/bin/env bash
# ops/dlq-replay with the real worker: a malformed report is dead-lettered
# by bountyfleet-worker (original bytes, key and headers + bf.*); the
# replay puts exactly the original record back on the reports topic; the
# worker, still finding it malformed, dead-letters it again. Checks that
# the script and the worker agree on the dead-letter format.
#
#   test_dlq_worker.sh BIN_DIR
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/ops/stack.sh"
stack_start "$BIN" 1
DLQ=bountyfleet.reports.dlq
REPORTS=bountyfleet.reports
count() { kcat -C -q -b "$BROKERS" -t "$1" -o beginning -e -f 'x\n' 2>/dev/null | wc -l; }
has() { [ "$(count "$1")" -ge "$2" ]; }

KAFKA_BROKERS=$BROKERS REDIS_URL=$REDIS_URL OPENAI_BASE_URL=$AI_URL OPENAI_API_KEY=test \
    METRICS_ADDR=127.0.0.1:0 start worker "$BIN/bountyfleet-worker" -X session.timeout.ms=6000

printf '{"report_id":"bad-1","title":"no body, no program"}' >"$tmp/bad.json"
kcat -P -q -b "$BROKERS" -t $REPORTS -k bad-1 -H traceparent=00-feed-01 "$tmp/bad.json"
wait_until 60 has $DLQ 1 || fail "the worker did not dead-letter the malformed report"
meta=$(kcat -C -q -b "$BROKERS" -t $DLQ -o beginning -c 1 -e -f '%k|%h')
case "$meta" in
bad-1\|traceparent=00-feed-01,bf.error=*bf.reason=*) ;;
*) fail "dead letter key/headers: $meta" ;;
esac

"$ROOT/ops/dlq-replay" -b "$BROKERS" >"$tmp/replay.out" 2>"$tmp/replay.log" || fail "replay failed"
grep -q '"action":"replayed","partition":0,"offset":0,"key":"bad-1"' "$tmp/replay.out" ||
    fail "replay output: $(cat "$tmp/replay.out")"
[ "$(count $REPORTS)" = 2 ] || fail "reports topic holds $(count $REPORTS) records, want 2"
kcat -C -q -b "$BROKERS" -t $REPORTS -o 1 -c 1 -e -f '%s' >"$tmp/replayed.json"
cmp "$tmp/bad.json" "$tmp/replayed.json" || fail "replayed bytes differ"
meta=$(kcat -C -q -b "$BROKERS" -t $REPORTS -o 1 -c 1 -e -f '%k|%h')
[ "$meta" = "bad-1|traceparent=00-feed-01" ] || fail "replayed key/headers: $meta"
# Still malformed: back in the DLQ, once more.
wait_until 60 has $DLQ 2 || fail "the replayed report was not dead-lettered again"
echo "dlq-replay with the worker: ok"
