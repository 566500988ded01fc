"""Fill an MLflow tracking server with the runs the greenledger tests compute by hand.

  python3 mlflow_fill.py URL    -> prints {"<name>": "<run_id>", ...} as JSON on stdout

All times are 2026-07-01 UTC (T0 = 00:00:00); power series every 10 s, as system metrics
logging writes them (the key's step is a counter, not time).
"""
import json
import sys

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

T0 = 1782864000000  # 2026-07-01T00:00:00Z in ms
MIN = 60_000


def series(key, watts, start, end, skip=None, step_ms=10_000):
    out, step = [], 0
    t = start
    while t <= end:
        if not (skip and skip[0] < t < skip[1]):
            out.append(Metric(key, watts, t, step))
            step += 1
        t += step_ms
    return out


def main():
    c = MlflowClient(tracking_uri=sys.argv[1])
    pre = c.create_experiment("pretrain")
    fine = c.create_experiment("finetune")
    c.create_experiment("unused")
    ids = {}

    def run(name, exp, start, tags, status, end, metrics=(), params=None):
        r = c.create_run(exp, start_time=start, tags=dict(tags, **{"mlflow.runName": name}), run_name=name)
        rid = r.info.run_id
        ms = list(metrics)
        for i in range(0, len(ms), 900):
            c.log_batch(rid, metrics=ms[i:i + 900])
        for k, v in (params or {}).items():
            c.log_param(rid, k, v)
        if status != "RUNNING":
            c.set_terminated(rid, status=status, end_time=end)
        ids[name] = rid

    base = {"team": "vision", "model": "vit-l", "training_type": "pretraining", "precision": "bf16",
            "hardware": "H100-SXM5-80GB"}
    # Two GPUs for 10 min: gpu 0 at 300 W throughout, gpu 1 at 200 W with no sample between
    # 00:03 and 00:06 (a 180-s gap).
    run("vit-a", pre, T0, base, "FINISHED", T0 + 10 * MIN,
        series("system/gpu_0_power_usage_watts", 300.0, T0, T0 + 10 * MIN)
        + series("system/gpu_1_power_usage_watts", 200.0, T0, T0 + 10 * MIN, skip=(T0 + 3 * MIN, T0 + 6 * MIN))
        + series("system/gpu_0_power_usage_percentage", 42.9, T0, T0 + 10 * MIN))
    # A failed run, one GPU at 100 W for 5 min.
    run("bert-fail", fine, T0 + 20 * MIN, {"team": "nlp", "model": "bert-ft", "training_type": "fine-tuning",
                                           "base_model": "bert-base", "hardware": "A100-SXM4-80GB"},
        "FAILED", T0 + 25 * MIN, series("system/gpu_0_power_usage_watts", 100.0, T0 + 20 * MIN, T0 + 25 * MIN))
    # Two nodes, one GPU each, 150 W for 10 min.
    run("multi", pre, T0 + 30 * MIN, base, "FINISHED", T0 + 40 * MIN,
        series("system/node_0/gpu_0_power_usage_watts", 150.0, T0 + 30 * MIN, T0 + 40 * MIN)
        + series("system/node_1/gpu_0_power_usage_watts", 150.0, T0 + 30 * MIN, T0 + 40 * MIN))
    # CodeCarbon's MLflow metrics and no power series: 1.5 kWh metered.
    run("cc", fine, T0 + 60 * MIN, {"team": "nlp", "model": "t5-ft", "training_type": "fine-tuning"}, "FINISHED",
        T0 + 120 * MIN, [Metric("energy_consumed", 1.5, T0 + 120 * MIN, 0), Metric("emissions", 0.3, T0 + 120 * MIN, 0)])
    # No power at all: 4 GPUs (a param) x 700 W TDP x 1 h, killed.
    run("est", pre, T0 + 120 * MIN, dict(base, model="vit-h"), "KILLED", T0 + 180 * MIN, params={"gpus": "4"})
    # Still running: clipped to the period's end.
    run("live", pre, T0 + 23 * 60 * MIN, dict(base, model="vit-live"), "RUNNING", None,
        series("system/gpu_0_power_usage_watts", 250.0, T0 + 23 * 60 * MIN, T0 + 23 * 60 * MIN + 5 * MIN))
    print(json.dumps(ids))


if __name__ == "__main__":
    main()
