"""Training speed: the batched harness against the naive loop of common reference code, in one run.

    python benchmarks/train_speed.py [--n 512] [--r 0.5] [--p 0.01] [--instances 8] [--steps 60]
        [--full-steps 20000] [--baseline-models 2] [--batch-size 1024] [--seed 0]
        [--out benchmarks/results/train_speed.md]

Baseline ("naive"): one model at a time, as reference toy-model code trains: a pre-generated
dataset of x in a TensorDataset behind a shuffling DataLoader, nn.Parameter weights, Adam,
``torch.nn.functional.mse_loss`` and ``loss.item()`` every step. Harness: ``rugtheory.harness.train``
with K instances in one tensor program, data drawn on the device each step, with its dense and
its sparse kernel. Reported: model-steps per second (K x steps / wall time, after one warm-up
step each), and the final training loss of each path at the same lr and steps, a check that the
fast paths train as well (their init and data streams differ from the naive loop's, so the losses
agree only roughly). Timings depend on the machine's load: run it on an idle machine.

The dense paths cost the same at every step, so ``--steps`` steps from the initial weights time
them. The sparse kernel's backward is cheap only once few outputs fire (a trained model's
negative bias), so it is also timed over a whole default run (``--full-steps``, the harness's
default schedule and lr, early stop allowed): the per-model-step average a user gets. The floor
row is the one product every exact fp32 step must make, W = W_out W_in (n^2 m multiply-adds, a
batched matmul of the K instances): naive / floor bounds the speed-up any such step can reach.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rugtheory.checkpoint import write_atomic
from rugtheory.harness import TrainConfig, train


def naive(n: int, m: int, p: float, batch: int, steps: int, seed: int, lr: float) -> tuple[float, float]:
    """(seconds per model-step, final loss) of the reference-style loop for one model."""
    from torch.utils.data import DataLoader, TensorDataset

    generator = torch.Generator().manual_seed(seed)
    data = torch.rand(batch * (steps + 1), n, generator=generator)
    data *= torch.rand(data.shape, generator=generator) < p
    loader = DataLoader(TensorDataset(data), batch_size=batch, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    std = math.sqrt(2.0 / (n + m))
    init = torch.Generator().manual_seed(seed)
    w_in = torch.nn.Parameter(torch.randn(m, n, generator=init) * std)
    w_out = torch.nn.Parameter(torch.randn(n, m, generator=init) * std)
    b = torch.nn.Parameter(torch.zeros(n))
    optimizer = torch.optim.Adam([w_in, w_out, b], lr=lr)
    batches = iter(loader)
    started = None
    for step in range(steps + 1):
        if step == 1:
            started = time.perf_counter()  # step 0 is the warm-up
        (x,) = next(batches)
        y = torch.relu(x @ w_in.T @ w_out.T + b)
        loss = torch.nn.functional.mse_loss(y, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        value = loss.item()
    return (time.perf_counter() - started) / steps, value


def harness(n: int, m: int, p: float, batch: int, steps: int, seed: int, instances: int, lr: float,
            kernel: str) -> tuple[float, float]:
    """(seconds per model-step, mean final loss) of the batched harness."""
    options = {"kernel": kernel} if "kernel" in TrainConfig.__dataclass_fields__ else {}
    base = dict(n_features=n, n_hidden=m, feature_probability=p, seed=list(range(seed, seed + instances)),
                batch_size=batch, lr=lr, schedule="constant", patience=0, log_every=max(steps, 1), **options)
    train(TrainConfig(steps=1, **base), device="cpu", progress=False)  # warm-up
    result = train(TrainConfig(steps=steps, **base), device="cpu", progress=False)
    return result.seconds / (steps * instances), float(result.final_loss.mean())


def full_run(n: int, m: int, p: float, batch: int, steps: int, seed: int, instances: int) -> tuple[float, float, int]:
    """(seconds per model-step, mean final loss, steps run) of a whole default run with the sparse kernel."""
    config = TrainConfig(n_features=n, n_hidden=m, feature_probability=p, seed=list(range(seed, seed + instances)),
                         batch_size=batch, steps=steps, kernel="sparse")
    result = train(config, device="cpu", progress=False)
    return result.seconds / (result.steps * instances), float(result.final_loss.mean()), result.steps


def floor(n: int, m: int, instances: int, repeats: int = 20) -> float:
    """Seconds per model of the batched product W = W_out W_in (the floor of an exact fp32 step)."""
    w_out, w_in = torch.randn(instances, n, m), torch.randn(instances, m, n)
    torch.bmm(w_out, w_in)
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        torch.bmm(w_out, w_in)
        best = min(best, time.perf_counter() - started)
    return best / instances


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--r", type=float, default=0.5)
    parser.add_argument("--p", type=float, default=0.01)
    parser.add_argument("--instances", type=int, default=8)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--full-steps", type=int, default=20000, help="steps of the whole sparse run (0: skip it)")
    parser.add_argument("--baseline-models", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_speed.md"))
    args = parser.parse_args()
    load = os.getloadavg()
    m = round(args.r * args.n)
    lr = 3e-3 / math.sqrt(args.n)
    rows = {}
    per_step = [naive(args.n, m, args.p, args.batch_size, args.steps, args.seed + k, lr)
                for k in range(args.baseline_models)]
    rows["naive (one model, DataLoader, loss.item() per step)"] = (
        sum(s for s, _ in per_step) / len(per_step), sum(v for _, v in per_step) / len(per_step))
    kernels = ("dense", "sparse") if "kernel" in TrainConfig.__dataclass_fields__ else ("dense",)
    for kernel in kernels:
        rows[f"harness, {args.instances} instances, {kernel} kernel"] = harness(
            args.n, m, args.p, args.batch_size, args.steps, args.seed, args.instances, lr, kernel)
    steps_run = None
    if args.full_steps:
        seconds, loss, steps_run = full_run(args.n, m, args.p, args.batch_size, args.full_steps, args.seed,
                                            args.instances)
        rows[f"harness, {args.instances} instances, sparse kernel, whole default run"] = (seconds, loss)
    rows["floor: W = W_out W_in alone (bmm over the instances)"] = (floor(args.n, m, args.instances), math.nan)
    baseline = next(iter(rows.values()))[0]
    command = "python benchmarks/train_speed.py " + " ".join(sys.argv[1:])
    lines = [
        "# Training speed: batched harness vs naive loop",
        "",
        f"- command: `{command.strip()}`",
        (f"- n = {args.n}, m = {m}, p = {args.p}, batch = {args.batch_size}, steps = {args.steps} (after one warm-up),"
         f" lr = 3e-3/sqrt(n) constant, seed = {args.seed}"),
        (f"- machine: {platform.machine()}, {platform.processor() or 'cpu'}, {torch.get_num_threads()} torch threads,"
         f" torch {torch.__version__}, Python {platform.python_version()}"),
        (f"- load average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min),"
        f" at the end: {os.getloadavg()[0]:.2f}"),
        *([f"- whole default run: {steps_run} steps (default schedule and lr 3e-2/sqrt(n), early stop allowed)"]
          if steps_run else []),
        "",
        "| path | ms per model-step | model-steps/s | speed-up | final training loss |",
        "|---|---|---|---|---|",
    ]
    for name, (seconds, loss) in rows.items():
        shown = "" if math.isnan(loss) else f"{loss:.6g}"
        lines.append(f"| {name} | {seconds * 1e3:.2f} | {1 / seconds:.1f} | {baseline / seconds:.2f}x | {shown} |")
    text = "\n".join(lines) + "\n"
    print(text)
    write_atomic(args.out, text.encode())
    print(json.dumps({name: {"seconds_per_model_step": s, "final_loss": None if math.isnan(v) else v}
                      for name, (s, v) in rows.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
