#!/usr/bin/env python3
"""Run greenledger's pushdown SQL on DuckDB (one machine) and write its six results as Parquet.

  python3 run_duckdb.py --samples PATH [PATH ...] [--out DIR] [--threads N]   (pip install duckdb)

PATH: a file, a folder (partitioned folders too) or a glob. The samples have the columns
timestamp, node, device, power_w (Parquet, or CSV with a header: --format csv, or a .csv name).
claims.parquet and job_energy.sql are read from beside this script (--claims, --sql).
Each result is written as DIR/NAME.parquet (default DIR: results/ beside this script):
job_energy, job_hourly, device_energy, node_energy, node_hourly, quality.
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", nargs="+", required=True, metavar="PATH")
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
    csv = a.format == "csv" or (
        a.format == "auto" and all(p.rstrip("/").lower().endswith((".csv", ".csv.gz")) for p in a.samples)
    )
    if csv:
        src = "read_csv(%s, header = true, all_varchar = true, union_by_name = true)" % sources(a.samples, True)
    else:
        src = "read_parquet(%s, hive_partitioning = true, union_by_name = true)" % sources(a.samples, False)
    with open(a.sql, encoding="utf-8") as f:
        sql = f.read()
    t0 = time.time()
    con.execute("CREATE VIEW samples AS SELECT * FROM " + src)
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
