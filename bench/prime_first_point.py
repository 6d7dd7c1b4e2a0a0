"""The first point of a line written after a prime (its placement, engine.core.ink_score.after_prime): what a
model predicts for it and what it costs, on every line of an imported dataset scored after the next line of its
writer (``scribe eval ink --primed``'s pairing), in the model's normalised units; and how far left of the prime's
rightmost point its pen stopped (in x-heights, over every line as a prime): the distance the ``"baseline"`` join
makes a model guess and the ``"pen"`` join does not.

    .venv/bin/python bench/prime_first_point.py --model PKG --data IAM7
    .venv/bin/python bench/prime_first_point.py --model PKG --data runs/synth-hands --as-is --limit 600
    # IAM7: `scribe import iam ../shared/fixtures/iam-ondb-writers --out IAM7` (never commit it)

Figures: bench/RESULTS-handwriting.md 2j.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli.evaluate import _Prepared, load_ink_scorer, primed_pairs  # noqa: E402
from engine.core import ink_score  # noqa: E402
from engine.core.sampling import mdn_params  # noqa: E402
from engine.data.ink_dataset import InkDataset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--as-is", action="store_true", help="the data is at the model's scale already")
    ap.add_argument("--limit", type=int, default=None, help="at most this many lines")
    a = ap.parse_args()
    ds, sc = InkDataset.load(a.data), load_ink_scorer(a.model)
    prep = _Prepared(ds, sc.scale, a.as_is)
    n = len(ds) if a.limit is None else min(len(ds), a.limit)
    reach = []
    for i in range(n):
        p = prep.prime(i)
        if p is not None:
            xy = np.cumsum(p[:, :2], axis=0)
            reach.append((xy[:, 0].max() - xy[-1, 0]) / sc.scale.x_height)
    r = np.asarray(reach)
    print(f"{a.data}: {len(r)} lines as primes; the rightmost point right of where the pen stopped, in x-heights: "
          f"mean {r.mean():.2f}, std {r.std():.2f}, max {r.max():.2f}, more than 0.5: {(r > 0.5).mean():.0%}")

    seen = {}
    score = ink_score.mdn_log_prob

    def keep_first(y, target):          # score_line scores the line's points in one call: keep the first
        seen["y"], seen["t"] = np.asarray(y)[0], np.asarray(target)[0]
        return score(y, target)

    ink_score.mdn_log_prob = keep_first
    rows = []
    try:
        for i, j in primed_pairs(ds, prep, sc.vocab, range(n)):
            ink_score.score_line(sc.stepper, prep.line(i)[0], text=ds.lines_meta[i]["text"], vocab=sc.vocab, norm=sc.norm,
                                 prime_stroke3=prep.prime(j), prime_text=ds.lines_meta[j]["text"],
                                 gap=sc.scale.prime_gap, join=sc.scale.join)
            y, t = seen["y"], seen["t"]
            _e, pi, mu1, mu2, s1, s2, _rho = mdn_params(y)
            top = int(np.argmax(pi))
            rows.append((-score(y[None], t[None])[0], t[0], t[1], float(pi @ mu1), float(pi @ mu2), s1[top], s2[top]))
    finally:
        ink_score.mdn_log_prob = score
    f = np.asarray(rows)
    print(f"{a.model} ({sc.scale.join} join), {len(f)} primed lines: first point {f[:, 0].mean():.2f} nats; target "
          f"x {f[:, 1].mean():.2f} ± {f[:, 1].std():.2f}, y {f[:, 2].mean():.2f} ± {f[:, 2].std():.2f}; predicted mean "
          f"x {f[:, 3].mean():.2f}, y {f[:, 4].mean():.2f}; the top component's sigma x {f[:, 5].mean():.2f}, "
          f"y {f[:, 6].mean():.2f}")


if __name__ == "__main__":
    main()
