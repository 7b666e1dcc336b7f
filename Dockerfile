# syntax=docker/dockerfile:1
#
# One image for every bountyfleet program: bountyfleet-worker (the default
# command), bountyfleet-autoscaler, bountyfleet-producer, bountyfleet-aisim,
# bountyfleet-devbroker and bountyfleet-cvss, plus bountyfleet-dlq-replay
# (ops/dlq-replay).
#
#   docker build -t bountyfleet:0.1.0 .
#   docker run --rm bountyfleet:0.1.0 bountyfleet-worker --help
#
# Data files (prompts, price table, schemas) live in /usr/share/bountyfleet;
# the binaries look there by default (BF_DATADIR, fixed at build time).
# Checked by tests/ops/test_dockerfile.py (packages, paths, user, binaries).

ARG DEBIAN_IMAGE=debian:12
ARG RUNTIME_IMAGE=debian:12-slim

# ---------------------------------------------------------------- build ---
FROM ${DEBIAN_IMAGE} AS build
# The build half of ops/lib.sh's BF_PACKAGES (no test or demo tools: the
# image builds without tests).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config librdkafka-dev libcurl4-openssl-dev \
        libavro-dev libjansson-dev libhiredis-dev libuv1-dev libmicrohttpd-dev \
        libmimalloc-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY libbf/ libbf/
COPY schemas/ schemas/
COPY producer/ producer/
COPY worker/ worker/
COPY autoscaler/ autoscaler/
COPY ops/CMakeLists.txt ops/
COPY ops/aisim/ ops/aisim/
COPY ops/devbroker/ ops/devbroker/
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
          -DBF_DATADIR=/usr/share/bountyfleet \
 && cmake --build /build -j"$(nproc)" \
 && strip /build/bin/bountyfleet-*

# -------------------------------------------------------------- runtime ---
FROM ${RUNTIME_IMAGE} AS runtime
# Only the shared libraries the binaries link (tests/ops/test_dockerfile.py
# compares this list with ldd of the built binaries), curl for health
# checks, kcat and perl-base (already in the base) for bountyfleet-dlq-replay.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates curl kcat \
        librdkafka1 libcurl4 libavro23 libjansson4 libhiredis0.14 libuv1 \
        libmicrohttpd12 libmimalloc2.0 libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 bountyfleet \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
            --home-dir /nonexistent --shell /usr/sbin/nologin bountyfleet
COPY --from=build /build/bin/bountyfleet-worker /build/bin/bountyfleet-autoscaler \
                  /build/bin/bountyfleet-producer /build/bin/bountyfleet-aisim \
                  /build/bin/bountyfleet-devbroker /build/bin/bountyfleet-cvss \
                  /usr/local/bin/
COPY ops/dlq-replay /usr/local/bin/bountyfleet-dlq-replay
COPY schemas/ /usr/share/bountyfleet/schemas/
COPY worker/prompts/ /usr/share/bountyfleet/worker/prompts/
COPY worker/prices.json /usr/share/bountyfleet/worker/prices.json
# 200 real disclosed reports, for a trial (docker-compose's sample-load).
COPY ops/demo-data/sample-reports.jsonl /usr/share/bountyfleet/ops/demo-data/sample-reports.jsonl

# Daemons listen on every interface inside a container; the programs'
# own default is loopback. The autoscaler's compose/k8s config sets :9465.
ENV METRICS_ADDR=0.0.0.0:9464
EXPOSE 9464 9465
USER 10001:10001
WORKDIR /tmp
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${METRICS_ADDR##*:}/healthz" >/dev/null || exit 1
CMD ["bountyfleet-worker"]
