"""Stable losses of the activation families, generated from rugtheory/symbolic/families.py.

Do not edit: run ``python -m rugtheory.symbolic.codegen_families``. ``tails[k + 1]`` holds
J_k(s) at the point in question. For each family, region j (the mean m = a u + beta inside
piece j) and breakpoint i (derivations/08_activation_families.md):

* ``rj_poly``: (E F_j - u)^2 + Var F_j at u, a polynomial of degree ``poly_degree`` in u,
  written in w = am1 u + beta (am1 = a - 1, given exactly) and m = a u + beta;
* ``rj_bi_tail``: du/ds * W at an endpoint (u, s): a region contributes tail(lo) - tail(hi);
* ``rj_bi_point``: breakpoint i's correction sum_k C_k(u) J_k(s) at u (quadrature, inactive).

``FAMILIES[name]["regions"][j]`` is (poly, ((i, above, tail, point), ...)); ``above`` says
that s = (b_i - m)/sigma (else (m - b_i)/sigma). ``identity_optimum`` is the stationary point
of the identity's loss at the rank bound; ``power_M0`` and ``power_N`` are the kernels of
the ReLU^alpha correction with dPhi = Phi(v0) - Phi(v1), dphi = phi(v1) - phi(v0) and
resid = (a - 1) y + beta (the caller forms it without cancellation).
"""

# ruff: noqa


def jumprelu_breakpoints(theta):
    return (theta,)


def jumprelu_r0_poly(a, am1, beta, sigma, theta, u):
    return (-u)**2


def jumprelu_r0_b0_tail(a, sigma, theta, u, tails):
    return sigma*(-1/3*sigma**2*tails[4] - sigma*theta*tails[3] + sigma*u*tails[3] - theta**2*tails[2] + 2*theta*u*tails[2] - 1/3*sigma**2*tails[4]/a - sigma*theta*tails[3]/a)/a


def jumprelu_r0_b0_point(a, sigma, theta, u, tails):
    return sigma**2*tails[3] - 2*sigma*(-theta + u)*tails[2] - theta*(-theta + 2*u)*tails[1]


def jumprelu_r1_poly(a, am1, beta, sigma, theta, u):
    w = am1 * u + beta  # the residual m - u, with am1 = a - 1 given exactly
    return (w)**2 + sigma**2


def jumprelu_r1_b0_tail(a, sigma, theta, u, tails):
    return sigma*(-1/3*sigma**2*tails[4] + sigma*theta*tails[3] - sigma*u*tails[3] - theta**2*tails[2] + 2*theta*u*tails[2] - 1/3*sigma**2*tails[4]/a + sigma*theta*tails[3]/a)/a


def jumprelu_r1_b0_point(a, sigma, theta, u, tails):
    return -sigma**2*tails[3] - 2*sigma*(-theta + u)*tails[2] + theta*(-theta + 2*u)*tails[1]


def soft_threshold_breakpoints(theta):
    return (-theta, theta,)


def soft_threshold_r0_poly(a, am1, beta, sigma, theta, u):
    w = am1 * u + beta  # the residual m - u, with am1 = a - 1 given exactly
    return (theta + w)**2 + sigma**2


def soft_threshold_r0_b0_tail(a, sigma, theta, u, tails):
    return sigma**2*((1/3)*sigma*tails[4] - u*tails[3] + (1/3)*sigma*tails[4]/a)/a


def soft_threshold_r0_b0_point(a, sigma, theta, u, tails):
    return -sigma**2*tails[3] + 2*sigma*u*tails[2]


def soft_threshold_r0_b1_tail(a, sigma, theta, u, tails):
    return sigma**2*(-1/3*sigma*tails[4] + u*tails[3] - 1/3*sigma*tails[4]/a)/a


def soft_threshold_r0_b1_point(a, sigma, theta, u, tails):
    return sigma**2*tails[3] - 2*sigma*u*tails[2]


def soft_threshold_r1_poly(a, am1, beta, sigma, theta, u):
    return (-u)**2


def soft_threshold_r1_b0_tail(a, sigma, theta, u, tails):
    return sigma**2*((1/3)*sigma*tails[4] + u*tails[3] + (1/3)*sigma*tails[4]/a)/a


def soft_threshold_r1_b0_point(a, sigma, theta, u, tails):
    return sigma**2*tails[3] + 2*sigma*u*tails[2]


def soft_threshold_r1_b1_tail(a, sigma, theta, u, tails):
    return sigma**2*(-1/3*sigma*tails[4] + u*tails[3] - 1/3*sigma*tails[4]/a)/a


def soft_threshold_r1_b1_point(a, sigma, theta, u, tails):
    return sigma**2*tails[3] - 2*sigma*u*tails[2]


def soft_threshold_r2_poly(a, am1, beta, sigma, theta, u):
    w = am1 * u + beta  # the residual m - u, with am1 = a - 1 given exactly
    return (-theta + w)**2 + sigma**2


def soft_threshold_r2_b0_tail(a, sigma, theta, u, tails):
    return sigma**2*((1/3)*sigma*tails[4] + u*tails[3] + (1/3)*sigma*tails[4]/a)/a


def soft_threshold_r2_b0_point(a, sigma, theta, u, tails):
    return sigma**2*tails[3] + 2*sigma*u*tails[2]


def soft_threshold_r2_b1_tail(a, sigma, theta, u, tails):
    return -sigma**2*((1/3)*sigma*tails[4] + u*tails[3] + (1/3)*sigma*tails[4]/a)/a


def soft_threshold_r2_b1_point(a, sigma, theta, u, tails):
    return -sigma**2*tails[3] - 2*sigma*u*tails[2]


def identity_breakpoints(theta):
    return ()


def identity_r0_poly(a, am1, beta, sigma, theta, u):
    w = am1 * u + beta  # the residual m - u, with am1 = a - 1 given exactly
    return (w)**2 + sigma**2


def power1_breakpoints(theta):
    return (0,)


def power1_r0_poly(a, am1, beta, sigma, theta, u):
    return (-u)**2


def power1_r0_b0_tail(a, sigma, theta, u, tails):
    return sigma**2*(-1/3*sigma*tails[4] + u*tails[3] - 1/3*sigma*tails[4]/a)/a


def power1_r0_b0_point(a, sigma, theta, u, tails):
    return sigma**2*tails[3] - 2*sigma*u*tails[2]


def power1_r1_poly(a, am1, beta, sigma, theta, u):
    w = am1 * u + beta  # the residual m - u, with am1 = a - 1 given exactly
    return (w)**2 + sigma**2


def power1_r1_b0_tail(a, sigma, theta, u, tails):
    return -sigma**2*((1/3)*sigma*tails[4] + u*tails[3] + (1/3)*sigma*tails[4]/a)/a


def power1_r1_b0_point(a, sigma, theta, u, tails):
    return -sigma**2*tails[3] - 2*sigma*u*tails[2]


def power2_breakpoints(theta):
    return (0,)


def power2_r0_poly(a, am1, beta, sigma, theta, u):
    return (-u)**2


def power2_r0_b0_tail(a, sigma, theta, u, tails):
    return (1/30)*sigma**3*(-6*sigma**2*tails[6] + 20*u*tails[4] - 5*sigma*tails[5]/a)/a


def power2_r0_b0_point(a, sigma, theta, u, tails):
    return sigma**4*tails[5] - 2*sigma**2*u*tails[3]


def power2_r1_poly(a, am1, beta, sigma, theta, u):
    w = am1 * u + beta  # the residual m - u, with am1 = a - 1 given exactly
    m = a * u + beta
    return (sigma**2 + u**2 + 2*u*w - u + w**2)**2 + 2*sigma**2*(2*m**2 + sigma**2)


def power2_r1_b0_tail(a, sigma, theta, u, tails):
    return (1/30)*sigma**3*(-6*sigma**2*tails[6] + 20*u*tails[4] + 5*sigma*tails[5]/a)/a


def power2_r1_b0_point(a, sigma, theta, u, tails):
    return -sigma**4*tails[5] + 2*sigma**2*u*tails[3]


def power3_breakpoints(theta):
    return (0,)


def power3_r0_poly(a, am1, beta, sigma, theta, u):
    return (-u)**2


def power3_r0_b0_tail(a, sigma, theta, u, tails):
    return (1/70)*sigma**4*(-10*sigma**3*tails[8] + 35*u*tails[5] - 7*sigma*tails[6]/a)/a


def power3_r0_b0_point(a, sigma, theta, u, tails):
    return sigma**6*tails[7] - 2*sigma**3*u*tails[4]


def power3_r1_poly(a, am1, beta, sigma, theta, u):
    w = am1 * u + beta  # the residual m - u, with am1 = a - 1 given exactly
    m = a * u + beta
    return (3*sigma**2*u + 3*sigma**2*w + u**3 + 3*u**2*w + 3*u*w**2 - u + w**3)**2 + 3*sigma**2*(3*m**4 + 12*m**2*sigma**2 + 5*sigma**4)


def power3_r1_b0_tail(a, sigma, theta, u, tails):
    return -1/70*sigma**4*(10*sigma**3*tails[8] + 35*u*tails[5] + 7*sigma*tails[6]/a)/a


def power3_r1_b0_point(a, sigma, theta, u, tails):
    return -sigma**6*tails[7] - 2*sigma**3*u*tails[4]


def power4_breakpoints(theta):
    return (0,)


def power4_r0_poly(a, am1, beta, sigma, theta, u):
    return (-u)**2


def power4_r0_b0_tail(a, sigma, theta, u, tails):
    return (1/45)*sigma**5*(-5*sigma**4*tails[10] + 18*u*tails[6] - 3*sigma*tails[7]/a)/a


def power4_r0_b0_point(a, sigma, theta, u, tails):
    return sigma**8*tails[9] - 2*sigma**4*u*tails[5]


def power4_r1_poly(a, am1, beta, sigma, theta, u):
    w = am1 * u + beta  # the residual m - u, with am1 = a - 1 given exactly
    m = a * u + beta
    return (3*sigma**4 + 6*sigma**2*u**2 + 12*sigma**2*u*w + 6*sigma**2*w**2 + u**4 + 4*u**3*w + 6*u**2*w**2 + 4*u*w**3 - u + w**4)**2 + 8*sigma**2*(2*m**6 + 21*m**4*sigma**2 + 48*m**2*sigma**4 + 12*sigma**6)


def power4_r1_b0_tail(a, sigma, theta, u, tails):
    return (1/45)*sigma**5*(-5*sigma**4*tails[10] + 18*u*tails[6] + 3*sigma*tails[7]/a)/a


def power4_r1_b0_point(a, sigma, theta, u, tails):
    return -sigma**8*tails[9] + 2*sigma**4*u*tails[5]


FAMILIES = {
    "jumprelu": {
        "breakpoints": jumprelu_breakpoints,
        "max_tail_order": 3,
        "poly_degree": 2,
        "regions": ((jumprelu_r0_poly, ((0, True, jumprelu_r0_b0_tail, jumprelu_r0_b0_point),)), (jumprelu_r1_poly, ((0, False, jumprelu_r1_b0_tail, jumprelu_r1_b0_point),))),
    },
    "soft_threshold": {
        "breakpoints": soft_threshold_breakpoints,
        "max_tail_order": 3,
        "poly_degree": 2,
        "regions": ((soft_threshold_r0_poly, ((0, True, soft_threshold_r0_b0_tail, soft_threshold_r0_b0_point), (1, True, soft_threshold_r0_b1_tail, soft_threshold_r0_b1_point))), (soft_threshold_r1_poly, ((0, False, soft_threshold_r1_b0_tail, soft_threshold_r1_b0_point), (1, True, soft_threshold_r1_b1_tail, soft_threshold_r1_b1_point))), (soft_threshold_r2_poly, ((0, False, soft_threshold_r2_b0_tail, soft_threshold_r2_b0_point), (1, False, soft_threshold_r2_b1_tail, soft_threshold_r2_b1_point)))),
    },
    "identity": {
        "breakpoints": identity_breakpoints,
        "max_tail_order": 0,
        "poly_degree": 2,
        "regions": ((identity_r0_poly, ()),),
    },
    "power1": {
        "breakpoints": power1_breakpoints,
        "max_tail_order": 3,
        "poly_degree": 2,
        "regions": ((power1_r0_poly, ((0, True, power1_r0_b0_tail, power1_r0_b0_point),)), (power1_r1_poly, ((0, False, power1_r1_b0_tail, power1_r1_b0_point),))),
    },
    "power2": {
        "breakpoints": power2_breakpoints,
        "max_tail_order": 5,
        "poly_degree": 4,
        "regions": ((power2_r0_poly, ((0, True, power2_r0_b0_tail, power2_r0_b0_point),)), (power2_r1_poly, ((0, False, power2_r1_b0_tail, power2_r1_b0_point),))),
    },
    "power3": {
        "breakpoints": power3_breakpoints,
        "max_tail_order": 7,
        "poly_degree": 6,
        "regions": ((power3_r0_poly, ((0, True, power3_r0_b0_tail, power3_r0_b0_point),)), (power3_r1_poly, ((0, False, power3_r1_b0_tail, power3_r1_b0_point),))),
    },
    "power4": {
        "breakpoints": power4_breakpoints,
        "max_tail_order": 9,
        "poly_degree": 8,
        "regions": ((power4_r0_poly, ((0, True, power4_r0_b0_tail, power4_r0_b0_point),)), (power4_r1_poly, ((0, False, power4_r1_b0_tail, power4_r1_b0_point),))),
    },
}


def identity_optimum(p, kappa):
    """(a, beta) minimising the identity's loss with sigma = kappa a."""
    return (p*(3*p - 4)/(-12*kappa**2 + 3*p**2 - 4*p), -6*kappa**2*p/(-12*kappa**2 + 3*p**2 - 4*p))


def power_M0(a, sigma, resid, dPhi, dphi):
    return (1) / (a) * dPhi


def power_N(a, sigma, resid, dPhi, dphi):
    return (resid) / (a**2) * dPhi + (sigma) / (a**2) * dphi
