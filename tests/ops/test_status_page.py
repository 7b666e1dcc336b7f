#!/usr/bin/env python3
"""test_status_page.py - the status page (GET /) in a real headless
browser, Debian's chromium, against the real autoscaler on the dev broker.

Chromium is driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: JSON messages ending in NUL on its fds 3 and 4),
from the standard library alone: no Node, no Selenium, no port to find.
The test

  - loads the page and waits until it has rendered a status document;
  - records every /api/v1/status body the page fetched (Network domain),
    so the numbers on the page are compared with exactly the document the
    page rendered (its sequence number says which), not with a later one;
  - checks that the page shows them: the lag of each partition, the
    total, the workers running, target and heartbeating, each worker's id
    and in-flight reports, the budget per period, the forecast, the last
    decisions, and the recommendations;
  - checks that it says the state store (a Redis on a closed port) is
    down, and takes a screenshot (kept: ARTIFACT_DIR/status_page.png);
  - stops Kafka and waits for the page to say so (status_page_kafka_down.png);
  - fails on any console error, uncaught exception or failed load.

Skips (exit 77) only when /usr/bin/chromium is not installed: ops/test
installs it (BF_TEST_PACKAGES in ops/lib.sh), so in CI it runs.

  test_status_page.py BIN_DIR ARTIFACT_DIR
"""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from autoscaler_stack import LAG, TIMEOUT_MULT, WORKERS, Stack  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class Browser:
    """One headless Chromium and one page in it, over the pipe."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="bf-chromium-")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        # Moved above 10 so that placing them on 3 and 4 cannot clobber one
        # another.
        r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
        w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
        os.close(to_chrome_r)
        os.close(from_chrome_w)

        def fds():
            os.dup2(r, 3)
            os.dup2(w, 4)
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
             "--user-data-dir=" + self.profile, "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=fds, pass_fds=(3, 4, r, w))
        os.close(r)
        os.close(w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.call(domain + ".enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": 1400, "height": 1700, "deviceScaleFactor": 1, "mobile": False})

    def _read(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.time()
            if left <= 0 or not select.select([self.from_chrome], [], [], left)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, timeout=20):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout * TIMEOUT_MULT
        while True:
            m = self._read(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m["result"]
            if "method" in m:
                self.events.append(m)

    def pump(self, seconds=0.1):
        """Take the events that came in during @p seconds."""
        deadline = time.time() + seconds
        try:
            while True:
                self.events.append(self._read(deadline))
        except TimeoutError:
            pass

    def eval(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError("page script failed: %s" % r["exceptionDetails"])
        return r["result"].get("value")

    def screenshot(self, path):
        png = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        with open(path, "wb") as f:
            f.write(base64.b64decode(png["data"]))

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_chrome)
        os.close(self.from_chrome)
        shutil.rmtree(self.profile, ignore_errors=True)


def problems(events):
    """Console errors, exceptions and failed loads among the events."""
    out = []
    for e in events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console.%s: %s" % (p["type"], [a.get("value") for a in p["args"]]))
        elif m == "Runtime.exceptionThrown":
            out.append("exception: %s" % p["exceptionDetails"].get("text"))
        elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
            out.append("log: %s %s" % (p["entry"]["text"], p["entry"].get("url", "")))
        elif m == "Network.loadingFailed":
            out.append("load failed: %s" % p.get("errorText"))
    return out


def fetched_documents(browser, seen):
    """The /api/v1/status bodies the page received, by sequence."""
    for e in browser.events:
        if e.get("method") == "Network.responseReceived" and \
                e["params"]["response"]["url"].endswith("/api/v1/status"):
            seen.setdefault("pending", set()).add(e["params"]["requestId"])
        if e.get("method") == "Network.loadingFinished" and \
                e["params"]["requestId"] in seen.get("pending", set()):
            rid = e["params"]["requestId"]
            seen["pending"].discard(rid)
            body = browser.call("Network.getResponseBody", {"requestId": rid})["body"]
            doc = json.loads(body)
            seen[doc["sequence"]] = doc


SHOWN = """(() => {
  const f = {};
  document.querySelectorAll('[data-field]').forEach(e => {
    f[e.dataset.field] = {text: e.textContent, value: e.dataset.value};
  });
  return {sequence: Number(document.body.dataset.sequence || 0),
          state: document.body.dataset.state,
          banner: document.getElementById('banner').textContent,
          recommendations: document.getElementById('recommendations').textContent,
          reasons: [...document.querySelectorAll('#decisions td.reason')].map(e => e.textContent),
          charts: [...document.querySelectorAll('svg polyline')].length,
          fields: f};
})()"""


def check_shown(shown, doc):
    f = shown["fields"]

    def same(field, want):
        if field not in f:
            raise AssertionError("the page does not show %s" % field)
        got = f[field]
        if isinstance(want, str):
            ok = got["text"] == want
        else:
            # the value exactly, and the text as the page rounds it (4
            # significant digits); "1 → 3" shows a decision's target last
            words = got["text"].split()
            text = words[-1] if "→" in got["text"] else words[0]
            ok = got["value"] is not None and float(got["value"]) == float(want) and \
                abs(float(text) - want) <= 5e-4 * max(1, abs(want))
        if not ok:
            raise AssertionError("%s: the page shows %r, the API says %r" % (field, got, want))

    same("lag.total", doc["lag"]["total"])
    same("lag.count", doc["lag"]["count"])
    for k, p in enumerate(doc["lag"]["partitions"]):
        same("lag.partitions.%d.lag" % k, p["lag"])
        same("lag.partitions.%d.high" % k, p["high"])
        same("lag.partitions.%d.status" % k, p["status"])
    for key in ("current", "target", "heartbeating", "min", "max", "reports_per_second"):
        same("workers." + key, doc["workers"][key])
    for k, w in enumerate(doc["workers"]["list"]):
        same("workers.list.%d.worker_id" % k, w["worker_id"])
        same("workers.list.%d.in_flight_reports" % k, w["in_flight_reports"])
        same("workers.list.%d.ai_cost_usd" % k, w["ai_cost_usd"])
    for key in ("rate", "lower", "upper", "confidence"):
        same("forecast." + key, doc["forecast"][key])
    for k, p in enumerate(doc["budget"]["periods"]):
        same("budget.periods.%d.spent_usd" % k, p["spent_usd"])
        same("budget.periods.%d.projected_usd" % k, p["projected_usd"])
        same("budget.periods.%d.state" % k, p["state"])
    for k, d in enumerate(doc["decisions"]):
        same("decisions.%d.action" % k, d["action"])
        same("decisions.%d.target_workers" % k, d["target_workers"])
    assert shown["reasons"] == [d["reasoning"] for d in doc["decisions"]]
    assert shown["charts"] >= 5, "the charts are not drawn"


def main():
    bin_dir, artifacts = sys.argv[1], sys.argv[2]
    if not os.access(CHROMIUM, os.X_OK):
        print("SKIP: chromium is not installed (ops/test installs it: "
              "apt-get install chromium)")
        sys.exit(77)
    os.makedirs(artifacts, exist_ok=True)
    started = time.time()
    stack = Stack(bin_dir)
    browser = None
    try:
        stack.start()
        stack.feed_workers()
        browser = Browser()
        browser.call("Page.navigate", {"url": stack.url("/")})
        seen, shown = {}, None
        deadline = time.time() + 20 * TIMEOUT_MULT
        while time.time() < deadline:
            browser.pump(0.3)
            fetched_documents(browser, seen)
            shown = browser.eval(SHOWN)
            doc = seen.get(shown["sequence"])
            # the stack's state store points at a closed port (autoscaler_stack.py)
            if doc and shown["state"] == "redis-down" and \
                    doc["workers"]["heartbeating"] == len(WORKERS) \
                    and "ai_routing" in shown["recommendations"]:
                break
        else:
            raise AssertionError("the page never showed a complete status: %s" % shown)
        check_shown(shown, doc)
        assert "Redis (the forecast's state store) is unreachable" in shown["banner"]
        lag_total = sum(LAG.values())
        assert doc["lag"]["total"] == lag_total
        browser.screenshot(os.path.join(artifacts, "status_page.png"))

        stack.stop_broker()
        deadline = time.time() + 20 * TIMEOUT_MULT
        while time.time() < deadline:
            browser.pump(0.3)
            shown = browser.eval(SHOWN)
            if shown["state"] == "kafka-down":
                break
        else:
            raise AssertionError("the page never said Kafka was down: %s" % shown["banner"])
        assert "Kafka is unreachable" in shown["banner"], shown["banner"]
        assert shown["fields"]["lag.total"]["text"] == str(lag_total)
        browser.screenshot(os.path.join(artifacts, "status_page_kafka_down.png"))
        browser.pump(0.5)
        bad = problems(browser.events)
        if bad:
            raise AssertionError("the page reported errors:\n  " + "\n  ".join(bad))
        print("screenshots: %s/status_page.png, %s/status_page_kafka_down.png"
              % (artifacts, artifacts))
        print("test_status_page: 1 passed, 0 failed (%.1f s)" % (time.time() - started))
    finally:
        if browser:
            browser.close()
        stack.stop()


if __name__ == "__main__":
    main()
