"""Sampling from model outputs, in numpy only (no torch).

The torch path and the ONNX runtime path both call these functions with the same model outputs, so the
same seed gives the same text or ink on both.
"""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np


def make_rng(seed: int | None) -> np.random.Generator:
    return np.random.default_rng(seed)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


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
    return min(bisect_right(np.cumsum(p).tolist(), u * float(p.sum())), z.size - 1)


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


def _exp(x: float) -> float:
    """``math.exp`` that saturates instead of raising OverflowError: a damaged model's extreme output becomes
    an extreme (or non-finite) point for the caller to judge, not a crash in the sampler."""
    return math.exp(min(float(x), 709.0))


def sample_mdn(y: np.ndarray, rng: np.random.Generator, bias: float = 0.0) -> np.ndarray:
    """Draw one (dx, dy, eos) point from a raw MDN output vector (normalised units).

    Same draw as taking :func:`mdn_params` and indexing component j, but only component j's sigma/rho
    are computed (scalar math): this runs once per pen point, so it is on the runtime's hot path.
    """
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    m = (y.size - 1) // 6
    pi = softmax(y[1:1 + m] * (1.0 + bias))
    u = rng.random(4).tolist()
    j = min(bisect_right(np.cumsum(pi).tolist(), u[0] * float(pi.sum())), m - 1)
    e = 1.0 / (1.0 + _exp(-y[0]))
    s1 = _exp(y[1 + 3 * m + j] - bias)
    s2 = _exp(y[1 + 4 * m + j] - bias)
    rho = min(max(math.tanh(y[1 + 5 * m + j]), -0.999), 0.999)
    # Box-Muller from the same uniforms on every backend
    r = math.sqrt(-2.0 * math.log(max(u[1], 1e-12)))
    z1 = r * math.cos(2 * math.pi * u[2])
    z2 = r * math.sin(2 * math.pi * u[2])
    dx = y[1 + m + j] + s1 * z1
    dy = y[1 + 2 * m + j] + s2 * (rho * z1 + math.sqrt(1.0 - rho * rho) * z2)
    eos = 1.0 if u[3] < e else 0.0
    return np.array([dx, dy, eos], dtype=np.float32)
