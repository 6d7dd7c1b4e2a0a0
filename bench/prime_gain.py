"""Where a prime helps or costs: primed minus unprimed NLL per point along the line (tenths of the line, the
first point apart) and, after the first fifth, on letters the prime's text contains against letters it does
not (the attention's focus says which letter a point belongs to). Scored as ``scribe eval ink --primed`` scores
(engine.cli.evaluate: each line after the next line of its writer; engine.core.ink_score.score_line).
``without_first_point``: the same NLLs leaving out each line's first point, its placement (the origin of an
unprimed line, the join after a prime: engine.core.ink_score.after_prime), which is the scoring's convention
and not the writer's ink. ``--cross`` also scores every line after a line of ANOTHER writer (the next writer's
first usable line) and after itself: what the prime's writer is worth, and the most a prime could tell.
Also what reading the text is worth: the unprimed NLL with the attention window out of reach of the text
(``window_off``: every kappa starts far behind it, so the window reads nothing) against the NLL as trained.
``--retime AMP`` first re-times every line with a smooth random change of pen speed (log-speed amplitude AMP,
over a letter or two; the same shapes, other point spacing): how much a model's reading of the text
depends on the pen keeping the pace of its training data.

    .venv/bin/python bench/prime_gain.py --model assets/models/handwriting-script --data runs/synth-hands \\
        --as-is --split val --limit 120
    .venv/bin/python bench/prime_gain.py --model assets/models/handwriting-script --data runs/synth-hands \\
        --as-is --split val --limit 120 --retime 0.3
    .venv/bin/python bench/prime_gain.py --model assets/models/handwriting-script --data IAM7 [--cross]
    # IAM7: `scribe import iam ../shared/fixtures/iam-ondb-writers --out IAM7` (never commit it)

Figures and what they showed: bench/RESULTS-handwriting.md 2e.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli.evaluate import _Prepared, load_ink_scorer, primed_pairs, select_lines  # noqa: E402
from engine.core.ink_score import score_line  # noqa: E402
from engine.data.ink_dataset import InkDataset  # noqa: E402


class WindowOff:
    """A synthesis stepper whose attention never reaches the text: kappa starts ``behind`` characters back."""

    def __init__(self, stepper, behind: float = 1e3):
        self.stepper, self.behind = stepper, behind
        self.input_names, self.output_names = stepper.input_names, stepper.output_names

    def initial_state(self) -> dict:
        state = dict(self.stepper.initial_state())
        state["kappa"] = np.full_like(np.asarray(state["kappa"], dtype=np.float32), -self.behind)
        return state

    def step(self, feeds: dict) -> dict:
        return self.stepper.step(feeds)


def retime(s3: np.ndarray, rng: np.random.Generator, amp: float) -> np.ndarray:
    """The same pen path sampled at a smoothly varying speed: log-speed is a sum of three sinusoids over 6-20
    points (amplitude ~``amp``), the line keeps its number of points and each pen lift stays at the sample
    nearest its time."""
    xy = np.cumsum(s3[:, :2].astype(np.float64), axis=0)
    n = len(xy)
    if n < 3 or amp <= 0:
        return s3
    t = np.arange(n, dtype=np.float64)
    lam, ph, a = rng.uniform(6, 20, (3, 1)), rng.uniform(0, 2 * np.pi, (3, 1)), rng.normal(0, 1, (3, 1))
    v = np.exp((a * np.sin(2 * np.pi * t[None] / lam + ph)).sum(0) * amp / np.sqrt(3))
    tau = np.concatenate([[0.0], np.cumsum(v[:-1])])
    tau *= (n - 1) / tau[-1]
    out = np.zeros_like(s3)
    out[0, :2] = s3[0, :2]
    out[1:, 0] = np.diff(np.interp(tau, t, xy[:, 0]))
    out[1:, 1] = np.diff(np.interp(tau, t, xy[:, 1]))
    out[np.clip(np.searchsorted(tau, np.flatnonzero(s3[:, 2] > 0.5)), 0, n - 1), 2] = 1
    return out


def paired_difference(per_line, seed: int = 0, draws: int = 5000) -> dict:
    """Primed minus unprimed nats/point without each line's first point, line by line: how many lines a prime
    made more likely, and a 95 % bootstrap interval of the pooled difference (lines drawn with replacement),
    so that "better primed" can be told from noise."""
    if not per_line:
        return {"lines_better": 0, "lines": 0, "pooled": None, "ci95": None}
    a = np.asarray(per_line, dtype=np.float64)
    rng = np.random.default_rng(seed)
    k = rng.integers(0, len(a), (draws, len(a)))
    boot = (a[k, 1].sum(1) - a[k, 0].sum(1)) / np.maximum(a[k, 2].sum(1), 1)
    return {"lines_better": int(np.sum(a[:, 1] < a[:, 0])), "lines": len(a),
            "pooled": float((a[:, 1].sum() - a[:, 0].sum()) / max(a[:, 2].sum(), 1)),
            "ci95": [float(x) for x in np.percentile(boot, [2.5, 97.5])]}


def prime_gain(model: str, data: str, split: str = "all", as_is: bool = False, limit: int | None = None,
               retime_amp: float = 0.0, seed: int = 0, cross: bool = False, guide: bool = True) -> dict:
    ds = InkDataset.load(data)
    sc = load_ink_scorer(model)
    prep = _Prepared(ds, sc.scale, as_is)
    gap = sc.scale.prime_gap
    tenths, counts = np.zeros(10), np.zeros(10)
    first = []
    letters = {"in prime": [0.0, 0], "not in prime": [0.0, 0]}
    total_u = total_p = total_off = 0.0
    off = WindowOff(sc.stepper)
    rng = np.random.default_rng(seed)
    points = lines = 0
    rest = {k: [0.0, 0] for k in ("unprimed", "primed", "other_writer", "self")}  # without each line's first point
    per_line = []       # (unprimed, primed) nats of each line without its first point, and its points
    writers = sorted({m.get("writer") or "" for m in ds.lines_meta} - {""})

    @functools.cache
    def other_writers_prime(w: str) -> int | None:
        """The first usable line of the NEXT writer (--cross)."""
        o = writers[(writers.index(w) + 1) % len(writers)] if len(writers) > 1 else None
        return next((k for k, m in enumerate(ds.lines_meta) if o and m.get("writer") == o and m.get("text")
                     and not sc.vocab.unknown(m["text"]) and prep.prime(k) is not None), None)
    for i, j in primed_pairs(ds, prep, sc.vocab, select_lines(ds, split)):
        if limit is not None and lines >= limit:
            break
        text = ds.lines_meta[i]["text"]
        prime_text = ds.lines_meta[j].get("text") or ""
        s3 = retime(prep.line(i)[0], rng, retime_amp)
        u = score_line(sc.stepper, s3, text=text, vocab=sc.vocab, norm=sc.norm)
        total_off += score_line(off, s3, text=text, vocab=sc.vocab, norm=sc.norm).sum()
        foci: list[int] = []
        p = score_line(sc.stepper, s3, text=text, vocab=sc.vocab, norm=sc.norm,
                       prime_stroke3=retime(prep.prime(j), rng, retime_amp),
                       prime_text=prime_text, gap=gap, join=sc.scale.join, foci=foci, guide_prime=guide)
        d = p - u
        for key, v in (("unprimed", u), ("primed", p)):
            rest[key][0] += v[1:].sum()
            rest[key][1] += len(v) - 1
        per_line.append((u[1:].sum(), p[1:].sum(), len(u) - 1))
        if cross:
            for key, k in (("other_writer", other_writers_prime(ds.lines_meta[i]["writer"])), ("self", i)):
                if k is not None:
                    rest[key][0] += score_line(sc.stepper, s3, text=text, vocab=sc.vocab, norm=sc.norm,
                                               prime_stroke3=retime(prep.prime(k), rng, retime_amp),
                                               prime_text=ds.lines_meta[k]["text"], gap=gap,
                                               join=sc.scale.join, guide_prime=guide)[1:].sum()
                    rest[key][1] += len(s3) - 1
        first.append((u[0], p[0]))
        at = np.arange(1, len(d)) * 10 // len(d)
        np.add.at(tenths, at, d[1:])
        np.add.at(counts, at, 1)
        seen = set(prime_text.lower())
        for t in range(len(d) // 5, len(d)):
            c = text[foci[t]]
            if c.isalpha():
                g = letters["in prime" if c.lower() in seen else "not in prime"]
                g[0] += d[t]
                g[1] += 1
        total_u, total_p = total_u + u.sum(), total_p + p.sum()
        points += len(d)
        lines += 1
    f = np.asarray(first) if first else np.zeros((0, 2))
    return {"model": model, "data": data, "retime": retime_amp, "guided": guide, "lines": lines, "points": points,
            "nats_per_point": {"unprimed": total_u / max(points, 1), "primed": total_p / max(points, 1),
                               "unprimed_window_off": total_off / max(points, 1)},
            "without_first_point": {k: v / max(n, 1) for k, (v, n) in rest.items()
                                    if cross or k in ("unprimed", "primed")},
            "primed_minus_unprimed_by_line": paired_difference(per_line, seed),
            "first_point": {"unprimed": float(f[:, 0].mean()) if len(f) else None,
                            "primed": float(f[:, 1].mean()) if len(f) else None},
            "tenths_primed_minus_unprimed": [round(float(x), 4) for x in tenths / np.maximum(counts, 1)],
            "letters_after_first_fifth": {k: {"primed_minus_unprimed": v[0] / max(v[1], 1), "points": v[1]}
                                          for k, v in letters.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="an ink dataset with writers and transcriptions")
    ap.add_argument("--split", default="all", choices=["all", "train", "val", "test"])
    ap.add_argument("--as-is", action="store_true", help="lines already in the model's units (its own corpus)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--retime", type=float, default=0.0, metavar="AMP",
                    help="re-time each line with a smooth random pen-speed change of this log amplitude first")
    ap.add_argument("--seed", type=int, default=0, help="seed of the re-timing")
    ap.add_argument("--cross", action="store_true",
                    help="also score each line after another writer's line and after itself")
    ap.add_argument("--unguided", action="store_true",
                    help="leave the window free through the prime (engine.core.prime_guide), as before 2m")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    res = prime_gain(args.model, args.data, args.split, args.as_is, args.limit, args.retime, args.seed, args.cross,
                     guide=not args.unguided)
    text = json.dumps(res, indent=1)
    if args.json:
        Path(args.json).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
