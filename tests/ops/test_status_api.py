#!/usr/bin/env python3
"""test_status_api.py - GET /api/v1/status and /api/v1/recommendations
against their JSON Schemas (ops/api/, checked with Debian's
python3-jsonschema):

  1. the examples in ops/STATUS.md are valid, so the documentation cannot
     drift from the contract;
  2. the schemas are not empty promises: documents broken on purpose (an
     unknown state, a field missing, an array past its bound) are refused;
  3. the real autoscaler on the dev broker, with a known lag, two workers'
     heartbeats and validation results: both documents are valid and hold
     the numbers that were fed in; then Kafka goes away and the status
     still answers, valid, saying so, with the last lag and its age.

  test_status_api.py BIN_DIR
"""
import copy
import json
import os
import re
import sys
import time

import jsonschema

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from autoscaler_stack import LAG, WORKERS, Stack  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def schema(name):
    with open(os.path.join(ROOT, "ops", "api", name + ".schema.json")) as f:
        s = json.load(f)
    jsonschema.Draft7Validator.check_schema(s)
    return jsonschema.Draft7Validator(s)


STATUS, RECOMMENDATIONS = schema("status"), schema("recommendations")


def valid(validator, doc, what):
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        raise AssertionError("%s does not fit its schema:\n%s" % (what, "\n".join(
            "  %s: %s" % ("/".join(map(str, e.path)), e.message) for e in errors[:10])))


def invalid(validator, doc, what):
    if validator.is_valid(doc):
        raise AssertionError("the schema accepts " + what)


def test_documented_examples():
    with open(os.path.join(ROOT, "ops", "STATUS.md")) as f:
        text = f.read()
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    status = [b for b in blocks if "lag" in b]
    recs = [b for b in blocks if "recommendations" in b]
    assert status and recs, "ops/STATUS.md lacks its example documents"
    for b in status:
        valid(STATUS, b, "the status example in ops/STATUS.md")
    for b in recs:
        valid(RECOMMENDATIONS, b, "the recommendations example in ops/STATUS.md")
    return status[0], recs[0]


def test_schemas_refuse_broken_documents(status, recs):
    doc = copy.deepcopy(status)
    doc["budget"]["periods"][0]["state"] = "FINE"
    invalid(STATUS, doc, "a budget state that does not exist")
    doc = copy.deepcopy(status)
    del doc["dependencies"]["kafka"]
    invalid(STATUS, doc, "a status without the Kafka dependency")
    doc = copy.deepcopy(status)
    doc["lag"]["partitions"] = doc["lag"]["partitions"][:1] * 257
    invalid(STATUS, doc, "257 partitions (the bound is 256)")
    doc = copy.deepcopy(status)
    doc["lag"]["secret"] = "x"
    invalid(STATUS, doc, "a field nobody documented")
    doc = copy.deepcopy(recs)
    doc["recommendations"][0]["kind"] = "magic"
    invalid(RECOMMENDATIONS, doc, "a recommendation of an unknown kind")
    doc = copy.deepcopy(recs)
    del doc["recommendations"][0]["data"]
    invalid(RECOMMENDATIONS, doc, "a recommendation without its numbers")


def test_live(bin_dir):
    stack = Stack(bin_dir)
    try:
        stack.start()
        stack.feed_workers()
        doc = stack.get_json("/api/v1/status")
        valid(STATUS, doc, "the live status")
        lag = {p["partition"]: p["lag"] for p in doc["lag"]["partitions"]}
        assert lag == {0: LAG[0], 1: 0, 2: LAG[2]}, lag
        assert doc["lag"]["count"] == 3 and not doc["lag"]["truncated"]
        ids = sorted(w["worker_id"] for w in doc["workers"]["list"])
        assert ids == sorted(WORKERS), ids
        assert doc["workers"]["current"] == 1 and doc["workers"]["target"] == 1
        assert doc["dependencies"]["kafka"]["ok"] is True
        # the state store points at a closed port: configured, failing, said so
        stack.wait(lambda: stack.get_json("/api/v1/status")["dependencies"]["redis"]["ok"]
                   is False, "the state store's failure in the status")
        redis = stack.get_json("/api/v1/status")["dependencies"]["redis"]
        assert redis["configured"] and "redis" in redis["error"], redis
        day = [p for p in doc["budget"]["periods"] if p["period"] == "day"][0]
        assert day["budget_usd"] == 2 and day["state"] in ("OK", "WARNING", "OVER")
        assert doc["decisions"] and doc["decisions"][0]["reasoning"]
        assert doc["history"]["points"]

        # The AI spend comes from the validations until the heartbeats'
        # counts have arrived (a recommendation round later under the
        # sanitizers): wait for the round that has them.
        def spend_from_heartbeats():
            r = stack.get_json("/api/v1/recommendations")
            k = {x["kind"]: x for x in r["recommendations"]}
            return "ai_spend" in k and k["ai_spend"]["data"]["source"] == "heartbeats"
        stack.wait(spend_from_heartbeats, "the AI spend from the heartbeats")
        rec = stack.get_json("/api/v1/recommendations")
        valid(RECOMMENDATIONS, rec, "the live recommendations")
        by_kind = {r["kind"]: r for r in rec["recommendations"]}
        ai = by_kind["ai_spend"]["data"]
        assert ai["source"] == "heartbeats" and ai["reports"] > 0, ai
        providers = {p["provider"] for p in ai["providers"]}
        assert providers == {"openai", "gemini"}, providers
        assert by_kind["ai_routing"]["data"]["provider"] == "gemini"
        # a day's budget of 2 USD at 0.2 USD per worker-hour: one worker all
        # day needs 4.8, so the warning must be there (unless the day ends
        # within 10 h, when it is not due)
        if day["hours_left"] > 10:
            assert "budget_runout" in by_kind, rec

        # Kafka goes away: the document still comes, valid, and says so
        stack.stop_broker()
        stack.wait(lambda: stack.get_json("/api/v1/status")["dependencies"]["kafka"]["ok"]
                   is False, "Kafka's outage in the status")
        time.sleep(1)
        down = stack.get_json("/api/v1/status")
        valid(STATUS, down, "the status while Kafka is down")
        assert down["dependencies"]["kafka"]["error"], down["dependencies"]
        assert down["dependencies"]["kafka"]["consecutive_failures"] >= 1
        assert down["lag"]["total"] == sum(LAG.values())
        assert down["lag"]["age_seconds"] > 0.5
        valid(RECOMMENDATIONS, stack.get_json("/api/v1/recommendations"),
              "the recommendations while Kafka is down")
        # the endpoints change nothing
        for path in ("/api/v1/status", "/api/v1/recommendations", "/"):
            import urllib.request
            req = urllib.request.Request(stack.url(path), data=b"{}", method="POST")
            try:
                urllib.request.urlopen(req, timeout=5)
                raise AssertionError("POST %s was accepted" % path)
            except urllib.error.HTTPError as e:
                assert e.code == 405, (path, e.code)
    finally:
        stack.stop()


def main():
    status, recs = test_documented_examples()
    test_schemas_refuse_broken_documents(status, recs)
    test_live(sys.argv[1])
    print("test_status_api: 3 passed, 0 failed")


if __name__ == "__main__":
    main()
