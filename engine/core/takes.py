"""Several takes of a line, and the one the model finds likeliest kept. No torch.

A sampled line is one draw: now and then a letter comes out garbled or two words run together, in a line the
model itself finds unlikely. Writing the line ``n`` times with different seeds and keeping the take the model
finds likeliest when it reads it back (the caller's ``score``: the mean negative log-likelihood per point of the
finished take, teacher-forced after the same prime, ``engine.core.ink_score.score_line``) keeps the steadier
hand. A take the stop rule did not end (it ran to the cap) is kept only when every take did. What it buys and
costs: bench/RESULTS-handwriting.md 2p.

Take 0 is drawn with the caller's seed, so one take is the line the same seed always wrote; the other takes'
seeds are derived from it (:func:`take_seeds`), so a seed gives the same line for a given number of takes.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np

MAX_TAKES = 16


def check_takes(n) -> int:
    """``n`` as the number of takes; ValueError naming the value unless it is a whole number 1..MAX_TAKES."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= int(n) <= MAX_TAKES:
        raise ValueError(f"takes must be a whole number from 1 to {MAX_TAKES}, not {n!r}")
    return int(n)


def take_seeds(seed: int | None, n: int) -> list[int | None]:
    """The seeds of ``n`` takes: ``seed`` first, then seeds derived from it (independent streams). Without a seed
    (None) one take keeps None; several draw a fresh first seed and derive the others from it."""
    n = check_takes(n)
    if n == 1:
        return [seed]
    base = int(np.random.SeedSequence().entropy) % 2 ** 63 if seed is None else int(seed)
    return [base] + [int(np.random.SeedSequence([base, k]).generate_state(1, np.uint64)[0] >> np.uint64(1))
                     for k in range(1, n)]


def best_take(write: Callable[[int | None, dict], Iterable[np.ndarray]], score: Callable[[list], float], n: int,
              seed: int | None, stats: dict | None = None) -> list[np.ndarray]:
    """Write ``n`` takes (``write(seed, stats)`` -> points), score each finished one (``score(points)`` -> NLL per
    point, lower is likelier) and return the points of the best: ended by the stop rule first, then the likeliest
    (the first of equals). One take is written and not scored. ``stats`` gets the kept take's stats, plus
    ``takes`` (n), ``take`` (which one was kept), ``take_seed`` (its seed) and ``take_scores`` (every take's)."""
    best, scores = None, []
    for k, s in enumerate(take_seeds(seed, n)):
        st: dict = {}
        pts = list(write(s, st))
        nll = float(score(pts)) if n > 1 and pts else math.inf
        nll = nll if math.isfinite(nll) else math.inf
        scores.append(nll)
        key = (st.get("stopped") != "stop-rule", nll)
        if best is None or key < best[0]:
            best = (key, k, s, st, pts)
    _, k, s, st, pts = best
    if stats is not None:
        stats.update(st)
        stats.update(takes=n, take=k, take_seed=s, take_scores=scores)
    return pts
