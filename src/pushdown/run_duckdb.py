#!/usr/bin/env python3
"""Run greenledger's pushdown SQL on DuckDB (one machine) and write its ten results as Parquet.

  python3 run_duckdb.py --samples PATH [PATH ...] [--node-power PATH ...] [--counters PATH ...]
                        [--out DIR] [--threads N]                      (pip install duckdb)

PATH: a file, a folder (partitioned folders too) or a glob, Parquet or CSV with a header (--format
csv, or a .csv name). The samples have the columns timestamp, node, device, power_w; node power
(BMC, whole server) timestamp, node, power_w; energy counters timestamp, node, device and
energy_mj (DCGM's total energy, millijoules) or energy_j (amd-smi's, joules).
claims.parquet and job_energy.sql are read from beside this script (--claims, --sql).
Each result is written as DIR/NAME.parquet (default DIR: results/ beside this script):
job_energy, job_hourly, device_energy, node_energy, node_hourly, node_power, node_windows,
device_counters, job_counters, quality.
Then: greenledger report --pushdown <this folder> with the same config and jobs.
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


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


def quote(s):
    return "'" + s.replace("'", "''") + "'"


def sources(paths, csv):
    """Folders become recursive globs of their data files."""
    ext = "csv" if csv else "parquet"
    out = []
    for p in paths:
        out.append(os.path.join(p, "**", "*." + ext) if os.path.isdir(p) else p)
    return "[" + ", ".join(quote(p) for p in out) + "]"


def is_csv(paths, fmt):
    if fmt != "auto":
        return fmt == "csv"
    return all(p.rstrip("/").lower().endswith((".csv", ".csv.gz")) for p in paths)


def reader(paths, fmt):
    """The DuckDB table function reading `paths`: CSV as text (the SQL casts), Parquet as typed."""
    if is_csv(paths, fmt):
        return "read_csv(%s, header = true, all_varchar = true, union_by_name = true)" % sources(paths, True)
    return "read_parquet(%s, hive_partitioning = true, union_by_name = true)" % sources(paths, False)


def view(con, name, paths, fmt, empty):
    """The view `name` over `paths`, or an empty one with the columns `empty` (name, type)."""
    if not paths:
        cols = ", ".join("CAST(NULL AS %s) AS \"%s\"" % (t, c) for c, t in empty)
        con.execute("CREATE VIEW %s AS SELECT %s WHERE false" % (name, cols))
        return
    src = reader(paths, fmt)
    if name == "counters":
        cols = [r[0].lower() for r in con.execute("DESCRIBE SELECT * FROM " + src).fetchall()]
        if "energy_mj" not in cols and "energy_j" in cols:
            # amd-smi counts joules: the SQL reads millijoules.
            src = "(SELECT *, TRY_CAST(energy_j AS DOUBLE) * 1000 AS energy_mj FROM %s)" % src
    con.execute("CREATE VIEW %s AS SELECT * FROM %s" % (name, src))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", nargs="+", required=True, metavar="PATH")
    ap.add_argument("--node-power", nargs="+", default=[], metavar="PATH", help="whole-node power (timestamp, node, power_w)")
    ap.add_argument("--counters", nargs="+", default=[], metavar="PATH",
                    help="energy counters (timestamp, node, device, energy_mj or energy_j)")
    ap.add_argument("--format", choices=["auto", "parquet", "csv"], default="auto")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), metavar="DIR")
    ap.add_argument("--claims", default=os.path.join(HERE, "claims.parquet"), metavar="FILE")
    ap.add_argument("--sql", default=os.path.join(HERE, "job_energy.sql"), metavar="FILE")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()

    import duckdb

    con = duckdb.connect()
    if a.threads:
        con.execute("SET threads = %d" % a.threads)
    with open(a.sql, encoding="utf-8") as f:
        sql = f.read()
    t0 = time.time()
    view(con, "samples", a.samples, a.format, [])
    view(con, "node_power", a.node_power, a.format, [("timestamp", "VARCHAR"), ("node", "VARCHAR"), ("power_w", "DOUBLE")])
    view(con, "counters", a.counters, a.format,
         [("timestamp", "VARCHAR"), ("node", "VARCHAR"), ("device", "BIGINT"), ("energy_mj", "DOUBLE")])
    con.execute("CREATE VIEW claims AS SELECT * FROM read_parquet(%s)" % quote(a.claims))
    os.makedirs(a.out, exist_ok=True)
    for name, text in statements(sql):
        if name is None:
            con.execute(text)
        else:
            target = os.path.join(a.out, name + ".parquet")
            con.execute("COPY (%s) TO %s (FORMAT PARQUET)" % (text, quote(target)))
    rows, devices = con.execute(
        "SELECT rows, devices FROM read_parquet(%s)" % quote(os.path.join(a.out, "quality.parquet"))
    ).fetchone()
    print(
        "greenledger pushdown (DuckDB %s): %d sample rows, %d devices, %.1f s; results in %s"
        % (duckdb.__version__, rows, devices, time.time() - t0, a.out),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
