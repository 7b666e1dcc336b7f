#!/usr/bin/env python3
"""docker-compose.yml: `docker-compose config` accepts it (with no .env,
with .env.example, with the sim profile), and what it sets agrees with the
programs (flags and env names from their --help-markdown), the Dockerfile,
ops/prometheus/prometheus.yml, libbf's topic names and .env.example.

    test_compose.py BIN_DIR      (BIN_DIR holds the built bountyfleet-* programs)
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "ops", "lib"))
import bfops  # noqa: E402

ROOT = bfops.ROOT
BIN = sys.argv[1]
check = bfops.Checks()


def compose_config(env_file, *extra):
    """The resolved configuration, as docker-compose prints it."""
    tool = shutil.which("docker-compose")
    if not tool:
        sys.exit("docker-compose not found (Debian package docker-compose; ops/test installs it)")
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    cmd = [tool, "--project-directory", ROOT, "-f", os.path.join(ROOT, "docker-compose.yml"),
           "--env-file", env_file] + list(extra) + ["config"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit("%s failed:\n%s" % (" ".join(cmd), r.stderr))
    return yaml.safe_load(r.stdout)


with tempfile.NamedTemporaryFile("w", suffix=".env") as empty:
    default = compose_config(empty.name)
    sim = compose_config(empty.name, "--profile", "sim")
example_path = os.path.join(ROOT, ".env.example")
example = compose_config(example_path)

# 1. Services, health checks, restart policies.
S = default["services"]
core = {"kafka", "kafka-init", "redis", "worker", "autoscaler", "prometheus", "grafana"}
trial = {"aisim", "sample-load"}
check(core <= set(S) and set(sim["services"]) == core | trial, "services: %s" % sorted(sim["services"]))
for n in trial:
    check(sim["services"][n].get("profiles") == ["sim"], "%s must be in profile sim only" % n)
for n in core:
    check(not S[n].get("profiles"), "%s must run without a profile" % n)
check(re.search(r"^COMPOSE_PROFILES=sim$", open(os.path.join(ROOT, ".env.example")).read(), re.M),
      ".env.example must enable the sim profile for the keyless trial")
ONE_SHOT = {"kafka-init", "sample-load"}
for name, s in sim["services"].items():
    if name in ONE_SHOT:
        check(s.get("restart") == "on-failure", "%s: one-shot, restart on-failure" % name)
        continue
    check(s.get("restart") in ("unless-stopped", "always"), "%s: no restart policy" % name)
    check(s.get("healthcheck", {}).get("test"), "%s: no health check" % name)

# 2. bountyfleet services: one image, built here; commands, flags and env
#    names the programs really read; metrics ports agree everywhere.
dockerfile = open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8").read()
prom = yaml.safe_load(open(os.path.join(ROOT, "ops", "prometheus", "prometheus.yml"), encoding="utf-8"))
jobs = {j["job_name"]: j for j in prom["scrape_configs"]}


def volumes(s):
    """A service's volumes as dicts (type, source, target): docker-compose 1.29
    prints the short string form, compose v2 the long form."""
    out = []
    for v in s.get("volumes", []):
        if isinstance(v, str):
            parts = v.split(":")
            src, tgt = parts[0], parts[1]
            v = {"type": "bind" if src.startswith("/") else "volume", "source": src, "target": tgt}
        out.append(v)
    return out


def ports(s):
    """A service's published ports as dicts (host_ip, published, target)."""
    out = []
    for p in s.get("ports", []):
        if isinstance(p, str):
            parts = p.split("/")[0].split(":")
            p = {"host_ip": parts[0] if len(parts) == 3 else "", "published": parts[-2],
                 "target": parts[-1]}
        out.append(p)
    return out


def scrape_port(job):
    j = jobs[job]
    if "dns_sd_configs" in j:
        return j["dns_sd_configs"][0]["port"], j["dns_sd_configs"][0]["names"][0]
    host, port = bfops.hostport(j["static_configs"][0]["targets"][0])
    return port, host


def health_port(s):
    m = re.search(r"http://127\.0\.0\.1:(\d+)/healthz", " ".join(s["healthcheck"]["test"]))
    return int(m.group(1)) if m else None


bf_services = {n: s for n, s in sim["services"].items() if s.get("build")}
check(set(bf_services) == {"worker", "autoscaler", "aisim", "sample-load"}, "built services: %s" % sorted(bf_services))
image_files = re.findall(r"^COPY (?!--from)\S+ (/usr/share/bountyfleet/\S+)$", dockerfile, re.M)
images = {s["image"] for s in bf_services.values()}
check(len(images) == 1, "bountyfleet services use several images: %s" % images)
kafka_adv = S["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
kafka_internal = re.search(r"PLAINTEXT://([^,]+)", kafka_adv).group(1)
for name, s in bf_services.items():
    check(os.path.realpath(s["build"]["context"]) == ROOT, "%s: build context is not the repo" % name)
    cmd = s["command"]
    program = cmd[0]
    check(os.path.exists(os.path.join(BIN, program)), "%s: %s is not a built program" % (name, program))
    check(re.search(r"/build/bin/%s\b" % re.escape(program), dockerfile),
          "%s: the Dockerfile does not install %s" % (name, program))
    flags, envs = bfops.program_settings(BIN, program)
    for arg in cmd[1:]:
        if arg.startswith("/usr/share/bountyfleet/"):
            check(any(arg == f or (f.endswith("/") and arg.startswith(f)) for f in image_files),
                  "%s: %s is not in the image" % (name, arg))
        if arg.startswith("--"):
            check(arg.split("=")[0] in flags, "%s: %s has no flag %s" % (name, program, arg))
    for var in s.get("environment", {}):
        check(var in envs, "%s: %s reads no environment variable %s" % (name, program, var))
    check("container_name" not in s, "%s: container_name prevents --scale" % name)
    if s["environment"].get("KAFKA_BROKERS") is not None:
        check(s["environment"]["KAFKA_BROKERS"] == kafka_internal,
              "%s: KAFKA_BROKERS is not kafka's advertised listener %s" % (name, kafka_internal))
    if name in ("worker", "autoscaler"):
        host, port = bfops.hostport(s["environment"].get("METRICS_ADDR", ":0"))
        check(host == "0.0.0.0", "%s: METRICS_ADDR must listen on 0.0.0.0 in a container" % name)
        check(health_port(s) == port, "%s: health check port != METRICS_ADDR port" % name)
        jport, jhost = scrape_port("bountyfleet-" + name)
        check((jhost.split(":")[0], jport) == (name, port),
              "%s: prometheus scrapes %s:%s, METRICS_ADDR port is %s" % (name, jhost, jport, port))

w = S["worker"]
check(not w.get("ports"), "worker publishes host ports: --scale would collide")
drain = int(w["command"][w["command"].index("--drain-timeout") + 1])
grace = w.get("stop_grace_period", "10s")
grace_s = int(re.match(r"(\d+)s$", grace).group(1)) if re.match(r"\d+s$", grace) else 0
check(grace_s > drain, "worker: stop_grace_period %s must exceed --drain-timeout %d" % (grace, drain))
check(w["environment"]["REDIS_URL"].startswith("redis://redis:"), "worker: REDIS_URL is not the redis service")

a = sim["services"]["aisim"]
listen_port = bfops.hostport(a["command"][a["command"].index("--listen") + 1])[1]
check(health_port(a) == listen_port, "aisim: health check port != --listen port")
check(scrape_port("bountyfleet-aisim") == (listen_port, "aisim"), "aisim: prometheus port != --listen port")
ex_url = example["services"]["worker"]["environment"]["OPENAI_BASE_URL"]
check(ex_url == "http://aisim:%d/v1" % listen_port, ".env.example's OPENAI_BASE_URL %s is not aisim" % ex_url)

# 3. Kafka (KRaft), topics, Redis persistence, volumes.
k = S["kafka"]
check(k["image"].startswith("apache/kafka:"), "kafka: not the official apache/kafka image")
check("controller" in k["environment"]["KAFKA_PROCESS_ROLES"], "kafka: not KRaft (no controller role)")
vols = {v["target"]: v for v in volumes(k)}
check(k["environment"]["KAFKA_LOG_DIRS"] in vols, "kafka: KAFKA_LOG_DIRS is not a volume")
init = " ".join(S["kafka-init"]["command"])
created = set(re.findall(r"^\s*create\s+(\S+)", init, re.M))
check(created == bfops.topics_in_code(), "kafka-init creates %s, libbf/kafka.h names %s"
      % (sorted(created), sorted(bfops.topics_in_code())))
# Run kafka-init's script with kafka-topics.sh replaced by a recorder: the
# topics, partition counts and retention it would ask the broker for.
ki = example["services"]["kafka-init"]
# `config` prints $ escaped as $$, as in the file.
script = ki["command"][0].replace("$$", "$").replace("/opt/kafka/bin/kafka-topics.sh", "kafka_topics")
rec = subprocess.run(["bash", "-ec", 'kafka_topics() { echo "$*"; }\n' + script],
                     capture_output=True, text=True, env=dict({k: str(v) for k, v in ki["environment"].items()}, PATH=os.environ["PATH"]))
check(rec.returncode == 0, "kafka-init script fails: %s" % rec.stderr)
asked = {}
for line in rec.stdout.splitlines():
    m = re.search(r"--create .*--topic (\S+) --partitions (\d+) --config retention\.ms=(\d+)", line)
    if m:
        asked[m.group(1)] = (int(m.group(2)), int(m.group(3)))
envfile = dict(re.findall(r"^([A-Z_0-9]+)=(.*)$", open(example_path, encoding="utf-8").read(), re.M))
check(set(asked) == bfops.topics_in_code(), "kafka-init would create %s" % sorted(asked))
check(asked.get("bountyfleet.reports", (0,))[0] == int(envfile["REPORTS_PARTITIONS"]),
      "kafka-init: reports partitions != REPORTS_PARTITIONS")
check(asked.get("bountyfleet.reports.dlq", (0, 0))[1] == int(envfile["DLQ_RETENTION_MS"]),
      "kafka-init: DLQ retention != DLQ_RETENTION_MS")
check(int(envfile["REPORTS_PARTITIONS"]) >= int(envfile["WORKERS_MAX"]),
      ".env.example: more workers than report partitions would sit idle")
check(S["kafka-init"]["depends_on"]["kafka"]["condition"] == "service_healthy", "kafka-init waits for kafka")
for n in ("worker", "autoscaler"):
    check(S[n]["depends_on"].get("kafka-init", {}).get("condition") == "service_completed_successfully",
          "%s must wait for the topics" % n)
r = S["redis"]
check("--appendonly" in r["command"] and r["command"][r["command"].index("--appendonly") + 1] == "yes",
      "redis: AOF persistence off")
check(any(v["target"] == "/data" and v["type"] == "volume" for v in volumes(r)), "redis: /data not a volume")
for name, s in S.items():
    for v in volumes(s):
        if v["type"] == "bind":
            check(os.path.exists(v["source"]) and v["source"].startswith(ROOT + os.sep),
                  "%s: bind mount %s missing from the repo" % (name, v["source"]))
        else:
            check(v["source"] in default.get("volumes", {}), "%s: undeclared volume %s" % (name, v["source"]))
p = S["prometheus"]
cfg_path = [c for c in p["command"] if c.startswith("--config.file=")][0].split("=", 1)[1]
mounts = {v["target"]: v["source"] for v in volumes(p)}
check(os.path.dirname(cfg_path) in mounts and
      os.path.exists(os.path.join(mounts[os.path.dirname(cfg_path)], os.path.basename(cfg_path))),
      "prometheus: --config.file is not the mounted ops/prometheus/prometheus.yml")
g = S["grafana"]
gm = {v["target"]: os.path.relpath(v["source"], ROOT) for v in volumes(g) if v["type"] == "bind"}
check(gm.get("/etc/grafana/provisioning") == "ops/grafana/provisioning", "grafana: provisioning mount")
check(gm.get("/etc/grafana/dashboards") == "ops/grafana/dashboards", "grafana: dashboards mount")
home = g["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
check(os.path.exists(os.path.join(ROOT, "ops/grafana/dashboards", os.path.basename(home))), "grafana: home dashboard")
for name, s in S.items():
    for port in ports(s):
        check(port.get("host_ip") == "127.0.0.1", "%s: host port %s not bound to loopback" % (name, port))

# 4. .env.example documents every variable the compose file reads, with
#    the same defaults.
text = open(os.path.join(ROOT, "docker-compose.yml"), encoding="utf-8").read()
used = {}
for m in re.finditer(r"(?<!\$)\$\{(\w+)(?::-([^}]*))?\}", text):
    used.setdefault(m.group(1), m.group(2))
documented = {}
for line in open(example_path, encoding="utf-8"):
    m = re.match(r"^#?([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
    if m:
        documented.setdefault(m.group(1), []).append(m.group(2))
for var, dflt in used.items():
    check(var in documented, ".env.example does not document %s" % var)
    if var in documented and dflt is not None:
        check(dflt in documented[var], ".env.example: %s=%s but the compose default is %r"
              % (var, documented[var], dflt))
for var in documented:
    check(var in used or var == "COMPOSE_PROFILES", ".env.example sets %s, which the compose file ignores" % var)

check.finish("docker-compose config ok for 3 variants", "consistent")
