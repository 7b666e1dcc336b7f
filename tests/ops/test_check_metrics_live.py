#!/usr/bin/env python3
"""ops/check-metrics-live against real HTTP servers on loopback that serve
Prometheus text: complete worker + autoscaler expositions pass; one with a
used metric missing fails and names it; a non-bountyfleet endpoint or an
unreachable URL is a usage error (2)."""

import http.server
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "ops", "lib"))
import bfops  # noqa: E402

SCRIPT = os.path.join(bfops.ROOT, "ops", "check-metrics-live")
contract = bfops.parse_metrics_md()
used = bfops.used_metrics(contract)


def exposition(program, drop=()):
    out = ['bountyfleet_build_info{version="0.1.0",program="%s"} 1' % program]
    for name, m in sorted(contract.items()):
        if program not in m.programs or name in drop or name == "bountyfleet_build_info":
            continue
        out.append("# HELP %s x\n# TYPE %s %s" % (name, name, m.kind))
        if m.kind == "histogram":
            out.append('%s_bucket{le="+Inf"} 0\n%s_sum 0\n%s_count 0' % (name, name, name))
        elif not m.labels:
            out.append("%s 0" % name)
    return "\n".join(out) + "\n"


worker_used = sorted(n for n in used if n in contract and "bountyfleet-worker" in contract[n].programs)
dropped = worker_used[0]
pages = {
    "/worker": exposition("bountyfleet-worker"),
    "/autoscaler": exposition("bountyfleet-autoscaler"),
    "/worker-missing": exposition("bountyfleet-worker", drop=(dropped,)),
    "/other": "# TYPE go_goroutines gauge\ngo_goroutines 7\n",
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = pages.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write((body or "not found\n").encode())

    def log_message(self, *args):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
base = "http://127.0.0.1:%d" % srv.server_address[1]
failures = []


def run(expect, *paths, must_say=None):
    r = subprocess.run([sys.executable, SCRIPT] + [p if p.startswith("http") else base + p for p in paths],
                       capture_output=True, text=True)
    out = r.stdout + r.stderr
    if r.returncode != expect or (must_say and must_say not in out):
        failures.append("%s: exit %d (want %d)%s\n%s" % (
            " ".join(paths), r.returncode, expect, " without %r" % must_say if must_say else "", out))


run(0, "/worker", "/autoscaler", must_say="all present")
run(0, "/worker", must_say="not checked")  # autoscaler metrics not scraped: listed
run(1, "/worker-missing", "/autoscaler", must_say="MISSING %s: not exported by bountyfleet-worker" % dropped)
run(2, "/other", must_say="no bountyfleet_build_info")
run(2, "/nope")
run(2, "http://127.0.0.1:1/metrics")
srv.shutdown()
for f in failures:
    print("FAIL", f)
print("check-metrics-live: %d used metrics; %s" % (len(used), "ok" if not failures else "failed"))
sys.exit(1 if failures else 0)
