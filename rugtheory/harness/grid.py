"""Train a grid of toy models, (n, p, r, seed) cells, in batches and hold each against the theory.

Instances with the same n and m = round(r n) are trained together in one tensor program
(``group_by_hidden``); each group runs in ``out/runs/n<n>_m<m>`` with its own checkpoint, so an
interrupted grid resumes group by group (``resume=True``), and a group already measured is not
measured again (``measured.json``, written atomically). Every trained instance is measured by
``rugtheory.measure.measure_model``; beside it stands the forward-engineered Hadamard rug at the
same (n, r, p) (n a power of two), measured by the same Monte Carlo and exactly
(``rugtheory.finite.rug_exact_loss``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..checkpoint import write_atomic
from ..errors import ParameterError
from .config import group_by_hidden
from .state import has_checkpoint
from .train import train

__all__ = ["cell_rows", "grid_rows"]


def _flat(prefix: str, record: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}{key}": value for key, value in record.items()}


def _rug_row(n: int, r: float, p: float, seed: int, samples: int | None) -> dict[str, Any]:
    """The Hadamard rug at (n, r, p): its Monte Carlo loss (as the trained rows') and its exact loss
    (``rugtheory.finite.rug_exact_loss``, exact at any n, with its bound); empty unless n is a power of two."""
    from ..finite import rug_exact_loss
    from ..measure import monte_carlo_loss
    from ..weights.rug_model import rug_model

    if n & (n - 1):
        return {}
    rug = rug_model(n, r, p, seed=seed)
    estimate = monte_carlo_loss(rug.W, rug.b, p, samples=samples, seed=seed)
    exact = rug_exact_loss(p, r, n, seed=seed)
    return {"rug_loss_measured": estimate.loss, "rug_loss_measured_se": estimate.standard_error,
            "rug_loss_exact": exact.loss, "rug_loss_exact_bound": exact.error_bound}


def _decomposition_columns(parts: dict[str, Any]) -> dict[str, Any]:
    """The decomposition's own columns (the losses it repeats are columns already)."""
    keep = ("exact_rows", "agreement_z", "non_gaussian_gap", "non_gaussian_relative", "suboptimal_gap",
            "suboptimal_relative")
    return {("exact_agreement_z" if key == "agreement_z" else key): parts[key] for key in keep}


def _phase_columns(W, b) -> dict[str, Any]:
    """The structured family the weights resemble (``rugtheory.phases.classify``): label and row fractions."""
    from ..phases import classify

    found = classify(W, b)
    return {"phase_label": found.label, "phase_antipodal_pairs": found.antipodal_pairs,
            **{f"phase_fraction_{family}": share for family, share in found.fractions.items()}}


def _measure_group(group, config, result, r_of: dict[int, float], samples, seed_offset: int,
                   exact_rows: int | None) -> list[dict]:
    from ..measure import measure_model

    rows = []
    for k, index in enumerate(group.indices):
        p, seed = group.feature_probability[k], group.seed[k]
        r = config.ratio
        started = time.perf_counter()
        measured = measure_model(result.W[k], result.b[k], p, r, samples=samples, seed=seed + seed_offset,
                                 exact_rows=exact_rows)
        record = measured.to_dict()
        stats = record.pop("stats")
        parts = record.pop("decomposition", None)
        optimum = record["loss_meanfield_optimum"]
        row = {
            "index": index, "n": config.n_features, "m": config.n_hidden, "p": p, "r": r,
            "r_requested": r_of[index], "seed": seed, "device": result.device, "steps": result.steps,
            "instances": config.instances, "seconds_train_group": result.seconds,
            "final_training_loss": float(result.final_loss[k]), **record,
            "ratio_to_optimum": record["loss_measured"] / optimum if optimum > 0 else None,
            "ratio_to_optimum_se": record["loss_measured_se"] / optimum if optimum > 0 else None,
            **_flat("stats_", stats),
            **({} if parts is None else _decomposition_columns(parts)),
            **_phase_columns(result.W[k], result.b[k]),
            **_rug_row(config.n_features, r, p, seed, samples),
        }
        if "rug_loss_measured" in row and optimum > 0:
            row["rug_ratio_to_optimum"] = row["rug_loss_measured"] / optimum
            row["rug_exact_ratio_to_optimum"] = row["rug_loss_exact"] / optimum
        row["seconds_measure"] = time.perf_counter() - started
        rows.append(row)
    return rows


def grid_rows(
    n: int, p_grid: Sequence[float], r_grid: Sequence[float], seeds: Sequence[int] = (0,), **options: Any,
) -> list[dict[str, Any]]:
    """Train every (p, r, seed) of the grid at n features and measure it: ``cell_rows`` of the product."""
    return cell_rows([(n, p, r, s) for p in p_grid for r in r_grid for s in seeds], **options)


def cell_rows(
    cells: Sequence[tuple[int, float, float, int]],
    device: str = "auto", out: str | os.PathLike | None = None, resume: bool = False,
    samples: int | None = None, exact_rows: int | None = None, progress: bool = True, overwrite: bool = False,
    on_group: Callable[[list[dict[str, Any]]], None] | None = None, **options: Any,
) -> list[dict[str, Any]]:
    """Train every (n, p, r, seed) cell and measure it; one dict per cell, in the cells' order.

    ``on_group(rows)``, if given, is called after each group with the rows measured so far (to
    write partial results as they come).

    Cells with the same n and m = round(r n) train together in one tensor program. ``options``
    are further ``TrainConfig`` fields (steps, batch_size, lr, ...). The measurement seed is the
    instance seed plus 10^6, a stream apart from the training seeds; ``exact_rows`` is passed to
    ``measure_model`` (None: its default rows; 0: no exact loss and decomposition). With ``out``,
    each group checkpoints in ``out/runs/n<n>_m<m>`` (``train``'s schedule: every 60 s of
    training by default); ``resume=True`` continues or reuses them, ``overwrite=True`` trains
    every group afresh. SIGINT / SIGTERM stop the group in training after saving it
    (``rugtheory.signals.Interrupted``).
    """
    if not cells:
        raise ParameterError("the grid needs at least one (n, p, r, seed) cell")
    r_of = {index: r for index, (_, _, r, _) in enumerate(cells)}
    rows: list[dict[str, Any]] = []
    for n in dict.fromkeys(cell[0] for cell in cells):  # each n in order of first appearance
        where = [index for index, cell in enumerate(cells) if cell[0] == n]
        for group in group_by_hidden(n, [cells[index][1:] for index in where]):
            group = dataclasses.replace(group, indices=tuple(where[j] for j in group.indices))
            rows += _group_rows(n, group, r_of, device, out, resume, samples, exact_rows, progress, overwrite,
                                options)
            if on_group is not None:
                on_group(sorted(rows, key=lambda row: row["index"]))
    return sorted(rows, key=lambda row: row["index"])


def _group_rows(n, group, r_of, device, out, resume, samples, exact_rows, progress, overwrite, options):
    """Train (or resume, or reuse the measured rows of) one group and measure it."""
    config = group.config(n, **options)
    folder = None if out is None else Path(out) / "runs" / f"n{n}_m{group.n_hidden}"
    cached = folder / "measured.json" if folder is not None else None
    if cached is not None and resume and cached.is_file():
        try:
            record = json.loads(cached.read_text())
        except (OSError, ValueError):  # unreadable: measure the group again
            record = {}
        if isinstance(record, dict) and record.get("config") == config.to_dict() and (
                record.get("measure") == [samples, exact_rows]):
            return record["rows"]
    again = resume and folder is not None and has_checkpoint(folder)
    result = train(config, device=device, out=folder, resume=again, progress=progress, overwrite=overwrite)
    group_rows = _measure_group(group, config, result, r_of, samples, 10**6, exact_rows)
    if cached is not None:
        payload = {"config": config.to_dict(), "measure": [samples, exact_rows], "rows": group_rows}
        write_atomic(cached, json.dumps(payload, indent=1, allow_nan=False, default=float).encode())
    return group_rows
