#!/usr/bin/env python3
"""Run greenledger's telemetry integration on Apache Spark and write its ten results as Parquet.

  spark-submit run_spark.py --samples URI [URI ...] [--node-power URI ...] [--counters URI ...] [--out URI]
  python3 run_spark.py --samples URI [URI ...] ...                    (local mode: pip install pyspark)

URI: a file, a folder (partitioned folders too) or a glob, on any file system Spark reads
(file paths, hdfs://, s3a://, gs://, abfss://), Parquet or CSV with a header (--format csv, or
a .csv name). The samples have the columns timestamp, node, device, power_w; node power (BMC,
the whole server) timestamp, node, power_w; energy counters timestamp, node, device and
energy_mj (DCGM's total energy) or energy_j (amd-smi's).
claims.parquet and job_energy.sql are read from beside this script (--claims, --sql).
Each result is written as a Parquet folder under --out (default: results/ beside this script):
job_energy, job_hourly, device_energy, node_energy, node_hourly, node_power, node_windows,
device_counters, job_counters, quality.
Then: greenledger report --pushdown <this folder> with the same config and jobs.

How it runs: each Spark task integrates the devices whose rows it holds in one vectorised NumPy
pass (`integrate` below: greenledger's in-process rules, operation for operation), with no
shuffle; the claims travel with the function. When the samples are local Parquet files whose
columns read exactly as job_energy.sql would (a zoned timestamp in s or ms, a text node, an
integer device, a numeric power), the tasks read their row groups themselves with pyarrow;
otherwise Spark reads them (job_energy.sql's views) and hands them over as Arrow, the node by the
hash of its name. The driver joins each device's pieces from different tasks (the segment
between them) and sums the small per-device rows into the ten results (`results`), or has Spark
sum them with job_energy.sql's result statements when there are too many. When a device's rows
in two tasks interleave in time, or a node's name is spelt otherwise than the claims', the rows
are instead shuffled once by (node, device) and each device integrated whole (applyInArrow).
Node power and counters go the same way (read by the workers from local Parquet, their pieces
joined on the driver; else shuffled once, by node or by device, and integrated whole); node power
first, so that the samples' pass also cuts the windows (hours and claim bounds) of those nodes'
accelerators, from which greenledger splits host energy.
Needs pyspark 4, pyarrow and numpy on the workers.
"""
import argparse
import hashlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HOUR_MS = 3_600_000

# What each device's integration returns: one row per device, per claim, per claim and hour,
# and per idle hour (kind says which; the other columns are null).
OUT_SCHEMA = (
    "kind string, node string, device bigint, job_id string, h bigint, j double, x double, "
    "n bigint, parts bigint, dropped bigint, dups bigint, gaps bigint, gap_ms bigint, "
    "first_ms bigint, last_ms bigint"
)


def statements(sql):
    """(result name or None, text) per statement: greenledger's own split of the file."""
    out, cur, name = [], [], None
    for line in sql.splitlines():
        if line.startswith("-- result: "):
            name = line[len("-- result: "):].strip()
        if line.startswith("--") or (not cur and not line.strip()):
            continue
        cur.append(line)
        if line.rstrip().endswith(";"):
            out.append((name, "\n".join(cur).rstrip().rstrip(";")))
            cur, name = [], None
    return out


def params(sql):
    """The `-- param NAME = VALUE` lines of job_energy.sql, as integers."""
    out = {}
    for line in sql.splitlines():
        if line.startswith("-- param "):
            k, v = line[len("-- param "):].split("=", 1)
            out[k.strip()] = int(v.strip())
    return out


def is_csv(paths, fmt):
    if fmt != "auto":
        return fmt == "csv"
    return all(p.rstrip("/").lower().endswith((".csv", ".csv.gz")) for p in paths)


def trapezoid(t0, p0, t1, p1, a, b):
    """Energy (J) of the straight line from (t0, p0) to (t1, p1) between a and b (ms):
    greenledger's expression, operation for operation, so each piece is the same double."""
    span = (t1 - t0).astype("float64")
    pa = p0 + (p1 - p0) * ((a - t0).astype("float64") / span)
    pb = p0 + (p1 - p0) * ((b - t0).astype("float64") / span)
    return (pa + pb) / 2.0 * ((b - a).astype("float64") / 1000.0)


def disjoint(claims):
    """A device's claims (job_id, start, end, job_index) made disjoint: sorted by start, end and
    job, an overlap stays with the earlier claim; empty ones are dropped."""
    out, reach = [], None
    for job_id, s0, e, _ in sorted(claims, key=lambda c: (c[1], c[2], c[3])):
        s = min(reach, e) if reach is not None and s0 < reach else s0
        if e > s:
            out.append((job_id, s, e))
        reach = e if reach is None else max(reach, e)
    return out


def integrate(np, node, device, t, p, ok, claims, p0_ms, p1_ms, max_gap_ms, cuts=None):
    """One device's rows (any order) as OUT_SCHEMA rows: valid rows at one instant count once at
    their mean; a segment longer than max_gap_ms is a gap; each segment is clipped to the period,
    cut at hours and at the claims; what no claim holds is idle. Also an `edge` row for its first
    and last instant (time in h, mean power in j, rows at that instant in n), for stitching; and,
    with the cuts of its node's windows (a node with node power), a `win` row per window it
    covers (start in h and first_ms, end in last_ms, joules in j, milliseconds in n)."""
    none = (None,) * 6
    n_rows = len(t)
    order = np.argsort(t, kind="stable")
    t, p, ok = t[order], p[order], ok[order]
    dropped = int(n_rows - ok.sum())
    tv, pv = t[ok], p[ok]
    if len(tv):
        starts = np.flatnonzero(np.concatenate(([True], tv[1:] != tv[:-1])))
        pt = tv[starts]
        pp = np.add.reduceat(pv, starts) / np.diff(np.append(starts, len(tv)))
    else:
        pt, pp = tv, pv
    dups = int(len(tv) - len(pt))
    rows, e_all, idle, gaps, gap_ms = segments(np, node, device, pt[:-1], pp[:-1], pt[1:], pp[1:], claims,
                                               p0_ms, p1_ms, max_gap_ms, cuts, pt)
    first, last = (int(pt[0]), int(pt[-1])) if len(pt) else (None, None)
    rows.append(("device", node, device, None, None, e_all, idle, n_rows, None, dropped, dups, gaps, gap_ms, first, last))
    if len(pt):
        for which, i in (("first", 0), ("last", len(pt) - 1)):
            at = int(((tv == pt[i])).sum())
            rows.append(("edge", node, device, which, int(pt[i]), float(pp[i]), None, at, None) + none)
    return rows


def segments(np, node, device, t0, q0, t1, q1, claims, p0_ms, p1_ms, max_gap_ms, cuts=None, pt=None):
    """A device's segments from (t0, q0) to (t1, q1), sorted and disjoint, as OUT_SCHEMA rows: a
    segment longer than max_gap_ms is a gap; each is clipped to the period, cut at hours and at the
    claims; what no claim holds is idle; with `cuts`, `win` rows. With the device's instants `pt`,
    each claim's row counts the instants in it, and a claim no segment reaches has a row too.
    Returns (rows, joules, idle joules, gaps, gap milliseconds inside the period)."""
    none = (None,) * 6
    rows = []
    a, b = np.maximum(t0, p0_ms), np.minimum(t1, p1_ms)
    inside = b > a
    gap = (t1 - t0) > max_gap_ms
    g = inside & gap
    gaps, gap_ms = int(g.sum()), int((b[g] - a[g]).sum())
    s = inside & ~gap
    t0, t1, q0, q1, a, b = t0[s], t1[s], q0[s], q1[s], a[s], b[s]
    e_all = trapezoid(t0, q0, t1, q1, a, b)
    # Pieces: the segments cut at hour boundaries, in time order.
    ha, hb = a // HOUR_MS, (b - 1) // HOUR_MS
    cnt = hb - ha + 1
    seg = np.repeat(np.arange(len(a)), cnt)
    h = ha[seg] + (np.arange(len(seg)) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    x, y = np.maximum(a[seg], h * HOUR_MS), np.minimum(b[seg], (h + 1) * HOUR_MS)
    piece = np.where(cnt[seg] == 1, e_all[seg], trapezoid(t0[seg], q0[seg], t1[seg], q1[seg], x, y))
    claimed_seg, claimed_piece = np.zeros(len(a)), np.zeros(len(x))
    for job_id, cs, ce in disjoint(claims):
        n_in = 0 if pt is None else int(np.searchsorted(pt, ce, "left") - np.searchsorted(pt, cs, "left"))
        lo, hi = np.searchsorted(b, cs, "right"), np.searchsorted(a, ce, "left")
        if hi <= lo:
            if pt is not None:
                rows.append(("claim", node, device, job_id, None, 0.0, 0.0, n_in, 0) + none)
            continue
        ca, cb = np.maximum(a[lo:hi], cs), np.minimum(b[lo:hi], ce)
        cj = trapezoid(t0[lo:hi], q0[lo:hi], t1[lo:hi], q1[lo:hi], ca, cb)
        claimed_seg[lo:hi] += cj
        plo, phi = np.searchsorted(y, cs, "right"), np.searchsorted(x, ce, "left")
        sg = seg[plo:phi]
        part = trapezoid(t0[sg], q0[sg], t1[sg], q1[sg], np.maximum(x[plo:phi], cs), np.minimum(y[plo:phi], ce))
        claimed_piece[plo:phi] += part
        covered = float(((cb - ca).astype("float64") / 1000.0).sum())
        rows.append(("claim", node, device, job_id, None, float(cj.sum()), covered, n_in, 1) + none)
        hh = h[plo:phi]
        hs = np.flatnonzero(np.concatenate(([True], hh[1:] != hh[:-1])))
        for hour, j in zip(hh[hs].tolist(), np.add.reduceat(part, hs).tolist()):
            rows.append(("hour", node, device, job_id, hour, j, None, None, None) + none)
    if len(h):
        idle = piece - claimed_piece
        hs = np.flatnonzero(np.concatenate(([True], h[1:] != h[:-1])))
        for hour, j in zip(h[hs].tolist(), np.add.reduceat(idle, hs).tolist()):
            rows.append(("idle", node, device, None, hour, j, None, None, None) + none)
    if cuts is not None and len(a):
        rows += windows(np, node, device, cuts, t0, q0, t1, q1, a, b)
    return rows, float(e_all.sum()), float((e_all - claimed_seg).sum()), gaps, gap_ms


def windows(np, node, device, cuts, t0, q0, t1, q1, a, b):
    """`win` rows: the segments [a, b) cut at the node's window cuts (which include every hour),
    each window's joules and covered milliseconds, summed in time order as greenledger does."""
    wa = np.searchsorted(cuts, a, "right") - 1
    wb = np.searchsorted(cuts, b - 1, "right") - 1
    cnt = wb - wa + 1
    seg = np.repeat(np.arange(len(a)), cnt)
    k = wa[seg] + (np.arange(len(seg)) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    x, y = np.maximum(a[seg], cuts[k]), np.minimum(b[seg], cuts[k + 1])
    j = trapezoid(t0[seg], q0[seg], t1[seg], q1[seg], x, y)
    jsum = np.bincount(k, weights=j, minlength=len(cuts) - 1)
    msum = np.bincount(k, weights=(y - x).astype("float64"), minlength=len(cuts) - 1)
    return [("win", node, device, None, int(cuts[i]), float(jsum[i]), None, int(msum[i]), None,
             None, None, None, None, int(cuts[i]), int(cuts[i + 1])) for i in np.flatnonzero(msum > 0).tolist()]


def window_cuts(np, claims, p0_ms, p1_ms):
    """A node's window cuts: the period [p0, p1) cut at every hour and at every start and end of
    the node's claims (`claims`: (start, end) pairs, CPU-only ones too), sorted, unique."""
    first = (p0_ms // HOUR_MS) * HOUR_MS
    hours = [max(h, p0_ms) for h in range(first, p1_ms, HOUR_MS)]
    inner = [c for s_, e_ in claims for c in (s_, e_) if p0_ms < c < p1_ms]
    return np.unique(np.array(hours + [p1_ms] + inner, dtype="int64"))


def node_function(bounds, p0_ms, p1_ms, max_gap_ms):
    """What applyInArrow runs on each node's whole-node power (a shuffle by node): the node as
    greenledger's device `node/node` (zero is a gap; no limit, no claims): an `npower` row with its
    counts and span, and its `win` rows (device -1) in its windows, cut from `bounds` (the claims'
    (start, end) by node)."""

    def run(key, table):
        import numpy as np
        import pyarrow as pa

        node = key[0].as_py()
        cuts = window_cuts(np, bounds.get(node, []), p0_ms, p1_ms)
        t = table.column("t").to_numpy()
        p = table.column("p").to_numpy(zero_copy_only=False)
        ok = table.column("ok").to_numpy(zero_copy_only=False)
        rows = [r for r in node_kinds(integrate(np, node, -1, t, p, ok, [], p0_ms, p1_ms, max_gap_ms, cuts))
                if r[0] != "edge"]
        return pa.Table.from_pylist(as_dicts(rows), schema=out_arrow_schema(pa))

    return run


def node_kinds(rows):
    """Node power's rows (device -1) as the results read them: its `device` row becomes `npower`
    (counts and span; its energy is only in its windows), its `win` and `edge` rows stay; its
    idle hours are no accelerator's idle energy and go. Other rows pass."""
    out = []
    for r in rows:
        if r[2] != -1:
            out.append(r)
        elif r[0] == "device":
            out.append(("npower",) + r[1:5] + (None, None) + r[7:])
        elif r[0] in ("win", "edge", "read"):
            out.append(r)
    return out


def counter_function(claims_by_node):
    """What applyInArrow runs on each device's energy-counter readings (a shuffle by node and
    device): `counter_rows` of the whole device."""

    def run(key, table):
        import numpy as np
        import pyarrow as pa

        node, device = key[0].as_py(), key[1].as_py()
        t = table.column("t").to_numpy()
        m = table.column("m").to_numpy(zero_copy_only=False)
        ok = table.column("ok").to_numpy(zero_copy_only=False)
        rows = [r for r in counter_rows(np, node, device, t, m, ok, claims_of(claims_by_node, node, device))
                if r[0] != "cedge"]
        return pa.Table.from_pylist(as_dicts(rows), schema=out_arrow_schema(pa))

    return run


def counter_rows(np, node, device, t, m, ok, claims):
    """One device's energy-counter readings (any order; ok: a finite count of at least 0) by
    greenledger's rules: the smallest reading of an instant counts; a reading below the one before
    is a reset, counted from zero; each delta is spread evenly over its interval onto the device's
    claims. A `cdev` row (readings used in n, not used in dropped, resets in parts), a `device`
    row with no samples (the device is seen), a `cnt` row per claim covered, and `cedge` rows for
    its first and last instant (time in h, reading in j), for stitching."""
    used = int(ok.sum())
    t, m = t[ok], m[ok]
    order = np.lexsort((m, t))
    t, m = t[order], m[order]
    keep = np.concatenate(([True], t[1:] != t[:-1])) if len(t) else np.zeros(0, bool)
    t, m = t[keep], m[keep]
    reset, dj = counter_deltas(np, m[:-1], m[1:])
    rows = [("cdev", node, device, None, None, None, None, used, int(reset.sum()), len(ok) - used,
             None, None, None, None, None)]
    if used:
        rows.append(("device", node, device, None, None, 0.0, 0.0, 0, None, 0, 0, 0, 0, None, None))
        for which, i in (("first", 0), ("last", len(t) - 1)):
            rows.append(("cedge", node, device, which, int(t[i]), float(m[i])) + (None,) * 9)
    return rows + spread(np, node, device, t[:-1], t[1:], dj, claims)


def counter_deltas(np, m0, m1):
    """Whether each reading m1 is a reset (below the reading m0 before it), and the joules since
    m0: m1 - m0, or after a reset m1 itself (counted from zero; the part before it is lost)."""
    reset = m1 < m0
    return reset, np.where(reset, m1 / 1000.0, (m1 - m0) / 1000.0)


def spread(np, node, device, t0, t1, dj, claims):
    """`cnt` rows: the deltas dj over [t0, t1) (sorted) spread evenly onto the claims, by the
    milliseconds each shares with them: greenledger's arithmetic, (dj x shared) / span."""
    rows = []
    span = (t1 - t0).astype("float64")
    for job_id, cs, ce in disjoint(claims):
        lo, hi = np.searchsorted(t1, cs, "right"), np.searchsorted(t0, ce, "left")
        o = np.minimum(t1[lo:hi], ce) - np.maximum(t0[lo:hi], cs)
        on = o > 0
        if on.any():
            j = (dj[lo:hi] * o.astype("float64") / span[lo:hi])[on]
            cov = o[on].astype("float64") / 1000.0
            rows.append(("cnt", node, device, job_id, None, float(j.sum()), float(cov.sum()), None, None,
                         None, None, None, None, None, None))
    return rows


def counter_stitch(edges, claims_by_node):
    """The deltas between a device's counter readings in different tasks (the last reading of one
    piece to the first of the next), as `cnt` rows and a `cdev` row with their resets; None when
    the pieces overlap in time or share an instant (then the readings are shuffled by device)."""
    import numpy as np

    pairs = between(edges)
    if pairs is None:
        return None
    rows = []
    for (node, device), (t0, m0, t1, m1) in pairs:
        reset, dj = counter_deltas(np, m0, m1)
        rows.append(("cdev", node, device, None, None, None, None, 0, int(reset.sum()), 0) + (None,) * 5)
        rows += spread(np, node, device, t0, t1, dj, claims_of(claims_by_node, node, device))
    return rows


def device_ok(pc, device):
    """A device number greenledger reads: present, 0 or more, below 2^32 - 1 (that one is node power's)."""
    return pc.fill_null(pc.and_(pc.greater_equal(device, 0), pc.less(device, 4294967295)), False)


def normalise(node):
    """A node name as greenledger compares it: trimmed, up to the first dot, lower case (the
    SQL's lower(split_part(trim(node), '.', 1)))."""
    return node.strip(" ").split(".")[0].lower()


def claims_of(claims_by_node, node, device):
    """The claims (job_id, start, end, job_index) on one device: the node's, for that device or
    for all of its devices; none on node power (device -1), which no job claims."""
    if device == -1:
        return []
    return [c[:4] for c in claims_by_node.get(node, ()) if c[4] is None or c[4] == device]


def device_groups(np, n_nodes, node_idx, dev):
    """The rows by (node, device), in their order within each (integrate sorts a device's by
    time): the stable order and each device's (lo, hi) in it. A stable sort of one small integer
    key when the devices allow, cheaper than sorting by time too."""
    if len(dev) and dev.min() >= 0 and (dev.max() + 1) * max(n_nodes, 1) < 2**31:
        order = np.argsort(node_idx * (int(dev.max()) + 1) + dev, kind="stable")
    else:
        order = np.lexsort((dev, node_idx))
    node_idx, dev = node_idx[order], dev[order]
    cut = np.flatnonzero((np.diff(node_idx) != 0) | (np.diff(dev) != 0)) + 1
    bounds = np.concatenate(([0], cut, [len(dev)]))
    return order, [(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]


def device_rows(np, nodes, node_idx, dev, t, p, read, claims_by_node, limits, cuts_by_node, p0_ms, p1_ms, max_gap_ms):
    """A task's usable rows (node_idx into nodes, device, t, p) as OUT_SCHEMA rows: which are
    valid, grouped by device, each device integrated (with its node's window cuts when the node
    has node power); and a `read` row with the rows read."""
    limit = np.array([limits.get(n, np.inf) for n in nodes])[node_idx]
    with np.errstate(invalid="ignore"):
        ok = (p >= 0.0) & (p <= 1.7976931348623157e308) & (p <= limit)
    ok &= ~np.isnan(p)
    order, groups = device_groups(np, len(nodes), node_idx, dev)
    node_idx, dev, t, p, ok = node_idx[order], dev[order], t[order], p[order], ok[order]
    rows = [("read", None, None, None, None, None, None, read, None) + (None,) * 6]
    for lo, hi in groups:
        node, device = nodes[int(node_idx[lo])], int(dev[lo])
        rows += integrate(np, node, device, t[lo:hi], p[lo:hi], ok[lo:hi],
                          claims_of(claims_by_node, node, device), p0_ms, p1_ms, max_gap_ms, cuts_by_node.get(node))
    return rows


# What the workers read of each input, when they read it themselves: its columns (the value
# last; energy in J is read as mJ), and whether it has a device.
DIRECT = {
    "samples": (("timestamp", "node", "device", "power_w"),),
    "node": (("timestamp", "node", "power_w"),),
    "counters": (("timestamp", "node", "device", "energy_mj"), ("timestamp", "node", "device", "energy_j")),
}


def direct_plan(paths, fmt, kind="samples"):
    """The row groups of an input (`kind`, see DIRECT) and the columns to read, when it is local
    Parquet files whose columns pyarrow reads exactly as job_energy.sql would: a time zone-aware
    timestamp in s or ms, a text node, an integer device, a numeric value. Else None, and Spark
    reads the input."""
    if is_csv(paths, fmt):
        return None
    import glob

    import pyarrow as pa
    import pyarrow.parquet as pq

    files = []
    for p in paths:
        p = p[len("file://"):] if p.startswith("file://") else p
        if "://" in p:
            return None
        for hit in sorted(glob.glob(p)) or [p]:
            if os.path.isdir(hit):
                for root, dirs, names in os.walk(hit):
                    dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
                    files += [os.path.join(root, n) for n in sorted(names) if not n.startswith((".", "_"))]
            elif os.path.isfile(hit):
                files.append(hit)
            else:
                return None
    items, columns = [], None
    for f in files:
        try:
            meta = pq.ParquetFile(f)
        except Exception:
            return None
        schema = meta.schema_arrow
        cols = next((c for c in DIRECT[kind] if set(c) <= set(schema.names)), None)
        if cols is None or columns not in (None, cols):
            return None
        columns = cols
        types = {n: schema.field(n).type for n in cols}
        ts, node, value = types["timestamp"], types["node"], types[cols[-1]]
        if pa.types.is_dictionary(node):
            node = node.value_type
        if not (pa.types.is_timestamp(ts) and ts.tz is not None and ts.unit in ("s", "ms")
                and (pa.types.is_string(node) or pa.types.is_large_string(node))
                and ("device" not in types or pa.types.is_integer(types["device"]))
                and (pa.types.is_floating(value) or pa.types.is_integer(value))):
            return None
        items += [(f, rg) for rg in range(meta.num_row_groups)]
    return items, columns


def direct_function(kind, columns, claims_by_node, limits, cuts_by_node, bounds, p0_ms, p1_ms, max_gap_ms):
    """What each task runs when the workers read an input themselves (direct_plan): one row
    group at a time, no conversion through Spark's rows; the node names come with the data.
    Samples: their devices integrated (device_rows); node power: each node integrated in its
    windows (node_kinds); counters: each device's readings (counter_rows). Each with `edge` or
    `cedge` rows for the driver to stitch pieces of one device in different tasks."""

    def run(items):
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        for path, rg in items:
            tab = pq.ParquetFile(path).read_row_group(rg, columns=list(columns))
            read = tab.num_rows
            usable = pc.and_(pc.is_valid(tab["timestamp"]), pc.is_valid(tab["node"]))
            if "device" in columns:
                usable = pc.and_(usable, device_ok(pc, tab["device"]))
            if kind == "counters":
                usable = pc.and_(usable, pc.is_valid(tab[columns[-1]]))
            if not pc.all(usable).as_py():
                tab = tab.filter(usable)
            node = pc.dictionary_encode(tab["node"]).combine_chunks()
            nodes_raw = node.dictionary.to_pylist()
            names = [normalise(n) for n in nodes_raw]
            nodes = sorted(set(names))
            remap = np.array([nodes.index(n) for n in names], dtype="int64")
            node_idx = remap[node.indices.to_numpy(zero_copy_only=False)] if len(names) else np.zeros(0, "int64")
            ts = tab["timestamp"].type
            t = pc.cast(tab["timestamp"], pa.timestamp(ts.unit, ts.tz)).cast(pa.int64()).to_numpy()
            if ts.unit == "s":
                t = t * 1000
            v = pc.cast(tab[columns[-1]], pa.float64()).to_numpy(zero_copy_only=False)
            if columns[-1] == "energy_j":
                v = v * 1000
            if kind == "samples":
                dev = pc.cast(tab["device"], pa.int64()).to_numpy()
                yield from device_rows(np, nodes, node_idx, dev, t, v, read, claims_by_node, limits, cuts_by_node,
                                       p0_ms, p1_ms, max_gap_ms)
                continue
            yield ("read", None, None, None, None, None, None, read, None) + (None,) * 6
            dev = pc.cast(tab["device"], pa.int64()).to_numpy() if "device" in columns else np.full(len(t), -1)
            with np.errstate(invalid="ignore"):
                if kind == "node":
                    ok = (v > 0.0) & (v <= 1.7976931348623157e308)
                else:
                    ok = (v >= 0.0) & (v <= 1.7976931348623157e308)
            order, groups = device_groups(np, len(nodes), node_idx, dev)
            node_idx, dev, t, v, ok = node_idx[order], dev[order], t[order], v[order], ok[order]
            for lo, hi in groups:
                name, device = nodes[int(node_idx[lo])], int(dev[lo])
                if kind == "node":
                    cuts = window_cuts(np, bounds.get(name, []), p0_ms, p1_ms)
                    yield from node_kinds(integrate(np, name, -1, t[lo:hi], v[lo:hi], ok[lo:hi], [], p0_ms, p1_ms,
                                                    max_gap_ms, cuts))
                else:
                    yield from counter_rows(np, name, device, t[lo:hi], v[lo:hi], ok[lo:hi],
                                            claims_of(claims_by_node, name, device))

    return run


def chunk_function(claims_by_node, limits, cuts_by_node, names, p0_ms, p1_ms, max_gap_ms):
    """What mapInArrow runs on each task's rows (k: the node's hash, device, t, p), without a
    shuffle: the devices in the task are integrated as they are there; each device's first and
    last instant come back as edge rows, for the driver to join a device's pieces across tasks."""

    def run(batches):
        import numpy as np
        import pyarrow as pa

        tabs = [b for b in batches if b.num_rows]
        if not tabs:
            return
        tab = pa.Table.from_batches(tabs)
        read = tab.num_rows
        import pyarrow.compute as pc

        usable = pc.and_(pc.and_(pc.is_valid(tab["k"]), device_ok(pc, tab["device"])), pc.is_valid(tab["t"]))
        if not pc.all(usable).as_py():
            tab = tab.filter(usable)
        k = tab.column("k").to_numpy()
        dev = tab.column("device").to_numpy()
        t = tab.column("t").to_numpy()
        p = tab.column("p").to_numpy(zero_copy_only=False)
        keys = np.unique(k)
        node_of = {int(x): normalise(names[int(x)]) if int(x) in names else UNNAMED % int(x) for x in keys}
        nodes = sorted(set(node_of.values()))
        ni = np.searchsorted(np.array(sorted(node_of)), k)
        idx_of_key = np.array([nodes.index(node_of[int(x)]) for x in sorted(node_of)])
        node_idx = idx_of_key[ni]
        rows = device_rows(np, nodes, node_idx, dev, t, p, read, claims_by_node, limits, cuts_by_node, p0_ms, p1_ms, max_gap_ms)
        yield pa.RecordBatch.from_pylist(as_dicts(rows), schema=out_arrow_schema(pa))

    return run


OUT_NAMES = [f.split()[0] for f in OUT_SCHEMA.split(", ")]

# Up to this many per-device rows, the driver sums them (a Spark job per result costs more).
DRIVER_ROWS = 5_000_000

# A node the claims do not name, by its hash, until the driver names it.
UNNAMED = "\x00node#%d"


def name_unknown(spark, seen, needed):
    """Names for the nodes the pass knew only by hash (from one more pass over the node column):
    {placeholder: name}; None when that cannot be done here: two names share a hash, or a name
    is a node in `needed` (claimed, or with node power) spelt another way (its devices were
    integrated without their claims or windows)."""
    unnamed = [n for n in seen if n.startswith("\x00")]
    if not unnamed:
        return {}
    raw = {}
    for r in spark.sql("SELECT xxhash64(node) AS k, node FROM samples WHERE node IS NOT NULL GROUP BY node").collect():
        raw.setdefault(r["k"], []).append(r["node"])
    rename = {}
    for n in unnamed:
        names = raw.get(int(n.split("#", 1)[1]), [])
        if len(names) != 1 or normalise(names[0]) in needed:
            return None
        rename[n] = normalise(names[0])
    return rename


def device_function(claims_by_node, cuts_by_node, p0_ms, p1_ms, max_gap_ms):
    """What applyInArrow runs on each (node, device) group, after a shuffle by them: the way
    used when a task's pieces cannot be joined (a device's rows interleaved across tasks)."""

    def run(key, table):
        import numpy as np
        import pyarrow as pa

        node, device = key[0].as_py(), key[1].as_py()
        t = table.column("t").to_numpy()
        p = table.column("p").to_numpy(zero_copy_only=False)
        ok = table.column("ok").to_numpy(zero_copy_only=False)
        rows = integrate(np, node, device, t, p, ok, claims_of(claims_by_node, node, device), p0_ms, p1_ms, max_gap_ms,
                         cuts_by_node.get(node))
        return pa.Table.from_pylist(as_dicts(rows), schema=out_arrow_schema(pa))

    return run


def between(edges):
    """Each device in several tasks, from its pieces' edge rows (first and last instant: time in
    h, value in j): [((node, device), (t0, v0, t1, v1))], the arrays of the instants from the last
    of one piece (t0, v0) to the first of the next (t1, v1), in time order; None when pieces
    overlap in time or share an instant (an equal instant would need its readings merged across
    tasks)."""
    import numpy as np

    by_device = {}
    for e in edges:
        by_device.setdefault((e["node"], e["device"]), []).append(e)
    out = []
    for key, es in sorted(by_device.items()):
        firsts = sorted((e["h"], e["j"]) for e in es if e["job_id"] == "first")
        lasts = sorted((e["h"], e["j"]) for e in es if e["job_id"] == "last")
        # Sorted apart, the pieces are disjoint exactly when each begins after the one before ends.
        if any(f[0] <= l[0] for l, f in zip(lasts[:-1], firsts[1:])):
            return None
        if len(firsts) > 1:
            out.append((key, (np.array([l[0] for l in lasts[:-1]], dtype="int64"),
                              np.array([l[1] for l in lasts[:-1]], dtype="float64"),
                              np.array([f[0] for f in firsts[1:]], dtype="int64"),
                              np.array([f[1] for f in firsts[1:]], dtype="float64"))))
    return out


def stitch(edges, claims_by_node, cuts_by_node, p0_ms, p1_ms, max_gap_ms):
    """The segments between a device's pieces in different tasks, as OUT_SCHEMA rows (their
    rows, duplicates and instants were counted by the tasks: only energy, gaps and claims' parts
    here); None when the pieces overlap in time or share an instant (then the shuffle is needed)."""
    import numpy as np

    pairs = between(edges)
    if pairs is None:
        return None
    rows = []
    for (node, device), (t0, q0, t1, q1) in pairs:
        # All of a device's segments between its pieces at once: sorted, disjoint.
        more, e_all, idle, gaps, gap_ms = segments(np, node, device, t0, q0, t1, q1, claims_of(claims_by_node, node, device),
                                                   p0_ms, p1_ms, max_gap_ms, cuts_by_node.get(node))
        rows += more
        rows.append(("device", node, device, None, None, e_all, idle, 0, None, 0, 0, gaps, gap_ms, None, None))
    return rows


def results(pa, pc, out, read):
    """The ten results from the per-device rows (an Arrow table of OUT_SCHEMA), with the
    columns and rules of job_energy.sql's results for DuckDB: every sum is over its rows.
    `read`: the rows read of the samples, node power and counters."""
    rows_read, node_power_rows, counter_rows = read

    def of(kind):
        return out.filter(pc.equal(out["kind"], kind))

    def grouped(t, keys, aggs):
        # Columns named `<column>_<function>`, beside the keys.
        return t.group_by(keys, use_threads=False).aggregate(aggs)

    def sort(t, keys):
        return t.sort_by([(k, "ascending") for k in keys])

    dev = grouped(of("device"), ["node", "device"], [
        ("n", "sum"), ("dropped", "sum"), ("dups", "sum"), ("gaps", "sum"), ("gap_ms", "sum"),
        ("j", "sum"), ("x", "sum"), ("first_ms", "min"), ("last_ms", "max")])
    device_energy = sort(pa.table({
        "node": dev["node"], "device": dev["device"], "samples": dev["n_sum"], "dropped": dev["dropped_sum"],
        "duplicates": dev["dups_sum"], "gaps": dev["gaps_sum"], "gap_ms": dev["gap_ms_sum"],
        "total_j": dev["j_sum"], "idle_j": dev["x_sum"], "first_ms": dev["first_ms_min"], "last_ms": dev["last_ms_max"],
    }), ["node", "device"])
    nodes = grouped(device_energy, ["node"], [
        ("device", "count"), ("total_j", "sum"), ("idle_j", "sum"), ("first_ms", "min"), ("last_ms", "max")])
    node_energy = sort(pa.table({
        "node": nodes["node"], "device_count": nodes["device_count"], "total_j": nodes["total_j_sum"],
        "idle_j": nodes["idle_j_sum"], "first_ms": nodes["first_ms_min"], "last_ms": nodes["last_ms_max"],
    }), ["node"])
    claims = grouped(of("claim"), ["job_id", "node", "device"], [("j", "sum"), ("x", "sum"), ("parts", "max"), ("n", "sum")])
    held = claims.filter(pc.greater(claims["parts_max"], 0))
    per_job = grouped(held, ["job_id"], [("j_sum", "sum"), ("x_sum", "sum"), ("device", "count")])
    node_count = dict(zip(node_energy["node"].to_pylist(), node_energy["device_count"].to_pylist()))
    job_nodes = {}
    for job, node in set(zip(held["job_id"].to_pylist(), held["node"].to_pylist())):
        job_nodes[job] = job_nodes.get(job, 0) + node_count[node]
    samples = dict(zip(*grouped(claims, ["job_id"], [("n_sum", "sum")]).select(["job_id", "n_sum_sum"]).to_pydict().values()))
    jobs = per_job["job_id"].to_pylist()
    job_energy = sort(pa.table({
        "job_id": per_job["job_id"], "sampled_j": per_job["j_sum_sum"], "covered_s": per_job["x_sum_sum"],
        "samples": pa.array([samples.get(j) or 0 for j in jobs], pa.int64()), "devices": per_job["device_count"],
        "node_devices": pa.array([job_nodes[j] for j in jobs], pa.int64()),
    }), ["job_id"])

    def hourly(kind, key, value):
        per_device = grouped(of(kind), list(dict.fromkeys([key, "node", "device", "h"])), [("j", "sum")])
        nonzero = per_device.filter(pc.not_equal(per_device["j_sum"], 0.0))
        g = grouped(nonzero, [key, "h"], [("j_sum", "sum")])
        return sort(pa.table({key: g[key], "hour_start": pc.multiply(g["h"], 3600), value: g["j_sum_sum"]}), [key, "hour_start"])

    npower = grouped(of("npower"), ["node"], [
        ("n", "sum"), ("dropped", "sum"), ("dups", "sum"), ("gaps", "sum"), ("gap_ms", "sum"),
        ("first_ms", "min"), ("last_ms", "max")])
    node_power = sort(pa.table({
        "node": npower["node"], "samples": npower["n_sum"], "dropped": npower["dropped_sum"],
        "duplicates": npower["dups_sum"], "gaps": npower["gaps_sum"], "gap_ms": npower["gap_ms_sum"],
        "first_ms": npower["first_ms_min"], "last_ms": npower["last_ms_max"],
    }), ["node"])
    win = of("win")
    own = grouped(win.filter(pc.equal(win["device"], -1)), ["node", "h"], [("last_ms", "max"), ("j", "sum"), ("n", "sum")])
    own = own.filter(pc.greater(own["n_sum"], 0))
    gpus = grouped(win.filter(pc.not_equal(win["device"], -1)), ["node", "h"], [("j", "sum")])
    gpu_j = dict(zip(zip(gpus["node"].to_pylist(), gpus["h"].to_pylist()), gpus["j_sum"].to_pylist()))
    keys = list(zip(own["node"].to_pylist(), own["h"].to_pylist()))
    node_windows = sort(pa.table({
        "node": own["node"], "start_ms": own["h"], "end_ms": own["last_ms_max"], "node_j": own["j_sum"],
        "node_ms": own["n_sum"], "gpu_j": pa.array([gpu_j.get(k, 0.0) for k in keys], pa.float64()),
    }), ["node", "start_ms"])
    cdev = grouped(of("cdev"), ["node", "device"], [("n", "sum"), ("dropped", "sum"), ("parts", "sum")])
    device_counters = sort(pa.table({
        "node": cdev["node"], "device": cdev["device"], "readings": cdev["n_sum"],
        "dropped": cdev["dropped_sum"], "resets": cdev["parts_sum"],
    }), ["node", "device"])
    cnt = grouped(of("cnt"), ["job_id"], [("j", "sum"), ("x", "sum")])
    job_counters = sort(pa.table({
        "job_id": cnt["job_id"], "counter_j": cnt["j_sum"], "covered_s": cnt["x_sum"],
    }), ["job_id"])
    quality = pa.table({
        "rows": pa.array([rows_read], pa.int64()),
        "samples": pa.array([pc.sum(device_energy["samples"]).as_py()], pa.int64()),
        "devices": pa.array([device_energy.num_rows], pa.int64()),
        "duplicates": pa.array([pc.sum(device_energy["duplicates"]).as_py()], pa.int64()),
        "dropped": pa.array([pc.sum(device_energy["dropped"]).as_py()], pa.int64()),
        "gaps": pa.array([pc.sum(device_energy["gaps"]).as_py()], pa.int64()),
        "gap_s": pa.array([(pc.sum(device_energy["gap_ms"]).as_py() or 0) / 1000.0], pa.float64()),
        "node_power_rows": pa.array([node_power_rows], pa.int64()),
        "counter_rows": pa.array([counter_rows], pa.int64()),
    })
    return {
        "job_energy": job_energy,
        "job_hourly": hourly("hour", "job_id", "joules"),
        "device_energy": device_energy,
        "node_energy": node_energy,
        "node_hourly": hourly("idle", "node", "idle_j"),
        "node_power": node_power,
        "node_windows": node_windows,
        "device_counters": device_counters,
        "job_counters": job_counters,
        "quality": quality,
    }


def as_dicts(rows):
    names = [f.split()[0] for f in OUT_SCHEMA.split(", ")]
    return [dict(zip(names, r)) for r in rows]


def out_arrow_schema(pa):
    types = {"string": pa.string(), "bigint": pa.int64(), "double": pa.float64()}
    return pa.schema([(f.split()[0], types[f.split()[1]]) for f in OUT_SCHEMA.split(", ")])


def write(spark, table, target):
    """One result as a Parquet folder: written here when the target is a local path, else by
    Spark (hdfs://, s3a://, ...)."""
    if "://" in target and not target.startswith("file://"):
        spark.createDataFrame(table).coalesce(1).write.mode("overwrite").parquet(target)
        return
    import shutil

    import pyarrow.parquet as pq

    path = target[len("file://"):] if target.startswith("file://") else target
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    pq.write_table(table, os.path.join(path, "part-00000.parquet"))


def table_of(spark, paths, fmt):
    """The rows of `paths`: Parquet, or CSV as text (job_energy.sql casts)."""
    if is_csv(paths, fmt):
        return spark.read.option("header", True).option("inferSchema", False).csv(paths)
    return spark.read.parquet(*paths)


def check_digest(sql):
    """job_energy.sql names the sha256 of the driver it was written with: refuse to run another."""
    want = next((l.split(":", 1)[1].strip() for l in sql.splitlines() if l.startswith("-- driver sha256:")), None)
    with open(os.path.abspath(__file__), "rb") as f:
        have = hashlib.sha256(f.read()).hexdigest()
    if want != have:
        sys.exit("run_spark.py (sha256 %s) is not the driver job_energy.sql was written for (%s): run greenledger pushdown again" % (have, want))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", nargs="+", required=True, metavar="URI")
    ap.add_argument("--node-power", nargs="+", default=[], metavar="URI", help="whole-node power (timestamp, node, power_w)")
    ap.add_argument("--counters", nargs="+", default=[], metavar="URI",
                    help="energy counters (timestamp, node, device, energy_mj or energy_j)")
    ap.add_argument("--format", choices=["auto", "parquet", "csv"], default="auto")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), metavar="URI")
    ap.add_argument("--claims", default=os.path.join(HERE, "claims.parquet"), metavar="URI")
    ap.add_argument("--sql", default=os.path.join(HERE, "job_energy.sql"), metavar="FILE")
    ap.add_argument("--master", help="Spark master when not run by spark-submit (default local[*])")
    ap.add_argument("--driver-memory", default="2g", help="local mode only (default 2g)")
    ap.add_argument("--shuffle-partitions", type=int, help="spark.sql.shuffle.partitions")
    ap.add_argument("--timings", action="store_true", help="print each stage's seconds to stderr")
    ap.add_argument("--split-bytes", type=int, help="spark.sql.files.maxPartitionBytes (local default: 16 MB)")
    ap.add_argument("--sum-on", choices=["auto", "driver", "spark"], default="auto",
                    help="where the per-device rows are summed into the results (auto: on the driver up to %d rows)" % 5_000_000)
    a = ap.parse_args()
    began = time.time()

    def stage(what):
        if a.timings:
            print("  %6.1f s  %s" % (time.time() - began, what), file=sys.stderr)

    with open(a.sql, encoding="utf-8") as f:
        sql = f.read()
    check_digest(sql)
    k = params(sql)

    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("greenledger pushdown")
    # spark-submit starts the JVM and sets the master; plain python3 runs Spark locally.
    local = "PYSPARK_GATEWAY_PORT" not in os.environ
    if local:
        # The workers run `integrate`: locally, with this Python (numpy, pyarrow).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = builder.master(a.master or "local[*]").config("spark.driver.memory", a.driver_memory)
        builder = builder.config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
    elif a.master:
        builder = builder.master(a.master)
    if a.shuffle_partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(a.shuffle_partitions))
    elif local:
        builder = builder.config("spark.sql.shuffle.partitions", str(2 * (os.cpu_count() or 2)))
    # Large Arrow batches into the tasks' Python: fewer, cheaper conversions (32 bytes a row).
    builder = builder.config("spark.sql.execution.arrow.maxRecordsPerBatch", "1000000")
    if a.split_bytes or local:
        # Tasks of at most 16 MB of Parquet: enough of them to keep every core busy.
        builder = builder.config("spark.sql.files.maxPartitionBytes", str(a.split_bytes or 16 << 20))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    stage("Spark started")

    t0 = time.time()
    import pyarrow as pa
    import pyarrow.compute as pc

    if os.path.exists(a.claims):
        # A local file is read here: a Spark job to read one small file costs seconds.
        import pyarrow.parquet as pq

        claims_table = pq.read_table(a.claims)
        # greenledger writes text as Arrow's string views, which Spark does not take.
        claims_table = claims_table.cast(pa.schema([
            pa.field(f.name, pa.string() if pa.types.is_string_view(f.type) else f.type) for f in claims_table.schema
        ]))
        claims = None
        claim_rows = claims_table.to_pylist()
    else:
        claims = spark.read.parquet(a.claims)
        claim_rows = [c.asDict() for c in claims.collect()]
    by_node, limits, bounds = {}, {}, {}
    for c in claim_rows:
        # A CPU-only job's claim (with cores) holds no accelerator: it only cuts the node's windows.
        if c.get("cores") is None:
            by_node.setdefault(c["node"], []).append((c["job_id"], c["start_ms"], c["end_ms"], c["job_index"], c["device"]))
        bounds.setdefault(c["node"], []).append((c["start_ms"], c["end_ms"]))
        if c["limit_w"] is not None:
            limits[c["node"]] = max(limits.get(c["node"], c["limit_w"]), c["limit_w"])
    args = (k["p0"], k["p1"], k["max_gap_ms"])
    stage("claims read")
    import numpy as np

    def run_view(view):
        # The statement of job_energy.sql that makes `view`.
        spark.sql(next(t for n, t in statements(sql) if n is None and ("TEMP VIEW %s AS" % view) in t))

    # Node power and energy counters: small beside the samples, each shuffled once (by node, by
    # device) and integrated whole. Node power comes first: its nodes' windows are cut in the
    # samples' pass too (their accelerators' energy per window).
    extra, cuts_by_node, node_power_rows, counter_rows = [], {}, 0, 0

    def direct(kind, paths):
        # The workers read the row groups themselves and the driver joins a device's pieces:
        # (rows, rows read), or None when the input is not such Parquet or pieces interleave.
        found = direct_plan(paths, a.format, kind)
        if found is None:
            return None
        items, columns = found
        run = direct_function(kind, columns, by_node, limits, cuts_by_node, bounds, *args)
        rows = spark.sparkContext.parallelize(items, max(1, len(items))).mapPartitions(run).collect()
        edges = [dict(zip(OUT_NAMES, r)) for r in rows if r[0] in ("edge", "cedge")]
        if kind == "node":
            cuts = {e["node"]: window_cuts(np, bounds.get(e["node"], []), *args[:2]) for e in edges}
            joins = stitch(edges, by_node, cuts, *args)
            joins = None if joins is None else node_kinds(joins)
        else:
            joins = counter_stitch(edges, by_node)
        if joins is None:
            return None
        read = sum(r[7] for r in rows if r[0] == "read")
        kept = [r for r in rows if r[0] not in ("edge", "cedge", "read")] + joins
        return pa.Table.from_pylist(as_dicts(kept), schema=out_arrow_schema(pa)), read

    if a.node_power:
        done = direct("node", a.node_power)
        if done is not None:
            how_node = "read by the workers"
        else:
            how_node = "shuffled by node"
            table_of(spark, a.node_power, a.format).createOrReplaceTempView("node_power")
            run_view("gl_nrows")
            run = node_function(bounds, *args)
            done = (spark.table("gl_nrows").groupBy("node").applyInArrow(run, OUT_SCHEMA).toArrow(),
                    spark.table("node_power").count())
        extra.append(done[0])
        node_power_rows = done[1]
        for node in set(done[0].filter(pc.equal(done[0]["kind"], "npower"))["node"].to_pylist()):
            cuts_by_node[node] = window_cuts(np, bounds.get(node, []), *args[:2])
        stage("node power integrated (%d nodes, %s)" % (len(cuts_by_node), how_node))
    if a.counters:
        done = direct("counters", a.counters)
        if done is not None:
            how_counters = "read by the workers"
        else:
            how_counters = "shuffled by device"
            counters = table_of(spark, a.counters, a.format)
            names = [c.lower() for c in counters.columns]
            if "energy_mj" not in names and "energy_j" in names:
                # amd-smi counts joules: the SQL reads millijoules.
                counters = counters.withColumn("energy_mj", counters["energy_j"].cast("double") * 1000)
            counters.createOrReplaceTempView("counters")
            run_view("gl_crows")
            run = counter_function(by_node)
            done = (spark.table("gl_crows").groupBy("node", "device").applyInArrow(run, OUT_SCHEMA).toArrow(),
                    spark.table("counters").count())
        extra.append(done[0])
        counter_rows = done[1]
        stage("energy counters spread (%s)" % how_counters)
    out, rows_read, how, known = None, None, "shuffled by device", {}
    plan = direct_plan(a.samples, a.format)
    if plan is not None:
        # The workers read the row groups themselves: no rows through Spark, no shuffle.
        plan, columns = plan
        run = direct_function("samples", columns, by_node, limits, cuts_by_node, bounds, *args)
        rdd = spark.sparkContext.parallelize(plan, max(1, len(plan))).mapPartitions(run).cache()
        small = [dict(zip(OUT_NAMES, r)) for r in rdd.filter(lambda r: r[0] in ("edge", "read", "device")).collect()]
        stage("integrated in the tasks (row groups read by the workers)")
        rows_read = sum(r["n"] for r in small if r["kind"] == "read")
        edges = [r for r in small if r["kind"] == "edge"]
        joins = stitch(edges, by_node, cuts_by_node, *args)
        if joins is not None:
            how = "without a shuffle, read by the workers"
            if a.sum_on != "spark" and rdd.count() + len(joins) <= DRIVER_ROWS:
                out = pa.Table.from_pylist(as_dicts(rdd.collect() + joins), schema=out_arrow_schema(pa))
            else:
                out = spark.createDataFrame(rdd, OUT_SCHEMA).unionByName(spark.createDataFrame(as_dicts(joins), OUT_SCHEMA))
        else:
            rows_read = None
    if out is None:
        # Spark reads the samples: job_energy.sql's first statements make them the views gl_raw
        # (the rows as they are, the node by its hash) and gl_rows (the node as greenledger
        # names it, and whether the power is valid).
        if is_csv(a.samples, a.format):
            samples = spark.read.option("header", True).option("inferSchema", False).csv(a.samples)
        else:
            samples = spark.read.parquet(*a.samples)
        samples.createOrReplaceTempView("samples")
        if claims is None:
            claims = spark.createDataFrame(claims_table)
        claims.createOrReplaceTempView("claims")
        for name, text in statements(sql):
            if name is None and "TEMP VIEW gl_nrows" not in text and "TEMP VIEW gl_crows" not in text:
                spark.sql(text)
        # The nodes by the hash of their name: the claims' and node power's nodes here; the
        # others (a node no job held, or a name spelt otherwise than greenledger's) are named
        # after the pass.
        spark.createDataFrame([(n,) for n in sorted(cuts_by_node)], "node string").createOrReplaceTempView("gl_power_nodes")
        nodes = "SELECT node FROM claims UNION SELECT node FROM gl_power_nodes"
        for r in spark.sql("SELECT DISTINCT node, xxhash64(node) AS k FROM (%s)" % nodes).collect():
            known.setdefault(r["k"], []).append(r["node"])
        stage("samples read by Spark")
    if out is None and all(len(v) == 1 for v in known.values()):
        # No shuffle: each task integrates the devices as they lie in it; the driver joins a
        # device's pieces from different tasks (the segment between them).
        run = chunk_function(by_node, limits, cuts_by_node, {key: v[0] for key, v in known.items()}, *args)
        parts = spark.table("gl_raw").mapInArrow(run, OUT_SCHEMA).cache()
        small = parts.filter("kind IN ('edge', 'read', 'device')").collect()
        stage("integrated in the tasks")
        rows_read = sum(r["n"] for r in small if r["kind"] == "read")
        seen = sorted({r["node"] for r in small if r["kind"] == "device"})
        # A node with node power needs its accelerators' windows: one named only now was
        # integrated without them, as a claimed node would have been without its claims.
        rename = name_unknown(spark, seen, set(by_node) | set(cuts_by_node))
        stage("nodes named")
        if rename is not None:
            if rename:
                parts = parts.replace(rename, subset=["node"])
            edges = [dict(r.asDict(), node=rename.get(r["node"], r["node"])) for r in small if r["kind"] == "edge"]
            joins = stitch(edges, by_node, cuts_by_node, *args)
            if joins is not None:
                how = "without a shuffle"
                joined = pa.Table.from_pylist(as_dicts(joins), schema=out_arrow_schema(pa))
                if a.sum_on != "spark" and parts.count() + joined.num_rows <= DRIVER_ROWS:
                    # Small: to the driver as they are, with the joins beside them.
                    out = pa.concat_tables([parts.toArrow(), joined])
                else:
                    out = parts.unionByName(spark.createDataFrame(joined))
    if out is None:
        if rows_read is None:
            rows_read = spark.table("samples").count()
        run = device_function(by_node, cuts_by_node, *args)
        out = spark.table("gl_rows").select("node", "device", "t", "p", "ok").groupBy("node", "device").applyInArrow(run, OUT_SCHEMA)
    if extra:
        more = pa.concat_tables(extra)
        out = pa.concat_tables([out, more]) if isinstance(out, pa.Table) else out.unionByName(spark.createDataFrame(more))
    if isinstance(out, pa.Table):
        size, on_driver = out.num_rows, True
    else:
        out = out.cache()
        size = out.count()
        on_driver = a.sum_on == "driver" or (a.sum_on == "auto" and size <= DRIVER_ROWS)
        if on_driver:
            out = out.toArrow()
    stage("integrated (%s): %d per-device rows" % (how, size))
    if on_driver:
        done = results(pa, pc, out, (rows_read, node_power_rows, counter_rows))
        for name, table in done.items():
            write(spark, table, a.out.rstrip("/") + "/" + name)
        devices = done["quality"]["devices"][0].as_py()
    else:
        # Too many rows for the driver: job_energy.sql's result statements sum them in Spark.
        out.createOrReplaceTempView("gl_out")
        spark.createDataFrame([(rows_read, node_power_rows, counter_rows)],
                              "rows bigint, node_power_rows bigint, counter_rows bigint").createOrReplaceTempView("gl_read")
        from concurrent.futures import ThreadPoolExecutor

        def save(step):
            name, text = step
            spark.sql(text).coalesce(1).write.mode("overwrite").parquet(a.out.rstrip("/") + "/" + name)

        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(save, [st for st in statements(sql) if st[0] is not None]))
        devices = spark.read.parquet(a.out.rstrip("/") + "/quality").collect()[0]["devices"]
    stage("results written (summed %s)" % ("on the driver" if on_driver else "by Spark"))
    print(
        "greenledger pushdown (Spark %s): %d sample rows, %d devices, integrated %s, %.1f s; results in %s"
        % (spark.version, rows_read, devices, how, time.time() - t0, a.out),
        file=sys.stderr,
    )
    spark.stop()


if __name__ == "__main__":
    main()
