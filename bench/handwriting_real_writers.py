"""Handwriting models against real writers: the seven IAM-OnDB forms in ../shared/fixtures/iam-ondb-writers.

For each model (default: the bundled assets/models/handwriting-script):

(a) NLL: every line scored unprimed and primed with another line of the same writer (``scribe eval ink``'s
    code, engine.cli.evaluate), nats per point in the model's units, per writer and the mean over writers;
(b) leaks: every line as a prime x seeds x 2 texts; a leak = ``stats["first_focus"]`` not in (-1, 0) (the
    first new point drawn with the attention on the prime's text or beyond the new text's first letter);
    also how many samples the stop rule ended vs the step cap;
(c) legibility: each generated line rendered black on white (x-height 28 px, two pen widths, the better
    reading kept) and read by Tesseract (``--psm 7``, one line; ``--psm 13`` when that reads nothing); character
    error rate = Levenshtein distance / length, lowercase and whitespace-normalised; median over our own
    sentences below, unprimed and primed
    (each sentence written primed with each writer's lines in turn). For scale: the same OCR on the writers'
    own lines (their transcriptions) is reported as "real lines";
(d) one sheet per writer (``--sheets``, default docs/real-writers/<writer>.png): their real line (prepared to
    model units, as a prime is), then the same text written by the model primed with a DIFFERENT line of theirs.

IAM-OnDB is for non-commercial research: the forms are imported into a temporary folder and never copied
into the repository; only figures and the sheets are written.

    .venv/bin/python bench/handwriting_real_writers.py --quick             # a fast check (about a minute)
    .venv/bin/python bench/handwriting_real_writers.py --out bench/RESULTS-real-writers.md
    .venv/bin/python bench/handwriting_real_writers.py --models assets/models/handwriting-script runs/my-ink
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import functools
import io
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

DEFAULT_IAM = REPO.parent / "shared" / "fixtures" / "iam-ondb-writers"
DEFAULT_MODEL = REPO / "assets" / "models" / "handwriting-script"

# our own short everyday sentences (at most 36 characters: the bundled model was trained on 8-40)
SENTENCES = [
    "Please buy milk and bread.",
    "The bus leaves at ten.",
    "Call me after lunch today.",
    "We walked home in the rain.",
    "My sister likes green tea.",
    "Dinner is ready at seven.",
    "The shop closes early on Sunday.",
    "I left my keys on the table.",
    "Thank you for the lovely flowers.",
    "The garden needs more water.",
    "He reads the paper every morning.",
    "Meet me by the old bridge.",
    "Our train was late again.",
    "She painted the door blue.",
    "Bring a coat, it is cold out.",
    "The cat sleeps by the window.",
    "Let us go to the beach.",
    "I will write to you soon.",
    "The meeting starts at noon.",
    "Remember to feed the dog.",
    "We need eggs, rice and soap.",
    "The baby smiled at me.",
    "It has been a long week.",
    "Turn left at the next corner.",
]
LEAK_TEXTS = ("See you on Monday.", "The kettle is on.")
OCR_X_HEIGHT_PX = 28
PEN_WIDTHS = (2.5, 4.0)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- OCR --------------------------------------------------------------------------------------------

def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def normalise_text(s: str) -> str:
    return " ".join(s.lower().split())


def cer(reading: str, truth: str) -> float:
    t = normalise_text(truth)
    return levenshtein(normalise_text(reading), t) / max(len(t), 1)


MARKED = "tijfx"   # small letters whose bar, dot or crossing is a stroke of its own after the body


def misread_letters(pairs) -> dict:
    """How often each small letter of the intended texts is missing from Tesseract's readings: over (truth,
    reading) pairs aligned case-blind (difflib), the share of its occurrences inside a replaced or deleted
    span. ``{letter: (misread, count)}`` for the lowercase letters of the truths (a capital I reads as l or |)."""
    out: dict = defaultdict(lambda: [0, 0])
    for truth, reading in pairs:
        t, r = " ".join(truth.split()), " ".join(reading.split())
        wrong = np.zeros(len(t), dtype=bool)
        for op, a1, a2, _, _ in difflib.SequenceMatcher(None, t.lower(), r.lower(), autojunk=False).get_opcodes():
            if op in ("replace", "delete"):
                wrong[a1:a2] = True
        for c, w in zip(t, wrong):
            if c.islower():
                out[c][0] += int(w)
                out[c][1] += 1
    return {c: tuple(v) for c, v in out.items()}


def marks_summary(pairs) -> dict:
    """Misread shares of ``t``, ``i`` and the small letters without a separate mark (``MARKED`` aside)."""
    m = misread_letters(pairs)
    share = lambda ks: (sum(m[k][0] for k in ks if k in m) / max(sum(m[k][1] for k in ks if k in m), 1))  # noqa: E731
    return {"t": share("t"), "i": share("i"), "other": share([c for c in m if c not in MARKED])}


def render_line(s3: np.ndarray, path: str, x_height: float, pen_width: float, x_height_px: int = OCR_X_HEIGHT_PX):
    """Black on white, the model's x-height at ``x_height_px`` pixels."""
    from handwriting_render import render_png

    xy = np.cumsum(np.asarray(s3, dtype=np.float64)[:, :2], 0)
    k = x_height_px / x_height
    w, h = np.ptp(xy, 0) * k
    render_png([(s3, "")], path, width=int(w) + 40, row_h=int(h) + 50, scale=k, pen_width=pen_width)
    return path


def ocr(path: str) -> str:
    """Tesseract's reading of a one-line image, as a single text line (``--psm 7``); when that reads nothing, as
    a raw line (``--psm 13``, no layout analysis): the line mode now and then finds no text at all in a clean,
    joined hand that the raw mode reads (bench/RESULTS-handwriting.md 2m)."""
    for psm in ("7", "13"):
        out = subprocess.run(["tesseract", path, "stdout", "--psm", psm, "-l", "eng"], capture_output=True,
                             text=True, timeout=60)
        if out.stdout.strip():
            break
    return out.stdout.strip()


def legibility(s3: np.ndarray, truth: str, x_height: float, work: str) -> tuple[float, str]:
    """(character error rate, reading): the better of the pen widths."""
    best = (float("inf"), "")
    for pw in PEN_WIDTHS:
        reading = ocr(render_line(s3, os.path.join(work, "ocr.png"), x_height, pw))
        best = min(best, (cer(reading, truth), reading))
    return best


# ---- word spaces ------------------------------------------------------------------------------------

def gap_summary(gaps: list[float]) -> tuple[float, float]:
    """(median word gap, share of word spaces under half an x-height: words that read as one)."""
    if not gaps:
        return float("nan"), float("nan")
    return statistics.median(gaps), float(np.mean(np.asarray(gaps) < 0.5))


# ---- hands ------------------------------------------------------------------------------------------

def hand_summary(measures: list[tuple[float, float]]) -> tuple[float, float]:
    """(median slant in degrees, median pen-down strokes per letter) over lines (``engine.core.hand``)."""
    out = []
    for k in range(2):
        v = [m[k] for m in measures if math.isfinite(m[k])]
        out.append(statistics.median(v) if v else float("nan"))
    return out[0], out[1]


def hand_agreement(per_writer: list[dict]) -> dict:
    """How close each writer's primed samples come to their own lines: mean absolute difference and correlation
    over writers, of the median slant and of the median strokes per letter."""
    out = {}
    for k, name in enumerate(("slant", "strokes_per_letter")):
        pairs = np.array([(p["hand_primed"][k], p["hand_real"][k]) for p in per_writer], dtype=np.float64)
        pairs = pairs[np.isfinite(pairs).all(1)]
        out[name] = {"mean_abs_diff": float(np.abs(pairs[:, 0] - pairs[:, 1]).mean()) if len(pairs) else float("nan"),
                     "corr": float(np.corrcoef(pairs.T)[0, 1]) if len(pairs) > 2 else float("nan")}
    return out


# ---- sheets -----------------------------------------------------------------------------------------

def write_sheet(rows: list[tuple[np.ndarray, str]], path: Path, width: int = 1100, row_h: int = 78) -> Path:
    """Rows at one common scale, 8-bit grey (small files)."""
    from handwriting_render import render_png
    from PySide6.QtGui import QImage

    k = min(min((width - 20) / max(np.ptp(np.cumsum(s3[:, 0])), 1e-6),
                (row_h - 24) / max(np.ptp(np.cumsum(s3[:, 1])), 1e-6)) for s3, _ in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    render_png(rows, str(path), width=width, row_h=row_h, scale=k, pen_width=1.6)
    img = QImage(str(path)).convertToFormat(QImage.Format_Grayscale8)
    img.save(str(path), "PNG", 9)
    return path


# ---- one model ----------------------------------------------------------------------------------------

def per_point(recs) -> float:
    pts = sum(r["points"] for r in recs)
    return sum(r["nll"] for r in recs) / pts if pts else float("nan")


def evaluate_model(model: str, ds, args, sheets: Path | None, work: str) -> dict:
    from engine.cli.evaluate import load_ink_scorer, prime_partner, score_dataset
    from engine.cli.ink import load_ink_generator
    from engine.core.hand import slant, strokes_per_letter
    from engine.core.word_space import word_gaps
    from engine.data.ink import Ink
    from engine.data.prime import prepare_prime

    t_all = time.perf_counter()
    timings = {}
    scorer = load_ink_scorer(model)
    generate, kind = load_ink_generator(model)
    generate = functools.partial(generate, word_gap=args.word_gap, word_space=args.word_space,
                                 guide_prime=not args.unguided, slant=args.slant, takes=args.takes)
    if kind != "ink-synthesis":
        raise SystemExit(f"{model} is a {kind} model; this benchmark needs a synthesis model")
    xh = scorer.scale.x_height
    writers = sorted({m["writer"] for m in ds.lines_meta})
    lines_of = {w: [i for i, m in enumerate(ds.lines_meta) if m["writer"] == w] for w in writers}
    inks = [Ink.from_stroke3(ds.line(i).points, text=ds.lines_meta[i]["text"]) for i in range(len(ds))]
    writable = [not scorer.vocab.unknown(m["text"]) for m in ds.lines_meta]
    quick = args.quick

    # (a) NLL, unprimed and primed
    t = time.perf_counter()
    nll = {}
    for primed in (False, True):
        recs, skipped, unknown = score_dataset(scorer, ds, range(len(ds)), primed=primed,
                                               guide_prime=not args.unguided)
        if skipped:
            log(f"  NLL {'primed' if primed else 'unprimed'}: skipped {dict(skipped)} {dict(unknown)}")
        nll[primed] = recs
    timings["nll"] = time.perf_counter() - t
    log(f"  NLL done in {timings['nll']:.0f} s")

    # (b) leaks: every line as a prime x seeds x texts
    t = time.perf_counter()
    seeds = [args.seed + k for k in range(1 if quick else 3)]
    texts = LEAK_TEXTS[:1] if quick else LEAK_TEXTS
    primes = [i for w in writers for i in (lines_of[w][:2] if quick else lines_of[w])]
    leaks, stopped = Counter(), Counter()
    samples = Counter()
    for i in primes:
        w = ds.lines_meta[i]["writer"]
        for seed in seeds:
            for text in texts:
                st = {}
                for _ in generate(text, bias=args.bias, prime_ink=inks[i], seed=seed, stats=st):
                    pass
                samples[w] += 1
                leaks[w] += st["first_focus"] not in (-1, 0)
                stopped[st["stopped"]] += 1
    timings["leaks"] = time.perf_counter() - t
    log(f"  leaks: {sum(leaks.values())} of {sum(samples.values())} in {timings['leaks']:.0f} s")

    # (c) legibility
    t = time.perf_counter()
    sentences = SENTENCES[:6] if quick else SENTENCES
    bad = [s for s in sentences if scorer.vocab.unknown(s)]
    if bad:
        raise SystemExit(f"{model} cannot write {bad}")
    cer_un, cer_pr, cer_real = [], defaultdict(list), defaultdict(list)
    read_un, read_pr = [], defaultdict(list)   # (text, Tesseract's reading) of every sample
    gaps_un, gaps_pr, gaps_real = [], defaultdict(list), defaultdict(list)   # word spaces, in x-heights
    hand_un, hand_pr, hand_real = [], defaultdict(list), defaultdict(list)   # (slant, strokes per letter)
    examples = []
    for k, text in enumerate(sentences):
        st = {}
        s3 = np.stack(list(generate(text, bias=args.bias, seed=args.seed + k, stats=st)))
        stopped[st["stopped"]] += 1
        c, reading = legibility(s3, text, xh, work)
        cer_un.append(c)
        read_un.append((text, reading))
        gaps_un += word_gaps(s3, len(text.split()), xh)
        hand_un.append((slant(s3), strokes_per_letter(s3, text)))
        if k < 3:
            examples.append(f"unprimed {text!r} -> {reading!r} (CER {c:.2f})")
    for k, text in enumerate(sentences):
        for w in ([writers[k % len(writers)]] if quick else writers):
            i = lines_of[w][k % len(lines_of[w])]
            st = {}
            s3 = np.stack(list(generate(text, bias=args.bias, prime_ink=inks[i], seed=args.seed + k, stats=st)))
            stopped[st["stopped"]] += 1
            c, reading = legibility(s3, text, xh, work)
            cer_pr[w].append(c)
            read_pr[w].append((text, reading))
            gaps_pr[w] += word_gaps(s3, len(text.split()), xh)
            hand_pr[w].append((slant(s3), strokes_per_letter(s3, text)))
            if w == writers[k % len(writers)] and k < 3:
                examples.append(f"primed ({w}) {text!r} -> {reading!r} (CER {c:.2f})")
    for w in writers:
        for i in (lines_of[w][:2] if quick else lines_of[w]):
            try:
                s3 = prepare_prime(inks[i], scorer.scale, max_points=10 ** 9)
            except Exception:  # noqa: BLE001 - too short to tell its size
                continue
            cer_real[w].append(legibility(s3, ds.lines_meta[i]["text"], xh, work)[0])
            gaps_real[w] += word_gaps(s3, len(ds.lines_meta[i]["text"].split()), xh)
            hand_real[w].append((slant(s3), strokes_per_letter(s3, ds.lines_meta[i]["text"])))
    timings["legibility"] = time.perf_counter() - t
    log(f"  legibility in {timings['legibility']:.0f} s")

    # (d) sheets: a real line, then the model writing its text primed with another line of the same writer
    t = time.perf_counter()
    written = []
    if sheets is not None:
        for w in writers:
            rows = []
            for i in [i for i in lines_of[w] if writable[i]][:2]:
                j = prime_partner(ds, i, lambda j: True)
                text = ds.lines_meta[i]["text"]
                try:
                    real = prepare_prime(inks[i], scorer.scale, max_points=10 ** 9)
                except Exception:  # noqa: BLE001
                    continue
                gen = np.stack(list(generate(text, bias=args.bias, prime_ink=inks[j], seed=args.seed)))
                rows += [(real, f"{w}, line {ds.lines_meta[i]['id']} (real, in model units): {text}"),
                         (gen, f"model, primed with their line {ds.lines_meta[j]['id']}: the same text")]
            if rows:
                written.append(write_sheet(rows, sheets / f"{w}.png"))
    timings["sheets"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_all

    per_writer = []
    for w in writers:
        un = [r for r in nll[False] if r["writer"] == w]
        pr = [r for r in nll[True] if r["writer"] == w]
        per_writer.append({"writer": w, "lines": len(lines_of[w]), "nll": per_point(un), "nll_primed": per_point(pr),
                           "leaks": leaks[w], "samples": samples[w],
                           "cer_primed": statistics.median(cer_pr[w]) if cer_pr[w] else float("nan"),
                           "cer_real": statistics.median(cer_real[w]) if cer_real[w] else float("nan"),
                           "gap_primed": gap_summary(gaps_pr[w]), "gap_real": gap_summary(gaps_real[w]),
                           "hand_primed": hand_summary(hand_pr[w]), "hand_real": hand_summary(hand_real[w])})
    all_pr = [c for cs in cer_pr.values() for c in cs]
    all_real = [c for cs in cer_real.values() for c in cs]
    return {
        "model": model, "per_writer": per_writer, "timings": timings, "examples": examples, "sheets": written,
        "nll": statistics.mean(p["nll"] for p in per_writer),
        "nll_primed": statistics.mean(p["nll_primed"] for p in per_writer),
        "nll_pooled": per_point(nll[False]), "nll_primed_pooled": per_point(nll[True]),
        "lines": len(nll[False]), "leaks": sum(leaks.values()), "samples": sum(samples.values()),
        "stop_rule": stopped["stop-rule"], "cap": stopped["cap"],
        "cer": statistics.median(cer_un), "cer_primed": statistics.median(all_pr),
        "cer_real": statistics.median(all_real) if all_real else float("nan"),
        "sentences": len(sentences), "primed_samples": len(all_pr),
        "cer_samples": cer_un, "cer_primed_samples": {w: cer_pr[w] for w in writers},
        "readings": read_un, "readings_primed": {w: read_pr[w] for w in writers},
        "marks": marks_summary(read_un), "marks_primed": marks_summary([p for w in writers for p in read_pr[w]]),
        "gap": gap_summary(gaps_un), "gap_primed": gap_summary([g for gs in gaps_pr.values() for g in gs]),
        "gap_real": gap_summary([g for gs in gaps_real.values() for g in gs]),
        "hand": hand_summary(hand_un), "hand_agreement": hand_agreement(per_writer),
    }


def report(results: list[dict], args, seconds: float) -> str:
    out = [f"# Handwriting models on real writers (IAM-OnDB, {len(results[0]['per_writer'])} writers)", "",
           f"`{' '.join(['.venv/bin/python', 'bench/handwriting_real_writers.py'] + sys.argv[1:])}`: "
           f"bias {args.bias}, seed {args.seed}, word gap floor {args.word_gap} x-height, word space {args.word_space or 'auto'}{', the window free through primes' if args.unguided else ''}{f', slant {args.slant}' if args.slant is not None else ''}{f', {args.takes} takes' if args.takes > 1 else ''}{', --quick' if args.quick else ''}; {seconds:.0f} s in all.", "",
           "NLL: nats per point in the model's normalised units (lower is better), mean over writers; primed: "
           "after another line of the same writer. Leaks: samples whose first new point is drawn with the "
           "attention off the new text's start. Stop rule / cap: how every sample here ended. CER: median character error rate of Tesseract's reading "
           "(the writers' own lines, read the same way, for scale). Word gap: the median blank between words in "
           "x-heights (`word_gaps`), and the share of word spaces under half an x-height (words run "
           "together), unprimed / primed / the writers' own lines. Slant and strokes a letter (`engine.core.hand`): "
           "the median lean of the downstrokes in degrees and the median pen-down strokes per letter (a print hand "
           "about one or more, a joined hand under two thirds), unprimed / primed / the writers' own lines; "
           "primed against the writers': the mean absolute difference over writers (and the correlation). "
           "t / i / other misread: the share of the small t, small i and the other small letters without a dot or "
           "bar of their own (not t, i, j, f, x) that Tesseract's readings miss (`misread_letters`), unprimed / "
           "primed.", "",
           "| model | NLL | NLL primed | leaks | stop rule / cap | CER | CER primed | CER real lines | word gap "
           "(run together) | slant | strokes a letter | t / i / other misread | time |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        out.append(f"| {Path(r['model']).name} | {r['nll']:.3f} | {r['nll_primed']:.3f} | {r['leaks']} of "
                   f"{r['samples']} | {r['stop_rule']} / {r['cap']} | {r['cer']:.3f} ({r['sentences']}) | "
                   f"{r['cer_primed']:.3f} ({r['primed_samples']}) | {r['cer_real']:.3f} | "
                   f"{_gap(r['gap'])} / {_gap(r['gap_primed'])} / {_gap(r['gap_real'])} | "
                   f"{_hand(r, 0, 'slant', '.1f')} | {_hand(r, 1, 'strokes_per_letter', '.2f')} | "
                   f"{_marks(r['marks'])} / {_marks(r['marks_primed'])} | {r['timings']['total']:.0f} s |")
    for r in results:
        out += ["", f"## {Path(r['model']).name}: per writer", "",
                "| writer | lines | NLL | NLL primed | leaks | CER primed | CER real lines | word gap primed / real | "
                "slant primed / real | strokes a letter primed / real |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for p in r["per_writer"]:
            out.append(f"| {p['writer']} | {p['lines']} | {p['nll']:.3f} | {p['nll_primed']:.3f} | {p['leaks']} of "
                       f"{p['samples']} | {p['cer_primed']:.3f} | {p['cer_real']:.3f} | "
                       f"{_gap(p['gap_primed'])} / {_gap(p['gap_real'])} | "
                       f"{p['hand_primed'][0]:.1f} / {p['hand_real'][0]:.1f} | "
                       f"{p['hand_primed'][1]:.2f} / {p['hand_real'][1]:.2f} |")
        out += ["", f"Pooled over lines: NLL {r['nll_pooled']:.3f}, primed {r['nll_primed_pooled']:.3f} "
                    f"({r['lines']} lines). Times: " + ", ".join(f"{k} {v:.0f} s" for k, v in r["timings"].items())
                + "."]
        if r["examples"]:
            out += ["", "Readings:", ""] + [f"- {e}" for e in r["examples"]]
        if r["sheets"]:
            out += ["", "Sheets: " + ", ".join(f"`{_rel(p)}`" for p in r["sheets"])]
    return "\n".join(out) + "\n"


def _marks(m: dict) -> str:
    return f"{m['t']:.2f} / {m['i']:.2f} / {m['other']:.2f}"


def _gap(g: tuple[float, float]) -> str:
    return f"{g[0]:.2f} ({g[1]:.0%})"


def _hand(r: dict, k: int, name: str, fmt: str) -> str:
    """Unprimed / primed / real (the median of the writers' medians), then primed against the writers' (mean abs. diff., corr.)."""
    pooled = lambda key: hand_summary([p[key] for p in r["per_writer"]])[k]  # noqa: E731 - median of writers
    a = r["hand_agreement"][name]
    return (f"{r['hand'][k]:{fmt}} / {pooled('hand_primed'):{fmt}} / {pooled('hand_real'):{fmt}} "
            f"(off by {a['mean_abs_diff']:{fmt}}, corr. {a['corr']:.2f})")


def _rel(p: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(REPO))
    except ValueError:
        return str(p)


def _slug(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(model).name) or "model"


def import_iam(root: str, work: str):
    """The IAM-OnDB forms under ``root`` imported into ``work`` (a temporary folder: never copied elsewhere)."""
    from engine.cli.main import main as scribe
    from engine.data.ink_dataset import InkDataset

    data = os.path.join(work, "iam")
    with contextlib.redirect_stdout(io.StringIO()):
        rc = scribe(["import", "iam", root, "--out", data])
    if rc:
        raise SystemExit(f"scribe import iam {root} failed ({rc})")
    return InkDataset.load(data)


def main() -> None:
    from engine.cli.common import AUTO_WORD_SPACE, SLANT
    from engine.cli.ink import TAKES
    from engine.core.word_space import WORD_GAP_X_HEIGHTS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=[str(DEFAULT_MODEL)], help="packages or run folders")
    ap.add_argument("--iam", default=str(DEFAULT_IAM), help="IAM-OnDB root (lineStrokes/ + ascii/)")
    ap.add_argument("--quick", action="store_true", help="fewer sentences, seeds and primes: a fast check")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bias", type=float, default=0.5)
    ap.add_argument("--word-gap", type=float, default=WORD_GAP_X_HEIGHTS, dest="word_gap",
                    help="the least blank between words, x-heights (0: as the model draws it)")
    ap.add_argument("--word-space", type=AUTO_WORD_SPACE, default=None, dest="word_space", metavar="auto|F",
                    help="a factor on the spaces between words (default auto: the prime's spacing)")
    ap.add_argument("--unguided", action="store_true",
                    help="leave the window free through each prime (engine.core.prime_guide), as before")
    ap.add_argument("--slant", type=SLANT, default=None, metavar="auto|off|DEGREES",
                    help="the lean of the samples (default auto: half-way to the prime's; off: as the model draws it)")
    ap.add_argument("--takes", type=TAKES, default=1,
                    help="write every sample this many times and keep the likeliest (engine.core.takes; the app: 3)")
    ap.add_argument("--sheets", default=None,
                    help="folder for the per-writer sheets (default docs/real-writers; --quick: $TMPDIR/real-writers-sheets)")
    ap.add_argument("--out", default=None, help="write the markdown table here (default: stdout)")
    ap.add_argument("--json", default=None,
                    help="also write every figure here, with each sample's CER (in the same order for every run, "
                         "so two runs of one seed compare sample by sample)")
    args = ap.parse_args()
    if shutil.which("tesseract") is None:
        raise SystemExit("tesseract is not installed (apt-get install tesseract-ocr)")


    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="real-writers-") as work:
        ds = import_iam(args.iam, work)
        log(f"imported {len(ds)} lines of {len({m['writer'] for m in ds.lines_meta})} writers from {args.iam}")
        base = Path(args.sheets) if args.sheets else (Path(tempfile.gettempdir()) / "real-writers-sheets" if args.quick
                                                      else REPO / "docs" / "real-writers")
        results = []
        for m in args.models:
            log(f"{m}:")
            sheets = base if len(args.models) == 1 else base / _slug(m)
            results.append(evaluate_model(m, ds, args, sheets, work))
        text = report(results, args, time.perf_counter() - t0)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        log(f"wrote {args.out}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
