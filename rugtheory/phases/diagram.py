"""The large-n phase diagram: the best structured family at each (p, r) against the rug (derivations/12_phases.md, "Diagram").

A family is a set of pure members, each a group pattern at its own ratio r_m = d/k with its
optimal loss L_m(p) (r-independent, cached per p). At any r the rank budget lets features be
split into groups of several members, dedicated features (ratio 1, loss 0) and dropped ones
(ratio 0, loss p/3 - p^2/4); the per-feature loss and ratio are the feature-weighted means, so
the family's best loss at r is the lower convex envelope of {(0, Var x), (1, 0), (r_m, L_m)} at
r (``envelope``). Families: "rug" (the pure Gaussian optimum L*(p, r), no mixing), "mixture"
(rug at any ratio with dedicated/dropped features), "pairs" (the best rank-1 pair, r = 1/2),
"kgon" (k = 3 .. 12, r = 2/k), "simplex" (k = 3 .. 12, r = (k-1)/k), "frame" (the other harmonic
tight frames, k <= 8) and "dedicated_dropped" (the end points alone: the linear baseline).
``losses`` also holds "combined", the envelope over all members of all families and the rug curve
together (groups of different families side by side); it is reported, not entered for "best".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..errors import ParameterError
from ..parameters import RATIO
from .antipodal import check_optimum_probability

__all__ = ["COMBINED", "FAMILIES", "PhaseDiagram", "PhasePoint", "envelope", "family_members", "phase_diagram", "phase_png"]

FAMILIES = ("rug", "mixture", "pairs", "kgon", "simplex", "frame", "dedicated_dropped")
COMBINED = "combined"  # the envelope of every member of every family and the rug curve; not a candidate for "best"


def envelope(ratios, losses, r: float) -> tuple[float, tuple[tuple[int, float], ...]]:
    """The lower convex envelope of the points (ratios, losses) at r, and its mix: (index, fraction) pairs.

    >>> envelope([0.0, 1.0, 0.5], [1.0, 0.0, 0.1], 0.25)[0]  # halfway between (0, 1) and (0.5, 0.1)
    0.55
    """
    x, y = np.asarray(ratios, dtype=float), np.asarray(losses, dtype=float)
    best, mix = math.inf, ()
    for i in range(x.size):
        if x[i] == r and y[i] < best:
            best, mix = float(y[i]), ((i, 1.0),)
    left, right = np.nonzero(x < r)[0], np.nonzero(x > r)[0]
    if left.size and right.size:
        w = (r - x[left][:, None]) / (x[right][None, :] - x[left][:, None])  # weight of the right point
        value = (1 - w) * y[left][:, None] + w * y[right][None, :]
        i, j = np.unravel_index(np.argmin(value), value.shape)
        if value[i, j] < best:
            best = float(value[i, j])
            mix = ((int(left[i]), float(1 - w[i, j])), (int(right[j]), float(w[i, j])))
    return best, mix


@dataclass(frozen=True)
class Member:
    """One pure member of a family: its name, ratio and optimal loss at p."""

    name: str
    ratio: float
    loss: float


@lru_cache(maxsize=64)
def family_members(p: float) -> dict[str, tuple[Member, ...]]:
    """The pure members of every structured family at p (cached: they do not depend on r)."""
    from .frames import frame_optimum, harmonic_frames
    from .kgon import KGON_SIDES, kgon_optimum
    from .pairs import rank_one_pair
    from .simplex import SIMPLEX_SIZES, simplex_optimum

    p = check_optimum_probability(p)
    frames = tuple(Member(f.name, f.ratio, frame_optimum(p, f).loss)
                   for f in harmonic_frames() if f.kind == "frame")
    return {
        "pairs": (Member("rank-1 pair", 0.5, rank_one_pair(p).loss),),
        "kgon": tuple(Member(f"{k}-gon", 2 / k, kgon_optimum(p, k).loss) for k in KGON_SIDES),
        "simplex": tuple(Member(f"{k}-simplex", (k - 1) / k, simplex_optimum(p, k).loss) for k in SIMPLEX_SIZES if k >= 3),
        "frame": frames,
        "dedicated_dropped": (),
    }


@dataclass(frozen=True)
class PhasePoint:
    """One (p, r) of the diagram: the best family, every family's loss, and each family's mix."""

    p: float
    r: float
    best: str
    losses: dict[str, float]
    mix: dict[str, list[dict]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The JSON entry: p, r, best, losses (with "rug": L*) and mix (member, ratio, fraction of features)."""
        return {"p": self.p, "r": self.r, "best": self.best, "losses": dict(self.losses),
                "ratio_to_rug": self.losses[self.best] / self.losses["rug"] if self.losses["rug"] > 0 else None,
                "mix": {key: list(value) for key, value in self.mix.items()}}


@dataclass(frozen=True)
class PhaseDiagram:
    """The diagram on a (p, r) grid: one PhasePoint per pair, p-major."""

    p_grid: tuple[float, ...]
    r_grid: tuple[float, ...]
    points: tuple[PhasePoint, ...]

    def to_list(self) -> list[dict]:
        """The JSON list of ``rugtheory phases --json``."""
        return [point.to_dict() for point in self.points]

    def to_dict(self) -> dict:
        """A JSON-ready dict: the grids and the points."""
        return {"p_grid": list(self.p_grid), "r_grid": list(self.r_grid), "points": self.to_list()}


def _check_grid(values, parameter: str) -> tuple[float, ...]:
    values = tuple(float(v) for v in np.atleast_1d(np.asarray(values, dtype=float)))
    if not values:
        raise ParameterError(f"{parameter} grid is empty; valid: one or more values")
    return values


def _point(p: float, r: float, rug_loss: float, members: dict, rho: np.ndarray, curve: np.ndarray) -> PhasePoint:
    from .mixture import dropped_loss

    ends = (Member("dropped", 0.0, dropped_loss(p)), Member("dedicated", 1.0, 0.0))
    losses, mix = {"rug": rug_loss}, {"rug": [{"member": "rug", "ratio": r, "fraction": 1.0}]}
    rug_members = tuple(Member(f"rug at rho={x:.4g}", float(x), float(y)) for x, y in zip(rho, curve))
    for family in FAMILIES[1:]:
        pool = ends + (rug_members if family == "mixture" else members[family])
        value, weights = envelope([m.ratio for m in pool], [m.loss for m in pool], r)
        losses[family] = value
        mix[family] = [{"member": pool[i].name, "ratio": pool[i].ratio, "fraction": w} for i, w in weights if w > 0]
    best = min(FAMILIES, key=lambda name: (losses[name], FAMILIES.index(name)))
    pool = ends + rug_members + tuple(m for family in FAMILIES[2:] for m in members[family])
    value, weights = envelope([m.ratio for m in pool], [m.loss for m in pool], r)
    losses[COMBINED] = value
    mix[COMBINED] = [{"member": pool[i].name, "ratio": pool[i].ratio, "fraction": w} for i, w in weights if w > 0]
    return PhasePoint(p=p, r=r, best=best, losses=losses, mix=mix)


def phase_diagram(p_grid, r_grid) -> PhaseDiagram:
    """Every family's best loss at each (p, r), the rug's L*(p, r), and the winner.

    p in [1e-6, 1) (the exact group losses' float64 range), r in (0, 1].
    """
    from ..optimum import solve_grid
    from .mixture import rug_curve

    ps = tuple(check_optimum_probability(p) for p in _check_grid(p_grid, "feature_probability (p)"))
    rs = tuple(float(RATIO.validate(r)) for r in _check_grid(r_grid, "ratio (r)"))
    rug = solve_grid(list(ps), list(rs)).loss
    points = []
    for i, p in enumerate(ps):
        members = family_members(p)
        rho, curve = rug_curve(p, rs)
        points.extend(_point(p, r, float(rug[i, j]), members, rho, curve) for j, r in enumerate(rs))
    return PhaseDiagram(p_grid=ps, r_grid=rs, points=tuple(points))


COLOURS = {"rug": "#bbbbbb", "mixture": "#8da0cb", "pairs": "#fc8d62", "kgon": "#66c2a5",
           "simplex": "#e78ac3", "frame": "#a6d854", "dedicated_dropped": "#ffd92f"}


def phase_png(diagram: PhaseDiagram, path, title: str | None = None) -> None:
    """Draw the best family over the (p, r) grid (log p axis), each cell labelled with its loss / L*.

    Without matplotlib: ModuleNotFoundError, one line naming the torch extra (``plots.require_matplotlib``).
    """
    from ..plots import require_matplotlib

    require_matplotlib("drawing the phase diagram")
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from ..checkpoint import write_atomic

    ps, rs = np.array(diagram.p_grid), np.array(diagram.r_grid)
    order = np.argsort(ps), np.argsort(rs)
    codes = np.zeros((rs.size, ps.size))
    labels = {}
    for point in diagram.points:
        i, j = int(np.nonzero(ps[order[0]] == point.p)[0][0]), int(np.nonzero(rs[order[1]] == point.r)[0][0])
        codes[j, i] = FAMILIES.index(point.best)
        ratio = point.losses[point.best] / point.losses["rug"] if point.losses["rug"] > 0 else float("nan")
        labels[j, i] = f"{point.best}\n{ratio:.3g}"

    def edges(values, log):
        v = np.log10(values) if log else values
        if v.size == 1:
            mid = np.array([v[0] - 0.5, v[0] + 0.5])
        else:
            inner = 0.5 * (v[1:] + v[:-1])
            mid = np.concatenate([[2 * v[0] - inner[0]], inner, [2 * v[-1] - inner[-1]]])
        return 10**mid if log else mid

    figure = Figure(figsize=(1.4 * ps.size + 3.5, 0.6 * rs.size + 2.2), dpi=130, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    cmap = ListedColormap([COLOURS[name] for name in FAMILIES])
    axes.pcolormesh(edges(ps[order[0]], True), edges(rs[order[1]], False), codes, cmap=cmap,
                    vmin=-0.5, vmax=len(FAMILIES) - 0.5, edgecolors="white", linewidth=0.5)
    for (j, i), text in labels.items():
        axes.text(ps[order[0]][i], rs[order[1]][j], text, ha="center", va="center", fontsize=7)
    axes.set_xscale("log")
    axes.set_xlabel("feature probability p")
    axes.set_ylabel("ratio r = m/n")
    axes.set_title(title or "best large-n family (cell: family, its loss / rug L*)")
    present = sorted({point.best for point in diagram.points}, key=FAMILIES.index)
    axes.legend(handles=[Patch(color=COLOURS[name], label=name) for name in present],
                loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    try:
        write_atomic(path, buffer.getvalue())
    except OSError as error:
        raise ParameterError(f"png path {str(path)!r} cannot be written ({error.strerror or error})") from None
