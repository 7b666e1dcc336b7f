#!/usr/bin/python3
"""Interoperability with Confluent's own Python client (Debian's
python3-confluent-kafka, its Schema Registry client and Avro message
serializer, over python3-avro): what a team's Python service would run.

Run by tests/integration/test_interop.c:

  produce BROKERS REGISTRY_URL SCHEMA.avsc N
      Serialize N reports with Confluent's MessageSerializer (which
      registers SCHEMA under bountyfleet.reports-value and writes
      0x00 + id + Avro) and publish them keyed by report_id.
  consume BROKERS REGISTRY_URL N
      Read N results from bountyfleet.validations with Confluent's
      deserializer (ids looked up in the registry) and print each as a
      JSON line.
"""
import datetime
import json
import sys

try:
    import avro.schema
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.avro.cached_schema_registry_client import CachedSchemaRegistryClient
    from confluent_kafka.avro.serializer.message_serializer import MessageSerializer
except ImportError as e:
    sys.exit("needs python3-confluent-kafka and python3-avro: %s" % e)

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def produce(brokers, registry, schema_path, n):
    schema = avro.schema.parse(open(schema_path, encoding="utf-8").read())
    fields = {f.name for f in schema.fields}
    serializer = MessageSerializer(CachedSchemaRegistryClient({"url": registry}))
    producer = Producer({"bootstrap.servers": brokers, "enable.idempotence": True})
    for i in range(n):
        report = {
            "report_id": "confluent-py-%d" % i,
            "submitted_at": EPOCH + datetime.timedelta(milliseconds=1714564800000 + i),
            "program": "acme",
            "reporter": "py-service",
            "title": "Open redirect via next= #%d" % i,
            "asset": "login.acme.example",
            "weakness": "CWE-601",
            "claimed_severity": "LOW",
            "cvss_vector": None,
            "description": "The next parameter accepts any host (case %d)." % i,
            "steps_to_reproduce": "Visit /login?next=https://evil.example/%d" % i,
            "impact": "Phishing",
        }
        value = serializer.encode_record_with_schema(
            "bountyfleet.reports", schema, {k: v for k, v in report.items() if k in fields})
        producer.produce("bountyfleet.reports", key=report["report_id"], value=value)
    left = producer.flush(30)
    if left:
        sys.exit("%d reports not delivered" % left)


def consume(brokers, registry, n):
    serializer = MessageSerializer(CachedSchemaRegistryClient({"url": registry}))
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": "confluent-py",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe(["bountyfleet.validations"])
    got = 0
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=120)
    while got < n and datetime.datetime.now() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        record = serializer.decode_message(msg.value())
        for k, v in record.items():
            if isinstance(v, datetime.datetime):
                record[k] = (v - EPOCH) // datetime.timedelta(milliseconds=1)
        print(json.dumps(record, sort_keys=True), flush=True)
        got += 1
    consumer.close()
    if got < n:
        sys.exit("read %d of %d results" % (got, n))


def main(argv):
    if len(argv) == 6 and argv[1] == "produce":
        produce(argv[2], argv[3], argv[4], int(argv[5]))
        return 0
    if len(argv) == 5 and argv[1] == "consume":
        consume(argv[2], argv[3], int(argv[4]))
        return 0
    sys.stderr.write("usage: confluent_interop.py produce BROKERS REGISTRY SCHEMA N |"
                     " consume BROKERS REGISTRY N\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
