# ops/lib.sh - shared by ops/demo and ops/test: install what is missing,
# configure and build. Sourced, not run.

BF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages the build, the tests and the demo need.
BF_PACKAGES="build-essential cmake pkg-config librdkafka-dev libcurl4-openssl-dev
libavro-dev libjansson-dev libhiredis-dev libcmocka-dev libuv1-dev libmicrohttpd-dev
libmimalloc-dev libssl-dev redis-server redis-tools kcat jq curl perl bc clang-format"
# What only ops/test needs on top (see ops/test).
BF_TEST_PACKAGES="prometheus clang docker-compose python3-yaml python3-avro
python3-confluent-kafka python3-requests python3-jsonschema chromium nghttp2-proxy"

bf_say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
bf_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Install only the packages that are not installed yet.
bf_install_deps() {
    local missing=() p
    for p in $BF_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    bf_say "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq || bf_die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null || bf_die "apt-get install failed"
}

# bf_build DIR [cmake args...]
bf_build() {
    local dir=$1
    shift
    bf_say "building in $dir"
    cmake -S "$BF_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.cmake.log" 2>&1 ||
        { cat "$dir.cmake.log"; bf_die "cmake configure failed"; }
    cmake --build "$dir" -j"$(nproc)" >"$dir.build.log" 2>&1 ||
        { tail -50 "$dir.build.log"; bf_die "build failed"; }
    rm -f "$dir.cmake.log" "$dir.build.log"
}
