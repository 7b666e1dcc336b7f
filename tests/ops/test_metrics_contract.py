#!/usr/bin/env python3
"""Every metric and label the alert rules and the Grafana dashboard use is
in ops/METRICS.md; every alert is well-formed and has its RUNBOOK.md
section; the dashboard covers what operators need and is wired to the
provisioned datasource."""

import json
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "ops", "lib"))
import bfops  # noqa: E402

ROOT = bfops.ROOT
check = bfops.Checks()


contract = bfops.parse_metrics_md()
check(len(contract) >= 30, "METRICS.md parsed to only %d metrics" % len(contract))
rule_exprs, recorded = bfops.rule_exprs()
dash_exprs = bfops.dashboard_exprs()
check(rule_exprs and dash_exprs, "no rules or no dashboard queries found")

# 1. Metric families and labels.
for where, expr in rule_exprs + dash_exprs:
    names = bfops.metrics_in(expr, contract)
    for name in names:
        check(name in contract or name in bfops.BUILTIN_METRICS,
              "%s: metric %s is not in ops/METRICS.md" % (where, name))
    known = set(bfops.TARGET_LABELS) | {"le"}
    for name in names:
        known |= contract[name].labels if name in contract else set()
    selectors, grouping = bfops.labels_in(expr)
    for metric, labs in selectors.items():
        if metric in recorded:
            continue
        base = bfops.base_name(metric, contract)
        allowed = set(bfops.TARGET_LABELS) | (contract[base].labels if base in contract else set())
        if metric.endswith("_bucket"):
            allowed.add("le")
        for lab in labs:
            check(lab in allowed, "%s: %s has no label %r in METRICS.md" % (where, metric, lab))
    for lab in grouping:
        check(lab in known or any(r in expr for r in recorded),
              "%s: groups by %r, a label none of its metrics has" % (where, lab))
    # A counter is read through rate/increase, never raw.
    for name in names:
        if name in contract and contract[name].kind == "counter":
            check(re.search(r"(rate|increase|irate)\(\s*%s\b" % name, expr),
                  "%s: counter %s used without rate()/increase()" % (where, name))
    for m in re.finditer(r"histogram_quantile\([^,]+,\s*[^()]*\(\s*rate\((\w+)\[", expr):
        check(m.group(1).endswith("_bucket"), "%s: histogram_quantile over %s" % (where, m.group(1)))

# 2. Alerts: severity, summary, runbook section.
runbook = open(os.path.join(ROOT, "ops", "RUNBOOK.md"), encoding="utf-8").read()
headings = {h.strip() for h in re.findall(r"^###\s+(\S+)\s*$", runbook, re.M)}
rules = yaml.safe_load(open(bfops.RULE_FILES[0], encoding="utf-8"))
alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
need = {"LagGrowing", "LagStalled", "DLQRateHigh", "AIErrorRateHigh", "CircuitBreakerOpen",
        "Budget80Percent", "BudgetExhausted", "NoHeartbeats", "EventLoopLag"}
names = {a["alert"] for a in alerts}
for n in need:
    check("Bountyfleet" + n in names, "no alert Bountyfleet%s" % n)
for a in alerts:
    n = a["alert"]
    check(a.get("labels", {}).get("severity") in ("warning", "critical"), "%s: severity" % n)
    check(a.get("annotations", {}).get("summary"), "%s: no summary" % n)
    check(a.get("annotations", {}).get("runbook_url") == "ops/RUNBOOK.md#" + n.lower(),
          "%s: runbook_url must be ops/RUNBOOK.md#%s" % (n, n.lower()))
    check(n in headings, "%s: no '### %s' section in ops/RUNBOOK.md" % (n, n))
for section in ("Deploy", "Scale by hand", "Drain a worker", "Replay the dead-letter topic", "Rotate keys",
                "Alerts"):
    check(re.search(r"^## %s$" % section, runbook, re.M), "ops/RUNBOOK.md has no section '## %s'" % section)
for script in set(re.findall(r"\bops/([\w./-]*[\w/])", runbook)):
    check(os.path.exists(os.path.join(ROOT, "ops", script)), "ops/RUNBOOK.md names ops/%s, which is missing" % script)
test_file = os.path.join(ROOT, "ops", "prometheus", "tests", "alerts_test.yml")
tested = set(re.findall(r"alertname: (\w+)", open(test_file, encoding="utf-8").read()))
for n in names:
    check(n in tested, "%s has no promtool unit test in %s" % (n, os.path.relpath(test_file, ROOT)))

# 3. Dashboard: covers the topics, ids unique, datasource provisioned.
dash = json.load(open(bfops.DASHBOARDS[0], encoding="utf-8"))
panels = list(bfops.dashboard_panels(dash))
ids = [p["id"] for p in panels]
check(len(ids) == len(set(ids)), "dashboard panel ids are not unique")
titles = " | ".join(p.get("title", "").lower() for p in panels)
for topic in ("throughput", "lag per partition", "forecast vs actual", "workers desired vs running",
              "ai latency by provider", "ai errors by provider", "cost vs budget", "dlq"):
    check(topic in titles, "dashboard has no panel about %r" % topic)
ds = yaml.safe_load(open(os.path.join(ROOT, "ops", "grafana", "provisioning", "datasources",
                                      "prometheus.yml"), encoding="utf-8"))["datasources"][0]
var = [v for v in dash["templating"]["list"] if v["type"] == "datasource"][0]
check(var["current"]["value"] == ds["uid"], "dashboard's default datasource is not the provisioned uid")
check(ds["url"] == "http://prometheus:9090", "datasource url")
for p in panels:
    if p["type"] == "row":
        continue
    check(p.get("datasource", {}).get("uid") == "${datasource}", "panel %s: datasource" % p["title"])
    check(p.get("targets"), "panel %s has no query" % p["title"])
    g = p["gridPos"]
    check(g["x"] + g["w"] <= 24, "panel %s is wider than the grid" % p["title"])
cells = {}
for p in panels:
    g = p["gridPos"]
    for x in range(g["x"], g["x"] + g["w"]):
        for y in range(g["y"], g["y"] + g["h"]):
            check((x, y) not in cells, "panels %r and %r overlap" % (cells.get((x, y)), p["title"]))
            cells[(x, y)] = p["title"]
prov = yaml.safe_load(open(os.path.join(ROOT, "ops", "grafana", "provisioning", "dashboards",
                                        "bountyfleet.yml"), encoding="utf-8"))
check(prov["providers"][0]["options"]["path"] == "/etc/grafana/dashboards",
      "dashboard provider path must be the compose mount /etc/grafana/dashboards")

check.finish("%d rule and %d dashboard queries over %d contract metrics" % (
    len(rule_exprs), len(dash_exprs), len(contract)))
