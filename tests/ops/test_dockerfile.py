#!/usr/bin/env python3
"""Dockerfile and .dockerignore, checked without a Docker engine:

- the build stage installs the -dev packages of every pkg-config module
  CMakeLists.txt requires, all from ops/lib.sh's BF_PACKAGES;
- the runtime stage installs the package of every shared library the built
  programs link directly (readelf NEEDED -> dpkg -S), and no -dev package;
- every program CMake builds is copied, with the data files under the
  BF_DATADIR the build sets (where worker/main.c looks by default);
- the user is non-root; the health check uses METRICS_ADDR's port;
- nothing a COPY needs is excluded by .dockerignore, and the build stage's
  sources alone configure and build with CMake and the Dockerfile's flags
  (what `docker build` would run; BF_OPS_DOCKER_BUILD=0 configures only).

    test_dockerfile.py BIN_DIR
"""

import fnmatch
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "ops", "lib"))
import bfops  # noqa: E402

ROOT = bfops.ROOT
BIN = sys.argv[1]
check = bfops.Checks()


def sh(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True).stdout


text = open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8").read()
logical = re.sub(r"\\\n", " ", text)  # join continuation lines
lines = [l.strip() for l in logical.splitlines() if l.strip() and not l.strip().startswith("#")]
args = dict(re.findall(r"^ARG (\w+)=(\S+)$", "\n".join(lines), re.M))

# Split into stages.
stages, cur = {}, None
for l in lines:
    m = re.match(r"FROM (\S+) AS (\w+)", l, re.I)
    if m:
        cur = m.group(2)
        base = re.sub(r"\$\{(\w+)\}", lambda x: args.get(x.group(1), ""), m.group(1))
        stages[cur] = {"base": base, "lines": []}
    elif cur:
        stages[cur]["lines"].append(l)
check(set(stages) == {"build", "runtime"}, "stages: %s" % list(stages))
check(stages["build"]["base"] == "debian:12", "build stage is not debian:12")
check(stages["runtime"]["base"] == "debian:12-slim", "runtime stage is not debian:12-slim")


def apt_packages(stage):
    pkgs = set()
    for l in stages[stage]["lines"]:
        m = re.search(r"apt-get install (.*?)(?:&&|$)", l)
        if m:
            pkgs |= {w for w in m.group(1).split() if not w.startswith("-")}
    return pkgs


build_pkgs, runtime_pkgs = apt_packages("build"), apt_packages("runtime")
libsh = open(os.path.join(ROOT, "ops", "lib.sh"), encoding="utf-8").read()
bf_packages = set(re.search(r'BF_PACKAGES="([^"]*)"', libsh).group(1).split())
check(build_pkgs <= bf_packages, "build stage installs what ops/lib.sh does not list: %s"
      % sorted(build_pkgs - bf_packages))

def dpkg_owners(paths):
    """{path: package} for the paths dpkg knows, in one dpkg -S call (paths
    under /lib are also tried under /usr/lib: Debian 12 is merged-/usr)."""
    cands = set()
    for p in paths:
        cands |= {p, "/usr" + p if not p.startswith("/usr/") else p[4:]}
    owners = {}
    for line in sh("dpkg", "-S", *sorted(cands)).splitlines():
        pkgs, _, path = line.partition(": ")
        owners[path.strip()] = pkgs.split(",")[0].split(":")[0].strip()
    return {p: owners.get(p) or owners.get("/usr" + p) or owners.get(p[4:], "") for p in paths}


# pkg-config modules CMake requires -> their -dev packages.
cmake = open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8").read()
top = cmake.split("if(BUILD_TESTING)")[0]
modules = re.findall(r"pkg_check_modules\(\w+ REQUIRED IMPORTED_TARGET (\S+)\)", top)
pcfiles = {m: os.path.join(sh("pkg-config", "--variable=pcfiledir", m).strip(), m + ".pc") for m in modules}
pc_owner = dpkg_owners(list(pcfiles.values()))
for module, pc in pcfiles.items():
    check(pc_owner[pc] in build_pkgs, "build stage lacks %s (pkg-config %s)" % (pc_owner[pc] or "?", module))

# Programs CMake builds = programs copied to the runtime image (examples,
# which show the C API, are not programs to ship).
programs = set()
for cm in [os.path.join(d, f) for d, _, fs in os.walk(ROOT) for f in fs if f == "CMakeLists.txt"]:
    if "/build" in cm[len(ROOT):] or "/tests/" in cm:
        continue
    programs |= {p for p in re.findall(r"add_executable\((bountyfleet-[\w-]+)", open(cm).read())
                 if not p.endswith("-example")}
copied = set(re.findall(r"/build/bin/(bountyfleet-[\w-]+)", " ".join(stages["runtime"]["lines"])))
check(programs == copied and len(programs) == 6, "CMake builds %s, the image gets %s" % (sorted(programs), sorted(copied)))

# Direct shared-library dependencies -> runtime packages.
base = {"libc6", "libgcc-s1"}  # in every Debian image
sanitizer = re.compile(r"^lib(asan|ubsan|tsan|lsan)\d")
links = []  # (program, soname, path)
for prog in sorted(programs):
    path = os.path.join(BIN, prog)
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", sh("readelf", "-d", path))
    resolved = dict(re.findall(r"^\s*(\S+) => (\S+)", sh("ldd", path), re.M))
    links += [(prog, so, os.path.realpath(resolved.get(so, so))) for so in needed]
so_owner = dpkg_owners(sorted({p for _, _, p in links}))
for prog, so, path in links:
    owner = so_owner[path]
    if owner in base or sanitizer.match(owner):
        continue
    check(owner in runtime_pkgs, "%s links %s (package %s), not installed in the runtime stage"
          % (prog, so, owner or "unknown"))
check(not [p for p in runtime_pkgs if p.endswith("-dev")], "runtime stage installs -dev packages")
policy = sh("apt-cache", "policy", *sorted(runtime_pkgs))
known = set(re.findall(r"^(\S+):\n\s+Installed: .*\n\s+Candidate: (?!\(none\))", policy, re.M))
have_lists = glob.glob("/var/lib/apt/lists/*_Packages*")  # else apt knows only what is installed
for p in runtime_pkgs:
    check(p in known or not have_lists, "runtime package %s unknown to apt" % p)

# Data files where the programs look for them.
m = re.search(r"-DBF_DATADIR=(\S+)", text)
check(m, "build does not set -DBF_DATADIR")
datadir = m.group(1) if m else "?"
check(re.search(r'set\(BF_DATADIR .* CACHE PATH', cmake), "BF_DATADIR is not a CMake cache variable")
main_c = open(os.path.join(ROOT, "worker", "main.c"), encoding="utf-8").read()
rt = " ".join(stages["runtime"]["lines"])
for src, rel in (("worker/prompts/", "/worker/prompts/"), ("worker/prices.json", "/worker/prices.json"),
                 ("schemas/", "/schemas/"),
                 ("ops/demo-data/sample-reports.jsonl", "/ops/demo-data/sample-reports.jsonl")):
    check(re.search(r"COPY %s %s%s" % (re.escape(src), re.escape(datadir), re.escape(rel)), rt),
          "runtime stage does not copy %s to %s%s" % (src, datadir, rel))
check('BF_DATADIR "/worker/prompts/v2"' in main_c and 'BF_DATADIR "/worker/prices.json"' in main_c,
      "worker/main.c no longer finds prompts/prices under BF_DATADIR")
check(os.path.isdir(os.path.join(ROOT, "worker", "prompts", "v2")), "worker/prompts/v2 missing")
check("-DBUILD_TESTING=OFF" in text, "the image should not build the tests")

# Non-root user; health check on METRICS_ADDR's port.
user = re.search(r"^USER (\S+)", "\n".join(stages["runtime"]["lines"]), re.M)
check(user and user.group(1).split(":")[0] not in ("0", "root"), "image runs as root")
uid = re.search(r"useradd .*--uid (\d+)", rt)
check(user and uid and user.group(1).split(":")[0] == uid.group(1), "USER is not the created user's uid")
check(re.search(r"ENV METRICS_ADDR=0\.0\.0\.0:\d+", rt), "METRICS_ADDR must listen on 0.0.0.0")
check("${METRICS_ADDR##*:}/healthz" in rt, "HEALTHCHECK must probe /healthz on METRICS_ADDR's port")
check(re.search(r'^CMD \["bountyfleet-worker"\]', "\n".join(stages["runtime"]["lines"]), re.M),
      "default command should be the worker")

# .dockerignore vs COPY sources; the build stage's sources configure alone.
ignore = [l.strip() for l in open(os.path.join(ROOT, ".dockerignore")) if l.strip() and not l.startswith("#")]


def ignored(path):
    out = False
    for pat in ignore:
        neg = pat.startswith("!")
        p = pat.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p + "/*") or path.startswith(p + "/"):
            out = not neg
    return out


copies = []
for stage in stages:
    for l in stages[stage]["lines"]:
        if l.startswith("COPY ") and "--from=" not in l:
            copies.append((stage, l.split()[1:-1]))
for stage, srcs in copies:
    for s in srcs:
        path = s.rstrip("/")
        check(os.path.exists(os.path.join(ROOT, path)), "COPY %s: missing" % s)
        check(not ignored(path), "COPY %s: excluded by .dockerignore" % s)
        if os.path.isdir(os.path.join(ROOT, path)):
            for d, _, fs in os.walk(os.path.join(ROOT, path)):
                for f in fs:
                    rel = os.path.relpath(os.path.join(d, f), ROOT)
                    check(not ignored(rel), "%s: needed by COPY, excluded by .dockerignore" % rel)
for big in ("build", ".git", "tests"):
    check(ignored(big), ".dockerignore should exclude %s" % big)

with tempfile.TemporaryDirectory() as ctx:
    for stage, srcs in copies:
        if stage != "build":
            continue
        for s in srcs:
            src = os.path.join(ROOT, s.rstrip("/"))
            dst = os.path.join(ctx, s.rstrip("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if os.path.isdir(src):
                shutil.copytree(src, dst, ignore=lambda d, fs: [f for f in fs if ignored(
                    os.path.relpath(os.path.join(d, f), ROOT))])
            else:
                shutil.copy2(src, dst)
    m = re.search(r"RUN cmake -S \. -B /build (.*?) && cmake --build", logical, re.S)
    flags = m.group(1).split() if m else []
    r = subprocess.run(["cmake", "-S", ctx, "-B", os.path.join(ctx, "_build")] + flags,
                       capture_output=True, text=True)
    check(r.returncode == 0, "cmake configure of the build stage's context failed:\n%s" % r.stderr[-2000:])
    if r.returncode == 0 and os.environ.get("BF_OPS_DOCKER_BUILD", "1") == "1":
        r = subprocess.run(["cmake", "--build", os.path.join(ctx, "_build"), "-j1"],
                           capture_output=True, text=True)
        check(r.returncode == 0, "build of the build stage's context failed:\n%s" % r.stdout[-3000:])
        if r.returncode == 0:  # the image's worker looks for its data where COPY puts it
            help_md = sh(os.path.join(ctx, "_build", "bin", "bountyfleet-worker"), "--help-markdown")
            for flag, path in (("--prompts-dir", datadir + "/worker/prompts/v2"),
                               ("--prices", datadir + "/worker/prices.json")):
                check(re.search(r"`%s` \|[^|]*\|[^|]*\| %s \|" % (flag, re.escape(path)), help_md),
                      "the image's worker: %s does not default to %s" % (flag, path))

check.finish("Dockerfile: %d programs, %d runtime packages, data in %s" % (
    len(copied), len(runtime_pkgs), datadir))
