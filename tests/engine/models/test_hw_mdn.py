"""Mixture density output: log-density against a direct bivariate-normal computation, stability, masks,
and the parameter layout shared with engine.core.sampling."""

import math

import numpy as np
import pytest
import torch

from engine.core.sampling import make_rng, mdn_params, sample_mdn
from engine.models import mdn


def _direct_log_density(y: np.ndarray, target: np.ndarray, m: int) -> float:
    """log p via covariance matrices (no shared formula with the module under test)."""
    e = 1 / (1 + math.exp(-y[0]))
    pi_hat = y[1:1 + m]
    pi = np.exp(pi_hat - pi_hat.max())
    pi /= pi.sum()
    mu1, mu2 = y[1 + m:1 + 2 * m], y[1 + 2 * m:1 + 3 * m]
    s1, s2 = np.exp(y[1 + 3 * m:1 + 4 * m]), np.exp(y[1 + 4 * m:1 + 5 * m])
    rho = np.tanh(y[1 + 5 * m:1 + 6 * m])
    p = 0.0
    for j in range(m):
        cov = np.array([[s1[j] ** 2, rho[j] * s1[j] * s2[j]], [rho[j] * s1[j] * s2[j], s2[j] ** 2]])
        d = target[:2] - np.array([mu1[j], mu2[j]])
        p += pi[j] * math.exp(-0.5 * d @ np.linalg.solve(cov, d)) / (2 * math.pi * math.sqrt(np.linalg.det(cov)))
    return math.log(p) + math.log(e if target[2] > 0.5 else 1 - e)


def test_log_density_matches_direct_bivariate_normal():
    rng = np.random.default_rng(0)
    m = 4
    for _ in range(20):
        y = rng.normal(0, 1, mdn.mdn_size(m))
        y[1 + 3 * m:1 + 5 * m] = rng.uniform(-1.5, 1.0, 2 * m)   # sigmas 0.2 .. 2.7
        target = np.array([rng.normal(0, 1.5), rng.normal(0, 1.5), float(rng.random() < 0.3)])
        got = mdn.log_prob(torch.tensor(y, dtype=torch.float64), torch.tensor(target), m).item()
        assert got == pytest.approx(_direct_log_density(y, target, m), rel=1e-5, abs=1e-5)


def test_extreme_parameters_give_finite_loss_and_gradients():
    m = 3
    y = torch.tensor([[50.0] + [80.0, -80.0, 0.0] + [1e3] * 3 + [-1e3] * 3 + [-40.0] * 3 + [30.0] * 3
                      + [25.0, -25.0, 0.0]], requires_grad=True)
    target = torch.tensor([[1e4, -1e4, 0.0]])
    loss = mdn.nll(y, target, m)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(y.grad).all()


def test_padding_mask_excludes_steps():
    torch.manual_seed(0)
    m = 2
    y = torch.randn(2, 5, mdn.mdn_size(m), requires_grad=True)
    tgt = torch.randn(2, 5, 3).clamp(-2, 2)
    tgt[..., 2] = (tgt[..., 2] > 0).float()
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.float32)
    base = mdn.nll(y, tgt, m, mask)
    tgt2 = tgt.clone()
    tgt2[0, 3:] = 1e6     # garbage in the padding
    assert mdn.nll(y, tgt2, m, mask).item() == pytest.approx(base.item())
    base.backward()
    assert torch.all(y.grad[0, 3:] == 0) and torch.any(y.grad[0, :3] != 0)
    unmasked = -(mdn.log_prob(y[0, :3], tgt[0, :3], m).sum() + mdn.log_prob(y[1], tgt[1], m).sum())
    assert base.item() == pytest.approx(unmasked.item(), rel=1e-6)


def test_constrain_bounds_sigma_and_rho_only():
    m = 2
    y = torch.tensor([0.3, 1.0, 2.0, 0.1, 0.2, 0.3, 0.4, -20.0, 0.5, 1.0, -9.0, 50.0, -50.0])
    c = mdn.constrain(y, m)
    e, pi, mu1, mu2, s1, s2, rho = mdn.split(c, m)
    assert e.item() == pytest.approx(0.3) and pi.tolist() == [1.0, 2.0]
    assert mu1.tolist() == pytest.approx([0.1, 0.2]) and mu2.tolist() == pytest.approx([0.3, 0.4])
    assert s1.tolist() == pytest.approx([mdn.LOG_SIGMA_MIN, 0.5]) and s2.tolist() == pytest.approx([1.0, mdn.LOG_SIGMA_MIN])
    assert torch.tanh(rho).abs().max().item() == pytest.approx(mdn.RHO_MAX)


def test_layout_and_parameterisation_match_the_sampler():
    """The numpy sampler reads the same layout: with one component its draws have the mean, covariance
    and pen probability that the loss's distribution has."""
    m = 1
    y = np.array([-1.0, 0.0, 0.5, -1.0, math.log(0.8), math.log(0.3), math.atanh(0.6)])
    e, pi, mu1, mu2, s1, s2, rho = mdn_params(y)
    te, tpi, tmu1, tmu2, ts1, ts2, trho = mdn.split(torch.tensor(y), m)
    assert mu1[0] == tmu1.item() and mu2[0] == tmu2.item() and s1[0] == pytest.approx(math.exp(ts1.item()))
    rng = make_rng(1)
    draws = np.stack([sample_mdn(y, rng) for _ in range(20000)])
    assert draws[:, 0].mean() == pytest.approx(0.5, abs=0.02) and draws[:, 1].mean() == pytest.approx(-1.0, abs=0.01)
    cov = np.cov(draws[:, :2].T)
    assert cov[0, 0] == pytest.approx(0.64, rel=0.05) and cov[1, 1] == pytest.approx(0.09, rel=0.05)
    assert cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]) == pytest.approx(0.6, abs=0.02)
    assert draws[:, 2].mean() == pytest.approx(1 / (1 + math.e), abs=0.01)
    # and the loss gives the pen bit the same probability
    lp1 = mdn.log_prob(torch.tensor(y), torch.tensor([0.5, -1.0, 1.0]), m)
    lp0 = mdn.log_prob(torch.tensor(y), torch.tensor([0.5, -1.0, 0.0]), m)
    assert math.exp(lp1 - torch.logaddexp(lp0, lp1)) == pytest.approx(1 / (1 + math.e))
