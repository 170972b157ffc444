"""Generic stratified Monte Carlo for any elementwise activation f (issue 3); lives in numeric.montecarlo.

THEORY.md, "Mean-field (large n) limit", with the ReLU replaced by f:

    l_f = (1 - p) E[f(beta + sigma Z)^2] + p E[(f(a u + beta + sigma Z) - u)^2],

Z ~ N(0, 1), u ~ U(0, 1). As in ``rugtheory.numeric.montecarlo`` the two strata are sampled
separately and combined with exact weights; the standard error is
sqrt((1 - p)^2 var_off / n_off + p^2 var_on / n_on).
"""

from __future__ import annotations

from ..numeric.montecarlo import family_loss_mc

__all__ = ["family_loss_mc"]

