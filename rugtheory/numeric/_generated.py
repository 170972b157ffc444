"""Stable mean-field loss and tied derivatives, generated from rugtheory/symbolic/stable.py.

Do not edit: run ``python -m rugtheory.symbolic.codegen``. ``tails[k + 1]`` holds J_k(s) at
the point in question (``rugtheory.numeric.tails``). For each quantity and region:

* ``poly``: the polynomial part of the integrand at u (integrated by Simpson's rule); it takes
  ``am1 = a - 1`` separately, since near p -> 0 the optimum has a - 1 ~ sigma, below float64's
  resolution of a itself;
* ``tail``: du/ds * W at an endpoint (u, s), so a region contributes tail(lo) - tail(hi);
* ``point``: the whole integrand at u, for quadrature;
* ``inactive``: the inactive part's quantity with s = |beta|/sigma.
"""

# ruff: noqa: E501


def loss_L_poly(a, am1, beta, sigma, u):
    return u**2


def loss_L_tail(a, beta, sigma, u, tails):
    return -1/3*sigma**2*(a*(sigma*tails[4] - 3*u*tails[3]) + sigma*tails[4])/a**2


def loss_L_point(a, am1, beta, sigma, u, tails):
    return u**2 + (sigma**2*tails[3] - 2*sigma*u*tails[2])


def loss_L_inactive(a, beta, sigma, tails):
    return sigma**2*tails[3]


def loss_R_poly(a, am1, beta, sigma, u):
    w = am1 * u + beta  # the linear residual m - u, with am1 = a - 1 given exactly
    return sigma**2 + w**2


def loss_R_tail(a, beta, sigma, u, tails):
    return -1/3*sigma**2*(a*(sigma*tails[4] + 3*u*tails[3]) + sigma*tails[4])/a**2


def loss_R_point(a, am1, beta, sigma, u, tails):
    w = am1 * u + beta  # the linear residual m - u, with am1 = a - 1 given exactly
    return sigma**2 + w**2 + (-sigma**2*tails[3] - 2*sigma*u*tails[2])


def loss_R_inactive(a, beta, sigma, tails):
    return beta**2 - sigma**2*tails[3] + sigma**2


def d_a_L_poly(a, am1, beta, sigma, u):
    return 0.0 * a


def d_a_L_tail(a, beta, sigma, u, tails):
    return -1/3*sigma*(a*(6*beta*u*tails[2] + 2*sigma**2*tails[4] - 3*sigma*(beta + u)*tails[3]) - sigma*(3*beta*tails[3] - sigma*tails[4]))/a**3


def d_a_L_point(a, am1, beta, sigma, u, tails):
    return 2*beta*u*tails[1]/a + 2*sigma**2*tails[3]/a - 2*sigma*(beta + u)*tails[2]/a


def d_a_L_inactive(a, beta, sigma, tails):
    return 2*sigma*(-beta*tails[2] + sigma*tails[3])/a


def d_a_R_poly(a, am1, beta, sigma, u):
    w = am1 * u + beta  # the linear residual m - u, with am1 = a - 1 given exactly
    return 2*(u*w + sigma**2/a)


def d_a_R_tail(a, beta, sigma, u, tails):
    return -1/3*sigma*(a*(6*beta*u*tails[2] + 2*sigma**2*tails[4] + 3*sigma*(beta + u)*tails[3]) + sigma*(3*beta*tails[3] + sigma*tails[4]))/a**3


def d_a_R_point(a, am1, beta, sigma, u, tails):
    w = am1 * u + beta  # the linear residual m - u, with am1 = a - 1 given exactly
    return 2*(u*w + sigma**2/a) + (-2*beta*u*tails[1]/a - 2*sigma**2*tails[3]/a - 2*sigma*(beta + u)*tails[2]/a)


def d_a_R_inactive(a, beta, sigma, tails):
    return 2*sigma*(-beta*tails[2] - sigma*tails[3] + sigma)/a


def d_beta_L_poly(a, am1, beta, sigma, u):
    return 0.0 * a


def d_beta_L_tail(a, beta, sigma, u, tails):
    return -sigma*(a*(sigma*tails[3] - 2*u*tails[2]) + sigma*tails[3])/a**2


def d_beta_L_point(a, am1, beta, sigma, u, tails):
    return 2*sigma*tails[2] - 2*u*tails[1]


def d_beta_L_inactive(a, beta, sigma, tails):
    return 2*sigma*tails[2]


def d_beta_R_poly(a, am1, beta, sigma, u):
    w = am1 * u + beta  # the linear residual m - u, with am1 = a - 1 given exactly
    return 2*w


def d_beta_R_tail(a, beta, sigma, u, tails):
    return sigma*(a*(sigma*tails[3] + 2*u*tails[2]) + sigma*tails[3])/a**2


def d_beta_R_point(a, am1, beta, sigma, u, tails):
    w = am1 * u + beta  # the linear residual m - u, with am1 = a - 1 given exactly
    return 2*w + (2*sigma*tails[2] + 2*u*tails[1])


def d_beta_R_inactive(a, beta, sigma, tails):
    return 2*beta + 2*sigma*tails[2]


def d_aa_L_poly(a, am1, beta, sigma, u):
    return 0.0 * a


def d_aa_L_tail(a, beta, sigma, u, tails):
    return (2/3)*(3*a*beta**2*u*tails[1] - a*sigma*(3*beta**2*tails[2] - 3*beta*sigma*tails[3] + sigma**2*tails[4]) - 3*beta**2*sigma*tails[2])/a**4


def d_aa_L_point(a, am1, beta, sigma, u, tails):
    return 2*beta**2*tails[1]/a**2 - 2*beta**2*u*tails[0]/(a**2*sigma) - 4*beta*sigma*tails[2]/a**2 + 2*sigma**2*tails[3]/a**2


def d_aa_L_inactive(a, beta, sigma, tails):
    return 2*(beta**2*tails[1] - 2*beta*sigma*tails[2] + sigma**2*tails[3])/a**2


def d_aa_R_poly(a, am1, beta, sigma, u):
    return 2*(u**2 + sigma**2/a**2)


def d_aa_R_tail(a, beta, sigma, u, tails):
    return -2/3*(3*a*beta**2*u*tails[1] + a*sigma*(3*beta**2*tails[2] + 3*beta*sigma*tails[3] + sigma**2*tails[4]) + 3*beta**2*sigma*tails[2])/a**4


def d_aa_R_point(a, am1, beta, sigma, u, tails):
    return 2*(u**2 + sigma**2/a**2) + (-2*beta**2*tails[1]/a**2 - 2*beta**2*u*tails[0]/(a**2*sigma) - 4*beta*sigma*tails[2]/a**2 - 2*sigma**2*tails[3]/a**2)


def d_aa_R_inactive(a, beta, sigma, tails):
    return 2*(-beta**2*tails[1] - 2*beta*sigma*tails[2] - sigma**2*tails[3] + sigma**2)/a**2


def d_abeta_L_poly(a, am1, beta, sigma, u):
    return 0.0 * a


def d_abeta_L_tail(a, beta, sigma, u, tails):
    return (-2*a*beta*u*tails[1] + a*sigma*(2*beta*tails[2] - sigma*tails[3]) + 2*beta*sigma*tails[2])/a**3


def d_abeta_L_point(a, am1, beta, sigma, u, tails):
    return -2*beta*tails[1]/a + 2*beta*u*tails[0]/(a*sigma) + 2*sigma*tails[2]/a


def d_abeta_L_inactive(a, beta, sigma, tails):
    return 2*(-beta*tails[1] + sigma*tails[2])/a


def d_abeta_R_poly(a, am1, beta, sigma, u):
    return 2*u


def d_abeta_R_tail(a, beta, sigma, u, tails):
    return (2*a*beta*u*tails[1] + a*sigma*(2*beta*tails[2] + sigma*tails[3]) + 2*beta*sigma*tails[2])/a**3


def d_abeta_R_point(a, am1, beta, sigma, u, tails):
    return 2*u + (2*beta*tails[1]/a + 2*beta*u*tails[0]/(a*sigma) + 2*sigma*tails[2]/a)


def d_abeta_R_inactive(a, beta, sigma, tails):
    return 2*(beta*tails[1] + sigma*tails[2])/a


def d_betabeta_L_poly(a, am1, beta, sigma, u):
    return 0.0 * a


def d_betabeta_L_tail(a, beta, sigma, u, tails):
    return 2*(-a*sigma*tails[2] + a*u*tails[1] - sigma*tails[2])/a**2


def d_betabeta_L_point(a, am1, beta, sigma, u, tails):
    return 2*tails[1] - 2*u*tails[0]/sigma


def d_betabeta_L_inactive(a, beta, sigma, tails):
    return 2*tails[1]


def d_betabeta_R_poly(a, am1, beta, sigma, u):
    return 2


def d_betabeta_R_tail(a, beta, sigma, u, tails):
    return -2*(a*sigma*tails[2] + a*u*tails[1] + sigma*tails[2])/a**2


def d_betabeta_R_point(a, am1, beta, sigma, u, tails):
    return 2 + (-2*tails[1] - 2*u*tails[0]/sigma)


def d_betabeta_R_inactive(a, beta, sigma, tails):
    return 2 - 2*tails[1]


MAX_TAIL_ORDER = 3


FORMS = {
    ("loss", "L"): (loss_L_poly, loss_L_tail, loss_L_point, loss_L_inactive),
    ("loss", "R"): (loss_R_poly, loss_R_tail, loss_R_point, loss_R_inactive),
    ("d_a", "L"): (d_a_L_poly, d_a_L_tail, d_a_L_point, d_a_L_inactive),
    ("d_a", "R"): (d_a_R_poly, d_a_R_tail, d_a_R_point, d_a_R_inactive),
    ("d_beta", "L"): (d_beta_L_poly, d_beta_L_tail, d_beta_L_point, d_beta_L_inactive),
    ("d_beta", "R"): (d_beta_R_poly, d_beta_R_tail, d_beta_R_point, d_beta_R_inactive),
    ("d_aa", "L"): (d_aa_L_poly, d_aa_L_tail, d_aa_L_point, d_aa_L_inactive),
    ("d_aa", "R"): (d_aa_R_poly, d_aa_R_tail, d_aa_R_point, d_aa_R_inactive),
    ("d_abeta", "L"): (d_abeta_L_poly, d_abeta_L_tail, d_abeta_L_point, d_abeta_L_inactive),
    ("d_abeta", "R"): (d_abeta_R_poly, d_abeta_R_tail, d_abeta_R_point, d_abeta_R_inactive),
    ("d_betabeta", "L"): (d_betabeta_L_poly, d_betabeta_L_tail, d_betabeta_L_point, d_betabeta_L_inactive),
    ("d_betabeta", "R"): (d_betabeta_R_poly, d_betabeta_R_tail, d_betabeta_R_point, d_betabeta_R_inactive),
}
