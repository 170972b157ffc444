"""Pictures of weight matrices (matplotlib, imported only when a picture is drawn; Agg, no display).

The figure is drawn on its own ``Figure`` with the Agg canvas, so matplotlib's global backend
and pyplot's state are left alone. Files are rendered to bytes and written atomically
(``checkpoint.write_atomic``).
"""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

from .errors import ParameterError

__all__ = ["png_bytes", "require_matplotlib", "rug_png"]


ZOOM = 256  # matrices larger than 2 * ZOOM get a second panel with their leading ZOOM x ZOOM block


def _colour_limit(W: np.ndarray) -> float:
    """The 99th percentile of |W_ij| off the diagonal (from at most 512 rows), or max |W| if that is 0."""
    rows = W[: min(W.shape[0], 512)]
    off = np.abs(rows).copy()
    k = min(off.shape)
    off[np.arange(k), np.arange(k)] = 0.0
    limit = float(np.quantile(off, 0.99))
    return limit if limit > 0.0 else max(float(np.abs(W).max()), 1.0)


def require_matplotlib(purpose: str = "drawing a picture") -> None:
    """Import matplotlib's Agg canvas, or raise ModuleNotFoundError in one line naming the extra.

    Cheap once matplotlib is imported, so a command calls it before a long computation.
    """
    try:
        import matplotlib.backends.backend_agg
        import matplotlib.figure  # noqa: F401
    except ImportError:
        raise ModuleNotFoundError(
            f"{purpose} needs matplotlib, in the torch extra: pip install 'rugtheory[torch]'", name="matplotlib"
        ) from None


def png_bytes(W: Any, title: str | None = None, vmax: float | None = None, dpi: int = 150) -> bytes:
    """A PNG image of W as bytes: a diverging colour map (RdBu_r) centred at 0.

    The colour range is [-vmax, vmax], by default the 99th percentile of the off-diagonal |W_ij|,
    so the rug's fractal off-diagonal pattern is visible and the diagonal (a, larger) saturates.
    A matrix larger than 2 ZOOM (512) is shrunk to the figure's pixels by averaging colours, which
    blurs the pattern, so a second panel shows its leading ZOOM x ZOOM block entry by entry.
    """
    require_matplotlib("drawing W")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    matrix = np.asarray(W, dtype=float)
    if matrix.ndim != 2 or not np.all(np.isfinite(matrix)):
        raise ParameterError(f"W must be a finite matrix to draw: got shape {matrix.shape}")
    limit = _colour_limit(matrix) if vmax is None else float(vmax)
    if not limit > 0.0 or not np.isfinite(limit):
        raise ParameterError(f"vmax = {vmax!r} is out of range; valid: vmax > 0")
    zoom = max(matrix.shape) > 2 * ZOOM
    figure = Figure(figsize=(11.5 if zoom else 6.4, 5.6), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    panels = figure.subplots(1, 2 if zoom else 1, squeeze=False)[0]
    style = {"cmap": "RdBu_r", "vmin": -limit, "vmax": limit}
    image = panels[0].imshow(matrix, interpolation="antialiased", interpolation_stage="rgba", **style)
    panels[0].set_title(f"W ({matrix.shape[0]} x {matrix.shape[1]})")
    if zoom:
        panels[1].imshow(matrix[:ZOOM, :ZOOM], interpolation="nearest", **style)
        panels[1].set_title(f"W[:{ZOOM}, :{ZOOM}]")
    for axes in panels:
        axes.set_xlabel("j")
        axes.set_ylabel("i")
    if title:
        figure.suptitle(title)
    figure.colorbar(image, ax=list(panels), label="W_ij", shrink=0.85)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def rug_png(W: Any, path: str | os.PathLike, title: str | None = None, vmax: float | None = None) -> None:
    """Write a PNG picture of W to ``path`` atomically (see ``png_bytes``).

    An unwritable path raises ParameterError with one line naming it.
    """
    from .checkpoint import write_atomic

    data = png_bytes(W, title=title, vmax=vmax)
    try:
        write_atomic(path, data)
    except OSError as error:
        raise ParameterError(f"png path {str(path)!r} cannot be written ({error.strerror or error})") from None
