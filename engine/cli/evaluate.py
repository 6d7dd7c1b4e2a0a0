"""``scribe eval ink``: how likely a handwriting model finds the lines of an ink dataset (nats per point).

Each line is brought to the model's size and point rate (``engine.data.prime.prepare_prime``, the path a
prime takes, so a dataset in tablet units scores sensibly) and teacher-forced through the model
(``engine.core.ink_score``; torch for a run/checkpoint folder, onnxruntime for a package). With
``--primed`` each line is scored after another line of the same writer (the next one in the dataset)
was fed as a prime, along ``ink_stream``'s priming path.

Figures: ``nats_per_point`` / ``nats_per_line`` in the model's normalised units (the units of the
trainer's validation loss) and ``data_nats_per_point`` / ``data_nats_per_line`` in the data's own units
(plus the log-Jacobian of the normalisation and of the scaling, per point; the points are the prepared,
resampled ones). The preparation is part of what is measured: resampling a line evenly along its strokes
removes the pen's speed profile, which the model has learnt, so even the model's own kind of data scores
worse here than in training (the bundled model: about -2 nats per point on its synthetic lines as they
are, +7 after preparation).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "val", "test", "all")
_SCORE_MAX_POINTS = 10 ** 9   # a scored line is never cut (a prime is, as in sampling)
JSON_KEYS = ("model", "data", "split", "primed", "lines", "points", "nats_per_point", "nats_per_line",
             "data_nats_per_point", "data_nats_per_line")


def register(groups) -> None:
    p = groups["eval"].add_parser(
        "ink", help="score a handwriting model on an ink dataset (nats per point)",
        description="Teacher-force each line of an ink dataset through a handwriting model and report its "
                    "negative log-likelihood, per point and per line, in the model's normalised units and "
                    "in the data's own units.")
    p.add_argument("--model", required=True, help="run folder, checkpoint folder or exported package")
    p.add_argument("--data", required=True, help="ink dataset folder (scribe import / scribe synth)")
    p.add_argument("--split", choices=SPLITS, default="all", help="which lines to score (default: all)")
    p.add_argument("--primed", action="store_true",
                   help="score each line after another line of the same writer was fed as a prime")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="score at most N lines")
    p.add_argument("--as-is", action="store_true", dest="as_is",
                   help="the lines are already in the model's units (e.g. its own training corpus): score them "
                        "without bringing them to the model's size and point rate")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the figures as JSON")
    p.set_defaults(func=cmd_eval_ink)


@dataclass
class InkScorer:
    """A handwriting model ready to score: its stepper, character set, normalisation and ink scale."""
    stepper: object
    kind: str
    vocab: object            # engine.core.vocab.Vocab (None: a prediction model)
    norm: object             # engine.core.norm.NormStats
    scale: object            # engine.data.prime.InkScale

    @property
    def synthesis(self) -> bool:
        return self.kind == "ink-synthesis"


def load_ink_scorer(model_path) -> InkScorer:
    """An :class:`InkScorer` for a package folder (onnxruntime) or a run/checkpoint folder (torch)."""
    from engine.core.errors import ScribeError
    from engine.core.norm import NormStats
    from engine.core.vocab import Vocab
    from engine.data.prime import InkScale

    path = Path(model_path).expanduser()
    if not path.exists():
        raise ScribeError(f"model not found: {path}")
    if (path / "model.onnx").exists():
        from engine.runtime import load_package

        pkg = load_package(path)
        if pkg.kind == "text":
            raise ScribeError(f"{path} is a text model; 'scribe eval ink' scores handwriting models")
        card, stepper, scale = pkg.card, pkg.stepper, pkg.ink_scale
    else:
        import engine.training.checkpoint as ckpt
        from engine.models.torch_stepper import TorchStepper

        model, card = ckpt.load_model(path)
        if not card["kind"].startswith("ink-"):
            raise ScribeError(f"{path} is a {card['kind']} model; 'scribe eval ink' scores handwriting models")
        stepper, scale = TorchStepper(model.step_module()), InkScale.from_card(card, card.get("styles"))
    vocab = Vocab.from_json(card["vocab"]) if card.get("vocab") else None
    return InkScorer(stepper, card["kind"], vocab, NormStats.from_json(card["norm"]), scale)


def select_lines(ds, split: str) -> list[int]:
    """Indices of the lines of ``split`` ("all": every line); ScribeError naming the splits there are."""
    from engine.core.errors import ScribeError

    if split == "all":
        return list(range(len(ds)))
    idx = [int(i) for i in ds.indices(split)]
    if not idx:
        have = Counter(m.get("split", "train") for m in ds.lines_meta)
        listed = ", ".join(f"{k} {v}" for k, v in sorted(have.items()))
        raise ScribeError(f"the dataset has no {split} lines ({listed}); choose another --split")
    return idx


class _Prepared:
    """Lines of a dataset brought to a model's scale, each once: (stroke3, scale factor) or the reason it
    cannot be used."""

    def __init__(self, ds, scale, as_is: bool = False):
        self.ds, self.scale, self.as_is = ds, scale, as_is
        self._lines: dict[int, tuple] = {}
        self._primes: dict[int, object] = {}

    def _ink(self, i: int):
        from engine.data.ink import Ink

        return Ink.from_stroke3(self.ds.line(i).points)

    def line(self, i: int):
        """(stroke3 in model units, scale factor), or None when the line is too short to tell its size."""
        if i not in self._lines and self.as_is:
            pts = self.ds.line(i).points
            self._lines[i] = (pts, 1.0) if len(pts) >= 2 else None
        if i not in self._lines:
            from engine.core.errors import DataError
            from engine.data.prime import prepare_prime, prime_scale

            ink = self._ink(i)
            try:
                self._lines[i] = (prepare_prime(ink, self.scale, max_points=_SCORE_MAX_POINTS),
                                  prime_scale(ink, self.scale))
            except DataError:
                self._lines[i] = None
        return self._lines[i]

    def prime(self, i: int):
        """Line ``i`` as a prime, as sampling prepares it (cut at ``MAX_PRIME_POINTS``); None if unusable."""
        if i not in self._primes and self.as_is:
            self._primes[i] = None if self.line(i) is None else self.line(i)[0]
        if i not in self._primes:
            from engine.data.prime import prepare_prime

            self._primes[i] = None if self.line(i) is None else prepare_prime(self._ink(i), self.scale)
        return self._primes[i]


def prime_partner(ds, i: int, usable) -> int | None:
    """The line that primes line ``i``: the next line (in dataset order, wrapping) by the same writer for which
    ``usable(j)`` holds; None when the line has no writer or the writer no other usable line."""
    writer = ds.lines_meta[i].get("writer") or ""
    if not writer:
        return None
    n = len(ds)
    for k in range(1, n):
        j = (i + k) % n
        if (ds.lines_meta[j].get("writer") or "") == writer and usable(j):
            return j
    return None


def primed_pairs(ds, prep: _Prepared, vocab, indices):
    """(line, its prime) for each of ``indices`` that a synthesis model can score primed: a transcript it can
    write, a line long enough to size, and a usable prime of its writer (:func:`prime_partner`)."""
    for i in indices:
        text = ds.lines_meta[i].get("text") or ""
        if not text or vocab.unknown(text) or prep.line(i) is None:
            continue
        j = prime_partner(ds, i, lambda k: prep.prime(k) is not None)
        if j is not None:
            yield i, j


SKIP_REASONS = {"no_text": "without a transcription", "unknown_chars": "with characters the model cannot write",
                "short": "too short to tell their size", "no_prime": "with no other line of their writer to prime"}


def score_dataset(scorer: InkScorer, ds, indices, primed: bool = False, limit: int | None = None,
                  as_is: bool = False, guide_prime: bool = True):
    """Score lines ``indices`` of ``ds``: ``(records, skipped, unknown)``. A record is a dict(index, writer,
    prime (index or None), points, nll (sum, model units), data_nll (sum, data units)); ``skipped`` counts
    the lines left out by reason (keys of ``SKIP_REASONS``); ``unknown`` the characters that made lines
    unwritable. guide_prime: steer the window through a prime as sampling does (``engine.core.prime_guide``)."""
    from engine.core.ink_score import log_jacobian, score_line

    prep = _Prepared(ds, scorer.scale, as_is)
    gap = scorer.scale.prime_gap
    records, skipped, unknown = [], Counter(), Counter()
    for i in indices:
        if limit is not None and len(records) >= limit:
            break
        meta = ds.lines_meta[i]
        text = meta.get("text", "") or ""
        if scorer.synthesis:
            if not text:
                skipped["no_text"] += 1
                continue
            bad = scorer.vocab.unknown(text)
            if bad:
                skipped["unknown_chars"] += 1
                unknown.update(bad)
                continue
        got = prep.line(i)
        if got is None:
            skipped["short"] += 1
            continue
        s3, factor = got
        kw = {}
        partner = None
        if primed:
            partner = prime_partner(ds, i, lambda j: prep.prime(j) is not None)
            if partner is None:
                skipped["no_prime"] += 1
                continue
            kw = dict(prime_stroke3=prep.prime(partner), prime_text=ds.lines_meta[partner].get("text") or None,
                      gap=gap, join=scorer.scale.join, guide_prime=guide_prime)
        nll = score_line(scorer.stepper, s3, text=text if scorer.synthesis else "", vocab=scorer.vocab,
                         norm=scorer.norm, **kw)
        total = float(nll.sum())
        records.append({"index": int(i), "writer": meta.get("writer", ""), "prime": partner, "points": len(nll),
                        "nll": total, "data_nll": total + len(nll) * log_jacobian(scorer.norm, factor)})
    return records, skipped, unknown


def summarise(records) -> dict:
    """lines, points and the per-point / per-line figures of a list of records (model and data units)."""
    lines = len(records)
    points = sum(r["points"] for r in records)
    nll = sum(r["nll"] for r in records)
    data = sum(r["data_nll"] for r in records)
    return {"lines": lines, "points": points,
            "nats_per_point": nll / points if points else float("nan"),
            "nats_per_line": nll / lines if lines else float("nan"),
            "data_nats_per_point": data / points if points else float("nan"),
            "data_nats_per_line": data / lines if lines else float("nan")}


def describe_skipped(skipped: Counter, unknown: Counter) -> str:
    parts = []
    for k, why in SKIP_REASONS.items():
        if skipped.get(k):
            extra = ""
            if k == "unknown_chars" and unknown:
                extra = " (" + " ".join(repr(c) for c, _ in unknown.most_common(8)) + ")"
            parts.append(f"{skipped[k]} {why}{extra}")
    return "; ".join(parts)


def cmd_eval_ink(args) -> int:
    from engine.cli.common import check_output, write_output
    from engine.core.errors import ScribeError
    from engine.data.ink_dataset import InkDataset

    if args.limit is not None and args.limit < 1:
        raise ScribeError("--limit must be at least 1")
    if args.json:
        check_output(args.json, "--json")    # before the scoring: nothing is computed in vain
    data = Path(args.data).expanduser()
    if not data.exists():
        raise ScribeError(f"dataset not found: {data}")
    ds = InkDataset.load(data)
    scorer = load_ink_scorer(args.model)
    indices = select_lines(ds, args.split)
    if scorer.synthesis and not any((ds.lines_meta[i].get("text") or "") for i in indices):
        raise ScribeError(f"{data} has no transcriptions; a synthesis model is scored on the text it reads "
                          f"(the lines need their text)")
    t0 = time.perf_counter()
    records, skipped, unknown = score_dataset(scorer, ds, indices, primed=args.primed, limit=args.limit,
                                              as_is=getattr(args, "as_is", False))
    if not records:
        raise ScribeError(f"no line of {data} could be scored: {describe_skipped(skipped, unknown)}")
    if skipped:
        print(f"note: skipped {sum(skipped.values())} line(s): {describe_skipped(skipped, unknown)}",
              file=sys.stderr)
    res = summarise(records)
    print(f"{args.model} on {data} ({args.split}, {'primed' if args.primed else 'unprimed'}): "
          f"{res['lines']} lines, {res['points']:,} points in {time.perf_counter() - t0:.1f} s")
    print(f"{'':14}{'nats/point':>12}{'nats/line':>12}")
    print(f"{'model units':14}{res['nats_per_point']:12.4f}{res['nats_per_line']:12.2f}")
    print(f"{'data units':14}{res['data_nats_per_point']:12.4f}{res['data_nats_per_line']:12.2f}")
    if args.json:
        out = {"model": str(args.model), "data": str(args.data), "split": args.split, "primed": bool(args.primed),
               **res}
        write_output(args.json, json.dumps({k: out[k] for k in JSON_KEYS}, indent=2) + "\n", "--json")
    return 0
