#!/usr/bin/env python3
"""Write a gen_fleet.py fleet's power samples as OpenMetrics for `promtool tsdb
create-blocks-from openmetrics`: one DCGM_FI_DEV_POWER_USAGE series per (node, device), with
Hostname, gpu, UUID and modelName labels; and the same samples, without the duplicate rows
(a TSDB keeps one sample per instant), as power-dedup.parquet for the file path.

  python3 bench/to_openmetrics.py FLEET_DIR      writes FLEET_DIR/fleet.om, power-dedup.parquet
Needs: numpy, pyarrow.
"""
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

d = sys.argv[1]
t = pq.read_table(f"{d}/power.parquet")
if pa.types.is_dictionary(t.schema.field("node").type):
    t = t.set_column(t.schema.get_field_index("node"), "node", t.column("node").cast(pa.string()))
t = t.sort_by([("node", "ascending"), ("device", "ascending"), ("timestamp", "ascending")])
node = t.column("node").to_numpy(zero_copy_only=False)
dev = t.column("device").to_numpy()
ts = t.column("timestamp").cast(pa.int64()).to_numpy()  # ms
if t.schema.field("timestamp").type.unit == "us":
    ts = ts // 1000
pw = t.column("power_w").to_numpy()
# The first row of each (node, device, instant): the duplicate rows gen_fleet writes go.
keep = np.ones(len(ts), dtype=bool)
same = (node[1:] == node[:-1]) & (dev[1:] == dev[:-1]) & (ts[1:] == ts[:-1])
keep[1:] = ~same
node, dev, ts, pw = node[keep], dev[keep], ts[keep], pw[keep]
# Invalid power (NaN, negative) stays: both paths drop it by the same rule.
pq.write_table(
    pa.table({
        "timestamp": pa.array(ts, type=pa.timestamp("ms", tz="UTC")),
        "node": pa.array(node),
        "device": pa.array(dev),
        "power_w": pa.array(pw),
    }),
    f"{d}/power-dedup.parquet",
)
with open(f"{d}/fleet.om", "w") as f:
    f.write("# TYPE DCGM_FI_DEV_POWER_USAGE gauge\n")
    start = 0
    n = len(ts)
    while start < n:
        end = start
        while end < n and node[end] == node[start] and dev[end] == dev[start]:
            end += 1
        labels = (f'{{Hostname="{node[start]}",gpu="{dev[start]}",UUID="GPU-{node[start]}-{dev[start]}",'
                  f'modelName="NVIDIA H100 80GB HBM3"}}')
        vals = pw[start:end]
        secs = ts[start:end] / 1000.0
        lines = [f"DCGM_FI_DEV_POWER_USAGE{labels} {'NaN' if np.isnan(v) else repr(float(v))} {s:.3f}\n"
                 for v, s in zip(vals, secs)]
        f.writelines(lines)
        start = end
    f.write("# EOF\n")
print(f"{keep.sum()} samples ({len(keep) - keep.sum()} duplicate rows dropped)")
