#!/bin/sh
# ai_worker_bench.sh - share of a configured requests/min limit that one
# bountyfleet-worker uses in steady state: devbroker + redis + aisim
# --rpm RPM, a backlog of distinct reports, the worker with OPENAI_RPM=RPM;
# counts the simulator's 200s over a window after a warm-up. Prints a
# JSON line. Usage: bench/ai/ai_worker_bench.sh [BUILD_DIR]
set -eu
BIN=${1:-build}/bin
RPM=${RPM:-1200}
WARMUP=${WARMUP:-10}
WINDOW=${WINDOW:-60}
REPORTS=${REPORTS:-3000}
TMP=$(mktemp -d)
PIDS=
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; sleep 1; rm -rf "$TMP"; }
trap cleanup EXIT
first_line() { for _ in $(seq 200); do [ -s "$1" ] && break; sleep 0.05; done; head -1 "$1"; }

"$BIN/bountyfleet-devbroker" -p 6 -l warn >"$TMP/broker" 2>"$TMP/broker.log" &
PIDS="$PIDS $!"
BROKERS=$(first_line "$TMP/broker")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
PIDS="$PIDS $!"
"$BIN/bountyfleet-aisim" --log-level warn --rpm "$RPM" --latency-ms 50 --latency-p99-ms 400 \
    >"$TMP/aisim" 2>"$TMP/aisim.log" &
PIDS="$PIDS $!"
AI=$(first_line "$TMP/aisim")
ROOT=${AI%/v1}

# Distinct reports (distinct text too, or deduplication would skip the AI).
i=0
while [ "$i" -lt "$REPORTS" ]; do
    jq -c --arg i "$i" '. + {report_id: ("bench-" + $i + "-" + .report_id),
        title: (.title + " #" + $i), description: (.description + "\n\nVariant " + $i + ".")}' \
        ops/demo-data/sample-reports.jsonl
    i=$((i + 450))
done | head -n "$REPORTS" >"$TMP/reports.jsonl"
"$BIN/bountyfleet-producer" -b "$BROKERS" "$TMP/reports.jsonl"

KAFKA_BROKERS=$BROKERS REDIS_URL="redis://127.0.0.1:$PORT/0" OPENAI_BASE_URL=$AI \
OPENAI_API_KEY=bench OPENAI_MODEL=sim-1 OPENAI_RPM=$RPM BOUNTYFLEET_LOG_LEVEL=warn \
    "$BIN/bountyfleet-worker" -X session.timeout.ms=6000 --max-in-flight 2000 \
    2>"$TMP/worker.log" &
PIDS="$PIDS $!"
sleep "$WARMUP"
c1=$(curl -s "$ROOT/stats" | jq '.by_status["200"] // 0')
sleep "$WINDOW"
st=$(curl -s "$ROOT/stats")
c2=$(echo "$st" | jq '.by_status["200"] // 0')
r429=$(echo "$st" | jq '.by_status["429"] // 0')
echo "{\"bench\":\"ai_worker_rate\",\"rpm\":$RPM,\"window_s\":$WINDOW,\"ok_in_window\":$((c2 - c1)),\"allowed_in_window\":$((RPM * WINDOW / 60)),\"share\":$(echo "scale=4; ($c2 - $c1) / ($RPM * $WINDOW / 60)" | bc),\"http_429\":$r429}"
