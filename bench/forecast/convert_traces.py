#!/usr/bin/python3
"""bench/forecast/convert_traces.py - turn public data sets into the trace
format autoscaler/trace.c reads (a header line, then `YYYY-MM-DD HH:MM:SS,value`
rows, value = arrivals in the interval), for the forecast benchmark's unseen
traces. The data itself is not committed (see BENCHMARKS.md for where each
file comes from); this script is the conversion.

    convert_traces.py nab SRC.csv OUT.csv [--rows N]
        a NAB CSV (timestamp,value): copied, optionally only its first N rows
    convert_traces.py daily SRC.csv OUT.csv [--rows N]
        a daily `ds,y` CSV (prophet's examples): ds becomes midnight UTC
    convert_traces.py flights SRC.json OUT.csv [--step SECONDS]
        vega-datasets' flights-*.json: departures counted per step (default an
        hour); every step from the first to the last flight is written, so an
        hour without a flight is a 0, not a gap
"""
import argparse
import csv
import datetime
import json
import sys


def nab(src, out, rows):
    with open(src, newline="") as f, open(out, "w") as o:
        reader = csv.reader(f)
        next(reader)
        o.write("timestamp,value\n")
        for i, row in enumerate(reader):
            if rows and i >= rows:
                break
            o.write("%s,%s\n" % (row[0], row[1]))


def daily(src, out, rows):
    with open(src, newline="") as f, open(out, "w") as o:
        reader = csv.reader(f)
        next(reader)
        o.write("timestamp,value\n")
        for i, (ds, y) in enumerate(reader):
            if rows and i >= rows:
                break
            o.write("%s 00:00:00,%s\n" % (ds, y))


def flights(src, out, step):
    with open(src) as f:
        records = json.load(f)
    epoch = datetime.datetime(1970, 1, 1)
    times = sorted(
        (datetime.datetime.strptime(r["date"], "%Y/%m/%d %H:%M") - epoch).total_seconds()
        for r in records)
    first = int(times[0] // step) * step
    counts = [0] * (int((times[-1] - first) // step) + 1)
    for t in times:
        counts[int((t - first) // step)] += 1
    with open(out, "w") as o:
        o.write("timestamp,value\n")
        for k, c in enumerate(counts):
            when = epoch + datetime.timedelta(seconds=first + k * step)
            o.write("%s,%d\n" % (when.strftime("%Y-%m-%d %H:%M:%S"), c))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("kind", choices=["nab", "daily", "flights"])
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--rows", type=int, default=0)
    p.add_argument("--step", type=int, default=3600)
    a = p.parse_args()
    if a.kind == "nab":
        nab(a.src, a.out, a.rows)
    elif a.kind == "daily":
        daily(a.src, a.out, a.rows)
    else:
        flights(a.src, a.out, a.step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
