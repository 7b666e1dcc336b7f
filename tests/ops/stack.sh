# shellcheck shell=bash disable=SC2034  # sets variables for the test that sources it
# tests/ops/stack.sh - sourced by the ops shell tests: the local stack
# (bountyfleet-devbroker, a throwaway redis-server, bountyfleet-aisim) on
# loopback, every process stopped and the scratch dir removed on exit.
#
#   . tests/ops/stack.sh; stack_start BIN_DIR PARTITIONS
#   -> $tmp, $BROKERS, $REDIS_URL, $AI_URL; start NAME CMD... for more.
tmp=$(mktemp -d)
pids=()
stack_cleanup() {
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[$i]}" 2>/dev/null || true
        wait "${pids[$i]}" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap stack_cleanup EXIT
fail() {
    local f
    echo "FAIL: $*" >&2
    for f in "$tmp"/*.log; do
        [ -e "$f" ] && { echo "== $f" >&2; tail -n 20 "$f" >&2; }
    done
    exit 1
}
# start NAME CMD...: run in the background, stdout to $tmp/NAME.out.
start() {
    local name=$1
    shift
    "$@" >"$tmp/$name.out" 2>"$tmp/$name.log" &
    pids+=($!)
}
first_line() {
    local _
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
    local _
    for _ in $(seq 300); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return
        sleep 0.1
    done
    fail "$1 did not answer"
}
# wait_until SECONDS CMD...: until CMD succeeds.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}
stack_start() {
    local bin=$1 partitions=$2 port
    start devbroker "$bin/bountyfleet-devbroker" --partitions "$partitions" --log-level warn
    BROKERS=$(first_line devbroker)
    port=$(free_port)
    start redis redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp"
    REDIS_URL="redis://127.0.0.1:$port/0"
    start aisim "$bin/bountyfleet-aisim"
    AI_URL=$(first_line aisim)
    wait_until 30 redis-cli -p "$port" ping >/dev/null 2>&1 || fail "redis-server did not start"
}
