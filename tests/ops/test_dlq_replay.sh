#!/usr/bin/env bash
# ops/dlq-replay against a real Kafka-protocol broker (bountyfleet-devbroker)
# with kcat: binary values come back byte for byte with their key, the
# worker's bf.* headers are dropped and the record's own are kept; --dry-run
# publishes nothing; --error, --limit and --since select; bad usage exits 2.
#
#   test_dlq_replay.sh BIN_DIR
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REPLAY="$ROOT/ops/dlq-replay"
tmp=$(mktemp -d)
broker_pid=
cleanup() {
    [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BIN/bountyfleet-devbroker" --partitions 1 --log-level warn >"$tmp/broker.out" 2>"$tmp/broker.err" &
broker_pid=$!
for _ in $(seq 100); do
    [ -s "$tmp/broker.out" ] && break
    sleep 0.1
done
B=$(head -n 1 "$tmp/broker.out")
[ -n "$B" ] || fail "devbroker did not start: $(cat "$tmp/broker.err")"
DLQ=bountyfleet.reports.dlq
REPORTS=bountyfleet.reports

# Three dead letters, as the worker writes them: original bytes and key,
# original headers first, then bf.*. The first value is binary and holds
# bytes that look like the script's own framing: 4000 bytes of every
# value from a fixed generator (the same on every run), then the framing.
x=1
for _ in $(seq 4000); do
    x=$(((x * 1103515245 + 12345) % 2147483648))
    printf -v oct '%03o' $((x >> 16 & 255))
    printf "\\$oct"
done >"$tmp/v1"
printf 'BFDLQ 0 0 5 5\n\x1e\n~BFK00~\x00' >>"$tmp/v1"
printf '{"report_id":"rep-2","title":"xss"}' >"$tmp/v2"
printf '\xc3\x01garbage' >"$tmp/v3"
kcat -P -q -b "$B" -t $DLQ -k rep-1 -H bf.error=parse -H 'bf.reason=bad magic, offset=3' \
    -H bf.source.partition=4 -H bf.source.offset=17 -H bf.worker=w-1 "$tmp/v1"
kcat -P -q -b "$B" -t $DLQ -k rep-2 -H traceparent=00-abc-01 -H bf.error=missing_field \
    -H 'bf.reason=missing field: severity' -H bf.worker=w-2 "$tmp/v2"
kcat -P -q -b "$B" -t $DLQ -k rep-3 -H bf.error=parse -H bf.reason=truncated "$tmp/v3"

count() { kcat -C -q -b "$B" -t $REPORTS -o beginning -e -f 'x\n' 2>/dev/null | wc -l; }

# --dry-run lists all three and publishes nothing.
"$REPLAY" -b "$B" --dry-run >"$tmp/dry" 2>"$tmp/dry.err" || fail "dry run: $(cat "$tmp/dry.err")"
[ "$(grep -c '"action":"would_replay"' "$tmp/dry")" = 3 ] || fail "dry run lists $(cat "$tmp/dry")"
grep -q '"key":"rep-1","bytes":4024,"headers_kept":0,"error":"parse","reason":"bad magic, offset=3"' "$tmp/dry" ||
    fail "dry run line for rep-1: $(head -n 1 "$tmp/dry")"
grep -q '"key":"rep-2".*"headers_kept":1,"error":"missing_field"' "$tmp/dry" || fail "dry run rep-2"
[ "$(count)" = 0 ] || fail "dry run published"

# --since in the future selects nothing; --since 10m selects all.
future=$(( ($(date +%s) + 3600) * 1000 ))
"$REPLAY" -b "$B" --dry-run --since "$future" 2>/dev/null | grep -q . && fail "--since future selected records"
[ "$("$REPLAY" -b "$B" --dry-run --since 10m 2>/dev/null | wc -l)" = 3 ] || fail "--since 10m"

# --error parse --limit 1 replays rep-1 only; then missing_field replays rep-2.
"$REPLAY" -b "$B" --error parse --limit 1 >"$tmp/r1" 2>"$tmp/r1.err" || fail "replay 1: $(cat "$tmp/r1.err")"
[ "$(grep -c '"action":"replayed"' "$tmp/r1")" = 1 ] || fail "replay 1 output $(cat "$tmp/r1")"
"$REPLAY" -b "$B" --error missing_field >"$tmp/r2" 2>"$tmp/r2.err" || fail "replay 2: $(cat "$tmp/r2.err")"
grep -q 'replayed 1 of 3 dead letters' "$tmp/r2.err" || fail "summary: $(cat "$tmp/r2.err")"
[ "$(count)" = 2 ] || fail "reports topic holds $(count) records, want 2"

# Byte for byte, with the key; bf.* headers gone, traceparent kept.
kcat -C -q -b "$B" -t $REPORTS -p 0 -o 0 -c 1 -e -f '%s' >"$tmp/got1"
cmp "$tmp/v1" "$tmp/got1" || fail "replayed value of rep-1 differs"
kcat -C -q -b "$B" -t $REPORTS -p 0 -o 1 -c 1 -e -f '%s' >"$tmp/got2"
cmp "$tmp/v2" "$tmp/got2" || fail "replayed value of rep-2 differs"
meta=$(kcat -C -q -b "$B" -t $REPORTS -o beginning -e -f '%k|%h\n')
[ "$meta" = "rep-1|
rep-2|traceparent=00-abc-01" ] || fail "keys/headers on the reports topic: $meta"
# The dead-letter topic is untouched.
[ "$(kcat -C -q -b "$B" -t $DLQ -o beginning -e -f 'x\n' | wc -l)" = 3 ] || fail "DLQ changed"

# Bad usage: exit 2 with one line; an unreachable broker: non-zero.
set +e
"$REPLAY" --bogus 2>"$tmp/u.err"; rc=$?
[ $rc = 2 ] || fail "bad flag exit $rc"
"$REPLAY" --limit -1 2>/dev/null; [ $? = 2 ] || fail "--limit -1 accepted"
"$REPLAY" --since 'not a time' 2>/dev/null; [ $? = 2 ] || fail "bad --since accepted"
"$REPLAY" -b 127.0.0.1:1 --timeout 2 --dry-run >/dev/null 2>&1; rc=$?
set -e
[ $rc != 0 ] || fail "unreachable broker exit 0"
echo "dlq-replay: ok"
