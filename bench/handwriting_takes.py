"""Several takes of a line, the likeliest kept (``engine.core.takes``): what it does to legibility and to the
writers' hands, on the seven real IAM-OnDB writers.

Each of the first ``--sentences`` sentences of ``bench/handwriting_real_writers.py`` is written unprimed and
primed with a line of each writer (the writer's k-th line for sentence k), ``--takes`` times: take 0 with seed
``--seed + k`` (the single line the real-writers bench writes), the others with the seeds the product derives
from it. Every take is read by Tesseract (the better of two pen widths, as there) and measured (strokes a letter
and slant, ``engine.core.hand``). For each number of takes n the line kept is the one ``InkWriter`` keeps with
``takes=n`` (``engine.core.takes.best_take`` over the first n takes, each scored once), so one run gives every n.

    .venv/bin/python bench/handwriting_takes.py [--model M] [--takes 8] [--sentences 12] [--json F] [--out F]

Figures: mean and median CER unprimed and primed; the mean change from one take, sample by sample, with a 95 %
bootstrap interval, and how many samples read better / worse; strokes a letter and slant against the writers'
(the mean absolute difference of the per-writer medians); the time a line takes (generation and reading back,
one thread). IAM-OnDB is imported into a temporary folder and never copied (research use only).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from handwriting_real_writers import DEFAULT_IAM, DEFAULT_MODEL, SENTENCES, import_iam, legibility, log  # noqa: E402


def measure(args, ds, writer, work: str) -> list[dict]:
    """Every take of every (writer or None, sentence): its seed, score, CER, strokes a letter, slant, seconds."""
    from engine.core.hand import slant, strokes_per_letter
    from engine.core.takes import take_seeds
    from engine.data.ink import Ink
    from engine.data.prime import prepare_prime
    xh = writer.scale.x_height
    writers = sorted({m["writer"] for m in ds.lines_meta})
    lines_of = {w: [i for i, m in enumerate(ds.lines_meta) if m["writer"] == w] for w in writers}
    recs = []
    for w in [None] + writers:
        t_w = time.perf_counter()
        for k, text in enumerate(SENTENCES[:args.sentences]):
            prime, prime_text = None, None
            if w is not None:
                i = lines_of[w][k % len(lines_of[w])]
                prime_text = ds.lines_meta[i]["text"]
                prime = prepare_prime(Ink.from_stroke3(ds.line(i).points, text=prime_text), writer.scale)
            for t, seed in enumerate(take_seeds(args.seed + k, args.takes)):
                st: dict = {}
                t0 = time.perf_counter()
                pts = np.stack(list(writer.generate(text, bias=args.bias, prime_stroke3=prime, prime_text=prime_text,
                                                    seed=seed, stats=st)))
                score = writer.read_back(pts, text, prime, prime_text)
                seconds = time.perf_counter() - t0
                c, reading = legibility(pts, text, xh, work)
                recs.append({"writer": w, "k": k, "take": t, "seed": seed, "score": score, "stopped": st["stopped"],
                             "seconds": seconds, "cer": c, "reading": reading, "text": text, "points": pts,
                             "strokes": strokes_per_letter(pts, text), "slant": slant(pts)})
        log(f"  {w or 'unprimed'}: {time.perf_counter() - t_w:.0f} s")
    return recs


def real_hands(ds, scale) -> dict:
    """The writers' own median (slant, strokes a letter), their lines prepared as primes are."""
    from engine.core.hand import slant, strokes_per_letter
    from engine.data.ink import Ink
    from engine.data.prime import prepare_prime

    hands: dict = {}
    for i, m in enumerate(ds.lines_meta):
        try:
            s3 = prepare_prime(Ink.from_stroke3(ds.line(i).points, text=m["text"]), scale, max_points=10 ** 9)
        except Exception:  # noqa: BLE001 - too short to tell its size
            continue
        hands.setdefault(m["writer"], []).append((slant(s3), strokes_per_letter(s3, m["text"])))
    return {w: (float(np.median([a for a, _ in v])), float(np.median([b for _, b in v]))) for w, v in hands.items()}


def kept(recs: list[dict], n: int) -> dict:
    """(writer, k) -> the take ``InkWriter`` keeps with ``takes=n``, chosen by ``engine.core.takes.best_take``
    over the takes already written (each scored as the product scores it)."""
    from engine.core.takes import best_take

    groups: dict = {}
    for r in recs:
        groups.setdefault((r["writer"], r["k"]), {})[r["seed"]] = r
    out = {}
    for key, by_seed in groups.items():
        first = min(by_seed.values(), key=lambda r: r["take"])

        def write(seed, st, by_seed=by_seed):
            st["stopped"] = by_seed[seed]["stopped"]
            return [by_seed[seed]]

        def score(points):
            return points[0]["score"]

        out[key] = best_take(write, score, n, first["seed"])[0]
    return out


def summarise(recs: list[dict], hands: dict, takes: int, boot: int = 4000) -> list[dict]:
    rng = np.random.default_rng(0)
    one = kept(recs, 1)
    rows = []
    for n in range(1, takes + 1):
        got = kept(recs, n)
        un = [r for (w, _), r in got.items() if w is None]
        pr = [r for (w, _), r in got.items() if w is not None]
        d = np.array([got[key]["cer"] - one[key]["cer"] for key in got])
        ci = np.percentile([rng.choice(d, d.size).mean() for _ in range(boot)], [2.5, 97.5]) if n > 1 else (0, 0)
        per = {}
        for r in pr:
            per.setdefault(r["writer"], []).append(r)
        strokes_off = np.mean([abs(np.median([r["strokes"] for r in v]) - hands[w][1]) for w, v in per.items()])
        slant_off = np.mean([abs(np.median([r["slant"] for r in v]) - hands[w][0]) for w, v in per.items()])
        seconds = np.mean([sum(r["seconds"] for r in recs if (r["writer"], r["k"]) == key and r["take"] < n)
                           for key in got])
        rows.append({"takes": n, "cer": float(np.mean([r["cer"] for r in un])),
                     "cer_median": float(np.median([r["cer"] for r in un])),
                     "cer_primed": float(np.mean([r["cer"] for r in pr])),
                     "cer_primed_median": float(np.median([r["cer"] for r in pr])),
                     "change": float(d.mean()), "ci": [float(ci[0]), float(ci[1])],
                     "better": int((d < 0).sum()), "worse": int((d > 0).sum()), "samples": int(d.size),
                     "strokes_off": float(strokes_off), "slant_off": float(slant_off),
                     "capped": sum(r["stopped"] != "stop-rule" for r in got.values()), "seconds": float(seconds)})
    return rows


def sheet(recs: list[dict], takes: int, path: Path) -> Path:
    """For each sentence, primed with one writer in turn: the first take, then the line ``takes`` takes keep."""
    from handwriting_real_writers import write_sheet

    one, best = kept(recs, 1), kept(recs, takes)
    writers = sorted({w for w, _ in one if w is not None})
    rows = []
    for k in sorted({k for _, k in one}):
        w = writers[k % len(writers)]
        a, b = one[(w, k)], best[(w, k)]
        rows += [(a["points"], f"primed with {w}: one take, read {a['reading']!r} (CER {a['cer']:.2f})"),
                 (b["points"], f"the likeliest of {takes} (take {b['take'] + 1}), read {b['reading']!r} "
                               f"(CER {b['cer']:.2f})")]
    return write_sheet(rows, path)


def report(rows: list[dict], args, seconds: float) -> str:
    model = os.path.relpath(args.model, REPO) if Path(args.model).resolve().is_relative_to(REPO) else args.model
    head = (f"`.venv/bin/python bench/handwriting_takes.py --model {model} --takes {args.takes} "
            f"--sentences {args.sentences} --seed {args.seed} --bias {args.bias}`: {args.sentences} sentences unprimed "
            f"and primed with each of the seven writers, {args.takes} takes each; {seconds:.0f} s in all.\n\n")
    lines = ["| takes | CER unprimed (mean / median) | CER primed (mean / median) | change from one take (95 % "
             "interval) | better / worse | strokes a letter off | slant off | capped | seconds a line |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ch = "–" if r["takes"] == 1 else f"{r['change']:+.3f} ({r['ci'][0]:+.3f} to {r['ci'][1]:+.3f})"
        bw = "–" if r["takes"] == 1 else f"{r['better']} / {r['worse']} of {r['samples']}"
        lines.append(f"| {r['takes']} | {r['cer']:.3f} / {r['cer_median']:.3f} | {r['cer_primed']:.3f} / "
                     f"{r['cer_primed_median']:.3f} | {ch} | {bw} | {r['strokes_off']:.3f} | {r['slant_off']:.1f} | "
                     f"{r['capped']} | {r['seconds']:.2f} |")
    return head + "\n".join(lines) + "\n"


def main() -> None:
    from engine.cli.ink import TAKES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(DEFAULT_MODEL), help="an exported package")
    ap.add_argument("--iam", default=str(DEFAULT_IAM), help="IAM-OnDB root (lineStrokes/ + ascii/)")
    ap.add_argument("--takes", type=TAKES, default=8)
    ap.add_argument("--sentences", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bias", type=float, default=0.5)
    ap.add_argument("--out", default=None, help="write the markdown table here (default: stdout)")
    ap.add_argument("--json", default=None, help="also write every take's figures here")
    ap.add_argument("--sheet", default=None, metavar="PNG",
                    help="also draw each sentence primed with one writer: one take, then the kept one of --takes")
    args = ap.parse_args()
    if not 1 <= args.sentences <= len(SENTENCES):
        raise SystemExit(f"--sentences must be 1..{len(SENTENCES)}, not {args.sentences}")
    from engine.runtime import load_package

    t0 = time.perf_counter()
    writer = load_package(args.model, threads=1).ink_writer
    with tempfile.TemporaryDirectory(prefix="takes-") as work:
        ds = import_iam(args.iam, work)
        recs = measure(args, ds, writer, work)
        hands = real_hands(ds, writer.scale)
    rows = summarise(recs, hands, args.takes)
    if args.sheet:
        log(f"wrote {sheet(recs, args.takes, Path(args.sheet))}")
    text = report(rows, args, time.perf_counter() - t0)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    if args.json:
        recs = [{k: v for k, v in r.items() if k != "points"} for r in recs]
        Path(args.json).write_text(json.dumps({"rows": rows, "takes": recs}, indent=1, default=str), encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
