"""The block computation of ``exact_loss`` on a torch device (issue 5: "use the GPU when present").

A faithful port of ``exact._block`` (derivations/13_exact_loss.md): the same algorithm, the same
constants and the same bound, in float64 / complex128. The heavy work (the power sums over the
block's rows x n weights, the packing of the large weights, the characteristic function and the
Fourier coefficients over rows x terms, the atom's envelope over rows x n) runs on the device;
the per-row work (window edges, the row function's pieces and jumps, a few envelope terms, all
of size rows x O(1) or rows x large weights) reuses the numpy helpers of ``exact``. Results come
back to the CPU as the same ``_Rows`` of numpy arrays. torch is imported by this module only,
and ``exact`` imports this module lazily (STYLE.md 7).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .exact import (
    _EPS,
    MAX_TERMS,
    ORDER,
    RATIO,
    STAR,
    _log_envelope,
    _periodic_cubic,
    _pieces,
    _remainder,
    _Rows,
    _series,
    _truncation_bound,
    _window,
    _window_bound,
)
from .exact import _horner as _horner_numpy

__all__ = ["block"]

_REAL = torch.float64
_COMPLEX = torch.complex128


def _power_sums(u: torch.Tensor, order: int, inner: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``exact._power_sums`` on the device: (sum_j u_j^q, sum_{j inner} u_j^q [even q]) for q = 0..order."""
    rows, cols = u.shape
    out = torch.zeros((rows, order + 1), dtype=_REAL, device=u.device)
    part = torch.zeros((rows, order + 1), dtype=_REAL, device=u.device)
    weight = inner.to(_REAL)
    out[:, 0] = cols
    acc = u.clone()
    out[:, 1] = acc.sum(dim=1)
    for q in range(2, order + 1):
        acc *= u
        out[:, q] = acc.sum(dim=1)
        if q % 2 == 0:
            part[:, q] = (acc * weight).sum(dim=1)
        if q % 8 == 0:
            acc[acc.abs() < 1e-200] = 0.0  # avoid subnormal arithmetic
    return out, part


def _horner(coefficients: np.ndarray, sums: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``exact._horner`` on the device: sum_{q=2}^{Q} c_q z^q sums_q, rows of ``sums`` against rows of z."""
    total = torch.zeros_like(z) + float(coefficients[ORDER]) * sums[:, ORDER, None]
    for q in range(ORDER - 1, 1, -1):
        total = total * z + float(coefficients[q]) * sums[:, q, None]
    return total * z * z


def _gather_large(w: torch.Tensor, large: torch.Tensor) -> torch.Tensor:
    """``exact._gather_large`` on the device: the entries where ``large``, packed left, zero-padded."""
    rows, cols = torch.nonzero(large, as_tuple=True)
    counts = torch.bincount(rows, minlength=w.shape[0])
    width = max(int(counts.max().item()) if counts.numel() else 0, 1)
    out = torch.zeros((w.shape[0], width), dtype=_REAL, device=w.device)
    if rows.numel():
        start = torch.cumsum(counts, dim=0) - counts
        out[rows, torch.arange(rows.numel(), device=w.device) - start[rows]] = w[rows, cols]
    return out


def _log_phi_large(big: torch.Tensor, t1: torch.Tensor, width: int, p: float) -> torch.Tensor:
    """``exact._log_phi_large`` on the device: sum_j log psi(k t1 w_j), k = 1..width (rows, width)."""
    rows, count = big.shape
    device = big.device
    pad = big == 0.0
    s1 = t1[:, None] * big
    base = torch.where(pad, torch.ones_like(big), torch.full_like(big, 1.0 - p))
    scale = torch.where(pad, 0.0, p / torch.where(pad, 1.0, s1))
    z1 = torch.exp(1j * s1)
    groups = -(-count // 64)
    full = groups * 64
    if full != count:
        base = torch.cat([base, torch.ones((rows, full - count), dtype=_REAL, device=device)], dim=1)
        scale = torch.cat([scale, torch.zeros((rows, full - count), dtype=_REAL, device=device)], dim=1)
        z1 = torch.cat([z1, torch.ones((rows, full - count), dtype=_COMPLEX, device=device)], dim=1)
    factor = -1j * scale  # p / (i s)
    out = torch.empty((rows, width), dtype=_COMPLEX, device=device)
    chunk = max(1, min(width, (1 << 20) // max(rows * full, 1)))
    z = torch.ones((rows, full), dtype=_COMPLEX, device=device)
    for start in range(0, width, chunk):
        stop = min(width, start + chunk)
        powers = torch.cumprod(z1[:, :, None].expand(rows, full, stop - start), dim=2)
        powers *= z[:, :, None]
        z = powers[:, :, -1].clone()
        powers -= 1.0
        inverse = 1.0 / torch.arange(start + 1, stop + 1, dtype=_REAL, device=device)
        powers *= factor[:, :, None] * inverse
        powers += base[:, :, None]
        product = powers.reshape(rows, groups, 64, stop - start).prod(dim=2)
        out[:, start:stop] = torch.log(product).sum(dim=1)
    return out


def block(w: np.ndarray, a: np.ndarray, b: np.ndarray, p: float, tol: np.ndarray,
          theta: np.ndarray, log_delta: np.ndarray, device: str = "cpu") -> _Rows:
    """``exact._block`` with its heavy arrays on ``device`` (a torch device string); same ``_Rows``."""
    dev = torch.device(device)

    def put(x) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(x), dtype=_REAL, device=dev)

    def get(x: torch.Tensor) -> np.ndarray:
        return x.detach().cpu().numpy()

    c, radius, cap = _series(p)
    kappa2 = 2 * c[2]
    W = put(w)
    square = W * W
    sums = get(torch.stack([W.sum(dim=1), square.sum(dim=1), (square * W).sum(dim=1),
                            (square * square).sum(dim=1)], dim=1))
    mu = c[1] * sums[:, 0]
    sigma = np.sqrt(kappa2 * sums[:, 1])
    beta = b + mu
    support_low = get(torch.clamp(W, max=0.0).sum(dim=1)) - mu
    support_high = get(torch.clamp(W, min=0.0).sum(dim=1)) - mu

    t_max = theta / sigma
    tau = RATIO * radius / t_max
    tau_d = put(tau)
    size = W.abs()
    small = size <= tau_d[:, None]
    inner = size <= (STAR / (RATIO * radius)) * tau_d[:, None]
    medium = get((small & ~inner).sum(dim=1))
    sums_small_d, sums_inner_d = _power_sums(torch.where(small, W / tau_d[:, None], 0.0), ORDER + 1, inner)
    sums_small, sums_inner = get(sums_small_d), get(sums_inner_d)
    big_d = _gather_large(W, ~small)
    big = get(big_d)

    def remainder(x: np.ndarray, sums_used: np.ndarray = sums_small) -> np.ndarray:
        return _remainder(x, sums_used, radius, cap)

    # 1. the window and 2. the periodic C^1 piecewise cubic g (rows x O(1) and rows x large weights: numpy)
    low, high, lower_free, upper_free = _window(big, tau, sigma, t_max, p, sums_small, log_delta,
                                                support_low, support_high)
    g = _periodic_cubic(low, high, beta, a, p)
    period, position, jumps, c0 = g.period, g.position, g.jumps, g.c0

    # 3. the Fourier terms k = 1..K (rows x K: on the device)
    raw = np.floor(t_max * period / (2 * math.pi))
    too_short = raw < 1
    terms = np.clip(raw, 1, MAX_TERMS).astype(np.int64)
    width = int(terms.max())
    k_d = torch.arange(1, width + 1, dtype=_REAL, device=dev)
    period_d, mu_d = put(period), put(mu)
    t = 2 * math.pi * k_d[None, :] / period_d[:, None]
    used = k_d[None, :] <= put(terms.astype(float))[:, None]
    t = torch.where(used, t, 0.0)
    log_phi = _horner(c, sums_small_d, 1j * t * tau_d[:, None]) + _log_phi_large(big_d, t[:, 0], width, p)
    log_phi = log_phi - 0.5j * p * t * big_d.sum(dim=1)[:, None]
    x_t = t * tau_d[:, None]
    ratio_t = x_t.abs() / radius
    series = cap / (1 - ratio_t) * ratio_t ** (ORDER + 1) * sums_small_d[:, ORDER + 1, None]
    zero_c = torch.zeros((), dtype=_COMPLEX, device=dev)
    phi = torch.where(used, torch.exp(log_phi), zero_c)
    nonzero = get((W != 0.0).sum(dim=1))
    atom = np.exp(nonzero * math.log1p(-p))
    atom = np.where((low <= -mu) & (-mu <= high), atom, 0.0)
    at_zero = _pieces(b, a, p, right=True)[:, 0]
    atom_d = put(atom)
    phi = torch.where(used, phi - atom_d[:, None] * torch.exp(-1j * t * mu_d[:, None]), zero_c)
    it = 1j * torch.where(used, t, 1.0)
    jumps_d, position_d = put(jumps), put(position)
    coefficient = torch.zeros(t.shape, dtype=_COMPLEX, device=dev)
    scale = torch.zeros(t.shape, dtype=_REAL, device=dev)
    for j in range(4):
        phase = torch.exp(-1j * t * position_d[:, j, None])
        for order in range(1, 4):
            term = jumps_d[:, j, order, None] / it ** (order + 1)
            coefficient += term * phase
            scale += term.abs()
    coefficient = torch.where(used, coefficient / period_d[:, None], zero_c)
    scale = scale / period_d[:, None]
    value = atom * at_zero + c0 * (1 - atom) + 2 * get((coefficient * phi).real.sum(dim=1))

    # 4. bounds
    magnitude = 2 * coefficient.abs() * phi.abs()
    series_bound = get((magnitude * torch.expm1(series)).sum(dim=1))
    x_env = (t_max * tau)[:, None]
    log_env = (_horner_numpy(c, sums_inner, 1j * x_env).real + remainder(x_env, sums_inner))[:, 0]
    log_env += medium * float(_log_envelope(np.array(STAR), p)) + _log_envelope(t_max[:, None] * big, p).sum(axis=1)
    envelope = np.exp(np.minimum(log_env, 0.0)) + atom
    visible = np.flatnonzero(atom > 1e-30)
    if visible.size:
        rows_d = torch.as_tensor(visible, device=dev)
        w_vis = W[rows_d]
        s_env = put(t_max[visible])[:, None] * w_vis
        bar = torch.where(w_vis != 0.0, torch.clamp(2.0 / torch.clamp(s_env.abs(), min=1e-300), max=1.0), 0.0)
        without = atom[visible] * np.expm1(get(torch.log1p(p / (1 - p) * bar).sum(dim=1)))
        envelope[visible] = np.minimum(envelope[visible], without)
    truncation = _truncation_bound(g, terms, too_short, envelope)
    window = _window_bound(g, a, beta, p, sums, low, high, log_delta, lower_free, upper_free)
    spread = get((magnitude * (1 + log_phi.abs() + k_d[None, :])).sum(dim=1))
    rounding = 8 * _EPS * (np.abs(c0) + atom * np.abs(at_zero) + spread + 2 * get((scale * phi.abs()).sum(dim=1)))
    bound = window + truncation + series_bound + rounding
    return _Rows(value=value, bound=bound, window=window, truncation=truncation, series=series_bound,
                 rounding=rounding, terms=terms, decay=log_env / theta**2)
