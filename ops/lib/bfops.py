"""bfops - what the ops checks share: the metric contract (ops/METRICS.md)
and the metrics that the Prometheus rules and the Grafana dashboards use.

Used by ops/check-metrics-live and tests/ops/*.py. Python 3 standard
library plus PyYAML (Debian: python3-yaml).
"""

import glob
import json
import os
import re

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
METRICS_MD = os.path.join(ROOT, "ops", "METRICS.md")
RULE_FILES = sorted(glob.glob(os.path.join(ROOT, "ops", "prometheus", "rules", "*.yml")))
DASHBOARDS = sorted(glob.glob(os.path.join(ROOT, "ops", "grafana", "dashboards", "*.json")))

# Labels Prometheus adds to every scraped series, and its own series.
TARGET_LABELS = {"instance", "job"}
BUILTIN_METRICS = {"up": set()}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


class Metric:
    def __init__(self, name, kind, labels, program):
        self.name, self.kind, self.labels, self.programs = name, kind, set(labels), {program}


def parse_metrics_md(path=METRICS_MD):
    """{name: Metric} from the tables of METRICS.md. A table belongs to the
    program named by the `## bountyfleet-...` heading above it."""
    metrics, program = {}, None
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^##\s+(bountyfleet-[a-z]+)", line)
        if m:
            program = m.group(1)
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`bountyfleet_"):
            continue
        name = cells[0].strip("`")
        labels = re.findall(r"`([a-z_]+)`", cells[2])
        if name in metrics:
            metrics[name].programs.add(program)
            metrics[name].labels |= set(labels)
        else:
            metrics[name] = Metric(name, cells[1], labels, program)
    return metrics


def rule_exprs(files=RULE_FILES):
    """[(where, expr)] of every rule, and the recording rules' names."""
    exprs, recorded = [], set()
    for f in files:
        doc = yaml.safe_load(open(f, encoding="utf-8"))
        for g in doc.get("groups", []):
            for r in g.get("rules", []):
                name = r.get("alert") or r.get("record")
                if "record" in r:
                    recorded.add(r["record"])
                exprs.append(("%s: %s" % (os.path.relpath(f, ROOT), name), str(r["expr"])))
    return exprs, recorded


def dashboard_panels(dashboard):
    """Every panel of a dashboard, rows' nested panels included."""
    for p in dashboard.get("panels", []):
        yield p
        for q in p.get("panels", []):
            yield q


def dashboard_exprs(files=DASHBOARDS):
    exprs = []
    for f in files:
        d = json.load(open(f, encoding="utf-8"))
        for p in dashboard_panels(d):
            for t in p.get("targets", []):
                if "expr" in t:
                    exprs.append(("%s: %s" % (os.path.relpath(f, ROOT), p.get("title")), t["expr"]))
        for v in d.get("templating", {}).get("list", []):
            q = v.get("query")
            if isinstance(q, dict):
                q = q.get("query")
            if v.get("type") == "query" and q:
                exprs.append(("%s: variable %s" % (os.path.relpath(f, ROOT), v.get("name")), q))
    return exprs


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_IDENT = re.compile(r"(?<![A-Za-z0-9_:$.])([A-Za-z_:][A-Za-z0-9_:]*)")
_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


def base_name(name, contract):
    """A histogram's _bucket/_sum/_count series belong to its family."""
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if base in contract and contract[base].kind == "histogram":
                return base
    return name


def metrics_in(expr, contract):
    """Metric families (bountyfleet_* and Prometheus' own `up`) an expr reads."""
    text = _STRINGS.sub('""', expr)
    text = re.sub(r"\$\{?\w+\}?", "x", text)  # Grafana variables
    found = set()
    for ident in _IDENT.findall(text):
        if ident.startswith("bountyfleet_") or ident in BUILTIN_METRICS:
            found.add(base_name(ident, contract))
    return found


def labels_in(expr):
    """(selector labels per metric, grouping labels) of an expr."""
    text = re.sub(r"\$\{?\w+\}?", "x", expr)
    per_metric = {}
    for name, body in _SELECTOR.findall(text):
        for lab in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", _STRINGS.sub('""', body)):
            per_metric.setdefault(name, set()).add(lab)
    grouping = set()
    for body in _GROUPING.findall(_STRINGS.sub('""', text)):
        grouping |= {x.strip() for x in body.split(",") if x.strip()}
    return per_metric, grouping


def used_metrics(contract=None):
    """{family: [where...]} of every metric the rules and dashboards use."""
    contract = contract if contract is not None else parse_metrics_md()
    used = {}
    exprs, _ = rule_exprs()
    for where, expr in exprs + dashboard_exprs():
        for m in metrics_in(expr, contract):
            used.setdefault(m, []).append(where)
    return used


def parse_exposition(text):
    """(families, programs) from Prometheus text format: every family named
    by a TYPE line or a sample, and the program labels of build_info."""
    families, programs = set(), set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            families.add(line.split()[2])
        elif line and not line.startswith("#"):
            name = re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line)
            if name:
                n = name.group(0)
                families.add(n)
                for suffix in HISTOGRAM_SUFFIXES:
                    if n.endswith(suffix):
                        families.add(n[: -len(suffix)])
                if n == "bountyfleet_build_info":
                    p = re.search(r'program="([^"]*)"', line)
                    if p:
                        programs.add(p.group(1))
    return families, programs


# Settings the ops files may use before the programs read them (none now:
# every name the ops files use is read by the programs; BF_OPS_STRICT=1
# ignores this table).
PENDING = {}


def program_settings(bin_dir, program):
    """(flags, env names) a program reads, from its --help-markdown table.
    A secret NAME is also read as NAME_FILE."""
    import subprocess

    out = subprocess.run([os.path.join(bin_dir, program), "--help-markdown"], check=True,
                         capture_output=True, text=True).stdout
    flags, envs = {"-X", "-F"}, set()
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith(("`--", "—")):
            continue
        if cells[0].startswith("`--"):
            flags.add(cells[0].strip("`"))
        if cells[1].startswith("`"):
            envs.add(cells[1].strip("`"))
            if cells[2] == "secret":
                envs.add(cells[1].strip("`") + "_FILE")
    pending = PENDING.get(program, {"env": set(), "flags": set()})
    if os.environ.get("BF_OPS_STRICT") == "1":  # what the binaries read, nothing pending
        pending = {"env": set(), "flags": set()}
    return flags | pending["flags"], envs | pending["env"]


def topics_in_code():
    """The default topic names, from libbf/kafka.h."""
    text = open(os.path.join(ROOT, "libbf", "kafka.h"), encoding="utf-8").read()
    return set(re.findall(r'#define\s+BF_TOPIC_\w+\s+"([^"]+)"', text))


def hostport(addr):
    host, _, port = addr.rpartition(":")
    return host, int(port)


class Checks:
    """Collects failed checks of a test script: check(cond, msg), then
    check.finish(summary) prints them and exits 1 if any failed."""

    def __init__(self):
        self.errors = []

    def __call__(self, cond, msg):
        if not cond:
            self.errors.append(msg)

    def finish(self, summary, ok="ok"):
        import sys

        for e in self.errors:
            print("FAIL", e)
        print("%s: %s" % (summary, ok if not self.errors else "%d problems" % len(self.errors)))
        sys.exit(1 if self.errors else 0)
