"""Sampling from model outputs, in numpy only (no torch).

The torch path and the ONNX runtime path both call these functions with the same model outputs, so the
same seed gives the same text or ink on both.
"""

from __future__ import annotations

import numpy as np


def make_rng(seed: int | None) -> np.random.Generator:
    return np.random.default_rng(seed)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def sample_logits(logits: np.ndarray, rng: np.random.Generator, temperature: float = 1.0,
                  top_k: int | None = None) -> int:
    """Draw one index from unnormalised logits (1-D) with temperature and optional top-k."""
    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    if temperature <= 0:
        return int(np.argmax(z))
    z = z / float(temperature)
    if top_k is not None and 0 < top_k < z.size:
        kth = np.partition(z, -top_k)[-top_k]
        z = np.where(z < kth, -np.inf, z)
    p = softmax(z)
    # inverse-CDF draw: one uniform per token, identical on every backend
    u = rng.random()
    idx = int(np.searchsorted(np.cumsum(p), u * p.sum(), side="right"))
    return min(idx, z.size - 1)


def mdn_params(y: np.ndarray, bias: float = 0.0):
    """Split a raw MDN output vector (6M+1) into (e, pi, mu1, mu2, s1, s2, rho) with bias applied.

    Layout: [e_hat, pi_hat(M), mu1(M), mu2(M), sig1_hat(M), sig2_hat(M), rho_hat(M)].
    Bias b: sigma = exp(sig_hat - b), pi = softmax(pi_hat * (1 + b)). eos is not biased.
    """
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    m = (y.size - 1) // 6
    e = 1.0 / (1.0 + np.exp(-y[0]))
    pi = softmax(y[1:1 + m] * (1.0 + bias))
    mu1 = y[1 + m:1 + 2 * m]
    mu2 = y[1 + 2 * m:1 + 3 * m]
    s1 = np.exp(y[1 + 3 * m:1 + 4 * m] - bias)
    s2 = np.exp(y[1 + 4 * m:1 + 5 * m] - bias)
    rho = np.clip(np.tanh(y[1 + 5 * m:1 + 6 * m]), -0.999, 0.999)
    return e, pi, mu1, mu2, s1, s2, rho


def sample_mdn(y: np.ndarray, rng: np.random.Generator, bias: float = 0.0) -> np.ndarray:
    """Draw one (dx, dy, eos) point from a raw MDN output vector (normalised units)."""
    e, pi, mu1, mu2, s1, s2, rho = mdn_params(y, bias)
    u = rng.random(4)
    j = int(min(np.searchsorted(np.cumsum(pi), u[0] * pi.sum(), side="right"), pi.size - 1))
    # Box-Muller from the same uniforms on every backend
    r = np.sqrt(-2.0 * np.log(max(u[1], 1e-12)))
    z1 = r * np.cos(2 * np.pi * u[2])
    z2 = r * np.sin(2 * np.pi * u[2])
    dx = mu1[j] + s1[j] * z1
    dy = mu2[j] + s2[j] * (rho[j] * z1 + np.sqrt(1.0 - rho[j] ** 2) * z2)
    eos = 1.0 if u[3] < e else 0.0
    return np.array([dx, dy, eos], dtype=np.float32)
