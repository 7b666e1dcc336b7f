#!/usr/bin/env python3
"""Build the labelled near-duplicate evaluation set from real reports.

Usage: make_pairs.py [REPORTS_JSONL] > pairs.jsonl

Reads ../shared/data/reports/hackerone_disclosed_3000.jsonl (3,000 real
disclosed HackerOne reports), maps each onto schemas/report.avsc the way
ops/demo-data/hackerone-to-reports.jq does (asset = the first host named in
the write-up other than hackerone.com, else the program), and writes one JSON
object per line: {"id", "label" (1 = near duplicate), "kind", "a", "b"},
where a and b are reports and b came second.

Deterministic: a fixed seed, inputs in file order, Python's documented
random.Random algorithms; the same input gives the same bytes (BENCHMARKS.md
gives the sha256).

Positives (label 1): a real report and a programmatic paraphrase of it sent
by someone else about the same asset (written another way: scheme, case,
trailing slash, "www."):
  reword_light  two of the transforms below, light substitution;
  reword_heavy  all of them, heavy substitution and more dropped text.
  Transforms: sentences shuffled within paragraphs and two paragraphs
  swapped; words replaced from a thesaurus of bug-report wording; sentences
  dropped; stock sentences added (greetings, thanks, "tested on Chrome");
  Markdown reformatted (headings to bold, numbered lists to bullets,
  emphasis dropped, http/https swapped); the title re-worded; the impact
  moved into the description.
Negatives (label 0), the hard cases:
  same_asset        two different real reports whose asset is the same;
  same_weakness     two different real reports of the same weakness class
                    (by title: XSS, CSRF, SSRF, IDOR, SQLi, open redirect,
                    ...), the second moved onto the first's asset, so only
                    the text can tell them apart;
  same_text_other_asset  a light paraphrase of a report, about another
                    asset of the same program where there is one: must
                    never be a duplicate;
  template_series   real pairs from the data: one reporter, one asset, one
                    write-up template filed for different components (PHP
                    functions, npm packages, Flash classes), titles
                    differing, word-trigram Jaccard above 0.3; distinct
                    bugs in nearly the same words (at most 3 pairs per
                    reporter and asset).
Pairs that may really be duplicates are left out of the negatives: titles
sharing 60% of their words (e.g. two reporters' "Missing Certificate
Authority Authorization rule" for one host), or the same reporter with
word-trigram Jaccard above 0.5 (the data holds templated series: one
write-up filed for many packages or hosts, which only the asset tells
apart); the count is printed on stderr.
"""
import json
import random
import re
import sys

SEED = 20261123
N_POSITIVE = 600
N_SAME_ASSET = 200
N_SAME_WEAKNESS = 250
N_OTHER_ASSET = 150
MAX_PER_SERIES = 3

DEFAULT_INPUT = "../shared/data/reports/hackerone_disclosed_3000.jsonl"

THESAURUS = {
    "vulnerability": ["issue", "flaw", "weakness", "bug"],
    "vulnerable": ["affected", "exploitable"],
    "attacker": ["malicious user", "adversary", "bad actor"],
    "allows": ["lets", "permits", "enables"],
    "allow": ["let", "permit", "enable"],
    "parameter": ["param", "argument"],
    "endpoint": ["route", "API path"],
    "application": ["app", "web app"],
    "website": ["site", "web site"],
    "sensitive": ["confidential", "private"],
    "information": ["info", "data", "details"],
    "however": ["but", "though"],
    "because": ["since", "as"],
    "exploit": ["abuse", "leverage"],
    "reproduce": ["replicate", "trigger"],
    "navigate": ["go", "browse"],
    "click": ["press", "tap"],
    "page": ["screen", "view"],
    "server": ["backend", "host"],
    "response": ["reply", "answer"],
    "payload": ["input", "string"],
    "execute": ["run", "trigger"],
    "malicious": ["evil", "harmful", "crafted"],
    "victim": ["target user", "targeted user"],
    "possible": ["feasible"],
    "obtain": ["get", "acquire"],
    "retrieve": ["fetch", "get"],
    "modify": ["change", "alter"],
    "delete": ["remove", "erase"],
    "send": ["submit", "issue"],
    "following": ["below", "next"],
    "screenshot": ["image", "capture"],
    "attached": ["enclosed", "included"],
    "issue": ["problem", "bug"],
    "found": ["discovered", "noticed", "identified"],
    "bypass": ["circumvent", "get around"],
    "leak": ["expose", "disclose"],
    "reveal": ["disclose", "expose"],
    "simply": ["just"],
    "also": ["additionally", "as well"],
    "then": ["next", "after that"],
    "first": ["initially", "to begin"],
    "note": ["notice", "observe"],
    "browser": ["web browser"],
    "able": ["capable"],
    "user": ["account holder", "customer"],
    "users": ["account holders", "customers"],
    "request": ["call", "query"],
    "using": ["with", "via"],
    "steps": ["instructions"],
    "shown": ["seen", "displayed"],
    "access": ["reach", "get to"],
    "account": ["profile"],
    "critical": ["severe", "serious"],
    "impact": ["consequence", "effect"],
}

STOCK_OPENERS = [
    "Hi team,",
    "Hello security team,",
    "Hope you are doing well.",
    "While testing your program I came across the following.",
]
STOCK_CLOSERS = [
    "Please let me know if you need any further information.",
    "Thanks, and looking forward to your response.",
    "I have tested this on the latest version of Chrome and Firefox.",
    "Best regards.",
]

WEAKNESS_CLASSES = [
    ("xss", r"\bxss\b|cross[- ]site scripting"),
    ("csrf", r"\bcsrf\b|cross[- ]site request forgery"),
    ("ssrf", r"\bssrf\b|server[- ]side request forgery"),
    ("idor", r"\bidor\b|insecure direct object"),
    ("sqli", r"sql ?injection|\bsqli\b"),
    ("open_redirect", r"open redirect"),
    ("rce", r"\brce\b|remote code execution"),
    ("takeover", r"subdomain takeover"),
    ("info_disclosure", r"information disclosure|info disclosure|leak"),
    ("rate_limit", r"rate limit|brute[- ]?force"),
    ("clickjacking", r"clickjacking"),
    ("dos", r"\bdos\b|denial of service"),
    ("path_traversal", r"path traversal|directory traversal|\blfi\b"),
    ("account_takeover", r"account takeover|\bato\b"),
]

HOST_RE = re.compile(r"https?://([A-Za-z0-9.-]+)")


def to_report(raw):
    """Map one data set line onto schemas/report.avsc (the demo's jq rule)."""
    hosts = [h for h in HOST_RE.findall(raw.get("vulnerability_information") or "")
             if not h.endswith("hackerone.com")]
    return {
        "report_id": "h1-" + raw["source_id"],
        "submitted_at": raw["submitted_at"],
        "program": raw["program"],
        "reporter": raw["reporter"],
        "title": raw["title"] or "",
        "asset": hosts[0] if hosts else raw["program"],
        "weakness": None,
        "claimed_severity": None,
        "cvss_vector": None,
        "description": raw.get("vulnerability_information") or "",
        "steps_to_reproduce": "",
        "impact": raw.get("impact") or "",
    }


def trigrams(r):
    words = re.findall(r"[a-z0-9]+", (r["title"] + " " + r["description"] + " " +
                                      r["impact"]).lower())
    return {tuple(words[i:i + 3]) for i in range(max(1, len(words) - 2))}


def jaccard(a, b):
    return len(a & b) / len(a | b) if a or b else 0.0


def norm_title(t):
    return " ".join(re.findall(r"[a-z0-9]+", t.lower()))


# ---- paraphrasing -----------------------------------------------------------

def paragraphs(text):
    return text.split("\n\n")


def is_code(par):
    return par.lstrip().startswith("```") or par.startswith("    ") or "```" in par


def sentences(par):
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", par)


def reorder(rng, text):
    pars = paragraphs(text)
    prose = [i for i, p in enumerate(pars) if not is_code(p)]
    for i in rng.sample(prose, min(2, len(prose))):
        s = sentences(pars[i])
        rng.shuffle(s)
        pars[i] = " ".join(s)
    if len(prose) >= 2:
        i = rng.randrange(len(prose) - 1)
        a, b = prose[i], prose[i + 1]
        pars[a], pars[b] = pars[b], pars[a]
    return "\n\n".join(pars)


def substitute(rng, text, p):
    """Thesaurus words replaced with probability p, outside code."""
    return "\n\n".join(par if is_code(par) else substitute_words(rng, par, p)
                       for par in paragraphs(text))


def substitute_words(rng, text, p):
    def repl(m):
        word = m.group(0)
        choices = THESAURUS.get(word.lower())
        if not choices or rng.random() >= p:
            return word
        new = rng.choice(choices)
        return new[0].upper() + new[1:] if word[0].isupper() else new
    return re.sub(r"[A-Za-z]+", repl, text)


def drop_sentences(rng, text, fraction):
    pars = paragraphs(text)
    spots = [(i, j) for i, p in enumerate(pars) if not is_code(p)
             for j in range(len(sentences(p)))]
    if len(spots) < 4:
        return text
    drop = set(rng.sample(spots, max(1, int(len(spots) * fraction))))
    out = []
    for i, p in enumerate(pars):
        if is_code(p):
            out.append(p)
            continue
        kept = [s for j, s in enumerate(sentences(p)) if (i, j) not in drop]
        if kept:
            out.append(" ".join(kept))
    return "\n\n".join(out)


def add_sentences(rng, text):
    return (rng.choice(STOCK_OPENERS) + "\n\n" + text + "\n\n" +
            rng.choice(STOCK_CLOSERS))


def reformat(rng, text):
    text = re.sub(r"(?m)^#+\s*(.+)$", r"**\1**", text)
    text = re.sub(r"(?m)^(\s*)\d+[.)]\s+", r"\1- ", text)
    if rng.random() < 0.5:
        text = text.replace("**", "").replace("__", "")
    if rng.random() < 0.5:
        text = re.sub(r"https?://", lambda m: "http://" if m.group(0) == "https://"
                      else "https://", text)
    return text


def reword_title(rng, title, asset):
    t = substitute_words(rng, title, 0.8)
    form = rng.randrange(3)
    if form == 0:
        return "[" + asset + "] " + t
    if form == 1:
        return t + " on " + asset
    return t


def restyle_asset(rng, asset):
    forms = [asset, "https://" + asset, "http://" + asset + "/", asset.upper(),
             "https://www." + asset if not asset.startswith("www.") else asset]
    return rng.choice(forms)


def paraphrase(rng, r, heavy, new_id):
    b = dict(r)
    b["report_id"] = new_id
    b["reporter"] = "paraphraser-" + new_id
    desc = r["description"]
    transforms = ["reorder", "substitute", "drop", "add", "reformat", "title", "move"]
    chosen = transforms if heavy else rng.sample(transforms, 2)
    if "move" in chosen and r["impact"]:
        desc = desc + "\n\n" + r["impact"]
        b["impact"] = ""
    if "reorder" in chosen:
        desc = reorder(rng, desc)
    if "drop" in chosen:
        desc = drop_sentences(rng, desc, 0.2 if heavy else 0.1)
    if "substitute" in chosen:
        desc = substitute(rng, desc, 0.6 if heavy else 0.3)
        b["impact"] = substitute(rng, b["impact"], 0.6 if heavy else 0.3)
    if "add" in chosen:
        desc = add_sentences(rng, desc)
    if "reformat" in chosen:
        desc = reformat(rng, desc)
    if "title" in chosen:
        b["title"] = reword_title(rng, r["title"], r["asset"])
    b["description"] = desc
    b["asset"] = restyle_asset(rng, r["asset"])
    return b


# ---- pairs ------------------------------------------------------------------

def weakness_of(r):
    t = r["title"].lower()
    for name, rx in WEAKNESS_CLASSES:
        if re.search(rx, t):
            return name
    return None


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_INPUT
    with open(path, encoding="utf-8") as f:
        reports = [to_report(json.loads(line)) for line in f if line.strip()]
    reports = [r for r in reports if r["title"] and len(r["description"]) >= 100]
    rng = random.Random(SEED)
    grams = {r["report_id"]: trigrams(r) for r in reports}
    out = []
    skipped = 0

    def maybe_same(a, b):
        ta, tb = set(norm_title(a["title"]).split()), set(norm_title(b["title"]).split())
        return (jaccard(ta, tb) >= 0.6 or
                (a["reporter"] == b["reporter"] and
                 jaccard(grams[a["report_id"]], grams[b["report_id"]]) > 0.5))

    def emit(label, kind, a, b):
        out.append({"id": "p%04d" % len(out), "label": label, "kind": kind,
                    "a": a, "b": b})

    for i, r in enumerate(rng.sample(reports, N_POSITIVE)):
        heavy = i % 2 == 1
        emit(1, "reword_heavy" if heavy else "reword_light", r,
             paraphrase(rng, r, heavy, r["report_id"] + "-p"))

    by_asset = {}
    for r in reports:
        by_asset.setdefault(r["asset"].lower(), []).append(r)
    groups = [g for g in by_asset.values() if len(g) >= 2]
    n = 0
    while n < N_SAME_ASSET:
        a, b = rng.sample(rng.choice(groups), 2)
        if maybe_same(a, b):
            skipped += 1
            continue
        emit(0, "same_asset", a, b)
        n += 1

    by_weakness = {}
    for r in reports:
        w = weakness_of(r)
        if w:
            by_weakness.setdefault(w, []).append(r)
    classes = sorted(k for k, v in by_weakness.items() if len(v) >= 2)
    n = 0
    while n < N_SAME_WEAKNESS:
        a, b = rng.sample(by_weakness[rng.choice(classes)], 2)
        if maybe_same(a, b):
            skipped += 1
            continue
        b = dict(b)
        b["asset"] = a["asset"]
        emit(0, "same_weakness", a, b)
        n += 1

    by_program = {}
    for r in reports:
        by_program.setdefault(r["program"], set()).add(r["asset"])
    for r in rng.sample(reports, N_OTHER_ASSET):
        others = sorted(by_program[r["program"]] - {r["asset"]})
        if not others:
            others = sorted({x["asset"] for x in rng.sample(reports, 5)} - {r["asset"]})
        b = paraphrase(rng, r, False, r["report_id"] + "-o")
        b["asset"] = rng.choice(others)
        emit(0, "same_text_other_asset", r, b)

    # Real templated series: one reporter, one asset, one write-up filed
    # for several components (PHP functions, npm packages, Flash classes),
    # the title naming a different one each time: distinct bugs in nearly
    # the same words. At most MAX_PER_SERIES pairs per reporter and asset.
    series = {}
    for group in by_asset.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if (a["reporter"] == b["reporter"] and
                        norm_title(a["title"]) != norm_title(b["title"]) and
                        jaccard(grams[a["report_id"]], grams[b["report_id"]]) > 0.3):
                    series.setdefault((a["reporter"], a["asset"].lower()), []).append(
                        (a, b))
    for key in sorted(series):
        for a, b in series[key][:MAX_PER_SERIES]:
            emit(0, "template_series", a, b)

    for p in out:
        sys.stdout.write(json.dumps(p, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"{len(out)} pairs; {skipped} possible real duplicates left out of the "
          "negatives", file=sys.stderr)


if __name__ == "__main__":
    main()
