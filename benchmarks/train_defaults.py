#!/usr/bin/env python
"""Benchmark: the harness's default training settings against the common reference settings.

Reference (issue 4): Adam, one constant learning rate 3e-3 / sqrt(n) for every parameter,
batch 1024, 44,000 steps, no early stop. Defaults: ``TrainConfig``'s own (Adam, weights at
3e-2 / sqrt(n), the bias at 1e-4, constant then a cosine decay to 0 over the last 20% of the
steps, batch 1024, at most 20,000 steps, convergence rule on). Both run in the same process
through the same batched trainer (``rugtheory.harness.train``, CPU), one call per (n, r) group
holding every (p, seed) instance, so only the settings differ.

Each trained instance is then measured on fresh data: ``--eval-samples`` samples from a torch
generator seeded ``seed + 10**6 + 1000 n + m``, which neither run saw, the same samples for both
settings. The loss is the mean over samples of the per-sample, per-feature squared error
(THEORY.md), with its standard error; the difference defaults - reference is paired (same
samples), so its standard error is that of the per-sample differences. Times are the trainer's
own loop wall time (``TrainResult.seconds``) and the process CPU time of each train() call
(the machine is shared, so both are recorded).

    python benchmarks/train_defaults.py [--grid 64:0.25,0.5 128:0.25] [--p 0.01 0.1] [--seeds 1]
        [--seed 0] [--reference-steps 44000] [--eval-samples 262144] [--threads T] [--json]

``--grid`` lists n:r1,r2,... entries; the default keeps the whole run near 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch

from rugtheory.harness import TrainConfig, group_by_hidden, train
from rugtheory.harness.model import sample_features


def reference_config(group, n: int, steps: int, seed: int) -> TrainConfig:
    """The reference settings: Adam, one constant lr 3e-3/sqrt(n), batch 1024, no early stop."""
    lr = 3e-3 / math.sqrt(n)
    return group.config(n, data_seed=seed, steps=steps, batch_size=1024, lr=lr, bias_lr=lr, schedule="constant",
                        patience=0)


def per_sample_losses(result, samples: int, seed: int, chunk: int = 16384) -> np.ndarray:
    """(K, samples) per-sample per-feature squared errors of the trained instances, float64."""
    config = result.config
    generator = torch.Generator().manual_seed(seed)
    p = torch.tensor(config.feature_probability, dtype=torch.float64)
    w = torch.from_numpy(np.array(result.W))
    b = torch.from_numpy(np.array(result.b))
    losses = []
    for start in range(0, samples, chunk):
        x = sample_features(p, min(chunk, samples - start), config.n_features, generator)
        y = torch.relu(torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2)))
        losses.append((y - x).square().mean(dim=2))
    return torch.cat(losses, dim=1).numpy()


def mean_se(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))


def run(args: argparse.Namespace) -> dict:
    rows, groups_out = [], []
    for n, ratios in args.grid:
        instances = [(p, r, args.seed + s) for r in ratios for p in args.p for s in range(args.seeds)]
        for group in group_by_hidden(n, instances):
            default = group.config(n, data_seed=args.seed)
            reference = reference_config(group, n, args.reference_steps, args.seed)
            results, cpu = {}, {}
            for name, config in (("defaults", default), ("reference", reference)):
                start, start_cpu = time.perf_counter(), time.process_time()
                results[name] = train(config, device="cpu", progress=False)
                wall, cpu[name] = time.perf_counter() - start, time.process_time() - start_cpu
                print(f"n={n} m={group.n_hidden} {name:9s}: {results[name].steps} steps, "
                      f"{results[name].seconds:.1f} s (call {wall:.1f} s, cpu {cpu[name]:.1f} s)",
                      file=sys.stderr, flush=True)
            eval_seed = args.seed + 10**6 + n * 1000 + group.n_hidden
            loss_d = per_sample_losses(results["defaults"], args.eval_samples, eval_seed)
            loss_r = per_sample_losses(results["reference"], args.eval_samples, eval_seed)
            groups_out.append({
                "n": n, "m": group.n_hidden, "instances": len(group.indices),
                "defaults": {"steps": results["defaults"].steps, "seconds": results["defaults"].seconds,
                             "cpu_seconds": cpu["defaults"], "converged": results["defaults"].converged,
                             "lr": default.lr, "bias_lr": default.bias_lr},
                "reference": {"steps": results["reference"].steps, "seconds": results["reference"].seconds,
                              "cpu_seconds": cpu["reference"], "lr": reference.lr, "bias_lr": reference.bias_lr},
            })
            for k, (p, seed) in enumerate(zip(group.feature_probability, group.seed, strict=True)):
                d, d_se = mean_se(loss_d[k])
                r_, r_se = mean_se(loss_r[k])
                diff, diff_se = mean_se(loss_d[k] - loss_r[k])
                rows.append({
                    "n": n, "m": group.n_hidden, "r": group.n_hidden / n, "p": p, "seed": seed,
                    "loss_defaults": d, "loss_defaults_se": d_se, "loss_reference": r_, "loss_reference_se": r_se,
                    "difference": diff, "difference_se": diff_se,
                    "loss_zero": p / 3, "loss_linear": (1 - group.n_hidden / n) * (p / 3 - p * p / 4),
                })
    total = {f"{kind}_{name}": sum(g[name][kind] for g in groups_out)
             for kind in ("seconds", "cpu_seconds") for name in ("defaults", "reference")}
    return {"rows": rows, "groups": groups_out, **total}


def markdown(payload: dict, header: dict) -> str:
    lines = ["```", *(f"{key:<11}: {value}" for key, value in header.items()), "",
             "per group (one train() call per (n, m), all (p, seed) instances batched):"]
    for g in payload["groups"]:
        d, r = g["defaults"], g["reference"]
        lines.append(
            f"  n={g['n']:<4} m={g['m']:<4} K={g['instances']}  defaults {d['steps']:>6} steps "
            f"{d['seconds']:6.1f} s wall {d['cpu_seconds']:6.1f} s cpu (stopped early: {d['converged']})   "
            f"reference {r['steps']:>6} steps {r['seconds']:6.1f} s wall {r['cpu_seconds']:6.1f} s cpu"
        )
    lines += [
        "",
        "per instance: loss on fresh data (mean +- standard error); diff = defaults - reference (paired)",
        (f"  {'n':>4} {'m':>4} {'p':>6} {'seed':>4} {'L_defaults':>22} {'L_reference':>22} "
         f"{'diff':>22} {'diff/SE':>8} {'L_def/L_ref':>11} {'L_lin':>10}"),
    ]
    for row in payload["rows"]:
        lines.append(
            f"  {row['n']:>4} {row['m']:>4} {row['p']:>6g} {row['seed']:>4} "
            f"{row['loss_defaults']:>11.5e} +- {row['loss_defaults_se']:.1e} "
            f"{row['loss_reference']:>11.5e} +- {row['loss_reference_se']:.1e} "
            f"{row['difference']:>+11.3e} +- {row['difference_se']:.1e} "
            f"{row['difference'] / row['difference_se']:>8.1f} {row['loss_defaults'] / row['loss_reference']:>11.3f} "
            f"{row['loss_linear']:>10.4e}"
        )
    wins = sum(row["difference"] < 0 for row in payload["rows"])
    worse = sum(row["difference"] > 2 * row["difference_se"] for row in payload["rows"])
    lines += [
        "",
        f"defaults lower on {wins} of {len(payload['rows'])} instances; higher by more than 2 SE on {worse}",
        (f"total train time: defaults {payload['seconds_defaults']:.1f} s, reference {payload['seconds_reference']:.1f} s"
         f" (reference / defaults = {payload['seconds_reference'] / payload['seconds_defaults']:.2f}x)"),
        (f"total cpu time:   defaults {payload['cpu_seconds_defaults']:.1f} s, reference "
         f"{payload['cpu_seconds_reference']:.1f} s "
         f"(reference / defaults = {payload['cpu_seconds_reference'] / payload['cpu_seconds_defaults']:.2f}x)"),
        "```",
    ]
    return "\n".join(lines)


def _grid_entry(text: str) -> tuple[int, list[float]]:
    n, _, ratios = text.partition(":")
    return int(n), [float(r) for r in ratios.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--grid", type=_grid_entry, nargs="+", default=[(64, [0.25, 0.5]), (128, [0.25])],
                        help="n:r1,r2,... entries (default 64:0.25,0.5 128:0.25)")
    parser.add_argument("--p", type=float, nargs="+", default=[0.01, 0.1])
    parser.add_argument("--seeds", type=int, default=1, help="init seeds per (p, r): seed, seed+1, ...")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference-steps", type=int, default=44_000)
    parser.add_argument("--eval-samples", type=int, default=262_144)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    defaults = TrainConfig(n_features=2, n_hidden=1, feature_probability=0.5, seed=0).to_dict()
    shown = ("steps", "batch_size", "bias_lr", "schedule", "warmup_fraction", "decay_fraction", "final_lr_fraction", "patience",
             "rel_tol", "smoothing", "log_every")
    header = {
        "command": " ".join(["python benchmarks/train_defaults.py", shlex.join(sys.argv[1:])]).strip(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "platform": f"{platform.platform()} ({platform.machine()}), cpu_count {os.cpu_count()}, "
                    f"torch threads {torch.get_num_threads()}",
        "versions": f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}",
        "load avg": " ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1/5/15 min, at start)",
        "seed": f"{args.seed} (init seeds seed..seed+{args.seeds - 1}, data seed {args.seed}, "
                f"eval seed seed+10^6+1000n+m)",
        "grid": f"(n, r) {[(n, r) for n, rs in args.grid for r in rs]}, p {args.p}, eval samples {args.eval_samples}",
        "reference": f"Adam, one constant lr 3e-3/sqrt(n) (bias too), batch 1024, {args.reference_steps} steps",
        "defaults": "TrainConfig defaults, lr 3e-2/sqrt(n), "
                    + json.dumps({key: defaults[key] for key in shown}),
    }
    payload = run(args)
    if args.json:
        print(json.dumps({"header": header, **payload}, indent=2))
    else:
        print(markdown(payload, header))


if __name__ == "__main__":
    main()
