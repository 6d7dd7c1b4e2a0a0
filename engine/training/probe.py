"""The vanishing-gradient probe (the lecture's test).

For a batch of sequences, run the network one time step at a time so every hidden state h_s is a node
of the autograd graph, take the loss L_t at the last step t, and measure ``||dL_t / dh_{t-k}||`` for
k = 0..K. A plain tanh RNN's curve falls off exponentially with k; an LSTM's (or GRU's) stays up far
longer, which is why they learn long dependencies.

    from engine.training.probe import gradient_flow, probe_batch, decay_summary
    ids = probe_batch(corpus.data, K=50, batch=16)   # (16, K + 2 + warmup) windows of an encoded corpus
    curve = gradient_flow(model, ids, K=50)          # np.ndarray (K+1,): curve[k] = ||dL_t/dh_{t-k}||
    decay_summary(curve)                             # ratio at K, mean decay per step, k where < 1/10 ...

Cost: one forward step per window position plus one backward pass; a 2 x 512 LSTM with K=50 and 16
windows takes well under a second on a CPU.

``model`` is a :class:`engine.models.charlm.CharLM` (any cell, with or without skip connections), or any
module with the same parts: ``embed`` (ids -> vectors), ``rnn`` (a :class:`engine.models.rnn.StackedRNN`),
``head`` (rnn output -> logits) and ``model(x, state) -> (logits, state)``. The recurrence is stepped
cell by cell from the layers' weights (``StackedRNN.step_cells``), so it works for every cell type and
wiring. The model's weights and ``.grad`` are not changed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gradient_flow", "probe_batch", "decay_summary", "format_curve"]


def gradient_flow(model, ids, K: int = 50, *, state=None, device=None) -> np.ndarray:
    """Mean over the batch of ``||dL_t / dh_{t-k}||`` for k = 0..K.

    - ``ids``: int array or tensor, shape (B, T) or (T,), with T >= K + 2. Inputs are ``ids[:, :-1]``,
      targets ``ids[:, 1:]``; t is the last input position. The first T - K - 2 steps only warm the state
      up (no gradient is kept for them), so pass a longer window for a realistic state.
    - ``L_t``: the cross-entropy at step t of each sequence (per sequence, so batch size does not scale it).
    - ``h_s``: the hidden states of all layers at step s, concatenated (LSTM: h, not the cell state c,
      though the gradient reaches h_{t-k} through c as well).
    - The model runs in eval mode (no dropout) with its training mode restored afterwards.
    Returns float64 array of K + 1 norms (curve[0] is the direct gradient at step t).
    """
    import torch
    import torch.nn.functional as F

    ids = torch.as_tensor(np.asarray(ids) if not isinstance(ids, torch.Tensor) else ids).long()
    if ids.dim() == 1:
        ids = ids[None]
    K = int(K)
    if K < 0:
        raise ValueError("K must be >= 0")
    if ids.shape[1] < K + 2:
        raise ValueError(f"need sequences of at least K + 2 = {K + 2} ids (got {ids.shape[1]})")
    if device is None:
        device = next(model.parameters()).device
    ids = ids.to(device)
    x, y = ids[:, :-1], ids[:, 1:]
    T = x.shape[1]
    first = T - K - 1  # first step whose hidden states are kept
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            if first > 0:
                with torch.no_grad():
                    _, state = model(x[:, :first], state)
            hs = []  # hs[j]: the layers' h at step first + j, each ONE graph node (see StackedRNN.step_cells)
            out = None
            for s in range(first, T):
                out, state, h_layers = model.rnn.step_cells(model.embed(x[:, s]), state)
                hs.append(h_layers)
            logits = model.head(out)
            loss = F.cross_entropy(logits.float(), y[:, -1], reduction="sum")
            flat = [h for layers in hs for h in layers]
            grads = torch.autograd.grad(loss, flat, allow_unused=True)
    finally:
        model.train(was_training)
    n = len(hs[0])
    curve = np.zeros(K + 1)
    for j in range(K + 1):
        sq = sum(g.double().pow(2).sum(dim=-1) for g in grads[j * n:(j + 1) * n] if g is not None)
        curve[T - 1 - (first + j)] = float(sq.sqrt().mean()) if isinstance(sq, torch.Tensor) else 0.0
    return curve


def probe_batch(data: np.ndarray, K: int, batch: int = 16, warmup: int = 100, seed: int = 0) -> np.ndarray:
    """``batch`` random windows of length K + 2 + ``warmup`` from an encoded corpus (seeded)."""
    L = K + 2 + warmup
    if len(data) < L + 1:
        L = len(data) - 1
        if L < K + 2:
            from engine.core.errors import DataError

            raise DataError(f"the corpus has {len(data)} characters; the probe needs at least {K + 3} "
                            f"(lower -k)")
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(data) - L + 1, size=batch)
    return np.stack([np.asarray(data[s:s + L], dtype=np.int64) for s in starts])


def decay_summary(curve: np.ndarray) -> dict:
    """A few numbers that describe a curve: its ratio at the far end to k=0, the mean per-step decay
    factor, and the distances where it first falls below 1/10, 1/100 and 1/1000 of k=0."""
    c = np.asarray(curve, dtype=np.float64)
    base = c[0] if c[0] > 0 else np.nan
    ratio = c / base
    K = len(c) - 1
    out = {"ratio_at_K": float(ratio[-1]) if K > 0 else 1.0}
    out["decay_per_step"] = float(np.exp(np.log(max(ratio[-1], 1e-300)) / K)) if K > 0 and ratio[-1] > 0 else 0.0
    for name, th in (("k_10", 1e-1), ("k_100", 1e-2), ("k_1000", 1e-3)):
        below = np.flatnonzero(ratio < th)
        out[name] = int(below[0]) if below.size else None
    return out


def format_curve(curves: dict[str, np.ndarray], width: int = 40) -> str:
    """A text table of one or more curves (log-scale bars of the first one), for the CLI."""
    names = list(curves)
    K = len(next(iter(curves.values()))) - 1
    w = {n: max(12, len(n)) for n in names}
    lines = ["   k  " + "  ".join(f"{n:>{w[n]}}" for n in names) + "   (|dL_t/dh_{t-k}|, log bar of " + names[0] + ")"]
    c0 = np.asarray(curves[names[0]], dtype=np.float64)
    lo = np.log10(max(c0[c0 > 0].min(initial=1e-12), 1e-12)) if (c0 > 0).any() else -12
    hi = np.log10(c0.max()) if (c0 > 0).any() else 0
    span = max(hi - lo, 1e-9)
    for k in range(K + 1):
        bar = ""
        if c0[k] > 0:
            bar = "#" * max(1, int(round((np.log10(c0[k]) - lo) / span * width)))
        lines.append(f"{k:4d}  " + "  ".join(f"{curves[n][k]:{w[n]}.4e}" for n in names) + "   " + bar)
    return "\n".join(lines)
