#!/usr/bin/python3
"""bench/worker/peer.py - the Python pipeline bountyfleet-worker is measured
against (bench/worker/run.py starts it; BENCHMARKS.md, "Worker against a
Python peer").

What a team would write first in Python for the same job, with the
libraries Debian ships: asyncio, confluent-kafka (librdkafka underneath,
like the worker), redis.asyncio and aiohttp.

For each report: decode the JSON record, check the fields the worker
requires, fingerprint the normalised content (SHA-256), claim the
fingerprint with one Redis SET NX EX (a taken one is a DUPLICATE without AI
spend), run the three analyses as concurrent OpenAI Chat Completions calls
with the worker's own prompts and JSON Schema (so each request costs the
simulator what the worker's costs), combine them with the worker's rule,
publish the result keyed by report_id, and store the report's offset when
Kafka acknowledges the result. At most --in-flight reports at once (an
asyncio semaphore). It does less than the worker: no leases, no result
cache, no retries, no ordered commit point (offsets are stored as results
are acknowledged), no metrics, no heartbeats.

Runs until SIGTERM or SIGINT.
"""
import argparse
import asyncio
import hashlib
import json
import os
import re
import signal
import sys
import time

import aiohttp
import redis.asyncio as aioredis
from confluent_kafka import Consumer, Producer

KINDS = ("quality", "plausibility", "severity")
SEVERITIES = ("NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL")
STRINGS = ("report_id", "program", "reporter", "title", "asset", "description",
           "steps_to_reproduce", "impact")


def answer_schema(kind):
    """The worker's answer schema (worker/analysis.c)."""
    props = {
        "score": {"type": "number", "minimum": 0.0, "maximum": 1.0},
        "confidence": {"type": "number", "minimum": 0.0, "maximum": 1.0},
        "reasons": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
    }
    required = ["score", "confidence", "reasons"]
    if kind == "severity":
        props["severity"] = {"type": "string", "enum": list(SEVERITIES)}
        required.append("severity")
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


def load_prompts(directory):
    def read(name):
        with open(os.path.join(directory, name + ".md"), encoding="utf-8") as f:
            return f.read()
    system = read("system")
    return {k: system + "\n" + read(k) for k in KINDS}


SPACES = re.compile(r"\s+")


def fingerprint(report):
    parts = [report.get(k) or "" for k in
             ("title", "asset", "description", "steps_to_reproduce", "impact")]
    text = "\x1f".join(SPACES.sub(" ", p).strip().lower() for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Peer:
    def __init__(self, args):
        self.args = args
        self.prompts = load_prompts(args.prompts)
        self.url = args.ai_base_url.rstrip("/") + "/chat/completions"
        self.headers = {"Authorization": "Bearer " + args.api_key,
                        "Content-Type": "application/json"}
        self.consumer = Consumer({
            "bootstrap.servers": args.brokers,
            "group.id": args.group,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "fetch.wait.max.ms": args.fetch_wait_ms,
        })
        self.producer = Producer({"bootstrap.servers": args.brokers,
                                  "enable.idempotence": True, "linger.ms": 5})
        self.redis = aioredis.from_url(args.redis_url)
        self.stop = asyncio.Event()
        self.finished = 0

    async def analyse(self, session, kind, report):
        body = {
            "model": self.args.model,
            "messages": [
                {"role": "system", "content": self.prompts[kind]},
                {"role": "user", "content": "<report>\n" +
                 json.dumps(report, ensure_ascii=True, separators=(",", ":"))
                 .replace("/", "\\/") + "\n</report>"},
            ],
            "temperature": 0.0,
            "response_format": {"type": "json_schema", "json_schema": {
                "name": "bountyfleet_" + kind, "strict": True,
                "schema": answer_schema(kind)}},
        }
        async with session.post(self.url, json=body, headers=self.headers) as resp:
            data = await resp.json()
        answer = json.loads(data["choices"][0]["message"]["content"])
        if not (0 <= answer["score"] <= 1 and 0 <= answer["confidence"] <= 1):
            raise ValueError("answer off the schema")
        return answer

    def publish(self, msg, result):
        def delivered(err, _):
            if err is None:
                self.consumer.store_offsets(message=msg)
                self.finished += 1
            else:
                print("delivery failed:", err, file=sys.stderr)
        self.producer.produce(self.args.results_topic, key=result["report_id"],
                              value=json.dumps(result), on_delivery=delivered)

    async def handle(self, session, msg):
        try:
            report = json.loads(msg.value())
            if not isinstance(report, dict) or any(
                    not isinstance(report.get(k), str) for k in STRINGS) or \
                    not isinstance(report.get("submitted_at"), (int, str)):
                raise ValueError("missing fields")
        except ValueError as e:
            self.producer.produce(self.args.dlq_topic, value=msg.value(),
                                  headers={"bf.reason": str(e)})
            self.consumer.store_offsets(message=msg)
            return
        result = {"report_id": report["report_id"], "status": None,
                  "duplicate_of": None, "quality": 0.0, "plausibility": 0.0,
                  "severity": None, "confidence": 0.0, "reasons": [],
                  "worker_id": "python-peer", "validated_at": int(time.time() * 1000)}
        fp = fingerprint(report)
        claimed = await self.redis.set(self.args.key_prefix + "fp:" + fp,
                                       report["report_id"], nx=True, ex=30 * 86400)
        if not claimed:
            original = await self.redis.get(self.args.key_prefix + "fp:" + fp)
            result.update(status="DUPLICATE", duplicate_of=original.decode(),
                          confidence=1.0)
            self.publish(msg, result)
            return
        answers = await asyncio.gather(
            *(self.analyse(session, k, report) for k in KINDS), return_exceptions=True)
        if any(isinstance(a, BaseException) for a in answers):
            result.update(status="NEEDS_REVIEW",
                          reasons=["not every analysis could be completed"])
        else:
            q, p, s = answers
            result.update(
                quality=q["score"], plausibility=p["score"], severity=s["severity"],
                confidence=sum(a["confidence"] for a in answers) / 3,
                status="VALID" if q["score"] >= 0.4 and p["score"] >= 0.5 else "INVALID",
                reasons=[f"{k}: {r}" for k, a in zip(KINDS, answers)
                         for r in a["reasons"]])
        self.publish(msg, result)

    async def run(self):
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        def on_assign(consumer, partitions):
            if self.args.ready_file and partitions:
                with open(self.args.ready_file, "w") as f:
                    f.write("assigned\n")

        self.consumer.subscribe([self.args.topic], on_assign=on_assign)
        sem = asyncio.Semaphore(self.args.in_flight)
        connector = aiohttp.TCPConnector(limit=3 * self.args.in_flight)
        async with aiohttp.ClientSession(connector=connector) as session:
            async def guarded(msg):
                try:
                    await self.handle(session, msg)
                finally:
                    sem.release()

            while not self.stop.is_set():
                self.producer.poll(0)
                # Non-blocking: the event loop must keep serving the calls.
                msgs = self.consumer.consume(
                    num_messages=min(100, self.args.in_flight), timeout=0)
                if not msgs:
                    await asyncio.sleep(0.002)
                    continue
                for msg in msgs:
                    if msg.error():
                        continue
                    await sem.acquire()
                    asyncio.create_task(guarded(msg))
            self.producer.flush(10)
        self.consumer.close()
        await self.redis.aclose()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--redis-url", required=True)
    ap.add_argument("--ai-base-url", required=True)
    ap.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY", "bench"))
    ap.add_argument("--model", default="gpt-4o-mini")
    ap.add_argument("--prompts", required=True, help="the worker's prompt directory")
    ap.add_argument("--group", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--results-topic", required=True)
    ap.add_argument("--dlq-topic", required=True)
    ap.add_argument("--key-prefix", default="peer:")
    ap.add_argument("--in-flight", type=int, default=100)
    ap.add_argument("--fetch-wait-ms", type=int, default=500,
                    help="the consumer's fetch.wait.max.ms")
    ap.add_argument("--ready-file",
                    help="written once the consumer has partitions (bench/worker/run.py)")
    args = ap.parse_args()
    if args.in_flight < 1:
        ap.error("--in-flight must be at least 1")
    asyncio.run(Peer(args).run())


if __name__ == "__main__":
    main()
