""""Write like me" on real writers: the personal fine-tune (``scribe train ink --preset personal``) on the seven
IAM-OnDB forms in ../shared/fixtures/iam-ondb-writers, each writer standing in for one user.

For each writer (lines in form order): the last two lines of 12+ characters are held out (never trained on);
the others are the user's collection, written as a folder of InkML files (the app's collection format) and
fine-tuned on with the CLI exactly as the app runs it (``--data FOLDER --init-from BASE --preset personal``,
one thread), once on all of them and once on the first four. Then:

(a) NLL of the two held-out lines (``engine.core.ink_score``, ``scribe eval ink``'s preparation), nats per
    point in the model's units, before (the base) -> after (the personal model), unprimed and primed (primed
    with the writer's first collection line, along ``ink_stream``'s priming path);
(b) legibility: our own sentences (bench/handwriting_real_writers.SENTENCES) written by the base primed with
    the writer's first line (what the app does without a personal model) and by the personal model unprimed
    and primed; each rendered and read by Tesseract (``--psm 7``, helper of handwriting_real_writers);
    median character error rate (CER);
(c) the stop rule at the writer's pace: a sample passes when the stop rule ended it after 0.8-1.25 x the
    points the writer's own lines have for that many characters (their prepared collection lines);
(d) a sheet per writer (docs/personal/<writer>.png): a real held-out line, the base primed with their line
    writing its text, the personal model writing it (unprimed, then primed);
(e) the time to a personal model: training, then the export to a package (which the scoring and sampling
    above use, with onnxruntime, as the app does).

``--variants`` compares recipes (flags added after ``--preset personal``; see VARIANTS). IAM-OnDB is for
non-commercial research: everything derived from the forms lives in a temporary folder; only the figures
and the sheets are written into the repository.

    .venv/bin/python bench/personal_writers.py --writers g06-000r,h04-071 --variants recipe,plain --sentences 8
    .venv/bin/python bench/personal_writers.py --out bench/RESULTS-personal.md
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from handwriting_real_writers import DEFAULT_IAM, SENTENCES, _rel, legibility, log, write_sheet  # noqa: E402

DEFAULT_BASE = REPO / "assets" / "models" / "handwriting-script"
VARIANTS = {
    "recipe": [],                                                   # the personal preset as it is
    "head-only-preset": ["--freeze", "recurrent", "--rehearse", "0.5", "--anchor", "0.01"],  # the preset before
    "plain": ["--freeze", "none", "--anchor", "0", "--rehearse", "0", "--augment", "0"],
    "no-freeze": ["--freeze", "none"],
    "no-rehearse": ["--rehearse", "0"],
    "head-only": ["--freeze", "recurrent"],
    "top": ["--freeze", "lower"],
    "top-anchor": ["--freeze", "lower", "--anchor", "0.1"],
    "strong-anchor": ["--anchor", "0.1"],
    "more-rehearsal": ["--rehearse", "0.75"],
    "gentle": ["--lr", "2e-4", "--anchor", "0.05"],
    "rehearse-anchor": ["--rehearse", "0.75", "--anchor", "0.1"],
    "head-only-rehearse": ["--freeze", "recurrent", "--rehearse", "0.75"],
    "singles": ["--pairs", "0"],                                    # no line pairs: the recipe before them
    "pairs-half": ["--pairs", "0.5"],
    "attention": ["--freeze", "attention"],                         # the middle LSTM layer trained too
}
LENGTH_RANGE = (0.8, 1.25)
MIN_HELD_OUT_CHARS = 12


# ---- data ------------------------------------------------------------------------------------------

def writer_lines(ds, vocab) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, m in enumerate(ds.lines_meta):
        if m.get("text") and not vocab.unknown(m["text"]):
            out.setdefault(m["writer"], []).append(i)
    return out


def split_writer(ds, idx: list[int]) -> tuple[list[int], list[int]]:
    """(collection lines, the two held-out lines): the last two lines of 12+ characters are held out."""
    long = [i for i in idx if len(ds.lines_meta[i]["text"]) >= MIN_HELD_OUT_CHARS]
    held = long[-2:]
    return [i for i in idx if i not in held], held


def write_collection(ds, idx: list[int], folder: Path) -> Path:
    from engine.data.ink import Ink
    from engine.data.inkml import write_inkml

    folder.mkdir(parents=True, exist_ok=True)
    for k, i in enumerate(idx):
        line = ds.line(i)
        write_inkml(folder / f"{k + 1:04d}-line.inkml", [Ink.from_stroke3(line.points, text=line.text)])
    return folder


# ---- models ----------------------------------------------------------------------------------------

def fine_tune(collection: Path, base: str, run: Path, extra: list[str], args) -> float:
    from engine.cli.main import main as scribe

    argv = ["train", "ink", "--data", str(collection), "--init-from", base, "--preset", "personal",
            "--out", str(run), "--threads", "1", "--quiet", "--seed", str(args.seed), *extra]
    if args.steps:
        argv += ["--steps", str(args.steps)]
    t = time.perf_counter()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = scribe(argv)
    if rc:
        raise SystemExit(f"scribe {' '.join(argv)} failed ({rc}):\n{err.getvalue()[-2000:]}")
    return time.perf_counter() - t


def run_card(run: Path) -> dict:
    import engine.training.checkpoint as ckpt

    return ckpt.read_card(ckpt.resolve(run, prefer="best"))


def score(scorer, ds, held: list[int], prime_i: int | None) -> tuple[float, int]:
    """(sum NLL, points) of the held-out lines, unprimed or primed with line ``prime_i``."""
    from engine.core.ink_score import score_line
    from engine.data.ink import Ink
    from engine.data.prime import prepare_prime

    kw = {}
    if prime_i is not None:
        pm = ds.lines_meta[prime_i]
        kw = dict(prime_stroke3=prepare_prime(Ink.from_stroke3(ds.line(prime_i).points), scorer.scale),
                  prime_text=pm["text"], gap=scorer.scale.prime_gap, join=scorer.scale.join)
    total, points = 0.0, 0
    for i in held:
        s3 = prepare_prime(Ink.from_stroke3(ds.line(i).points), scorer.scale, max_points=10 ** 9)
        nll = score_line(scorer.stepper, s3, text=ds.lines_meta[i]["text"], vocab=scorer.vocab, norm=scorer.norm, **kw)
        total += float(nll.sum())
        points += len(nll)
    return total, points


def base_scorer_card(path) -> dict:
    """The card of a package or of a run's best checkpoint."""
    if (Path(path) / "model.onnx").exists():
        from engine.runtime.package import read_card

        return read_card(path)
    return run_card(Path(path))


def writer_pace(ds, idx: list[int], scale) -> float:
    from engine.data.ink import Ink
    from engine.data.prime import prepare_prime

    pts = chars = 0
    for i in idx:
        pts += len(prepare_prime(Ink.from_stroke3(ds.line(i).points), scale, max_points=10 ** 9))
        chars += len(ds.lines_meta[i]["text"])
    return pts / chars


def write_samples(generate, sentences, xh: float, pace: float, work: str, args, prime_ink=None,
                  writer_pace: float | None = None) -> dict:
    """CER (median) of ``sentences`` written by ``generate``; how many the stop rule ended, and how many of those
    at 0.8-1.25 x ``pace`` points per character (the pace the model was trained to); the median length in
    units of the writer's own pace (``writer_pace``)."""
    from engine.core.hand import slant
    from engine.core.word_space import median_gap

    cers, at_pace, stop_rule, ratios, leans, gaps = [], 0, 0, [], [], []
    for k, text in enumerate(sentences):
        st: dict = {}
        s3 = np.stack(list(generate(text, bias=args.bias, prime_ink=prime_ink, seed=args.seed + k, stats=st)))
        c, _ = legibility(s3, text, xh, work)
        cers.append(c)
        leans.append(slant(s3))
        gaps.append(median_gap(s3, text, xh))
        ratios.append(len(s3) / ((writer_pace or pace) * len(text)))
        ratio = len(s3) / (pace * len(text))
        ok = st.get("stopped") == "stop-rule"
        stop_rule += ok
        at_pace += bool(ok and LENGTH_RANGE[0] <= ratio <= LENGTH_RANGE[1])
    return {"cer": statistics.median(cers), "cers": cers, "at_pace": at_pace, "stop_rule": stop_rule,
            "n": len(sentences), "writer_ratio": statistics.median(ratios), "lean": float(np.nanmedian(leans)),
            "gap": _median([g for g in gaps if g is not None])}


def _median(values) -> float:
    return statistics.median(values) if values else float("nan")


def as_drawn(generate, sentences, xh: float, args) -> tuple[float, float]:
    """(median lean, median word gap) of ``sentences`` written unprimed with the slant and the word spaces left as
    the model draws them (no reading)."""
    from engine.core.hand import slant
    from engine.core.word_space import median_gap

    lines = [(np.stack(list(generate(text, bias=args.bias, seed=args.seed + k, slant="off", word_space=1.0))), text)
             for k, text in enumerate(sentences)]
    gaps = [g for g in (median_gap(s3, text, xh) for s3, text in lines) if g is not None]
    return float(np.nanmedian([slant(s3) for s3, _ in lines])), _median(gaps)


# ---- one writer --------------------------------------------------------------------------------------

def bench_writer(w: str, ds, idx: list[int], base_models, args, work: Path, variants: list[str]) -> dict:
    from engine.cli.evaluate import load_ink_scorer
    from engine.cli.ink import load_ink_generator
    from engine.core.hand import hand_slant
    from engine.core.word_space import hand_gap
    from engine.data.ink import Ink
    from engine.data.prime import prepare_prime
    from engine.export.exporter import export_package

    base_scorer, base_gen = base_models
    coll_idx, held = split_writer(ds, idx)
    prime_i = coll_idx[0]
    prime_ink = Ink.from_stroke3(ds.line(prime_i).points, text=ds.lines_meta[prime_i]["text"])
    xh = base_scorer.scale.x_height
    ppc = writer_pace(ds, coll_idx, base_scorer.scale)
    sentences = SENTENCES[:args.sentences]
    own = [(prepare_prime(Ink.from_stroke3(ds.line(i).points), base_scorer.scale, max_points=10 ** 9),
            ds.lines_meta[i]["text"]) for i in coll_idx]
    res = {"writer": w, "lines": len(idx), "held": [ds.lines_meta[i]["text"] for i in held], "ppc": ppc,
           "lean": hand_slant([s3 for s3, _ in own], xh), "gap": hand_gap(own, xh), "conditions": {}}
    log(f"{w}: {len(coll_idx)} collection lines, held out {res['held']}, pace {ppc:.2f} points/char")
    un = score(base_scorer, ds, held, None)
    pr = score(base_scorer, ds, held, prime_i)
    res["base"] = {"nll": un[0] / un[1], "nll_primed": pr[0] / pr[1], "points": un[1]}
    if not args.no_legibility:
        res["base"]["primed"] = write_samples(base_gen, sentences, xh, args.base_pace, str(work), args, prime_ink,
                                              writer_pace=ppc)
        log(f"  base: NLL {res['base']['nll']:.3f} / primed {res['base']['nll_primed']:.3f}, "
            f"CER primed {res['base']['primed']['cer']:.3f}")
    sheet_gens = {}
    conditions = [("all", coll_idx)] + ([("4", coll_idx[:4])] if args.four and len(coll_idx) > 4 else [])
    for variant in variants:
        for cond, lines in conditions:
            key = f"{variant}/{cond}"
            folder = write_collection(ds, lines, work / w / key.replace("/", "-") / "collection")
            run = work / w / key.replace("/", "-") / "run"
            secs = fine_tune(folder, args.base, run, VARIANTS[variant], args)
            card = run_card(run)
            t = time.perf_counter()   # as the app does: export the best checkpoint (and sample with onnxruntime)
            package = export_package(run, run.parent / "package", name="My handwriting")
            export_secs = time.perf_counter() - t
            scorer = load_ink_scorer(package)
            gen, _ = load_ink_generator(str(package))
            un = score(scorer, ds, held, None)
            pr = score(scorer, ds, held, prime_i)
            r = {"seconds": secs, "export_seconds": export_secs, "step": card.get("step"), "metrics": card.get("metrics") or {},
                 "nll": un[0] / un[1], "nll_primed": pr[0] / pr[1], "train_lines": len(lines)}
            if not args.no_legibility and (cond == "all" or not args.legibility_all_only):
                pace = card["personal"]["check_points_per_char"]
                r["unprimed"] = write_samples(gen, sentences, xh, pace, str(work), args, writer_pace=ppc)
                r["unprimed"]["lean_as_drawn"], r["unprimed"]["gap_as_drawn"] = as_drawn(gen, sentences, xh, args)
                if cond == "all":
                    r["primed"] = write_samples(gen, sentences, xh, pace, str(work), args, prime_ink, writer_pace=ppc)
            res["conditions"][key] = r
            if cond == "all" and variant == variants[0]:
                sheet_gens = {"gen": gen}
            m = r["metrics"]
            log(f"  {key}: {secs:.0f} s + export {export_secs:.0f} s, best step {r['step']} (check: "
                f"{m.get('legible_passed')}/{m.get('legible_checked')} at pace, lengths {m.get('length_ratios')}), NLL "
                f"{r['nll']:.3f} / primed {r['nll_primed']:.3f}"
                + (f", CER {r['unprimed']['cer']:.3f}" if "unprimed" in r else "")
                + (f" / primed {r['primed']['cer']:.3f}" if "primed" in r else ""))
    if args.sheets and sheet_gens:
        i = held[0]
        text = ds.lines_meta[i]["text"]
        real = prepare_prime(Ink.from_stroke3(ds.line(i).points), base_scorer.scale, max_points=10 ** 9)
        rows = [(real, f"{w}: a held-out line (real, in model units): {text}")]
        rows.append((np.stack(list(base_gen(text, bias=args.bias, prime_ink=prime_ink, seed=args.seed))),
                     "base model primed with their first line: the same text"))
        rows.append((np.stack(list(sheet_gens["gen"](text, bias=args.bias, seed=args.seed))),
                     f"personal model ({variants[0]}, {len(coll_idx)} lines), unprimed"))
        rows.append((np.stack(list(sheet_gens["gen"](text, bias=args.bias, prime_ink=prime_ink, seed=args.seed))),
                     "personal model primed with their first line"))
        res["sheet"] = str(write_sheet(rows, Path(args.sheets) / f"{w}.png"))
    return res


# ---- report ----------------------------------------------------------------------------------------

def _f(v, fmt="{:.3f}") -> str:
    return fmt.format(v) if isinstance(v, (int, float)) and v == v else "–"


def report(results: list[dict], variants: list[str], args, seconds: float) -> str:
    conds = ["all"] + (["4"] if args.four else [])
    out = ["# Write like me: personal fine-tunes on real writers (IAM-OnDB)", "",
           f"`{' '.join(['.venv/bin/python', 'bench/personal_writers.py'] + sys.argv[1:])}`: base "
           f"`{args.base_name}` (step {args.base_step}), bias {args.bias}, seed {args.seed}, {args.sentences} sentences, one thread; "
           f"{seconds / 60:.0f} min in all.", "",
           "NLL: nats per point of the 2 held-out lines (model units; lower is better), base -> personal; primed: "
           "after the writer's first collection line. CER: median character error rate of Tesseract's reading of "
           "our sentences: base primed with the writer's first line vs the personal model unprimed / primed. "
           "At pace: samples the stop rule ended (the attention crossed the whole text) after 0.8-1.25x the points "
           "per character expected (the base's card figure, for the base and, as the recipe's legibility check "
           "does, for the personal models). Length / writer's: median sample length over the writer's own points "
           "per character (their lines prepared as primes) x characters. Lean: degrees from upright, positive to the "
           "right (engine.core.hand): the writer's (the median over their collection lines), the personal model's "
           "unprimed samples as it writes them (half-way to the writer's lean, which its card records) and as the "
           "model draws them (slant off); word gap: the median blank between words in x-heights "
           "(engine.core.word_space), the writer's and the personal model's unprimed samples, with the spacing its "
           "card records for the writer and as drawn; the mean rows: how far from the writer's, on average.", ""]
    for variant in variants:
        for cond in conds:
            key = f"{variant}/{cond}"
            rows = [r for r in results if key in r["conditions"]]
            if not rows:
                continue
            out += [f"## {variant}, trained on {'all but the 2 held-out lines' if cond == 'all' else '4 lines'}", "",
                    "| writer | lines | NLL | NLL primed | CER base primed | CER personal | CER personal primed | "
                    "at pace: base primed | at pace: personal | length / writer's | lean: writer's / personal (as drawn) | "
                    "word gap: writer's / personal (as drawn) | time (train + export) | best step |",
                    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
            agg = {k: [] for k in ("b_nll", "p_nll", "b_pr", "p_pr", "c_b", "c_p", "c_pp", "sec")}
            pace = {k: [0, 0] for k in ("b", "p")}
            for r in rows:
                c = r["conditions"][key]
                b = r["base"]
                bp = b.get("primed") or {}
                cu, cp = c.get("unprimed") or {}, c.get("primed") or {}
                agg["b_nll"].append(b["nll"])
                agg["p_nll"].append(c["nll"])
                agg["b_pr"].append(b["nll_primed"])
                agg["p_pr"].append(c["nll_primed"])
                agg["sec"].append(c["seconds"] + c["export_seconds"])
                if bp:
                    agg["c_b"].append(bp["cer"])
                    pace["b"][0] += bp["at_pace"]
                    pace["b"][1] += bp["n"]
                if cu:
                    agg["c_p"].append(cu["cer"])
                    pace["p"][0] += cu["at_pace"]
                    pace["p"][1] += cu["n"]
                if cp:
                    agg["c_pp"].append(cp["cer"])
                out.append(f"| {r['writer']} | {c['train_lines']} | {b['nll']:.2f} -> {c['nll']:.2f} | "
                           f"{b['nll_primed']:.2f} -> {c['nll_primed']:.2f} | {_f(bp.get('cer'))} | "
                           f"{_f(cu.get('cer'))} | {_f(cp.get('cer'))} | "
                           + (f"{bp['at_pace']}/{bp['n']}" if bp else "–") + " | "
                           + (f"{cu['at_pace']}/{cu['n']}" if cu else "–") + " | "
                           + (f"{cu['writer_ratio']:.2f}" if cu else "–") + " | "
                           + (f"{_f(r['lean'], '{:.1f}')} / {cu['lean']:.1f} ({cu['lean_as_drawn']:.1f})" if cu else "–")
                           + " | " + (f"{_f(r['gap'], '{:.2f}')} / {_f(cu['gap'], '{:.2f}')} "
                                      f"({_f(cu['gap_as_drawn'], '{:.2f}')})" if cu else "–")
                           + f" | {c['seconds']:.0f} + {c['export_seconds']:.0f} s | {c['step']} |")
                if cu:
                    agg.setdefault("ratio", []).append(cu["writer_ratio"])
                    if r["lean"] is not None:
                        agg.setdefault("lean_off", []).append(abs(cu["lean"] - r["lean"]))
                        agg.setdefault("drawn_off", []).append(abs(cu["lean_as_drawn"] - r["lean"]))
                    if r["gap"] is not None:
                        agg.setdefault("gap_off", []).append(abs(cu["gap"] - r["gap"]))
                        agg.setdefault("gap_drawn_off", []).append(abs(cu["gap_as_drawn"] - r["gap"]))
            mean = lambda k: statistics.mean(agg[k]) if agg[k] else float("nan")  # noqa: E731
            med = lambda k: statistics.median(agg[k]) if agg[k] else float("nan")  # noqa: E731
            out.append(f"| **mean** | | **{mean('b_nll'):.2f} -> {mean('p_nll'):.2f}** | **{mean('b_pr'):.2f} -> "
                       f"{mean('p_pr'):.2f}** | {_f(med('c_b'))} | {_f(med('c_p'))} | {_f(med('c_pp'))} | "
                       f"{pace['b'][0]}/{pace['b'][1]} | {pace['p'][0]}/{pace['p'][1]} | "
                       f"{_f(statistics.median(agg['ratio']) if agg.get('ratio') else None, '{:.2f}')} | off by "
                       f"{_f(statistics.mean(agg['lean_off']) if agg.get('lean_off') else None, '{:.1f}')} "
                       f"({_f(statistics.mean(agg['drawn_off']) if agg.get('drawn_off') else None, '{:.1f}')}) | off by "
                       f"{_f(statistics.mean(agg['gap_off']) if agg.get('gap_off') else None, '{:.2f}')} "
                       f"({_f(statistics.mean(agg['gap_drawn_off']) if agg.get('gap_drawn_off') else None, '{:.2f}')}) | "
                       f"{mean('sec'):.0f} s | |")
            out.append("")
    exports = [c["export_seconds"] for r in results for c in r["conditions"].values()]
    if exports:
        out += [f"Export of a personal model to a package (ONNX + parity check), after training: median "
                f"{statistics.median(exports):.0f} s.", ""]
    sheets = [r["sheet"] for r in results if r.get("sheet")]
    if sheets:
        out += ["Sheets: " + ", ".join(f"`{_rel(s)}`" for s in sheets), ""]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default=str(DEFAULT_BASE), help="the model to personalise (package or run)")
    ap.add_argument("--iam", default=str(DEFAULT_IAM), help="IAM-OnDB root (lineStrokes/ + ascii/)")
    ap.add_argument("--writers", default=None, help="comma-separated writer ids (default: all seven)")
    ap.add_argument("--variants", default="recipe", help=f"comma-separated, of {', '.join(VARIANTS)}")
    ap.add_argument("--sentences", type=int, default=20, help="sentences written per model for the CER")
    ap.add_argument("--steps", type=int, default=None, help="override the preset's step budget")
    ap.add_argument("--no-four", dest="four", action="store_false", help="skip the 4-line fine-tunes")
    ap.add_argument("--legibility-all-only", action="store_true", help="CER only for the all-lines fine-tunes")
    ap.add_argument("--no-legibility", action="store_true", help="NLL only (no sampling, no OCR)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bias", type=float, default=0.5)
    ap.add_argument("--sheets", default=None, help="folder for the per-writer sheets (docs/personal for the record)")
    ap.add_argument("--out", default=None, help="write the markdown here (default: stdout)")
    ap.add_argument("--json", default=None, help="write every writer's figures here, each sample's CER included "
                                                 "(for sample-by-sample comparisons of two runs)")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from engine.cli.evaluate import load_ink_scorer
    from engine.cli.ink import load_ink_generator
    from engine.cli.main import main as scribe
    from engine.data.ink_dataset import InkDataset

    variants = [v for v in args.variants.split(",") if v]
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        raise SystemExit(f"unknown variant(s) {bad}; choose from {list(VARIANTS)}")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="personal-writers-") as tmp:
        work = Path(tmp)
        with contextlib.redirect_stdout(io.StringIO()):
            rc = scribe(["import", "iam", args.iam, "--out", str(work / "iam")])
        if rc:
            raise SystemExit(f"scribe import iam {args.iam} failed ({rc})")
        ds = InkDataset.load(work / "iam")
        # a private copy: the base every figure here refers to, even if the bundled model is replaced meanwhile
        import shutil

        args.base_name = Path(args.base).name
        if (Path(args.base) / "model.onnx").exists():
            args.base = str(shutil.copytree(args.base, work / "base" / Path(args.base).name))
        base_scorer = load_ink_scorer(args.base)
        base_gen, _ = load_ink_generator(args.base)
        base_card = base_scorer_card(args.base)
        args.base_pace = float(base_card.get("points_per_char") or 11.0)
        args.base_step = base_card.get("step")
        by_writer = writer_lines(ds, base_scorer.vocab)
        writers = args.writers.split(",") if args.writers else sorted(by_writer)
        results = []
        for w in writers:
            results.append(bench_writer(w, ds, by_writer[w], (base_scorer, base_gen), args, work, variants))
        text = report(results, variants, args, time.perf_counter() - t0)
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(results, indent=1, default=float), encoding="utf-8")
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
        log(f"wrote {args.out}")
    print(text)


if __name__ == "__main__":
    main()
