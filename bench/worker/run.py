#!/usr/bin/python3
"""bench/worker/run.py - bountyfleet-worker and a Python peer pipeline
(bench/worker/peer.py) side by side, on one stack, in one run.

    bench/worker/run.py [--build build] [--reports 10000] [--rounds 2]
                        [--programs worker,peer] [--in-flight 100]
                        [--latency-ms 0] [--near-dup off|on] [--rate 0]
                        [--prompts v1]

Starts on loopback: the dev broker (6 partitions), a redis-server without
persistence and bountyfleet-aisim with --answers fixed (every request costs
the simulator the same whichever program sends it: the same prompts, the
same JSON Schema, the same report text, and no per-report verdict rules).
Publishes --reports synthetic JSON reports once (bountyfleet-producer
--synthetic N --seed 7 --framing json), then runs each program on them in
turn, --rounds times, alternating the order (worker, peer, peer, worker,
...), each time with a fresh consumer group, results topic and Redis
(FLUSHALL), so both read the same records from the same broker.

A run is measured from its first result to its last, as the results arrive
on its results topic (read here), so start-up and the group join are left
out the same way for both: reports/s = (results - 1) / that time
(reports_per_s_produced: the same from the results' own CreateTime, a pace
the reader's fetching cannot move), and the
CPU time (user + system, all threads, /proc/PID/stat) each process spent in
it, per report: the program ("consumer"), the simulator, Redis and the
broker. rss_max_mb is the program's peak resident set (VmHWM).

With --rate R the reports are published at R/s while the program runs
(instead of before), for latency at a given load; the worker's
bountyfleet_report_overhead_seconds histogram (time outside its slowest AI
call) is read from its /metrics at the end. The publisher starts once the
program owns its partitions (the worker's /readyz, the peer's ready file),
so no backlog from the group join is in the numbers.

Both consumers and the reader run with fetch.wait.max.ms = --fetch-wait-ms (10): the dev
broker is librdkafka's mock cluster, which holds a fetch that finds no new
data for the whole fetch.wait.max.ms (500 ms by default) instead of
answering as soon as data arrives, as Kafka does. At a rate, reports then
came in bursts of up to half a second, and every Redis round trip and
stage measured that burst's queue (Redis p50 5 ms at 300/s; 0.5 ms now),
and the reader counted the first or the last results of a run up to 0.5 s
late (a ~2 s run measured 1.4 - 2.1 s).

Prints one JSON line per run, then one summary line with the medians per
program and the ratios: of the two medians, and the median of each
round's own ratio (its worker run beside its peer run, minutes apart at
most). A benchmark, not a test: nothing here passes or
fails on a number.
"""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from confluent_kafka import TIMESTAMP_CREATE_TIME, Consumer, TopicPartition

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLK_TCK = os.sysconf("SC_CLK_TCK")



def check_all_kept(brokers, topic, partitions, reports):
    """Exit unless the dev broker still holds every published report: the
    mock cluster keeps at most 5 MiB a partition and drops the oldest
    (ops/devbroker/main.c), and a run then waits for results of reports
    no program can read."""
    c = Consumer({"bootstrap.servers": brokers, "group.id": "bench-check"})
    try:
        kept = 0
        for p in range(partitions):
            low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            kept += high - low
    finally:
        c.close()
    if kept != reports:
        sys.exit(f"run.py: the dev broker kept {kept} of the {reports} reports "
                 f"({partitions} partitions of at most 5 MiB each): run with "
                 f"more --partitions (each holds about 5 MiB of them)")

def cpu_split(pid):
    """(user, system) CPU seconds of every thread of @pid so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def cpu_seconds(pid):
    """User + system CPU of every thread of @pid so far."""
    return sum(cpu_split(pid))


def rss_peak_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_tls_front(plain_base, tmp, procs):
    """nghttpx on a free loopback port, TLS with a throwaway self-signed
    certificate, forwarding to the simulator over HTTP/1.1; the base URL
    and the environment (SSL_CERT_FILE) both programs trust it with."""
    m = re.match(r"http://([^:/]+):(\d+)(.*)", plain_base)
    if not m:
        raise SystemExit(f"--tls: cannot read the simulator's address {plain_base!r}")
    host, port, path = m.groups()
    key, cert = os.path.join(tmp, "tls.key"), os.path.join(tmp, "tls.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    front = free_port()
    procs.append(Proc("nghttpx", [
        "nghttpx", "--conf=/dev/null", f"--frontend=127.0.0.1,{front}", f"--backend={host},{port}",
        "--single-process", "--workers=1", "--rlimit-nofile=65536", "--accesslog-file=/dev/null",
        "--no-ocsp", "--backend-keep-alive-timeout=60s", key, cert], tmp))
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", front), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        raise SystemExit("nghttpx did not start; see " + os.path.join(tmp, "nghttpx.log"))
    return f"https://127.0.0.1:{front}{path}", {"SSL_CERT_FILE": cert}


def http_get(url, timeout=2):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def wait_ready(prog, metrics_port, ready_file, proc, timeout=60):
    """Until the program has its partitions: the worker's /readyz answers
    200, the peer has written its ready file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.p.poll() is None:
        if prog == "worker":
            try:
                http_get(f"http://127.0.0.1:{metrics_port}/readyz")
                return
            except OSError:  # not up yet, or 503 (HTTPError is an OSError)
                pass
        elif os.path.exists(ready_file):
            return
        time.sleep(0.1)
    sys.exit(f"run.py: {prog} did not get its partitions in {timeout} s; "
             f"{proc.log}:\n" + open(proc.log).read()[-2000:])


class Proc:
    """A child in its own process group, its stderr in a log file."""

    def __init__(self, name, argv, tmp, env=None, first_line=False):
        self.name = name
        self.log = os.path.join(tmp, name + ".log")
        with open(self.log, "wb") as log:
            self.p = subprocess.Popen(
                argv, stdout=subprocess.PIPE if first_line else log, stderr=log,
                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.line = None
        if first_line:
            self.line = self.p.stdout.readline().decode().strip()
            if not self.line:
                raise SystemExit(f"{name} did not start; see {self.log}:\n" +
                                 open(self.log).read()[-2000:])

    @property
    def pid(self):
        return self.p.pid

    def stop(self, timeout=30):
        if self.p.poll() is not None:
            return
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()


class Counter(threading.Thread):
    """Reads a results topic from the beginning: count, arrival times of
    the first and the last result, the earliest and latest CreateTime, and
    the statuses of JSON results."""

    def __init__(self, brokers, topic, want, fetch_wait_ms):
        super().__init__(daemon=True)
        # fetch.wait.max.ms as the programs' own consumers (see the top).
        self.c = Consumer({"bootstrap.servers": brokers,
                           "group.id": "bench-counter-" + topic,
                           "auto.offset.reset": "earliest",
                           "enable.auto.commit": False,
                           "fetch.wait.max.ms": fetch_wait_ms})
        self.c.subscribe([topic])
        self.want = want
        self.count = 0
        self.first = self.last = None
        # The span of the records' CreateTime: the program's own pace.
        self.ts_first = self.ts_last = None
        self.ts_count = 0
        self.statuses = {}
        self.on_first = None
        self.done = threading.Event()
        self.quit = False

    def run(self):
        while not self.quit and self.count < self.want:
            for m in self.c.consume(num_messages=500, timeout=0.05):
                if m.error():
                    continue
                now = time.monotonic()
                self.count += 1
                if self.count == 1:
                    self.first = now
                    if self.on_first:
                        self.on_first()
                self.last = now
                kind, ts = m.timestamp()
                if kind == TIMESTAMP_CREATE_TIME:
                    self.ts_count += 1
                    self.ts_first = ts if self.ts_first is None else min(self.ts_first, ts)
                    self.ts_last = ts if self.ts_last is None else max(self.ts_last, ts)
                v = m.value() or b""
                if v[:1] == b"{":
                    # The status without parsing the whole result: the
                    # reader shares the cores with what it measures.
                    at = v.find(b'"status":"')
                    st = (v[at + 10:v.index(b'"', at + 10)].decode() if at >= 0
                          else json.loads(v).get("status"))
                    self.statuses[st] = self.statuses.get(st, 0) + 1
                if self.count >= self.want:
                    break
        self.done.set()
        self.c.close()


def metric_values(text, name):
    """{labels: value} of one metric family in Prometheus text."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name):
            m = re.match(re.escape(name) + r"(\{[^}]*\})?\s+(\S+)$", line)
            if m:
                out[m.group(1) or ""] = float(m.group(2))
    return out


def histogram_quantile(text, name, q, match=""):
    """Upper bound of the bucket holding quantile @q (as Prometheus does
    without interpolation), from cumulative _bucket lines; only the series
    whose labels contain @match (e.g. 'stage="claim"')."""
    sums = {}  # every series of the family added up, bucket by bucket
    for labels, v in metric_values(text, name + "_bucket").items():
        if match not in labels:
            continue
        le = re.search(r'le="([^"]+)"', labels).group(1)
        key = float("inf") if le == "+Inf" else float(le)
        sums[key] = sums.get(key, 0) + v
    buckets = sorted(sums.items())
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    for le, v in buckets:
        if v >= rank:
            return le
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="the build directory whose bin/ has the worker to measure (the "
                         "broker, simulator and producer come from it too when it has them, "
                         "else from the repository's build)")
    ap.add_argument("--reports", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--programs", default="worker,peer")
    ap.add_argument("--in-flight", type=int, default=100)
    ap.add_argument("--latency-ms", type=float, default=0)
    ap.add_argument("--near-dup", choices=("off", "on"), default="off")
    ap.add_argument("--fetch-wait-ms", type=int, default=10,
                    help="both consumers' and the reader's fetch.wait.max.ms: the dev broker (librdkafka's "
                         "mock cluster) holds a fetch that finds no data for all of it "
                         "rather than answering when data arrives, as Kafka does")
    ap.add_argument("--publish-linger-ms", type=int, default=20,
                    help="with --rate, the publisher's linger.ms (20, bountyfleet-producer's "
                         "own: reports arrive in batches of rate x 20 ms)")
    ap.add_argument("--rate", type=float, default=0,
                    help="publish at this rate while a program runs (0: all before)")
    ap.add_argument("--prompts", default="v1", help="the prompt set both programs send "
                    "(worker/prompts/NAME)")
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--tls", action="store_true",
                    help="put nghttpx (Debian's nghttp2-proxy) in front of the simulator: "
                    "HTTPS with HTTP/2 or HTTP/1.1 by ALPN, as the real providers answer; "
                    "the worker speaks HTTP/2 to it, aiohttp HTTP/1.1")
    ap.add_argument("--aisim-threads", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=900, help="seconds per run at most")
    ap.add_argument("--perf", metavar="PREFIX",
                    help="record an on-CPU profile of each run (perf record -g) from "
                         "its first result to its last, into PREFIX.<program>.<round>")
    ap.add_argument("--perf-call-graph", default="fp", choices=("fp", "dwarf"),
                    help="how perf walks the stacks: frame pointers (cheap; stacks "
                         "through Debian's libc end at its first frame) or dwarf")
    ap.add_argument("--worker-wrap", default="",
                    help="command line to run the worker under, e.g. "
                         "'valgrind --tool=callgrind' (its CPU is then the wrapper's)")
    ap.add_argument("--worker-arg", action="append", default=[],
                    help="one more argument for bountyfleet-worker (repeatable)")
    ap.add_argument("--broker-arg", action="append", default=[],
                    help="one more argument for bountyfleet-devbroker (repeatable), "
                         "e.g. --broker-arg=-X --broker-arg=socket.nagle.disable=false")
    args = ap.parse_args()
    # Killed (timeout(1), ^C): the children run in their own sessions, so stop
    # them in the finally below rather than leave them loading the machine.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))
    programs = args.programs.split(",")
    for p in programs:
        if p not in ("worker", "peer"):
            ap.error(f"--programs: unknown program {p}")
    if args.rate > 0 and (len(programs) > 1 or args.rounds > 1):
        ap.error("--rate publishes while the program runs, onto the topic the next run "
                 "would read from its start: one program, one round")
    if "peer" in programs:
        import importlib.util
        missing = [m for m in ("aiohttp", "redis") if importlib.util.find_spec(m) is None]
        if missing:
            sys.exit("run.py: the peer needs " + ", ".join(missing) + ": apt-get install " +
                     " ".join("python3-" + m for m in missing))
    bin_dir = os.path.join(args.build, "bin")
    if "worker" in programs and not os.path.exists(os.path.join(bin_dir, "bountyfleet-worker")):
        sys.exit("run.py: no bountyfleet-worker in " + bin_dir)

    def stack_program(name):
        """The stack's programs from --build when it has them, else from the
        repository's build: a build of the worker alone can be measured."""
        path = os.path.join(bin_dir, name)
        return path if os.path.exists(path) else os.path.join(ROOT, "build", "bin", name)
    tmp = tempfile.mkdtemp(prefix="bf-bench-worker.")
    procs = []
    try:
        runs = [(r, p) for r in range(args.rounds)
                for p in (programs if r % 2 == 0 else programs[::-1])]
        topics = ["bench.reports", "bench.dlq", "bench.heartbeats"] + [
            f"bench.results.{p}.{r}" for r, p in runs]
        broker = Proc("devbroker", [stack_program("bountyfleet-devbroker"),
                                    "-p", str(args.partitions), "-t", ",".join(topics)]
                      + args.broker_arg,
                      tmp, first_line=True)
        procs.append(broker)
        brokers = broker.line
        redis_port = free_port()
        redis = Proc("redis", ["redis-server", "--port", str(redis_port), "--bind",
                               "127.0.0.1", "--save", "", "--appendonly", "no"], tmp)
        procs.append(redis)
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        aisim = Proc("aisim", [stack_program("bountyfleet-aisim"), "--answers",
                               "fixed", "--latency-ms", str(args.latency_ms),
                               "--threads", str(args.aisim_threads), "--capture", "0",
                               "--max-reports", "0", "--idle-timeout", "0"],
                     tmp, first_line=True)
        procs.append(aisim)
        ai_base = aisim.line
        tls_env = {}
        if args.tls:
            ai_base, tls_env = start_tls_front(aisim.line, tmp, procs)
            tls_front = procs[-1]
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(redis_port), "ping"],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        produce = [stack_program("bountyfleet-producer"), "-b", brokers, "-t",
                   "bench.reports", "--synthetic", str(args.reports), "--seed", "7",
                   "--framing", "json", "-l", "warn"]
        if args.rate <= 0:
            subprocess.run(produce, check=True, stdout=subprocess.DEVNULL)
            check_all_kept(brokers, "bench.reports", args.partitions, args.reports)
        lines = []
        for r, prog in runs:
            subprocess.run(["redis-cli", "-p", str(redis_port), "flushall"],
                           capture_output=True, check=True)
            # One prompt set for both (the request costs the simulator the
            # same): v1, the short one, so that the simulator stays cheap.
            prompts = os.path.join(ROOT, "worker", "prompts", args.prompts)
            topic = f"bench.results.{prog}.{r}"
            group = f"bench-{prog}-{r}"
            metrics_port = free_port()
            env = dict(os.environ, OPENAI_API_KEY="bench", BOUNTYFLEET_LOG_LEVEL="warn",
                       **tls_env)
            if prog == "worker":
                argv = args.worker_wrap.split() + [
                        os.path.join(bin_dir, "bountyfleet-worker"), "-b", brokers,
                        "-g", group, "--redis-url", redis_url, "-t", "bench.reports",
                        "--results-topic", topic, "--dlq-topic", "bench.dlq",
                        "--heartbeat-topic", "bench.heartbeats", "--ai-base-url",
                        ai_base, "--max-in-flight", str(args.in_flight),
                        "--metrics-addr", f"127.0.0.1:{metrics_port}",
                        "--near-dup-threshold",
                        "0.7" if args.near_dup == "on" else "off",
                        "--prompts-dir", prompts,
                        "-X", f"fetch.wait.max.ms={args.fetch_wait_ms}"] + args.worker_arg
            else:
                argv = ["/usr/bin/python3", os.path.join(HERE, "peer.py"), "--brokers",
                        brokers, "--redis-url", redis_url, "--ai-base-url", ai_base,
                        "--prompts", prompts,
                        "--group", group, "--topic", "bench.reports", "--results-topic",
                        topic, "--dlq-topic", "bench.dlq", "--in-flight",
                        str(args.in_flight), "--fetch-wait-ms", str(args.fetch_wait_ms),
                        "--ready-file", os.path.join(tmp, f"ready-{prog}-{r}")]
            counter = Counter(brokers, topic, args.reports, args.fetch_wait_ms)
            others = {"simulator": aisim, "redis": redis, "broker": broker}
            if args.tls:
                others["tls_front"] = tls_front
            marks = {}
            proc = Proc(f"{prog}-{r}", argv, tmp, env=env)
            procs.append(proc)  # stopped in the finally below if the run is cut short

            def mark(key, proc=proc):
                user, system = cpu_split(proc.pid)
                marks[key + "_split"] = (user, system)
                marks[key] = {"consumer": user + system,
                              **{n: cpu_seconds(o.pid) for n, o in others.items()},
                              # this script (the results reader), on the same cores
                              "harness": cpu_seconds(os.getpid())}

            perf = []

            def on_first(proc=proc, prog=prog, r=r):
                mark("first")
                if args.perf and prog == "worker":
                    perf.append(subprocess.Popen(
                        ["perf", "record", "-q", "-F", "499",
                         "--call-graph", args.perf_call_graph, "-p", str(proc.pid),
                         "-o", f"{args.perf}.{prog}.{r}"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

            counter.on_first = on_first
            counter.start()
            producer = None
            if args.rate > 0:
                # Only once the program owns its partitions: reports published
                # before would wait for the group join and come as one backlog,
                # and the overhead measured would be that queue's, not the rate's.
                wait_ready(prog, metrics_port, os.path.join(tmp, f"ready-{prog}-{r}"), proc)
                producer = subprocess.Popen(produce + ["--rate", str(args.rate), "-X",
                                                       f"linger.ms={args.publish_linger_ms}"],
                                            stdout=subprocess.DEVNULL)
            peak_in_flight = 0
            deadline = time.monotonic() + args.timeout
            # Once a second, about what Prometheus costs at a 1 s scrape.
            while not counter.done.wait(1.0):
                if proc.p.poll() is not None or time.monotonic() > deadline:
                    break
                if prog == "worker":
                    try:
                        text = http_get(f"http://127.0.0.1:{metrics_port}/metrics")
                        peak_in_flight = max(peak_in_flight, int(sum(metric_values(
                            text, "bountyfleet_reports_in_flight").values())))
                    except OSError:
                        pass
            if counter.count >= args.reports:
                mark("last")
            for p in perf:
                p.send_signal(signal.SIGINT)
                p.wait()
            line = {"bench": "worker_vs_peer", "program": prog, "round": r,
                    "reports": args.reports, "results": counter.count,
                    "in_flight_cap": args.in_flight, "ai_latency_ms": args.latency_ms,
                    "near_dup": args.near_dup, "rate": args.rate, "tls": args.tls,
                    "publish_linger_ms": args.publish_linger_ms if args.rate > 0 else None}
            if "last" in marks and counter.last > counter.first:
                secs = counter.last - counter.first
                n = counter.count - 1
                line["seconds"] = round(secs, 3)
                line["reports_per_s"] = round(n / secs, 1)
                if counter.ts_count > 1 and counter.ts_last > counter.ts_first:
                    line["reports_per_s_produced"] = round(
                        1000 * (counter.ts_count - 1) / (counter.ts_last - counter.ts_first), 1)
                line["cpu_ms_per_report"] = {
                    k: round(1000 * (marks["last"][k] - marks["first"][k]) / n, 4)
                    for k in marks["last"]}
                line["consumer_system_share"] = round(
                    (marks["last_split"][1] - marks["first_split"][1]) /
                    max(1e-9, marks["last"]["consumer"] - marks["first"]["consumer"]), 3)
                line["cpu_cores_used"] = {
                    k: round((marks["last"][k] - marks["first"][k]) / secs, 3)
                    for k in marks["last"]}
            line["rss_max_mb"] = round(rss_peak_mb(proc.pid), 1)
            if prog == "worker":
                # The worker counts a status when Kafka's acknowledgement
                # reaches it, which can be after the reader has the record:
                # read again (2 s at most) for the last few, keeping the last
                # answer that came.
                text = None
                for _ in range(20):
                    try:
                        text = http_get(f"http://127.0.0.1:{metrics_port}/metrics")
                    except OSError:
                        time.sleep(0.1)
                        continue
                    statuses = {}
                    for k, v in metric_values(
                            text, "bountyfleet_reports_validated_total").items():
                        label = re.search(r'status="([^"]+)"', k)
                        if label:
                            statuses[label.group(1)] = int(v)
                    line["statuses"] = statuses
                    line["statuses_complete"] = sum(statuses.values()) >= counter.count
                    if line["statuses_complete"]:
                        break
                    time.sleep(0.1)
                try:
                    if text is None:
                        raise OSError("no answer from the worker's /metrics")
                    line["peak_in_flight"] = peak_in_flight
                    for q in (0.5, 0.99):
                        line[f"overhead_p{int(q * 100)}_s"] = histogram_quantile(
                            text, "bountyfleet_report_overhead_seconds", q)
                    line["overhead_stage_p50_p99_s"] = {
                        stage: [histogram_quantile(text, "bountyfleet_report_stage_seconds",
                                                   q, f'stage="{stage}"')
                                for q in (0.5, 0.99)]
                        for stage in ("claim", "ai_extra", "store", "deliver")}
                    # Where a report's time went, as the worker measured it.
                    for name, family in (("report", "bountyfleet_report_duration_seconds"),
                                         ("redis", "bountyfleet_redis_request_duration_seconds"),
                                         ("ai_call", "bountyfleet_ai_request_duration_seconds"),
                                         ("loop_lag", "bountyfleet_event_loop_lag_seconds")):
                        line[f"{name}_p50_p99_s"] = [histogram_quantile(text, family, q)
                                                     for q in (0.5, 0.99)]
                except (OSError, AttributeError):
                    pass
            else:
                line["statuses"] = counter.statuses
            counter.quit = True
            if producer:
                producer.wait()
            proc.stop()
            print(json.dumps(line), flush=True)
            lines.append(line)
        summary = {"bench": "worker_vs_peer", "summary": True}
        for prog in programs:
            mine = [x for x in lines if x["program"] == prog and "reports_per_s" in x]
            if not mine:
                continue
            summary[prog] = {
                "runs": len(mine),
                "reports_per_s_median": statistics.median(x["reports_per_s"] for x in mine),
                "cpu_ms_per_report_median": {
                    k: statistics.median(x["cpu_ms_per_report"][k] for x in mine)
                    for k in mine[0]["cpu_ms_per_report"]},
                "rss_max_mb": max(x["rss_max_mb"] for x in mine),
            }
        # A race is only fair if both did the same work: the same outcome
        # for every report (a peer whose calls all failed once looked fast).
        outcomes = {prog: [x.get("statuses") for x in lines if x["program"] == prog]
                    for prog in programs}
        kinds = {json.dumps(o, sort_keys=True) for runs in outcomes.values() for o in runs}
        summary["same_statuses"] = len(kinds) == 1
        if not summary["same_statuses"]:
            print("run.py: the programs' results differ (%s): the comparison is not fair"
                  % "; ".join(sorted(kinds)), file=sys.stderr)
        if "worker" in summary and "peer" in summary:
            w, p = summary["worker"], summary["peer"]
            summary["worker_over_peer_reports_per_s"] = round(
                w["reports_per_s_median"] / p["reports_per_s_median"], 2)
            summary["worker_cpu_share_of_peer"] = round(
                w["cpu_ms_per_report_median"]["consumer"] /
                p["cpu_ms_per_report_median"]["consumer"], 3)
            # The same round of each, run next to each other (worker, peer,
            # peer, worker, ...): the machine's slow and fast spells, which
            # move both, cancel out of a round's ratio but not out of the
            # ratio of the two medians, taken from different rounds.
            pairs = [(x, y) for x in lines for y in lines
                     if x["program"] == "worker" and y["program"] == "peer" and
                     x["round"] == y["round"] and "reports_per_s" in x and
                     "reports_per_s" in y]
            if pairs:
                speed = [x["reports_per_s"] / y["reports_per_s"] for x, y in pairs]
                share = [x["cpu_ms_per_report"]["consumer"] /
                         y["cpu_ms_per_report"]["consumer"] for x, y in pairs]
                summary["per_round_worker_over_peer_reports_per_s"] = [
                    round(v, 2) for v in speed]
                summary["per_round_median_worker_over_peer_reports_per_s"] = round(
                    statistics.median(speed), 2)
                summary["per_round_median_worker_cpu_share_of_peer"] = round(
                    statistics.median(share), 3)
        print(json.dumps(summary), flush=True)
        if not summary["same_statuses"]:
            sys.exit(1)
    finally:
        for p in reversed(procs):
            p.stop()
        if os.environ.get("BENCH_KEEP_LOGS") != "1":
            subprocess.run(["rm", "-rf", tmp])
        else:
            print("logs kept in", tmp, file=sys.stderr)


if __name__ == "__main__":
    main()
