#!/bin/sh
# ai_bench.sh - the AI layer's numbers for BENCHMARKS.md ("## AI layer"):
# share of a configured requests/min limit used in steady state, and
# concurrent calls one worker's AI layer holds against the simulator.
# Prints JSON lines. Usage: bench/ai/ai_bench.sh [BUILD_DIR]
set -eu
BIN=${1:-build}/bin
TMP=$(mktemp -d)
SIM_PID=
cleanup() { [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

# start_sim ARGS...: start the simulator, set ROOT to its base URL.
start_sim() {
    "$BIN/bountyfleet-aisim" --log-level warn "$@" >"$TMP/url" 2>"$TMP/sim.log" &
    SIM_PID=$!
    for _ in $(seq 100); do [ -s "$TMP/url" ] && break; sleep 0.05; done
    ROOT=$(head -1 "$TMP/url" | sed 's|/v1$||')
}
stop_sim() { kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null || true; SIM_PID=; }

for provider in openai anthropic; do
    start_sim --rpm "${RPM:-3000}" --latency-ms 50 --latency-p99-ms 400
    "$BIN/bench_ai" rate "$ROOT" "$provider" "${RPM:-3000}" "${SECONDS_RATE:-30}"
    curl -s "$ROOT/stats" | jq -c --arg p "$provider" '{bench: "aisim_stats", provider: $p, by_status: .by_provider[$p].by_status}'
    stop_sim
done

start_sim --latency-ms "${LATENCY_MS:-20000}" --connection-limit 20000
"$BIN/bench_ai" concurrency "$ROOT" openai "${CALLS:-10000}"
curl -s "$ROOT/stats" | jq -c '{bench: "aisim_held_peak", held_peak: .held_peak, requests: .requests_total}'
stop_sim
