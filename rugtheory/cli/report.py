"""`rugtheory report`: the main job — L*(p, r) on a grid, its scaling, and the activation families."""

from __future__ import annotations

import argparse

REPORT_P = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
REPORT_R = (0.1, 0.25, 0.5)
SCALING_P = (1e-6, 1e-12, 1e-30)
SCALING_R = 0.5
COMPARE_AT = (1e-3, 0.5)


def _grid_rows() -> list[dict]:
    from ..optimum import solve_grid

    grid = solve_grid(REPORT_P, REPORT_R)
    rows = []
    for i, p in enumerate(REPORT_P):
        for j, r in enumerate(REPORT_R):
            rows.append({
                "p": p, "r": r, "a": float(grid.a[i, j]), "bias": float(grid.bias[i, j]),
                "sigma": float(grid.sigma[i, j]), "loss": float(grid.loss[i, j]),
                "loss_linear": float(grid.loss_linear[i, j]),
                "gain": float(grid.loss_linear[i, j] / grid.loss[i, j]),
            })
    return rows


def _scaling_rows() -> list[dict]:
    from ..asymptotics import high_sparsity
    from ..optimum import solve

    rows = []
    for p in SCALING_P:
        numeric = solve(p, SCALING_R).loss
        scaling = high_sparsity(p, SCALING_R)
        rows.append({"p": p, "r": SCALING_R, "loss_numeric": numeric,
                     "loss_asymptotic": scaling.loss_asymptotic, "loss_leading": scaling.loss_leading})
    return rows


def _text(rows: list[dict], scaling: list[dict], families: dict[str, dict]) -> str:
    from .compare import table

    header = f"{'p':>8} {'r':>5} {'a*':>9} {'bias*':>11} {'L*':>11} {'L_lin':>11} {'L_lin/L*':>9}"
    lines = [
        "Optimal Persian-rug mean-field model (THEORY.md): L*(p, r) = min over (a, beta),",
        "sigma at the rank bound; L_lin = (1 - r)(p/3 - p^2/4) is the best linear model.",
        "",
        header,
        "-" * len(header),
    ]
    for row in rows:
        lines.append(
            f"{row['p']:>8.0e} {row['r']:>5.2f} {row['a']:>9.5f} {row['bias']:>11.3e} "
            f"{row['loss']:>11.4e} {row['loss_linear']:>11.4e} {row['gain']:>9.3g}"
        )
    lines += [
        "",
        "High-sparsity scaling (derivations/06; `rugtheory scaling` prints the full forms):",
        "  L* = p kappa^2 [(1-p) J_2(t0)/p + 1 + t0^2/4] + O(p kappa^3 t0^3),  (1-p) J_1(t0) = p t0/4",
        "  leading term alone: L* ~ p^2 (1 - r) ln(1/p) / (6 r)",
        f"  {'p':>8} {'L* numeric':>12} {'expansion':>12} {'rel.err':>9} {'leading':>12} {'rel.err':>9}",
    ]
    for row in scaling:
        lines.append(
            f"  {row['p']:>8.0e} {row['loss_numeric']:>12.5e} {row['loss_asymptotic']:>12.5e} "
            f"{row['loss_asymptotic'] / row['loss_numeric'] - 1:>9.1e} {row['loss_leading']:>12.5e} "
            f"{row['loss_leading'] / row['loss_numeric'] - 1:>9.1e}"
        )
    lines += ["", table(families, *COMPARE_AT)]
    return "\n".join(lines)


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help="L*(p, r) table, its scaling, and the activation families")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, emit) -> None:
    """Print the grid of optima, the scaling check and the family comparison."""
    from ..activations.compare import compare

    rows = _grid_rows()
    scaling = _scaling_rows()
    families = compare(*COMPARE_AT).to_dict()
    emit({"rows": rows, "scaling": scaling, "compare": {"p": COMPARE_AT[0], "r": COMPARE_AT[1],
                                                        "families": families}},
         args.json, _text(rows, scaling, families))
