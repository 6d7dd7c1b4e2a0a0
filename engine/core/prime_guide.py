"""Steering the attention through a prime. No torch.

While a prime is teacher-forced, a synthesis model's window reads its transcript by itself, and on real ink it
loses its place: on the seven IAM forms one prime in six ends with the attention more than three characters
behind its last one. The LSTM carries that reading into the line written after it, whose attention then lags
too, and the line costs more than with no prime at all (bench/RESULTS-handwriting.md 2m). The prime's ink says
where its words are, so the window need not find them: :func:`prime_alignment` gives every point of the prime
the character position its ink is at (its word from the line's widest blank columns, one per space of the
transcript; within the word in proportion to x), and :func:`steer_window` moves the window onto it (every
kappa by the same amount) whenever the attention strays more than :data:`GUIDE_TOLERANCE` characters from it.
A transcript with more words than the ink has blank columns (words run together, a wrong transcript) is
aligned in proportion to x over the whole line. After the prime the window is placed at the new text as
before (``engine.core.ink_stream.place_window_at``); what the steering changes is the LSTM state it leaves.
"""

from __future__ import annotations

import numpy as np

from engine.core.word_space import word_columns

GUIDE_TOLERANCE = 0.5   # characters the attention may stray from the prime's ink before it is moved back


def prime_alignment(stroke3, text: str) -> np.ndarray:
    """(n,) float64: for each point of ``stroke3`` (a line in raw units, x to the right), the position in
    ``text`` (its transcript, words split by single spaces) the ink has reached: the furthest x so far, in its
    word's characters (a word from its left edge to its right edge covers its first character's middle - 0.5
    to its last's + 0.5), or on the space before a word while the pen is in the blank before it."""
    a = np.asarray(stroke3, dtype=np.float64).reshape(-1, 3)
    if not len(a) or not text:
        return np.zeros(len(a))
    x = np.cumsum(a[:, 0])
    reach = np.maximum.accumulate(x)
    words = text.split(" ")
    columns = word_columns(a, len(words))
    if len(columns) < len(words) - 1:
        lo, hi = float(x.min()), float(x.max())
        return np.clip((reach - lo) / max(hi - lo, 1e-9) * len(text) - 0.5, 0.0, len(text) - 1.0)
    lefts = np.array([float(x.min())] + [c[1] for c in columns])       # where each word's ink begins
    rights = np.array([c[0] for c in columns] + [float(x.max())])      # and ends
    starts = np.cumsum([0] + [len(w) + 1 for w in words[:-1]])         # each word's first character in text
    lengths = np.array([len(w) for w in words], dtype=np.float64)
    k = np.minimum(np.searchsorted(rights, reach, side="left"), len(words) - 1)
    within = (reach - lefts[k]) / np.maximum(rights[k] - lefts[k], 1e-9)
    pos = np.where(reach < lefts[k], starts[k] - 1.0, starts[k] + within * lengths[k] - 0.5)
    return np.clip(pos, 0.0, len(text) - 1.0)


def steer_window(feeds: dict, phi, target: float, tolerance: float = GUIDE_TOLERANCE) -> bool:
    """Move the window state in ``feeds`` (``kappa``, (1, K)) so that the attention (``phi``, the step's
    attention over the characters and past-the-end) is centred on ``target`` when its centre is more than
    ``tolerance`` characters away. True when it moved; a stepper without a ``kappa`` state is left alone."""
    if "kappa" not in feeds:
        return False
    p = np.asarray(phi, dtype=np.float64).reshape(-1)[:-1]
    kappa = np.asarray(feeds["kappa"], dtype=np.float32)
    total = float(p.sum())
    centre = float((p * np.arange(len(p))).sum() / total) if total > 1e-9 else float(kappa.mean())
    if abs(target - centre) <= tolerance:
        return False
    feeds["kappa"] = (kappa + np.float32(target - centre)).astype(np.float32)
    return True
