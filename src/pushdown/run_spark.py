#!/usr/bin/env python3
"""Run greenledger's pushdown SQL on Apache Spark and write its six results as Parquet.

  spark-submit run_spark.py --samples URI [URI ...] [--out URI]       (a cluster)
  python3 run_spark.py --samples URI [URI ...] [--out URI]            (local mode: pip install pyspark)

URI: a file, a folder (partitioned folders too) or a glob, on any file system Spark reads
(file paths, hdfs://, s3a://, gs://, abfss://). The samples have the columns
timestamp, node, device, power_w (Parquet, or CSV with a header: --format csv, or a .csv name).
claims.parquet and job_energy.sql are read from beside this script (--claims, --sql).
Each result is written as a Parquet folder under --out (default: results/ beside this script):
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


def is_csv(paths, fmt):
    if fmt != "auto":
        return fmt == "csv"
    return all(p.rstrip("/").lower().endswith((".csv", ".csv.gz")) for p in paths)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", nargs="+", required=True, metavar="URI")
    ap.add_argument("--format", choices=["auto", "parquet", "csv"], default="auto")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), metavar="URI")
    ap.add_argument("--claims", default=os.path.join(HERE, "claims.parquet"), metavar="URI")
    ap.add_argument("--sql", default=os.path.join(HERE, "job_energy.sql"), metavar="FILE")
    ap.add_argument("--master", help="Spark master when not run by spark-submit (default local[*])")
    ap.add_argument("--driver-memory", default="2g", help="local mode only (default 2g)")
    ap.add_argument("--shuffle-partitions", type=int, help="spark.sql.shuffle.partitions")
    a = ap.parse_args()

    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("greenledger pushdown")
    # spark-submit starts the JVM and sets the master; plain python3 runs Spark locally.
    local = "PYSPARK_GATEWAY_PORT" not in os.environ
    if local:
        builder = builder.master(a.master or "local[*]").config("spark.driver.memory", a.driver_memory)
        builder = builder.config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
    elif a.master:
        builder = builder.master(a.master)
    if a.shuffle_partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(a.shuffle_partitions))
    elif local:
        builder = builder.config("spark.sql.shuffle.partitions", str(2 * (os.cpu_count() or 2)))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")

    with open(a.sql, encoding="utf-8") as f:
        sql = f.read()
    t0 = time.time()
    if is_csv(a.samples, a.format):
        samples = spark.read.option("header", True).option("inferSchema", False).csv(a.samples)
    else:
        samples = spark.read.parquet(*a.samples)
    samples.createOrReplaceTempView("samples")
    spark.read.parquet(a.claims).createOrReplaceTempView("claims")
    written = []
    for name, text in statements(sql):
        df = spark.sql(text)
        if name is not None:
            target = a.out.rstrip("/") + "/" + name
            df.coalesce(1).write.mode("overwrite").parquet(target)
            written.append(target)
    q = spark.read.parquet(a.out.rstrip("/") + "/quality").collect()[0]
    print(
        "greenledger pushdown (Spark %s): %d sample rows, %d devices, %.1f s; results in %s"
        % (spark.version, q["rows"], q["devices"], time.time() - t0, a.out),
        file=sys.stderr,
    )
    spark.stop()


if __name__ == "__main__":
    main()
