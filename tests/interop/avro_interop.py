#!/usr/bin/python3
"""Interoperability of bountyfleet's wire formats with an independent Avro
implementation: Debian's python3-avro (Apache Avro's Python library).

Run by tests/integration/test_interop.c, which drives three exchanges:

  fingerprints SCHEMA_DIR
      For each schemas/*.avsc print one JSON line with the Parsing Canonical
      Form and CRC-64-AVRO fingerprint computed here from the Avro
      specification ("Parsing Canonical Form for Schemas", "Schema
      Fingerprints"), and python-avro's own canonical form.
  write OUT_DIR DATA_DIR [V1_ID]
      python-avro writes reports: single-object encoding, raw Avro binary,
      Confluent framing with an older (v1) writer schema, and single-object
      with a newer writer schema; expected.json holds what a reader of the
      current schema must get back.
  compat SCHEMA_DIR DATA_DIR
      python-avro's ReaderWriterCompatibilityChecker: the current schema
      must read every version under SCHEMA_DIR/history/<name>/ and the
      evolution fixtures; a writer that drops a field without a default
      must be found incompatible (the checker can say no).
  read IN_DIR SCHEMA_DIR
      python-avro reads records bountyfleet wrote (c_<name>.bin, single-
      object encoding), checks the header and fingerprint, and compares each
      with c_<name>.json, or, when there is none, prints it as a line
      "decoded <file> <json>". Exit status 1 on any difference.

python-avro 1.11 has no fingerprint function and its canonical form keeps
a primitive with a logicalType in object form ({"type":"long"}) where the
specification says "long"; the script therefore computes the canonical
form per the specification itself, and reports python-avro's form of the
schema with logicalType attributes removed (which the specification's
[STRIP] rule discards anyway) so the two can be compared.
"""
import datetime
import io
import json
import os
import struct
import sys

try:
    import avro.io
    import avro.schema
except ImportError:
    sys.exit("python3-avro is not installed (apt-get install python3-avro)")

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
NAMED = {"record", "error", "enum", "fixed"}

# --- Avro specification: Parsing Canonical Form -----------------------------


def _fullname(name, namespace):
    if "." in name or not namespace:
        return name
    return namespace + "." + name


def canonical(schema, namespace=None, seen=None):
    """The PCF of a parsed JSON schema, as JSON-ready Python objects."""
    seen = set() if seen is None else seen
    if isinstance(schema, str):
        return schema if schema in PRIMITIVES else _fullname(schema, namespace)
    if isinstance(schema, list):
        return [canonical(s, namespace, seen) for s in schema]
    t = schema["type"]
    if isinstance(t, (dict, list)):
        return canonical(t, namespace, seen)
    if t in PRIMITIVES:
        return t  # [PRIMITIVES], and [STRIP] drops logicalType and the rest
    if t in NAMED:
        ns = schema.get("namespace", namespace)
        name = _fullname(schema["name"], ns)
        ns = name.rsplit(".", 1)[0] if "." in name else None
        if name in seen:
            return name
        seen.add(name)
        out = {"name": name, "type": t}  # [ORDER]: name, type, fields, symbols, ...
        if t in ("record", "error"):
            out["fields"] = [
                {"name": f["name"], "type": canonical(f["type"], ns, seen)}
                for f in schema["fields"]
            ]
        elif t == "enum":
            out["symbols"] = schema["symbols"]
        else:
            out["size"] = int(schema["size"])  # [INTEGERS]
        return out
    if t == "array":
        return {"type": "array", "items": canonical(schema["items"], namespace, seen)}
    if t == "map":
        return {"type": "map", "values": canonical(schema["values"], namespace, seen)}
    return canonical(t, namespace, seen)  # a reference to a named type


def pcf_text(schema_json):
    # [STRINGS] UTF-8 instead of escapes; [WHITESPACE] none outside strings.
    return json.dumps(canonical(json.loads(schema_json)), separators=(",", ":"),
                      ensure_ascii=False)


# --- Avro specification: CRC-64-AVRO ----------------------------------------

EMPTY = 0xC15D213AA4D7A795
_TABLE = []
for _i in range(256):
    _fp = _i
    for _ in range(8):
        _fp = (_fp >> 1) ^ (EMPTY if _fp & 1 else 0)
    _TABLE.append(_fp)


def crc64_avro(data):
    fp = EMPTY
    for b in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ b) & 0xFF]
    return fp


# Known answers from Apache Avro's share/test/data/schema-tests.txt.
assert crc64_avro(b'"null"') == 7195948357588979594
assert crc64_avro(b'"int"') == 8247732601305521295


def fingerprint(schema_json):
    return crc64_avro(pcf_text(schema_json).encode("utf-8"))


def strip_logical(node):
    if isinstance(node, dict):
        return {k: strip_logical(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [strip_logical(v) for v in node]
    return node


# --- Values: timestamp-millis is a datetime in python-avro ------------------

TIMESTAMP_FIELDS = {"submitted_at", "validated_at", "sent_at", "started_at", "decided_at"}
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def to_python(record):
    out = dict(record)
    for k in TIMESTAMP_FIELDS & out.keys():
        out[k] = EPOCH + datetime.timedelta(milliseconds=out[k])
    return out


def to_plain(record):
    out = dict(record)
    for k in TIMESTAMP_FIELDS & out.keys():
        if isinstance(out[k], datetime.datetime):
            out[k] = (out[k] - EPOCH) // datetime.timedelta(milliseconds=1)
    return out


def avro_binary(schema_json, record):
    schema = avro.schema.parse(schema_json)
    buf = io.BytesIO()
    avro.io.DatumWriter(schema).write(to_python(record), avro.io.BinaryEncoder(buf))
    return buf.getvalue()


def single_object(schema_json, record):
    # Avro spec, "Single-object encoding": C3 01, fingerprint little-endian.
    return b"\xc3\x01" + struct.pack("<Q", fingerprint(schema_json)) + avro_binary(
        schema_json, record)


def confluent(schema_id, schema_json, record):
    return b"\x00" + struct.pack(">I", schema_id) + avro_binary(schema_json, record)


# --- Commands ---------------------------------------------------------------

REPORT = {
    "report_id": "py-1",
    "submitted_at": 1714564800250,
    "program": "acme",
    "reporter": "pyresearcher",
    "title": "Stored XSS in profile \u00e9\u2713",
    "asset": "profile.acme.example",
    "weakness": "CWE-79",
    "claimed_severity": "HIGH",
    "cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
    "description": "The bio field is rendered without escaping.",
    "steps_to_reproduce": "1. Set bio to <svg onload=alert(1)>",
    "impact": "Session theft",
}
V1_CONFLUENT_ID = 4242


def cmd_fingerprints(schema_dir):
    for name in sorted(os.listdir(schema_dir)):
        if not name.endswith(".avsc"):
            continue
        text = open(os.path.join(schema_dir, name), encoding="utf-8").read()
        python_avro = avro.schema.parse(json.dumps(strip_logical(json.loads(text))))
        print(json.dumps({
            "name": name[:-5],
            "pcf": pcf_text(text),
            "fingerprint": "%016x" % fingerprint(text),
            "python_avro_pcf": python_avro.canonical_form,
        }, ensure_ascii=False))


def _compatible(reader_text, writer_text):
    from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
    result = ReaderWriterCompatibilityChecker().get_compatibility(
        avro.schema.parse(reader_text), avro.schema.parse(writer_text))
    return result.compatibility is SchemaCompatibilityType.compatible, result.messages


def cmd_compat(schema_dir, data_dir):
    pairs = []
    for name in sorted(os.listdir(os.path.join(schema_dir, "history"))):
        current = open(os.path.join(schema_dir, name + ".avsc"), encoding="utf-8").read()
        hist = os.path.join(schema_dir, "history", name)
        for version in sorted(os.listdir(hist)):
            pairs.append((name + "/" + version, current,
                          open(os.path.join(hist, version), encoding="utf-8").read()))
    report = open(os.path.join(schema_dir, "report.avsc"), encoding="utf-8").read()
    for fixture in ("report_v1.avsc", "report_v3_newer.avsc"):
        pairs.append((fixture, report,
                      open(os.path.join(data_dir, fixture), encoding="utf-8").read()))
    failures = 0
    for label, reader, writer in pairs:
        ok, messages = _compatible(reader, writer)
        print("%s: %s" % (label, "compatible" if ok else "INCOMPATIBLE %s" % messages))
        failures += not ok
    # The checker must be able to say no: a reader needing a field the
    # writer lacks, with no default.
    broken = json.loads(report)
    broken["fields"] = [f for f in broken["fields"] if f["name"] != "description"]
    ok, _ = _compatible(report, json.dumps(broken))
    print("writer without description: %s" % ("compatible?!" if ok else "incompatible"))
    failures += ok
    print("compat: %d pair(s), %d failure(s)" % (len(pairs), failures))
    return 1 if failures else 0


def cmd_write(out_dir, data_dir, v1_id=V1_CONFLUENT_ID):
    schemas = {}
    for name, path in (("current", "../../schemas/report.avsc"),
                       ("v1", "report_v1.avsc"), ("newer", "report_v3_newer.avsc")):
        schemas[name] = open(os.path.join(data_dir, path), encoding="utf-8").read()
    newer = dict(REPORT, report_id="py-newer", attachments=["https://x.example/a.png"],
                 bounty_usd=500.0)
    v1 = {k: v for k, v in REPORT.items()
          if k not in ("weakness", "claimed_severity", "cvss_vector")}
    v1["report_id"] = "py-v1"
    files = {
        "py_single_object.bin": single_object(schemas["current"], REPORT),
        "py_raw.avro": avro_binary(schemas["current"], dict(REPORT, report_id="py-raw")),
        "py_v1_confluent.bin": confluent(v1_id, schemas["v1"], v1),
        "py_newer_single_object.bin": single_object(schemas["newer"], newer),
    }
    for name, data in files.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
    # What the current reader must see: defaults for fields v1 lacked, and
    # nothing of the fields only the newer writer has.
    expected = {
        "py_single_object.bin": REPORT,
        "py_raw.avro": dict(REPORT, report_id="py-raw"),
        "py_v1_confluent.bin": dict(v1, weakness=None, claimed_severity=None,
                                    cvss_vector=None),
        "py_newer_single_object.bin": dict(REPORT, report_id="py-newer"),
        "v1_confluent_id": v1_id,
    }
    with open(os.path.join(out_dir, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False)


def cmd_read(in_dir, schema_dir):
    failures = records = 0
    for name in sorted(os.listdir(in_dir)):
        if not (name.startswith("c_") and name.endswith(".bin")):
            continue
        records += 1
        stem = name[2:-4]  # c_report_1.bin -> report_1 ; schema = report
        schema_name = stem.rsplit("_", 1)[0]
        text = open(os.path.join(schema_dir, schema_name + ".avsc"), encoding="utf-8").read()
        data = open(os.path.join(in_dir, name), "rb").read()
        want_path = os.path.join(in_dir, name[:-4] + ".json")
        want = json.load(open(want_path, encoding="utf-8")) if os.path.exists(want_path) else None
        if data[:2] != b"\xc3\x01":
            print("%s: not single-object encoding: %r" % (name, data[:2]))
            failures += 1
            continue
        fp = struct.unpack("<Q", data[2:10])[0]
        if fp != fingerprint(text):
            print("%s: fingerprint %016x, the specification gives %016x"
                  % (name, fp, fingerprint(text)))
            failures += 1
            continue
        schema = avro.schema.parse(text)
        decoder = avro.io.BinaryDecoder(io.BytesIO(data[10:]))
        got = to_plain(avro.io.DatumReader(schema, schema).read(decoder))
        if decoder.reader.read() != b"":
            print("%s: bytes left after the record" % name)
            failures += 1
        if want is None:
            print("decoded %s %s" % (name, json.dumps(got, sort_keys=True)))
        elif got != want:
            print("%s: python-avro read %s, expected %s" % (name, got, want))
            failures += 1
    print("read: %d record(s), %d failure(s)" % (records, failures))
    return 1 if failures else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "fingerprints":
        cmd_fingerprints(argv[2])
        return 0
    if len(argv) in (4, 5) and argv[1] == "write":
        cmd_write(argv[2], argv[3], *(int(a) for a in argv[4:]))
        return 0
    if len(argv) == 4 and argv[1] == "compat":
        return cmd_compat(argv[2], argv[3])
    if len(argv) == 4 and argv[1] == "read":
        return cmd_read(argv[2], argv[3])
    sys.stderr.write("usage: avro_interop.py fingerprints SCHEMA_DIR | write OUT DATA_DIR |"
                     " read IN SCHEMA_DIR\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
