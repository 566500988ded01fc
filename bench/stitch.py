#!/usr/bin/env python3
"""Benchmark (not a test): the Spark driver's join of each device's pieces from different tasks
(`stitch` in src/pushdown/run_spark.py) on synthetic edges, as a lake laid out by day and node
gives them: every device in PIECES tasks over a 90-day quarter, 300 claims per node.

  python3 bench/stitch.py DEVICES PIECES      e.g. 256 400 (102,144 pairs)

Prints the pairs joined, the rows made, the seconds and the peak memory of this process.
"""
import importlib.util
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    devices, pieces = int(sys.argv[1]), int(sys.argv[2])
    spec = importlib.util.spec_from_file_location("run_spark", os.path.join(HERE, "..", "src", "pushdown", "run_spark.py"))
    rs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rs)
    p0, p1 = 0, 90 * 24 * 3600 * 1000
    span = p1 // pieces
    edges, claims = [], {}
    for n in range(max(1, devices // 8)):
        node = "node%05d" % n
        claims[node] = [("job%d-%d" % (n, k), k * 7 * rs.HOUR_MS, k * 7 * rs.HOUR_MS + 5 * rs.HOUR_MS, k, None)
                        for k in range(300)]
        for d in range(min(8, devices)):
            for k in range(pieces):
                edges.append({"node": node, "device": d, "job_id": "first", "h": k * span, "j": 100.0})
                edges.append({"node": node, "device": d, "job_id": "last", "h": (k + 1) * span - 10_000, "j": 120.0})
    t = time.time()
    rows = rs.stitch(edges, claims, {}, p0, p1, 60_000)
    took = time.time() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("%d devices x %d pieces: %d pairs joined into %d rows in %.2f s; peak %.0f MiB (with the edges)"
          % (devices, pieces, devices * (pieces - 1), len(rows), took, peak))


if __name__ == "__main__":
    main()
