"""Gaussian tails J_k(s) = E[(Z - s)_+^k] in mpmath (the high-precision twin of ``tails``).

J_{-1} = phi, J_0 = Phi(-s), J_1 = phi(s) - s Phi(-s), J_k = -s J_{k-1} + (k-1) J_{k-2}
(integration by parts). The forward recurrence cancels for large s, losing about
k log10(1 + s^2) digits, so it runs with that many guard digits on top of the caller's.
"""

from __future__ import annotations

import mpmath

__all__ = ["gaussian_tails_mp"]


def gaussian_tails_mp(s, max_order: int) -> list[mpmath.mpf]:
    """[J_{-1}(s), J_0(s), ..., J_max_order(s)] at the current mpmath precision."""
    s = mpmath.mpf(s)
    guard = 10 + int(max_order * mpmath.log10(1 + s * s)) if s > 0 else 10
    with mpmath.extradps(guard):
        density = mpmath.npdf(s)
        tails = [density, mpmath.ncdf(-s)]
        for k in range(1, max_order + 1):
            previous = tails[-2] if k > 1 else density
            tails.append(-s * tails[-1] + (k - 1) * previous if k > 1 else density - s * tails[-1])
    return [+value for value in tails]
