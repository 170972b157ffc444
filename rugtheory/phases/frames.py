"""Harmonic equal-norm tight frames: k features in d dimensions, r = d/k (derivations/12_phases.md, "Frames").

Choose a set F of frequencies l in {0, ..., floor(k/2)}; frequency l contributes the rows
cos(2 pi l i/k), sin(2 pi l i/k) of the real DFT (one row for l = 0 and l = k/2), d = the number of
rows. The k vectors (columns, scaled to unit norm) form an equal-norm tight frame (sum f_i f_i^T =
(k/d) I), and W = a G with the circulant Gram matrix

    G_ij = (1/d) sum_{l in F} m_l cos(2 pi l (i - j)/k),   m_l = 1 (l = 0, k/2), else 2.

The k-gon is F = {1} (or any l prime to k), the simplex F = {1, ..., floor(k/2)}, the antipodal
pair k = 2, F = {1}. ``harmonic_frames`` lists the distinct partner patterns for k <= k_max and
labels them; the phase family "frame" is the rest.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ParameterError
from .optimize import GroupOptimum, group_optimum

__all__ = ["FRAME_MAX_K", "HarmonicFrame", "frame_optimum", "harmonic_frames", "harmonic_gram"]

FRAME_MAX_K = 8


def harmonic_gram(k: int, frequencies) -> np.ndarray:
    """The k x k Gram matrix (unit diagonal) of the harmonic frame with frequency set F."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= 13:
        raise ParameterError(f"frame size k = {k!r} is out of range; valid: k an integer in [2, 13]")
    freqs = sorted({int(f) for f in frequencies})
    if not freqs or freqs[0] < 0 or freqs[-1] > k // 2:
        raise ParameterError(f"frequencies {frequencies!r} are out of range; valid: a nonempty subset of 0 .. {k // 2}")
    mult = np.array([1 if f in (0, k / 2) else 2 for f in freqs], dtype=float)
    lag = np.arange(k)[:, None] - np.arange(k)[None, :]
    gram = sum(m * np.cos(2 * np.pi * f * lag / k) for f, m in zip(freqs, mult))
    return gram / mult.sum()


@dataclass(frozen=True)
class HarmonicFrame:
    """A harmonic frame: k, its frequencies, dimension d, ratio d/k, kind and row partners."""

    k: int
    frequencies: tuple[int, ...]
    d: int
    ratio: float
    kind: str  # "pair", "kgon", "simplex" or "frame"
    partners: tuple[float, ...]

    @property
    def name(self) -> str:
        """A short label, e.g. '6-frame{1,3}'."""
        return f"{self.k}-frame{{{','.join(map(str, self.frequencies))}}} (d={self.d})"

    def to_dict(self) -> dict:
        """A JSON-ready dict of the fields and the name."""
        return {**asdict(self), "name": self.name}


def _key(ratio: float, partners) -> tuple:
    """A frame's identity for the loss: its ratio and its nonzero partner weights, sorted."""
    kept = sorted(v for v in partners if abs(v) > 1e-9)
    return (round(ratio, 9), tuple(round(v, 9) for v in kept))


def _known() -> dict[tuple, str]:
    from .kgon import KGON_SIDES, kgon_partners
    from .simplex import SIMPLEX_SIZES, simplex_partners

    known = {_key(0.5, [-1.0]): "pair"}
    known.update({_key(2 / k, kgon_partners(k)): "kgon" for k in KGON_SIDES})
    known.update({_key((k - 1) / k, simplex_partners(k)): "simplex" for k in SIMPLEX_SIZES})
    return known


def harmonic_frames(k_max: int = FRAME_MAX_K) -> tuple[HarmonicFrame, ...]:
    """Every harmonic frame with 2 <= k <= k_max and 1 <= d < k, one per distinct (ratio, nonzero partners).

    Frames with repeated vectors (a partner weight 1) are left out. ``kind`` names the pattern a
    frame shares with a pair, k-gon or simplex (for instance 6-frame{1,2} is two triangles), else "frame".
    """
    known = _known()
    seen: dict[tuple, HarmonicFrame] = {}
    for k in range(2, k_max + 1):
        for size in range(1, k // 2 + 2):
            for freqs in itertools.combinations(range(k // 2 + 1), size):
                d = sum(1 if f in (0, k / 2) else 2 for f in freqs)
                row = harmonic_gram(k, freqs)[0, 1:]
                if d >= k or np.max(row) > 1 - 1e-9:
                    continue
                key = _key(d / k, row)
                if key not in seen:
                    seen[key] = HarmonicFrame(k=k, frequencies=freqs, d=d, ratio=d / k, kind=known.get(key, "frame"),
                                              partners=tuple(float(v) for v in row))
    return tuple(seen.values())


def frame_optimum(p: float, frame: HarmonicFrame) -> GroupOptimum:
    """The frame's loss per feature at its best scale and bias (``optimize.group_optimum``)."""
    return group_optimum(p, frame.partners)
