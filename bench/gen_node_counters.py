#!/usr/bin/env python3
"""Node power and energy counters beside a gen_fleet.py fleet (benchmark data, not a test).

  python3 bench/gen_node_counters.py FLEET [--interval S] [--host-w W]

Writes into FLEET (beside power.parquet):
- node_power.parquet (timestamp, node, power_w): each node every S seconds (default 30), its
  GPUs' mean power over the preceding interval times 8 plus a host of W watts (default 250),
  as a BMC would read it;
- counters.parquet (timestamp, node, device, energy_mj): each GPU's cumulative energy at each
  of its samples (the straight-line integral of its power, in millijoules), as DCGM's total
  energy counter reads it.
"""
import argparse
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("fleet")
    ap.add_argument("--interval", type=int, default=30)
    ap.add_argument("--host-w", type=float, default=250.0)
    a = ap.parse_args()
    t = pq.read_table(os.path.join(a.fleet, "power.parquet"), columns=["timestamp", "node", "device", "power_w"])
    if pa.types.is_dictionary(t.schema.field("node").type):
        t = t.set_column(1, "node", pc.cast(t["node"], pa.string()))
    t = t.filter(pc.and_(pc.is_valid(t["power_w"]), pc.is_finite(t["power_w"])))
    t = t.sort_by([("node", "ascending"), ("device", "ascending"), ("timestamp", "ascending")])
    tz = t["timestamp"].type
    ms = pc.cast(t["timestamp"], pa.timestamp("ms", tz.tz)).cast(pa.int64()).to_numpy()
    p = t["power_w"].to_numpy()
    node = t["node"].combine_chunks()
    dev = t["device"].to_numpy()
    key = pc.dictionary_encode(node).indices.to_numpy().astype("int64") * 1000 + dev
    new = np.concatenate(([True], key[1:] != key[:-1]))
    dt = np.diff(ms, prepend=ms[0]) / 1000.0
    mean = (p + np.concatenate(([p[0]], p[:-1]))) / 2.0
    step = np.where(new, 0.0, mean * dt)
    # The cumulative energy per device: the running sum restarted at each device.
    cum = np.cumsum(step)
    starts = np.flatnonzero(new)
    base = np.repeat(cum[starts] - step[starts], np.diff(np.append(starts, len(cum))))
    energy_mj = np.round((cum - base) * 1000.0)
    pq.write_table(pa.table({
        "timestamp": t["timestamp"], "node": node, "device": t["device"],
        "energy_mj": pa.array(energy_mj, pa.float64()),
    }), os.path.join(a.fleet, "counters.parquet"), row_group_size=1 << 20)
    # Node power: per node and interval, 8 x its GPUs' mean power + the host.
    bucket = ms // (a.interval * 1000)
    g = pa.table({"node": node, "bucket": bucket, "p": p}).group_by(["node", "bucket"]).aggregate([("p", "mean")])
    g = g.sort_by([("node", "ascending"), ("bucket", "ascending")])
    when = pa.array(g["bucket"].to_numpy() * a.interval * 1000, pa.int64()).cast(pa.timestamp("ms", tz.tz))
    watts = g["p_mean"].to_numpy() * 8 + a.host_w
    pq.write_table(pa.table({"timestamp": when, "node": g["node"], "power_w": pa.array(watts, pa.float64())}),
                   os.path.join(a.fleet, "node_power.parquet"))
    print("counters: %d rows, node power: %d rows" % (len(energy_mj), len(watts)))


if __name__ == "__main__":
    main()
