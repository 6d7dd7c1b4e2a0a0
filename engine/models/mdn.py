"""Mixture density output for pen offsets (Graves 2013, section 4.1): M bivariate Gaussians for
(dx, dy) plus a Bernoulli for the pen lift.

Raw parameter layout per step (size 6M + 1), shared with ``engine.core.sampling.mdn_params``::

    [e_hat, pi_hat(M), mu1(M), mu2(M), sig1_hat(M), sig2_hat(M), rho_hat(M)]

e = sigmoid(e_hat), pi = softmax(pi_hat), sigma = exp(sig_hat), rho = tanh(rho_hat).
The log-likelihood is computed in log space (log-softmax + logsumexp over components). For numerical
stability ``constrain`` floors sig_hat (sigma >= exp(LOG_SIGMA_MIN)) and bounds rho_hat so that
|rho| <= RHO_MAX; the step modules emit constrained parameters, so sampling draws from exactly the
distribution the loss trained.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LOG_SIGMA_MIN = -6.0          # sigma >= 0.0025 in normalised units
RHO_MAX = 0.999               # same bound as engine.core.sampling.mdn_params
_RHO_HAT_MAX = math.atanh(RHO_MAX)
_LOG_2PI = math.log(2 * math.pi)


def mdn_size(m: int) -> int:
    return 6 * m + 1


def split(y: torch.Tensor, m: int):
    """(e_hat, pi_hat, mu1, mu2, sig1_hat, sig2_hat, rho_hat), each (..., M) (e_hat (...))."""
    e_hat = y[..., 0]
    rest = y[..., 1:].unflatten(-1, (6, m))
    return (e_hat,) + tuple(rest.unbind(-2))


def constrain(y: torch.Tensor, m: int) -> torch.Tensor:
    """Floor the log-sigmas and bound rho_hat (differentiable inside the bounds)."""
    e_hat, rest = y[..., :1], y[..., 1:]
    pi, mu1, mu2, s1, s2, rho = rest.unflatten(-1, (6, m)).unbind(-2)
    s1 = s1.clamp(min=LOG_SIGMA_MIN)
    s2 = s2.clamp(min=LOG_SIGMA_MIN)
    rho = rho.clamp(-_RHO_HAT_MAX, _RHO_HAT_MAX)
    return torch.cat([e_hat, pi, mu1, mu2, s1, s2, rho], dim=-1)


def log_prob(y: torch.Tensor, target: torch.Tensor, m: int) -> torch.Tensor:
    """log p(target | y) per step: y (..., 6M+1) raw, target (..., 3) = (dx, dy, eos). Returns (...)."""
    if y.dtype in (torch.float16, torch.bfloat16):   # the loss always in (at least) float32
        y = y.float()
    target = target.to(y.dtype)
    y = constrain(y, m)
    e_hat, pi_hat, mu1, mu2, s1_hat, s2_hat, rho_hat = split(y, m)
    x1 = target[..., 0:1]
    x2 = target[..., 1:2]
    eos = target[..., 2]
    rho = torch.tanh(rho_hat)
    z1 = (x1 - mu1) * torch.exp(-s1_hat)
    z2 = (x2 - mu2) * torch.exp(-s2_hat)
    one_m = 1.0 - rho * rho
    zz = z1 * z1 + z2 * z2 - 2.0 * rho * z1 * z2
    log_n = -zz / (2.0 * one_m) - _LOG_2PI - s1_hat - s2_hat - 0.5 * torch.log(one_m)
    log_xy = torch.logsumexp(F.log_softmax(pi_hat, dim=-1) + log_n, dim=-1)
    log_e = -F.binary_cross_entropy_with_logits(e_hat, eos, reduction="none")
    return log_xy + log_e


def nll(y: torch.Tensor, target: torch.Tensor, m: int, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Summed negative log-likelihood over the real (mask = 1) steps, in nats."""
    lp = log_prob(y, target, m)
    if mask is not None:
        lp = torch.where(mask.bool(), lp, torch.zeros_like(lp))
    return -lp.sum()


class MDNHead(nn.Module):
    """Linear map from features to the 6M+1 raw mixture parameters."""

    def __init__(self, in_features: int, mixtures: int = 20):
        super().__init__()
        self.m = mixtures
        self.linear = nn.Linear(in_features, mdn_size(mixtures))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear(h)

    def log_prob(self, y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return log_prob(y, target, self.m)
