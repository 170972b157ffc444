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
    GAP,
    MAX_TERMS,
    ORDER,
    RATIO,
    STAR,
    _breakpoints,
    _log_envelope,
    _piece_high,
    _piece_low,
    _piece_middle,
    _pieces,
    _Rows,
    _series,
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
        """Cauchy bound on the series' tail for |x| = |t| tau <= r R (numpy, as in ``exact``)."""
        ratio = np.abs(x) / radius
        return cap / (1 - ratio) * ratio ** (ORDER + 1) * sums_used[:, ORDER + 1, None]

    # 1. the window (rows x 15 and rows x large weights: numpy, as in exact._block)
    ladder = np.minimum(2.0 ** (np.arange(-2, 13) / 2)[None, :] / sigma[:, None], t_max[:, None])
    shell = np.ceil(np.log2(np.maximum(np.abs(big), 1e-300) / tau[:, None])).clip(0, 60)
    shell = np.where(big != 0, shell, -1)
    bennett = np.zeros_like(ladder)
    for s in np.unique(shell[shell >= 0]):
        top = tau * 2.0**s
        power = np.where(shell == s, big * big, 0.0).sum(axis=1)
        x = ladder * top[:, None]
        with np.errstate(over="ignore", invalid="ignore"):
            bennett += np.where(power[:, None] > 0, kappa2 * power[:, None] / top[:, None] ** 2 * (np.expm1(x) - x), 0.0)
    edges = []
    for sign in (1.0, -1.0):
        lam = sign * ladder
        log_m = _horner_numpy(c, sums_small, lam * tau[:, None]) + remainder(lam * tau[:, None]) + bennett
        edges.append(np.min((log_m - log_delta[:, None]) / ladder, axis=1))
    upper_free, lower_free = edges[0] < support_high, -edges[1] > support_low
    low = np.where(lower_free, -edges[1], support_low)
    high = np.where(upper_free, edges[0], support_high)

    # 2. the periodic C^1 piecewise cubic g (per row: numpy)
    gap = GAP * (high - low)
    period = high - low + gap
    left = _pieces(low + beta, a, p, right=True)
    right = _pieces(high + beta, a, p, right=False)
    y0, d0, y1, d1 = right[:, 0], right[:, 1], left[:, 0], left[:, 1]
    blend2_start = (6 * (y1 - y0) / gap - 4 * d0 - 2 * d1) / gap
    blend2_end = (-6 * (y1 - y0) / gap + 2 * d0 + 4 * d1) / gap
    blend3 = (12 * (y0 - y1) / gap + 6 * (d0 + d1)) / gap**2
    first, second = _breakpoints(a)
    position = np.stack([low, np.clip(first - beta, low, high), np.clip(second - beta, low, high), high], axis=1)
    m_at = position + beta[:, None]
    piece = [_piece_low, _piece_middle, _piece_high]
    blend_end = np.stack([y1, d1, blend2_end, blend3], -1)
    blend_start = np.stack([y0, d0, blend2_start, blend3], -1)
    jumps = np.stack([
        piece[0](m_at[:, 0], a, p) - blend_end,
        piece[1](m_at[:, 1], a, p) - piece[0](m_at[:, 1], a, p),
        piece[2](m_at[:, 2], a, p) - piece[1](m_at[:, 2], a, p),
        blend_start - piece[2](m_at[:, 3], a, p),
    ], axis=1)
    for k in (3, 2, 1):
        same = position[:, k] == position[:, k - 1]
        jumps[:, k - 1] += np.where(same[:, None], jumps[:, k], 0.0)
        jumps[:, k] = np.where(same[:, None], 0.0, jumps[:, k])
    jumps[:, :, 0] = 0.0
    integral = 0.5 * gap * (y0 + y1) + gap * gap * (d0 - d1) / 12
    node = 0.5 / math.sqrt(3.0)
    for k in range(3):
        start, stop = m_at[:, k], m_at[:, k + 1]
        middle, width = 0.5 * (start + stop), stop - start
        for offset in (-node, node):
            integral = integral + 0.5 * width * piece[k](middle + offset * width, a, p)[:, 0]
    c0 = integral / period

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
    size = np.abs(jumps[:, :, 1:]).sum(axis=1)
    tail = sum(size[:, o - 1] * (period / (2 * math.pi)) ** (o + 1) * terms.astype(float) ** (-o) / o
               for o in (1, 2, 3))
    truncation = np.where(too_short, np.inf, envelope * 2 * tail / period)
    alpha0, alpha2 = p * (2 * a * a + 1), 1 + p
    g_max = np.maximum(alpha0 + alpha2 * np.maximum((low + beta) ** 2, (high + beta) ** 2),
                       np.maximum(np.abs(y0), np.abs(y1)) + 4 / 27 * gap * (np.abs(d0) + np.abs(d1)))
    kappa3, kappa4 = 6 * c[3] * sums[:, 2], 24 * c[4] * sums[:, 3]
    second_moment = kappa2 * sums[:, 1] + beta**2
    fourth_moment = kappa4 + 3 * (kappa2 * sums[:, 1]) ** 2 + 4 * beta * kappa3 + 6 * beta**2 * kappa2 * sums[:, 1] + beta**4
    constant = alpha0 + g_max
    q_square = constant**2 + 2 * constant * alpha2 * second_moment + alpha2**2 * fourth_moment
    outside = np.exp(log_delta) * (upper_free.astype(float) + lower_free.astype(float))
    window = np.sqrt(np.maximum(q_square, 0.0) * outside)
    spread = get((magnitude * (1 + log_phi.abs() + k_d[None, :])).sum(dim=1))
    rounding = 8 * _EPS * (np.abs(c0) + atom * np.abs(at_zero) + spread + 2 * get((scale * phi.abs()).sum(dim=1)))
    bound = window + truncation + series_bound + rounding
    return _Rows(value=value, bound=bound, window=window, truncation=truncation, series=series_bound,
                 rounding=rounding, terms=terms, decay=log_env / theta**2)
