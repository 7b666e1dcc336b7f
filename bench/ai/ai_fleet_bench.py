#!/usr/bin/python3
"""bench/ai/ai_fleet_bench.py - a fleet of bountyfleet-workers against
one provider account's rate limit (BENCHMARKS.md, "AI layer: a limit shared
by the fleet").

    bench/ai/ai_fleet_bench.py [--build build] [--case NAME]
        [--workers 0:1,120:8 | --autoscaler 1:8] [--reports 1000]
        [--sim-arg=--rpm=600 ...] [--worker-env OPENAI_FLEET_RPM=600 ...]
        [--provider openai|anthropic] [--duration 300] [--window 60]
        [--attempts]

Starts on loopback: the dev broker (12 partitions), a redis-server without
persistence and bountyfleet-aisim (--sim-arg passes its flags, e.g. the
limit it enforces: --rpm=600), publishes --reports distinct real disclosed
reports (ops/demo-data/sample-reports.jsonl and numbered variants of them,
with near-duplicate detection off so that every one is analysed), and runs
the workers: a fixed schedule (--workers T:N,...: N workers from second T
on) or the autoscaler with the local actuator (--autoscaler MIN:MAX).

Every 10 s it reads the simulator's /stats, and prints one JSON line at the
end: the share of the limit used and the 429s per minute in the steady
state (from --window seconds after the start until the backlog is almost
worked off), the 429s in every minute, the result statuses, the cost per
report (the workers' own total_cost_usd per analysed report), the share of
input tokens the simulator read from its prompt cache and, with
--attempts, the HTTP attempts per analysis (from the simulator's captured
request bodies). A benchmark, not a test: nothing passes or fails here.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

from confluent_kafka import Consumer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench", "worker"))
from run import Proc, free_port, http_get  # noqa: E402  (the worker bench's helpers)
SAMPLE = os.path.join(ROOT, "ops", "demo-data", "sample-reports.jsonl")
STEP = 10.0  # seconds between two samples of /stats


def topic_consumer(brokers, group, topic):
    """A consumer of @topic from its beginning that commits nothing."""
    c = Consumer({"bootstrap.servers": brokers, "group.id": group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    return c


class Results(threading.Thread):
    """Reads the results topic (JSON framing) from the beginning."""

    def __init__(self, brokers, topic):
        super().__init__(daemon=True)
        self.c = topic_consumer(brokers, "bench-results", topic)
        self.ids = set()
        self.statuses = {}
        self.cost = 0.0
        self.analysed = 0
        self.fallbacks = {}  # fallback reason (ports and ids masked): count
        self.quit = False

    def run(self):
        while not self.quit:
            for m in self.c.consume(num_messages=500, timeout=0.2):
                if m.error() or not m.value():
                    continue
                r = json.loads(m.value())
                if r["report_id"] in self.ids:
                    continue  # a redelivery published again
                self.ids.add(r["report_id"])
                st = r.get("status")
                self.statuses[st] = self.statuses.get(st, 0) + 1
                if st != "DUPLICATE":
                    self.analysed += 1
                    self.cost += r.get("total_cost_usd") or 0
                for why in r.get("reasons") or []:
                    if "fallback: " in why:
                        why = re.sub(r"port \d+", "port N", why.split("fallback: ", 1)[1])
                        why = re.sub(r"after \d+ ms", "after N ms", why)
                        self.fallbacks[why] = self.fallbacks.get(why, 0) + 1
        self.c.close()


def reports(n):
    """n distinct reports: the sample set, then numbered variants of it."""
    base = [json.loads(line) for line in open(SAMPLE)]
    out = []
    i = 0
    while len(out) < n:
        r = dict(base[i % len(base)])
        v = i // len(base)
        if v:
            r["report_id"] = f"{r['report_id']}-v{v}"
            r["title"] = f"{r['title']} (variant {v})"
            r["description"] = f"{r['description']}\n\nVariant {v} of this report."
        out.append(r)
        i += 1
    return out


def schedule(spec):
    """'0:1,120:8' -> [(0.0, 1), (120.0, 8)]"""
    out = []
    for part in spec.split(","):
        t, n = part.split(":")
        out.append((float(t), int(n)))
    return sorted(out)


def attempts_per_call(captured):
    """{attempts: calls} from captured request bodies: one call is one
    (report, analysis); its attempts are the requests that carried it."""
    per = {}
    for q in captured:
        body = q.get("body")
        if not isinstance(body, dict):
            continue
        kind = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")
        if not kind:
            kind = (body.get("tool_choice") or {}).get("name")
        user = ""
        for m in body.get("messages") or []:
            if m.get("role") == "user":
                c = m.get("content")
                user = c if isinstance(c, str) else "".join(
                    b.get("text", "") for b in c or [])
        a, b = user.find("<report>"), user.rfind("</report>")
        try:
            rid = json.loads(user[a + 8:b])["report_id"]
        except (ValueError, KeyError):
            continue
        per[(rid, kind)] = per.get((rid, kind), 0) + 1
    hist = {}
    for n in per.values():
        hist[n] = hist.get(n, 0) + 1
    return {str(k): hist[k] for k in sorted(hist)}


class Heartbeats(threading.Thread):
    """Reads the heartbeats topic (JSON framing): what the workers say of
    the AI limit (ai_limit_rpm, ai_limited_share), last value per worker."""

    def __init__(self, brokers, topic):
        super().__init__(daemon=True)
        self.c = topic_consumer(brokers, "bench-heartbeats", topic)
        self.shares = []  # every ai_limited_share seen
        self.limits = []
        self.quit = False

    def run(self):
        while not self.quit:
            for m in self.c.consume(num_messages=100, timeout=0.2):
                if m.error() or not m.value():
                    continue
                h = json.loads(m.value())
                self.shares.append(h.get("ai_limited_share", 0))
                self.limits.append(h.get("ai_limit_rpm", 0))
        self.c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--case", default="run")
    ap.add_argument("--reports", type=int, default=1000)
    ap.add_argument("--workers", default="0:1")
    ap.add_argument("--autoscaler", metavar="MIN:MAX")
    ap.add_argument("--autoscaler-arg", action="append", default=[])
    ap.add_argument("--autoscaler-after", type=float, default=0,
                    help="start the autoscaler this many seconds in (after --workers)")
    ap.add_argument("--sim-arg", action="append", default=[])
    ap.add_argument("--worker-env", action="append", default=[])
    ap.add_argument("--worker-arg", action="append", default=[])
    ap.add_argument("--provider", default="openai", choices=("openai", "anthropic"))
    ap.add_argument("--model")
    ap.add_argument("--duration", type=float, default=300)
    ap.add_argument("--window", type=float, default=60)
    ap.add_argument("--attempts", action="store_true")
    args = ap.parse_args()
    limit = None
    for a in args.sim_arg:
        if a.startswith("--rpm="):
            limit = float(a.split("=", 1)[1])
    bin_dir = os.path.join(args.build, "bin")
    tmp = tempfile.mkdtemp(prefix="bf-bench-fleet.")
    procs, workers = [], []
    res = hbs = None
    try:
        topics = "bench.reports,bench.results,bench.dlq,bench.heartbeats,bench.scaling"
        broker = Proc("devbroker", [os.path.join(bin_dir, "bountyfleet-devbroker"),
                                    "-p", "12", "-t", topics, "-l", "warn"],
                      tmp, first_line=True)
        procs.append(broker)
        brokers = broker.line
        redis_port = free_port()
        procs.append(Proc("redis", ["redis-server", "--port", str(redis_port), "--bind",
                                    "127.0.0.1", "--save", "", "--appendonly", "no"],
                          tmp))
        sim = Proc("aisim", [os.path.join(bin_dir, "bountyfleet-aisim"), "--log-level",
                             "warn", "--latency-ms", "300", "--latency-p99-ms", "1500",
                             "--capture", "20000" if args.attempts else "0"] +
                   args.sim_arg, tmp, first_line=True)
        procs.append(sim)
        base = sim.line
        root = base[:-3] if base.endswith("/v1") else base
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(redis_port), "ping"],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        path = os.path.join(tmp, "reports.jsonl")
        with open(path, "w") as f:
            for r in reports(args.reports):
                f.write(json.dumps(r) + "\n")
        subprocess.run([os.path.join(bin_dir, "bountyfleet-producer"), "-b", brokers,
                        "-t", "bench.reports", "-l", "warn", path], check=True,
                       stdout=subprocess.DEVNULL)

        model = args.model or ("sim-1" if args.provider == "openai"
                               else "claude-3-5-haiku-latest")
        env = dict(os.environ, KAFKA_BROKERS=brokers,
                   REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
                   AI_PROVIDERS=args.provider, OPENAI_BASE_URL=base,
                   OPENAI_API_KEY="bench", OPENAI_MODEL=model, ANTHROPIC_BASE_URL=root,
                   ANTHROPIC_API_KEY="bench", ANTHROPIC_MODEL=model,
                   BOUNTYFLEET_LOG_LEVEL="warn", METRICS_ADDR="127.0.0.1:0")
        for kv in args.worker_env:
            k, v = kv.split("=", 1)
            env[k] = v
        worker_argv = [os.path.join(bin_dir, "bountyfleet-worker"), "-t",
                       "bench.reports", "--results-topic", "bench.results",
                       "--dlq-topic", "bench.dlq", "--heartbeat-topic",
                       "bench.heartbeats", "--heartbeat-interval", "2",
                       "--output-framing", "json", "--near-dup-threshold", "off",
                       "-X", "session.timeout.ms=6000"] + args.worker_arg

        res = Results(brokers, "bench.results")
        res.start()
        hbs = Heartbeats(brokers, "bench.heartbeats")
        hbs.start()
        start = time.monotonic()
        plan = schedule(args.workers) if not args.autoscaler or args.autoscaler_after \
            else []
        scaler = None
        scaler_argv = None
        if args.autoscaler:
            lo, hi = args.autoscaler.split(":")
            scaler_argv = [
                os.path.join(bin_dir, "bountyfleet-autoscaler"), "-b", brokers, "-t",
                "bench.reports", "--topic-heartbeats", "bench.heartbeats",
                "--topic-validations", "off", "--topic-scaling", "bench.scaling",
                "--metrics-addr", "127.0.0.1:0", "--min", lo, "--max", hi,
                "--interval", "5"] + args.autoscaler_arg + ["--"] + worker_argv
        samples = []  # (t, ok, 429, prompt tokens, cached tokens, results)
        next_sample = start
        while True:
            now = time.monotonic()
            t = now - start
            if scaler_argv and not scaler and t >= args.autoscaler_after:
                scaler = Proc("autoscaler", scaler_argv, tmp, env=env)
                procs.append(scaler)
            while plan and plan[0][0] <= t:
                _, n = plan.pop(0)
                while len(workers) < n:
                    workers.append(Proc(f"worker-{len(workers)}", worker_argv, tmp,
                                        env=env))
            if now >= next_sample:
                st = json.loads(http_get(root + "/stats"))["by_provider"][args.provider]
                by = st.get("by_status", {})
                samples.append((t, by.get("200", 0), by.get("429", 0),
                                st.get("prompt_tokens", 0), st.get("cached_tokens", 0),
                                len(res.ids)))
                next_sample += STEP
                if len(res.ids) >= args.reports or t >= args.duration:
                    break
            time.sleep(0.2)
        wall = time.monotonic() - start
        captured = json.loads(http_get(root + "/debug/requests", 30)) \
            if args.attempts else []
    finally:
        for p in workers + procs[::-1]:
            p.stop()
        if res:
            res.quit = True
            res.join(5)
        if hbs:
            hbs.quit = True
            hbs.join(5)

    # The steady state: from --window on, until 95% of the reports are done
    # (or the end), so neither the start nor the tail of the backlog counts.
    done_at = samples[-1][0]
    steady = [s for s in samples
              if s[0] >= args.window and s[5] < 0.95 * args.reports]
    out = {"bench": "ai_fleet", "case": args.case, "provider": args.provider,
           "reports": args.reports, "results": len(res.ids), "statuses": res.statuses,
           "seconds": round(wall, 1), "limit_rpm": limit}
    if len(steady) >= 2:
        a, b = steady[0], steady[-1]
        minutes = (b[0] - a[0]) / 60
        out["steady_from_s"] = round(a[0])
        out["steady_to_s"] = round(b[0])
        out["ok_per_min_steady"] = round((b[1] - a[1]) / minutes, 1)
        if limit:
            out["share_steady"] = round((b[1] - a[1]) / minutes / limit, 4)
        out["http_429_per_min_steady"] = round((b[2] - a[2]) / minutes, 2)
    per_min = []
    for m in range(int(done_at // 60) + 1):
        lo = [s for s in samples if s[0] <= m * 60 + 1]
        hi = [s for s in samples if s[0] <= (m + 1) * 60 + 1]
        if lo and hi and hi[-1][0] > lo[-1][0]:
            per_min.append(hi[-1][2] - lo[-1][2])
    out["http_429_by_minute"] = per_min
    out["http_429_total"] = samples[-1][2]
    out["http_200_total"] = samples[-1][1]
    if samples[-1][3]:
        out["cached_input_share"] = round(samples[-1][4] / samples[-1][3], 4)
        out["prompt_tokens_per_call"] = round(samples[-1][3] / max(1, samples[-1][1]))
    if res.analysed:
        out["cost_usd_per_analysed_report"] = round(res.cost / res.analysed, 7)
    if args.attempts:
        out["attempts_per_call"] = attempts_per_call(captured)
    if scaler:
        # Its decisions, one JSON line each on stdout (in its log here).
        targets, why = [], None
        for line in open(scaler.log, errors="replace"):
            if not line.startswith("{") or "target_workers" not in line:
                continue
            d = json.loads(line)
            targets.append(d.get("target_workers"))
            if "rate limit" in d.get("reasoning", "") and not why:
                why = d["reasoning"]
        out["autoscaler_targets"] = sorted(set(t for t in targets if t is not None))
        out["autoscaler_max_target"] = max(targets) if targets else None
        if why:
            out["autoscaler_reasoning"] = why[:400]
    if hbs.shares:
        sh = sorted(hbs.shares)
        out["heartbeat_ai_limited_share_median"] = round(sh[len(sh) // 2], 3)
        out["heartbeat_ai_limit_rpm_last"] = hbs.limits[-1]
    if res.fallbacks:
        top = sorted(res.fallbacks.items(), key=lambda kv: -kv[1])[:3]
        out["fallback_reasons"] = {k[:240]: v for k, v in top}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
