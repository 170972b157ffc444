"""Training speed: the batched harness against the naive loop of common reference code, in one run.

    python benchmarks/train_speed.py [--n 512] [--r 0.5] [--p 0.01] [--instances 8] [--steps 60]
        [--full-steps 20000] [--baseline-models 2] [--batch-size 1024] [--seed 0]
        [--out benchmarks/results/train_speed.md]
    python benchmarks/train_speed.py --sizes 1024 2048 4096 8192 [--r 0.25] [--p 0.01]
        [--batch-size 1024] [--steps S] [--late-fire 0.03] [--threads T] [--seed 0]
        [--out benchmarks/results/train_speed_large_n.md]

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

``--sizes`` (large n, where B < n): one instance per size, fp32, ms per step (the median over the
timed steps, after one warm-up step each) of the naive loop, the sparse step with its forward
forced to "composed" (through W = W_out W_in: the kernel's only forward before "factored" was
added, here with the rest of the step as it is now) and to "factored" (W_out (W_in x), what "auto" takes here), and the floor: one (1, B, m) by
(1, m, n) ``torch.bmm`` alone (B m n, which every exact step must spend to know which outputs
fire), median of as many repeats. Each in two states: "early", the harness's initial weights
(b = 0: about half the outputs fire, so the backward is dense), and "late", trained-like, the
same weights with one bias b = -q, q the (1 - f) quantile of W_out W_in x over a calibration
batch, so that a fraction f = ``--late-fire`` fires (default 0.03: what fires after 3000 to 5000
default sparse-kernel steps at n = 256 and 512, r = 1/4, p = 0.01, measured with this harness;
the cost of the sparse backward depends only on how many fire). The table gives the fraction that
fires on a fresh batch in each state, and the time of the Adam update within the factored step
(the trainer's optimizer, the same work as in the naive loop; no kernel change reduces it). Steps
per size: ``--steps``, or max(3, round(20 (1024/n)^2)). ``--threads`` sets torch's thread count;
the results file records it, OMP_NUM_THREADS, MKL_NUM_THREADS and GLIBC_TUNABLES where set (glibc
returning freed blocks of tens of MB to the system makes each step fault its pages in again).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rugtheory.checkpoint import write_atomic
from rugtheory.harness import TrainConfig, train


def naive(n: int, m: int, p: float, batch: int, steps: int, seed: int, lr: float,
          start: dict[str, torch.Tensor] | None = None, device: str = "cpu") -> tuple[list[float], float]:
    """(seconds of each step after the warm-up, final loss) of the reference-style loop for one model.

    ``start``: initial W_in (m, n), W_out (n, m) and b (n,), else Xavier normal weights and b = 0.
    """
    from torch.utils.data import DataLoader, TensorDataset

    generator = torch.Generator().manual_seed(seed)
    data = torch.rand(batch * (steps + 1), n, generator=generator)
    data *= torch.rand(data.shape, generator=generator) < p
    loader = DataLoader(TensorDataset(data), batch_size=batch, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    std = math.sqrt(2.0 / (n + m))
    init = torch.Generator().manual_seed(seed)
    if start is None:
        start = {"W_in": torch.randn(m, n, generator=init) * std, "W_out": torch.randn(n, m, generator=init) * std,
                 "b": torch.zeros(n)}
    w_in, w_out, b = (torch.nn.Parameter(start[name].detach().to(device).clone()) for name in ("W_in", "W_out", "b"))
    optimizer = torch.optim.Adam([w_in, w_out, b], lr=lr)
    batches = iter(loader)
    times = []
    for step in range(steps + 1):
        started = time.perf_counter()
        (x,) = next(batches)
        x = x.to(device)  # reference code moves each host batch to the device
        y = torch.relu(x @ w_in.T @ w_out.T + b)
        loss = torch.nn.functional.mse_loss(y, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        value = loss.item()
        if step >= 1:  # step 0 is the warm-up
            times.append(time.perf_counter() - started)
    return times, value


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


# ---------------------------------------------------------------- --sizes: large n, one instance

def size_steps(n: int) -> int:
    """Default timed steps at n: many at small n, a handful where a naive step is ~100 G multiply-adds."""
    return max(3, round(20 * (1024 / n) ** 2))


def _sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a wall-clock stamp times it (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def states(n: int, m: int, p: float, batch: int, seed: int, fire: float,
           device: torch.device = CPU) -> dict[str, dict[str, torch.Tensor]]:
    """The "early" (initial) and "late" (trained-like, a fraction ``fire`` fires) weights, K = 1, fp32."""
    from rugtheory.harness.model import init_weights
    from rugtheory.harness.sparse import sample_sparse

    config = TrainConfig(n_features=n, n_hidden=m, feature_probability=p, seed=seed, batch_size=batch)
    early = {name: value.detach() for name, value in init_weights(config, torch.device("cpu"), torch.float32).items()}
    calibration = sample_sparse(torch.tensor([p]), batch, n, torch.Generator().manual_seed(seed + 1)).dense()
    with torch.no_grad():
        pre = torch.bmm(torch.bmm(calibration, early["W_in"].transpose(1, 2)), early["W_out"].transpose(1, 2))
        rank = min(pre.numel(), max(1, math.ceil((1.0 - fire) * pre.numel())))
        threshold = float(pre.reshape(-1).kthvalue(rank).values)
    late = dict(early, b=torch.full_like(early["b"], -threshold))
    return {state: {name: value.to(device) for name, value in weights.items()}
            for state, weights in (("early", early), ("late", late))}


def firing(weights: dict[str, torch.Tensor], p: float, batch: int, n: int, seed: int) -> float:
    """The fraction of outputs that fire (pre-activation > 0) on a fresh batch."""
    from rugtheory.harness.model import forward
    from rugtheory.harness.sparse import sample_sparse

    x = sample_sparse(torch.tensor([p]), batch, n, torch.Generator().manual_seed(seed + 2)).dense()
    with torch.no_grad():
        return float((forward(weights, x.to(weights["b"].device)) > 0).double().mean())


def sparse_step(start: dict[str, torch.Tensor], p: float, batch: int, steps: int, seed: int,
                method: str) -> tuple[list[float], list[float]]:
    """Seconds of each harness sparse step after one warm-up (as the trainer's step: draw, loss, backward,
    Adam), and of the Adam update within it."""
    from rugtheory.harness.config import DEFAULT_BIAS_LR, default_lr
    from rugtheory.harness.sparse import sample_sparse, sparse_losses

    weights = {name: value.detach().clone().requires_grad_() for name, value in start.items()}
    n, device = weights["b"].shape[1], weights["b"].device
    optimizer = torch.optim.Adam([{"params": [weights["W_in"], weights["W_out"]], "lr": default_lr(n)},
                                  {"params": [weights["b"]], "lr": DEFAULT_BIAS_LR}])
    generator = torch.Generator(device=device).manual_seed(seed)
    probability = torch.tensor([p], device=device)
    window = torch.zeros(1, device=device)
    times, updates = [], []
    for step in range(steps + 1):
        _sync(device)
        started = time.perf_counter()
        loss = sparse_losses(weights, sample_sparse(probability, batch, n, generator), method=method)
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        _sync(device)
        update = time.perf_counter()
        optimizer.step()
        window += loss.detach()
        _sync(device)
        if step >= 1:  # step 0 is the warm-up
            times.append(time.perf_counter() - started)
            updates.append(time.perf_counter() - update)
    return times, updates


def product_floor(n: int, m: int, batch: int, repeats: int, device: torch.device = CPU) -> list[float]:
    """Seconds of each (1, B, m) by (1, m, n) ``torch.bmm`` (B m n multiply-adds) after one warm-up."""
    hidden, w_out_t = torch.randn(1, batch, m, device=device), torch.randn(1, m, n, device=device)
    times = []
    for repeat in range(repeats + 1):
        _sync(device)
        started = time.perf_counter()
        torch.bmm(hidden, w_out_t)
        _sync(device)
        if repeat >= 1:
            times.append(time.perf_counter() - started)
    return times


def _device_name(device: str) -> str:
    return device if not device.startswith("cuda") else f"{device} ({torch.cuda.get_device_name(device)})"


def _machine() -> str:
    name = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as info:
            name = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), name)
    except OSError:
        pass
    return (f"{platform.machine()}, {name}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
            f"torch {torch.__version__}, Python {platform.python_version()}")


def large_n(args: argparse.Namespace) -> int:
    """The ``--sizes`` mode (module docstring): a table per size and state, written to ``args.out``."""
    from rugtheory.harness.config import default_lr
    from rugtheory.harness.sparse import choose_method, sample_sparse

    r = 0.25 if args.r is None else args.r
    device = torch.device(args.device)
    records, loads = [], []
    for n in args.sizes:
        m, steps = round(r * n), args.steps or size_steps(n)
        before = os.getloadavg()
        method = choose_method(sample_sparse(torch.tensor([args.p]), args.batch_size, n, torch.Generator()), m)
        for state, weights in states(n, m, args.p, args.batch_size, args.seed, args.late_fire, device).items():
            one = {name: value[0] for name, value in weights.items()}  # the naive loop's unbatched weights
            record = {"n": n, "m": m, "state": state, "steps": steps, "auto": method,
                      "fired": firing(weights, args.p, args.batch_size, n, args.seed),
                      "naive": naive(n, m, args.p, args.batch_size, steps, args.seed, default_lr(n), one,
                                     device=args.device)[0]}
            record["composed"] = sparse_step(weights, args.p, args.batch_size, steps, args.seed, "composed")[0]
            record["factored"], record["adam"] = sparse_step(weights, args.p, args.batch_size, steps, args.seed,
                                                             "factored")
            record["floor"] = product_floor(n, m, args.batch_size, steps, device)
            records.append(record)
            print(json.dumps({key: value if not isinstance(value, list) else statistics.median(value)
                              for key, value in record.items()}), flush=True)
        loads.append((n, before, os.getloadavg()))
    text = _large_n_report(args, r, records, loads)
    print(text)
    write_atomic(args.out, text.encode())
    return 0


def _large_n_report(args: argparse.Namespace, r: float, records: list[dict], loads: list[tuple]) -> str:
    ms = {id(record): {key: 1e3 * statistics.median(record[key])
                       for key in ("naive", "composed", "factored", "adam", "floor")} for record in records}
    environment = ", ".join(f"{name}={os.environ[name]}" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                                      "GLIBC_TUNABLES") if name in os.environ)
    command = "python benchmarks/train_speed.py " + " ".join(sys.argv[1:])
    lines = [
        "# Training speed at large n: the sparse step's two forwards against the naive loop and the floor",
        "",
        f"- command: `{command.strip()}`",
        (f"- r = {r} (m = r n), p = {args.p}, batch B = {args.batch_size}, one instance, fp32, seed = {args.seed};"
         " ms per step = the median over the timed steps, after one warm-up step each"),
        f"- device: {_device_name(args.device)}; machine: {_machine()}; environment: {environment or 'no thread or malloc variables set'}",
        *(f"- n = {n}: load average before {a[0]:.2f} {a[1]:.2f} {a[2]:.2f}, after {b[0]:.2f} {b[1]:.2f} {b[2]:.2f}"
          " (1/5/15 min)" for n, a, b in loads),
        ("- early: the harness's initial weights (b = 0); late: trained-like, the same weights with one bias set so"
         f" that a fraction {args.late_fire} fires (benchmarks/train_speed.py's docstring); 'fire' is measured on a"
         " fresh batch"),
        ("- composed: the sparse step through W = W_out W_in (the only forward before; n^2 m); factored: through"
         " W_out (W_in x) (B m n; 'auto' column: what the trainer's step takes); floor: one (1, B, m) x (1, m, n)"
         " torch.bmm alone; Adam: the optimizer's update within the factored step (the trainer's, as in the naive loop)"),
        "",
        ("| n | m | state | steps | fire | naive ms | composed ms | factored ms | of which Adam ms | floor ms "
         "| factored / floor | naive / factored | auto |"),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for record in records:
        t = ms[id(record)]
        lines.append(
            f"| {record['n']} | {record['m']} | {record['state']} | {record['steps']} | {record['fired']:.3f} "
            f"| {t['naive']:.1f} | {t['composed']:.1f} | {t['factored']:.1f} | {t['adam']:.1f} | {t['floor']:.1f} "
            f"| {t['factored'] / t['floor']:.2f} | {t['naive'] / t['factored']:.1f} | {record['auto']} |")
    lines += ["", "Achieved rate, counting the floor's 2 B m n flops (the least an exact step does):", ""]
    for record in records:
        t, flops = ms[id(record)], 2.0 * args.batch_size * record["m"] * record["n"]
        rate = {key: flops / (t[key] * 1e-3) / 1e12 for key in ("floor", "factored")}
        share = "" if not args.peak_tflops else (
            f" ({rate['floor'] / args.peak_tflops:.0%} and {rate['factored'] / args.peak_tflops:.0%} of the "
            f"{args.peak_tflops:g} TFLOP/s peak)")
        lines.append(f"- n = {record['n']}, {record['state']}: floor {rate['floor']:.3g} TFLOP/s, factored step "
                     f"{rate['factored']:.3g} TFLOP/s floor-equivalent{share}")
    lines += ["", "Targets: factored within 1.5x of the floor at n >= 2048; at least 4x the naive loop at n = 2048.", ""]
    for record in records:
        t = ms[id(record)]
        if record["n"] >= 2048:
            checks = [(f"factored / floor = {t['factored'] / t['floor']:.2f} "
                       f"({'met' if t['factored'] <= 1.5 * t['floor'] else 'not met'})")]
            if record["n"] == 2048:
                checks.append(f"naive / factored = {t['naive'] / t['factored']:.1f} "
                              f"({'met' if t['naive'] >= 4 * t['factored'] else 'not met'})")
            lines.append(f"- n = {record['n']}, {record['state']}: " + "; ".join(checks))
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--r", type=float, default=None, help="m / n (default 0.5; 0.25 with --sizes)")
    parser.add_argument("--p", type=float, default=0.01)
    parser.add_argument("--instances", type=int, default=8)
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps (default 60; with --sizes max(3, round(20 (1024/n)^2)) per size)")
    parser.add_argument("--full-steps", type=int, default=20000, help="steps of the whole sparse run (0: skip it)")
    parser.add_argument("--baseline-models", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="large-n mode: these n, one instance, each kernel early and late (module docstring)")
    parser.add_argument("--late-fire", type=float, default=0.03,
                        help="with --sizes: the fraction of outputs that fire in the late state")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--device", default="cpu", help="with --sizes: cpu or cuda (default cpu)")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="with --sizes: the device's fp32 peak, to report the floor's and the step's share of it")
    parser.add_argument("--out", default=None,
                        help="results file (default benchmarks/results/train_speed.md, or train_speed_large_n.md "
                             "with --sizes)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.out is None:
        args.out = str(ROOT / "benchmarks" / "results" / ("train_speed_large_n.md" if args.sizes else "train_speed.md"))
    if args.sizes:
        return large_n(args)
    args.r = 0.5 if args.r is None else args.r
    args.steps = 60 if args.steps is None else args.steps
    load = os.getloadavg()
    m = round(args.r * args.n)
    lr = 3e-3 / math.sqrt(args.n)
    rows = {}
    per_step = [naive(args.n, m, args.p, args.batch_size, args.steps, args.seed + k, lr)
                for k in range(args.baseline_models)]
    rows["naive (one model, DataLoader, loss.item() per step)"] = (
        sum(sum(t) / len(t) for t, _ in per_step) / len(per_step), sum(v for _, v in per_step) / len(per_step))
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
