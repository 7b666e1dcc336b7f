"""autoscaler_stack.py - the real bountyfleet-autoscaler on the dev broker,
for the status tests (test_status_api.py, test_status_page.py).

Starts bountyfleet-devbroker and bountyfleet-autoscaler (actuator none) on
ephemeral loopback ports, puts a known lag on the reports topic with kcat,
and feeds the heartbeat and validation topics as workers would (JSON
framing, which every reader accepts), until the autoscaler has seen them.
Everything it starts is stopped by stop(), also after a failure.
"""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

TIMEOUT_MULT = float(os.environ.get("BF_TEST_TIMEOUT_MULTIPLIER", "1"))
# Records put on the reports topic, by partition: the lag the page must show.
LAG = {0: 7, 2: 3}
WORKERS = ("worker-a", "worker-b")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, bin_dir):
        self.bin = bin_dir
        self.tmp = tempfile.mkdtemp(prefix="bf-status-")
        self.procs = {}
        self.brokers = None
        self.port = None
        self.started_at = time.time()

    def _start(self, name, argv, first_line=False):
        log = open(os.path.join(self.tmp, name + ".log"), "w")
        p = subprocess.Popen(argv, stdout=subprocess.PIPE if first_line else log,
                             stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs[name] = p
        if first_line:
            line = p.stdout.readline().decode().strip()
            if not line:
                raise RuntimeError(name + " did not start: " + self.log(name))
            return line
        return None

    def log(self, name, lines=30):
        try:
            with open(os.path.join(self.tmp, name + ".log")) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def start(self, *extra):
        self.brokers = self._start("devbroker", [os.path.join(self.bin, "bountyfleet-devbroker"),
                                                 "--partitions", "3"], first_line=True)
        # the backlog is there before the autoscaler's first reading, so it
        # sees a lag and no arrivals: published after it starts, the records
        # were a burst of arrivals whose forecast could add a worker, or not,
        # depending on which step they fell in
        self.produce_lag()
        self.port = free_port()
        closed = free_port()  # nothing listens there: the state store is "down"
        self._start("autoscaler", [
            os.path.join(self.bin, "bountyfleet-autoscaler"), "-b", self.brokers,
            "--actuator", "none", "--interval", "0.3", "--kafka-timeout", "1",
            "--min", "1", "--max", "6", "--season", "none", "--forecast-step", "1",
            "--horizon", "5", "--worker-price", "0.2", "--budget-daily", "2",
            "--recommend-interval", "1",
            "--state-redis-url", "redis://127.0.0.1:%d/0" % closed,
            "--metrics-addr", "127.0.0.1:%d" % self.port, *extra])
        self.wait(lambda: self.get("/healthz")[0] == 200, "the autoscaler's endpoint")

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def get(self, path):
        try:
            with urllib.request.urlopen(self.url(path), timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return 0, ""

    def get_json(self, path):
        status, body = self.get(path)
        return json.loads(body) if status == 200 else None

    def wait(self, cond, what, seconds=20):
        deadline = time.time() + seconds * TIMEOUT_MULT
        while time.time() < deadline:
            if cond():
                return
            time.sleep(0.2)
        raise AssertionError("timed out waiting for %s\n--- autoscaler log:\n%s"
                             % (what, self.log("autoscaler")))

    def kcat(self, topic, lines, partition=None):
        argv = ["kcat", "-P", "-b", self.brokers, "-t", topic]
        if partition is not None:
            argv += ["-p", str(partition)]
        subprocess.run(argv, input="".join(l + "\n" for l in lines).encode(), check=True,
                       timeout=20 * TIMEOUT_MULT)

    def produce_lag(self):
        for partition, n in LAG.items():
            self.kcat("bountyfleet.reports",
                      ['{"report_id":"r-%d-%d"}' % (partition, k) for k in range(n)], partition)

    def heartbeat(self, worker, k):
        now = int(time.time() * 1000)
        return json.dumps({
            "worker_id": worker, "sent_at": now, "started_at": int(self.started_at * 1000),
            "reports_consumed": 40 + k, "reports_validated": 40 + k, "reports_duplicate": 4,
            "reports_dlq": 0, "reports_per_second": 1.5 + k, "latency_p50_seconds": 0.4,
            "latency_p95_seconds": 1.2 + k, "latency_p99_seconds": 2.0, "in_flight_reports": 3 + k,
            "in_flight_ai_calls": 6, "ai_cost_usd": 0.25 * (k + 1), "cpu_seconds": 1.0,
            "rss_bytes": 10 << 20, "assigned_partitions": 1 + k, "paused": False})

    @staticmethod
    def validation(k):
        provider, cost = ("openai", 0.003) if k % 3 else ("gemini", 0.001)
        return json.dumps({
            "report_id": "r%d" % k, "status": "VALID", "quality": 0.8, "plausibility": 0.7,
            "severity": "HIGH", "confidence": 0.9, "reasons": ["ok"],
            "analyses": [{"kind": kind, "provider": provider, "model": "m", "score": 0.5,
                          "tokens_in": 100, "tokens_out": 20, "cost_usd": cost,
                          "latency_seconds": 0.4, "error": None}
                         for kind in ("QUALITY", "PLAUSIBILITY", "SEVERITY")],
            "total_cost_usd": 3 * cost, "worker_id": "worker-a",
            "validated_at": int(time.time() * 1000), "prompt_version": "v1"})

    def feed_workers(self):
        """Heartbeats and results until the autoscaler's readers (which start
        at the log end once their group is joined) have taken them in."""
        k = [0]

        def seen():
            self.kcat("bountyfleet.heartbeats",
                      [self.heartbeat(w, i) for i, w in enumerate(WORKERS)])
            self.kcat("bountyfleet.validations",
                      [self.validation(k[0] * 30 + i) for i in range(30)])
            k[0] += 1
            doc = self.get_json("/api/v1/status")
            rec = self.get_json("/api/v1/recommendations")
            kinds = {r["kind"] for r in (rec or {}).get("recommendations", [])}
            return (doc and doc["workers"]["heartbeating"] == len(WORKERS)
                    and doc["lag"]["total"] == sum(LAG.values()) and "ai_routing" in kinds)
        self.wait(seen, "heartbeats, results and the lag in the status", 40)

    def stop_broker(self):
        p = self.procs.get("devbroker")
        if p and p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait(10)

    def stop(self):
        for name in reversed(list(self.procs)):
            p = self.procs[name]
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20 * TIMEOUT_MULT)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            if p.stdout:
                p.stdout.close()
        subprocess.run(["rm", "-rf", self.tmp], check=False)
