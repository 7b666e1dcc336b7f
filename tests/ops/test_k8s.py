#!/usr/bin/env python3
"""ops/k8s/: YAML structure, and the fields that must agree with the
programs (flags, env names from --help-markdown, metrics port, probe
paths), with the Dockerfile (user) and with each other (labels and
selectors, RBAC, Secret mount, KEDA targets). No cluster needed.

    test_k8s.py BIN_DIR
"""

import glob
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "ops", "lib"))
import bfops  # noqa: E402

ROOT = bfops.ROOT
BIN = sys.argv[1]
K8S = os.path.join(ROOT, "ops", "k8s")
check = bfops.Checks()


docs = []
for f in sorted(glob.glob(os.path.join(K8S, "**", "*.yaml"), recursive=True)):
    if os.path.basename(f) == "kustomization.yaml":
        continue
    for d in yaml.safe_load_all(open(f, encoding="utf-8")):
        if d:
            d["_file"] = os.path.relpath(f, K8S)
            docs.append(d)


def find(kind, name=None, file_prefix=None):
    out = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
           and (file_prefix is None or d["_file"].startswith(file_prefix))]
    return out


# 1. Structure: every object named, namespaced, labelled.
for d in docs:
    where = "%s %s/%s" % (d["_file"], d.get("kind"), d.get("metadata", {}).get("name"))
    check(d.get("apiVersion") and d.get("kind") and d.get("metadata", {}).get("name"), where + ": structure")
    if d["kind"] != "Namespace":
        check(d["metadata"].get("namespace") == "bountyfleet", where + ": namespace")
    check(d["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "bountyfleet", where + ": labels")
kust = yaml.safe_load(open(os.path.join(K8S, "kustomization.yaml"), encoding="utf-8"))
for r in kust["resources"]:
    check(os.path.exists(os.path.join(K8S, r)), "kustomization: %s missing" % r)
check("secret.example.yaml" not in kust["resources"], "the example Secret must not be applied")
check(not any(r.startswith("keda") for r in kust["resources"]), "KEDA is an alternative, not in the base")

cm = find("ConfigMap", "bountyfleet-config")[0]["data"]
secret = find("Secret", "bountyfleet-ai")[0]
dockerfile = open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8").read()
image_uid = int(re.search(r"useradd .*--uid (\d+)", dockerfile).group(1))
deployments = {d["metadata"]["name"]: d for d in find("Deployment")}
check(set(deployments) == {"bountyfleet-worker", "bountyfleet-autoscaler"}, "deployments: %s" % sorted(deployments))
images = set()
readers = {}  # env name -> programs reading it via the ConfigMap


def container_env(c):
    return {e["name"]: e for e in c.get("env", [])}


# 2. Each Deployment against its program.
for name, d in deployments.items():
    spec = d["spec"]
    tmpl = spec["template"]
    labels = tmpl["metadata"]["labels"]
    check(all(labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items()),
          "%s: selector does not match the pod labels" % name)
    pod = tmpl["spec"]
    c = pod["containers"][0]
    images.add(c["image"])
    program = c["command"][0]
    check(os.path.exists(os.path.join(BIN, program)), "%s: %s is not a built program" % (name, program))
    flags, envs = bfops.program_settings(BIN, program)
    args = [str(a) for a in c.get("args", [])]
    referenced = set(re.findall(r"\$\((\w+)\)", " ".join(args)))
    for a in args:
        if a.startswith("--"):
            check(a.split("=")[0] in flags, "%s: %s has no flag %s" % (name, program, a))
    env = container_env(c)
    for var in env:
        check(var in envs or var in referenced, "%s: %s reads no environment variable %s" % (name, program, var))
    for ref in c.get("envFrom", []):
        if ref.get("configMapRef", {}).get("name") == "bountyfleet-config":
            for k in cm:
                if k in envs:
                    readers.setdefault(k, set()).add(program)
    # Metrics port everywhere the same; probes on /healthz and /readyz.
    host, port = bfops.hostport(env["METRICS_ADDR"]["value"])
    check(host == "0.0.0.0", "%s: METRICS_ADDR must listen on 0.0.0.0" % name)
    cports = {p["name"]: p["containerPort"] for p in c["ports"]}
    check(cports.get("metrics") == port, "%s: containerPort metrics != METRICS_ADDR port" % name)
    check(tmpl["metadata"]["annotations"]["prometheus.io/port"] == str(port), "%s: scrape annotation port" % name)
    check(c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}, "%s: liveness probe" % name)
    check(c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}, "%s: readiness probe" % name)
    # Hardening and resources.
    psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == image_uid,
          "%s: must run as non-root uid %d (the image's user)" % (name, image_uid))
    check(csc.get("allowPrivilegeEscalation") is False and csc.get("readOnlyRootFilesystem") is True
          and csc.get("capabilities", {}).get("drop") == ["ALL"], "%s: container securityContext" % name)
    res = c.get("resources", {})
    check(res.get("requests", {}).get("cpu") and res.get("requests", {}).get("memory")
          and res.get("limits", {}).get("memory"), "%s: resources" % name)
    # A Service that selects exactly this Deployment's pods, on the metrics port.
    svcs = [s for s in find("Service") if all(labels.get(k) == v for k, v in s["spec"]["selector"].items())]
    check(len(svcs) == 1, "%s: %d Services select its pods" % (name, len(svcs)))
    for s in svcs:
        sp = s["spec"]["ports"][0]
        check(sp["port"] == port and sp["targetPort"] == "metrics", "%s: Service port" % name)
        others = [n for n, o in deployments.items() if n != name and all(
            o["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in s["spec"]["selector"].items())]
        check(not others, "Service %s also selects %s" % (s["metadata"]["name"], others))
for k in cm:
    check(k in readers, "ConfigMap key %s is read by no program that mounts it" % k)
check(len(images) == 1, "one image for every program: %s" % images)
check(kust["images"][0]["name"] == list(images)[0].split(":")[0], "kustomization image name")
check({cm[k] for k in ("BOUNTYFLEET_TOPIC_REPORTS", "BOUNTYFLEET_TOPIC_VALIDATIONS", "BOUNTYFLEET_TOPIC_DLQ")}
      <= bfops.topics_in_code(), "ConfigMap topics differ from libbf/kafka.h")

# 3. Worker: drain, PDB, key file from the Secret.
w = deployments["bountyfleet-worker"]
wpod = w["spec"]["template"]["spec"]
wc = wpod["containers"][0]
wargs = [str(a) for a in wc["args"]]
drain = float(wargs[wargs.index("--drain-timeout") + 1])
check(wpod["terminationGracePeriodSeconds"] >= drain + 10,
      "worker: terminationGracePeriodSeconds %s leaves no margin over --drain-timeout %s"
      % (wpod["terminationGracePeriodSeconds"], drain))
check(wpod.get("automountServiceAccountToken") is False, "worker needs no API token")
pdbs = find("PodDisruptionBudget")
check(len(pdbs) == 1 and pdbs[0]["spec"]["selector"]["matchLabels"] == w["spec"]["selector"]["matchLabels"],
      "PDB must select the workers")
check(pdbs and (pdbs[0]["spec"].get("maxUnavailable") == 1 or "minAvailable" in pdbs[0]["spec"]), "PDB budget")
# An idle worker (no partitions) is never ready: it must not block drains
# or rollouts.
check(pdbs and pdbs[0]["spec"].get("unhealthyPodEvictionPolicy") == "AlwaysAllow",
      "PDB: unready (idle) workers must stay evictable")
check(w["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] >= 1,
      "worker rollout: maxUnavailable 0 stalls when workers == partitions")
keyfile = container_env(wc).get("OPENAI_API_KEY_FILE", {}).get("value", "")
mounts = {m["name"]: m["mountPath"] for m in wc["volumeMounts"]}
vols = {v["name"]: v for v in wpod["volumes"]}
sv = [n for n, v in vols.items() if v.get("secret", {}).get("secretName") == secret["metadata"]["name"]]
check(sv and os.path.dirname(keyfile) == mounts.get(sv[0]) and os.path.basename(keyfile) in secret["stringData"],
      "worker: OPENAI_API_KEY_FILE is not the mounted Secret's key")

# 4. Autoscaler: exactly get/patch on the worker's scale subresource.
a = deployments["bountyfleet-autoscaler"]
apod = a["spec"]["template"]["spec"]
ac = apod["containers"][0]
aargs = [str(x) for x in ac["args"]]
opt = {aargs[i]: aargs[i + 1] for i in range(len(aargs) - 1) if aargs[i].startswith("--")}
check(opt.get("--actuator") == "kubernetes", "autoscaler: --actuator kubernetes")
check(opt.get("--k8s-deployment") == "bountyfleet-worker", "autoscaler: --k8s-deployment is not the worker")
check(opt.get("--k8s-namespace") == "$(POD_NAMESPACE)" and
      container_env(ac)["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace",
      "autoscaler: --k8s-namespace from the downward API")
check(a["spec"]["replicas"] == 1 and a["spec"]["strategy"]["type"] == "Recreate", "autoscaler: one decider")
sa = find("ServiceAccount")
check(len(sa) == 1 and apod["serviceAccountName"] == sa[0]["metadata"]["name"], "autoscaler service account")
roles = find("Role")
check(len(roles) == 1 and not find("ClusterRole") and not find("ClusterRoleBinding"), "one namespaced Role only")
rules = roles[0]["rules"]
check(rules == [{"apiGroups": ["apps"], "resources": ["deployments/scale"],
                 "resourceNames": ["bountyfleet-worker"], "verbs": ["get", "patch"]}],
      "Role must grant exactly get/patch on deployments/scale of bountyfleet-worker: %s" % rules)
rb = find("RoleBinding")[0]
check(rb["roleRef"]["kind"] == "Role" and rb["roleRef"]["name"] == roles[0]["metadata"]["name"]
      and rb["subjects"] == [{"kind": "ServiceAccount", "name": sa[0]["metadata"]["name"],
                              "namespace": "bountyfleet"}], "RoleBinding")

# 5. KEDA alternatives point at the right things.
asvc = [s for s in find("Service") if s["metadata"]["name"] == "bountyfleet-autoscaler"][0]
for so in find("ScaledObject"):
    f = so["_file"]
    check(so["spec"]["scaleTargetRef"]["name"] == "bountyfleet-worker", f + ": scale target")
    check(so["spec"]["maxReplicaCount"] == int(opt["--max"]), f + ": maxReplicaCount != autoscaler --max")
    t = so["spec"]["triggers"][0]
    if t["type"] == "metrics-api":
        url = "http://%s.%s.svc:%d/api/v1/desired" % (asvc["metadata"]["name"], asvc["metadata"]["namespace"],
                                                     asvc["spec"]["ports"][0]["port"])
        check(t["metadata"]["url"] == url, f + ": url must be %s" % url)
        check(t["metadata"]["valueLocation"] == "desiredReplicas" and t["metadata"]["targetValue"] == "1"
              and t.get("metricType") == "AverageValue", f + ": replicas = desiredReplicas")
    elif t["type"] == "kafka":
        check(t["metadata"]["consumerGroup"] == cm["BOUNTYFLEET_GROUP"], f + ": consumer group")
        check(t["metadata"]["topic"] == cm["BOUNTYFLEET_TOPIC_REPORTS"], f + ": topic")
        check(t["metadata"]["bootstrapServers"] == cm["KAFKA_BROKERS"], f + ": brokers")
    else:
        check(False, f + ": unexpected trigger %s" % t["type"])
check(len(find("ScaledObject")) == 2, "two KEDA alternatives (metrics-api, kafka)")

check.finish("ops/k8s: %d objects" % len(docs), "consistent")
