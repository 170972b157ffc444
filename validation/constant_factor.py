"""Does a better activation only gain a constant factor? Ratios of optimal losses as p -> 0.

For each (p, r) it optimises ReLU, JumpReLU and ReLU^alpha, computes the MMSE bound, and
prints the ratios next to the asymptotic predictions of derivations/10_constant_factor.md:
L*_ReLU / MMSE ~ t0^2/4 + 3/2 ~ (1/2) ln(1/p), L*_power / MMSE ~ t1^2/16 + 3/2, and
L*_JumpReLU / MMSE -> 1. Writes validation/constant_factor.md (atomically).

    python validation/constant_factor.py
"""

from __future__ import annotations

import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rugtheory.activations.compare import family_optimum
from rugtheory.asymptotics.claims import threshold_scaling

P_VALUES = (1e-2, 1e-4, 1e-6, 1e-8, 1e-12, 1e-16, 1e-20, 1e-30)
R_VALUES = (0.1, 0.5, 0.9)
FAMILIES = ("relu", "jumprelu", "power", "mmse")


def rows() -> list[dict]:
    out = []
    for r in R_VALUES:
        for p in P_VALUES:
            losses = {name: family_optimum(name, p, r).loss for name in FAMILIES}
            mmse = losses["mmse"]
            out.append({
                "p": p, "r": r, **{f"loss_{k}": v for k, v in losses.items()},
                "relu_over_mmse": losses["relu"] / mmse,
                "relu_over_mmse_predicted": threshold_scaling("relu", p, r).ratio_to_mmse,
                "power_over_mmse": losses["power"] / mmse,
                "power_over_mmse_predicted": threshold_scaling("power", p, r).ratio_to_mmse,
                "jumprelu_over_mmse": losses["jumprelu"] / mmse,
                "half_log": 0.5 * math.log(1 / p),
            })
    return out


def markdown(table: list[dict], seconds: float) -> str:
    lines = [
        "# Constant factor? Ratios of optimal losses to the MMSE bound",
        "",
        "Command: `python validation/constant_factor.py` (deterministic: no sampling).",
        (f"Machine: {platform.machine()} {platform.system()}, Python {platform.python_version()}, "
        f"CPU only; run time {seconds:.0f} s."),
        "",
        "| r | p | ReLU/MMSE | predicted | (1/2)ln(1/p) | power/MMSE | predicted | JumpReLU/MMSE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in table:
        lines.append(
            f"| {row['r']:g} | {row['p']:.0e} | {row['relu_over_mmse']:.4g} | "
            f"{row['relu_over_mmse_predicted']:.4g} | {row['half_log']:.4g} | "
            f"{row['power_over_mmse']:.4g} | {row['power_over_mmse_predicted']:.4g} | "
            f"{row['jumprelu_over_mmse']:.4g} |"
        )
    lines += ["", ("'predicted' is the leading high-sparsity form c t_c^2 + 1 + (1-p) J_2(t_c)/p "
              "(rugtheory.asymptotics.claims), which divides by p kappa^2, the leading MMSE."), ""]
    return "\n".join(lines)


def write_atomically(path: Path, text: str) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(handle, "w") as stream:
        stream.write(text)
    os.replace(tmp, path)


def main() -> int:
    start = time.perf_counter()
    table = rows()
    text = markdown(table, time.perf_counter() - start)
    write_atomically(ROOT / "validation" / "constant_factor.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
