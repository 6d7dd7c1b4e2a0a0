"""``scribe import iam``, ``scribe import inkml`` and ``scribe synth``: build ink datasets. No torch."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.cli.common import FRACTION, NON_NEGATIVE, POSITIVE, SEED, WORD_SPACE, Number, write_output
from engine.core.errors import DataError

JOBS = Number(int, 1, 256)                 # worker processes
WRITERS = Number(int, 1, 100_000)
LINE_CHARS = Number(int, 1, 1000)          # characters in one synthetic line of handwriting
SHAPE_VAR = Number(float, 0, 4)            # factor on the synthetic writers' shape variation
HZ = Number(float, 0, 1000, lo_open=True)  # pen points per second (70: IAM-like)
SHARE = Number(float, 0, 1)                # a fraction of the lines, 0 and 1 included


def register(groups) -> None:
    imp = groups["import"]
    p = imp.add_parser("iam", help="import IAM-OnDB (lineStrokes/ + ascii/) into an ink dataset")
    p.add_argument("root", metavar="IAM_ROOT", help="folder containing lineStrokes/ and ascii/")
    p.add_argument("--out", required=True, metavar="DATASET", help="dataset folder (also the import cache)")
    p.add_argument("--jobs", type=JOBS, default=None, help="parallel parser processes (default: CPU count)")
    p.add_argument("--no-cache", action="store_true", help="re-parse every file even if unchanged")
    _add_common(p)
    p.set_defaults(func=cmd_import_iam)

    p = imp.add_parser("inkml", help="import InkML files (e.g. the app's recordings) into an ink dataset")
    p.add_argument("folder", metavar="FOLDER", help="folder of .inkml files (searched recursively) or one file")
    p.add_argument("--out", required=True, metavar="DATASET")
    _add_common(p)
    p.set_defaults(func=cmd_import_inkml)

    s = groups[""].add_parser("synth", help="write a synthetic handwriting dataset (Hershey print, italic, script "
                                            "and cursive hands)")
    s.add_argument("--corpus", default=None, metavar="TEXT",
                   help="UTF-8 text to take lines from (default: the bundled tinyshakespeare.txt)")
    s.add_argument("--lines", type=Number(int, 1), required=True, metavar="N", help="number of lines to write")
    s.add_argument("--out", required=True, metavar="DATASET")
    s.add_argument("--writers", type=WRITERS, default=20, metavar="W", help="number of synthetic writers (styles)")
    s.add_argument("--hands", default=None, metavar="HANDS",
                   help="hand families of the writers: names (print,italic,script,cursive: equal shares) or weights "
                        "(print=0.35,cursive=0.3,...); default: all, print=0.35,italic=0.15,script=0.2,cursive=0.3")
    s.add_argument("--seed", type=SEED, default=0, metavar="S")
    s.add_argument("--mix", type=SHARE, default=0.2,
                   help="fraction of lines mixing in digits, capitals and punctuation (default 0.2)")
    s.add_argument("--caps", type=SHARE, default=0.0,
                   help="fraction of lines written in capitals throughout (default 0)")
    s.add_argument("--min-chars", type=LINE_CHARS, default=20)
    s.add_argument("--max-chars", type=LINE_CHARS, default=50)
    s.add_argument("--hz", type=HZ, default=70.0,
                   help="pen sampling rate: 70 is IAM-like (~24 points per letter); 30 gives ~11 (default 70)")
    s.add_argument("--shape-var", type=SHAPE_VAR, default=1.0, metavar="F",
                   help="how far the writers' letters stray from the fonts: a factor on every writer's shape "
                        "deformation and per-letter variation (0 = the fonts' own shapes; default 1)")
    s.add_argument("--word-space", type=WORD_SPACE, default=1.0, metavar="F",
                   help="a factor on every writer's space between words (default 1; the real writers' spaces are "
                        "wider than the default corpus's: bench/RESULTS-handwriting.md 2k)")
    s.add_argument("--round-joins", type=SHARE, default=0.0, metavar="SHARE", dest="round_joins",
                   help="share of the script and cursive writers who also join into the letters the fonts start "
                        "away from the last letter (a, c, d, e, g, o, q, w), as real joined hands do (default 0: "
                        "they lift there; bench/RESULTS-handwriting.md 2o)")
    s.add_argument("--script-lifts", type=SHARE, default=0.0, metavar="SHARE", dest="script_lifts",
                   help="share of the script writers who lift the pen between most of their letters (script "
                        "letters written apart; default 0: they join most)")
    s.add_argument("--late-marks", type=SHARE, default=None, metavar="SHARE", dest="late_marks",
                   help="share of the writers who dot their i and j and cross their t, f and x after the word "
                        "(default 0.5; the rest do it at the letter)")
    s.add_argument("--jobs", type=JOBS, default=1, help="worker processes (default 1)")
    s.add_argument("--svg-preview", default=None, metavar="FILE", help="also write the first lines as SVG")
    s.set_defaults(func=cmd_synth)


def _add_common(p) -> None:
    g = p.add_argument_group("cleaning and split")
    g.add_argument("--val", type=FRACTION, default=0.05, help="validation fraction (by form / file)")
    g.add_argument("--test", type=FRACTION, default=0.05, help="test fraction (by form / file)")
    g.add_argument("--max-points", type=Number(int, 2), default=None, help="skip lines with more points than this")
    g.add_argument("--resample", type=POSITIVE, default=None, metavar="STEP",
                   help="resample strokes to points STEP raw units apart")
    g.add_argument("--max-jump", type=NON_NEGATIVE, default=None,
                   help="longest plausible pen-down step in raw units (default: automatic, longer than both "
                        "12x the line's median step and 3x its height)")
    g.add_argument("--svg-preview", default=None, metavar="FILE", help="also write the first lines as SVG")


def _clean_options(args):
    from engine.data.ink_clean import CleanOptions

    if args.val + args.test >= 1:
        raise DataError("--val + --test must leave some lines for training")
    return CleanOptions(max_jump=args.max_jump, max_points=args.max_points, resample_step=args.resample)


def _check_out(out: str, svg_preview: str | None = None) -> Path:
    """--out (and --svg-preview), checked before any work is done."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise DataError(f"--out {out} exists and is not a folder")
    if svg_preview and Path(svg_preview).is_dir():
        raise DataError(f"--svg-preview {svg_preview} is a folder; give a file name")
    return p


def _progress(label: str):
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar = {}

    def update(done: int, total: int) -> None:
        if "b" not in bar:
            bar["b"] = tqdm(total=total, desc=label, unit="file", file=sys.stderr, leave=False)
        bar["b"].n = done
        bar["b"].refresh()
    return update


def summary(ds, report=None, max_skipped: int = 20) -> str:
    """A human-readable summary of a dataset (and of the import that made it)."""
    import numpy as np

    lens = ds.lengths()
    n = len(ds)
    lines = []
    head = f"{n:,} lines, {int(lens.sum()):,} points ({lens.mean():.0f} per line, max {int(lens.max()):,})"
    if report is not None:
        how = "unchanged input, loaded from the cache" if report.cached else \
            f"{report.parsed:,} files parsed" + (f", {report.reused:,} reused from the cache" if report.reused else "")
        head += f" from {report.files:,} files in {report.seconds:.1f} s ({how})"
    lines.append(head)
    splits = {s: int(len(ds.indices(s))) for s in ("train", "val", "test")}
    lines.append("splits: " + ", ".join(f"{k} {v:,}" for k, v in splits.items()))
    writers = {m.get("writer", "") for m in ds.lines_meta}
    lines.append(f"writers: {len(writers - {''}):,}")
    cs = ds.charset()
    lines.append(f"charset ({len(cs)}): " + "".join(cs))
    no_text = sum(1 for m in ds.lines_meta if not m.get("text"))
    if no_text:
        lines.append(f"lines without a transcription: {no_text:,}")
    chars = np.array([len(m.get("text", "").replace(" ", "")) for m in ds.lines_meta])
    if chars.sum():
        lines.append(f"points per character: {lens[chars > 0].sum() / chars.sum():.1f}")
    dropped = (report.dropped if report is not None and report.dropped else ds.extra.get("dropped")) or None
    if dropped is not None:
        lines.append(f"dropped for their transcription: {sum(dropped.values()):,} lines "
                     f"({dropped.get('crossed_out', 0):,} with a crossed-out word '#', "
                     f"{dropped.get('placeholder', 0):,} with the placeholder 'Please Enter Transcription here')")
    cleaning = (report.cleaning if report is not None and report.cleaning else ds.extra.get("cleaning")) or None
    if cleaning is not None:
        removed = sum(cleaning.get(k, 0) for k in ("nonfinite", "duplicates", "spikes"))
        lines.append(f"cleaning: {removed:,} of {cleaning.get('points_in', 0):,} points removed "
                     f"({cleaning.get('duplicates', 0):,} duplicates, {cleaning.get('nonfinite', 0):,} non-finite, "
                     f"{cleaning.get('spikes', 0):,} spikes), {cleaning.get('splits', 0):,} strokes split at jumps")
    skipped = list(report.skipped if report is not None else ds.skipped)
    if skipped:
        lines.append(f"skipped {len(skipped):,}:")
        lines.extend(f"  {f}: {r}" for f, r in skipped[:max_skipped])
        if len(skipped) > max_skipped:
            lines.append(f"  ... and {len(skipped) - max_skipped:,} more (all listed in meta.json)")
    return "\n".join(lines)


def _svg_preview(ds, path: str, n: int = 8) -> None:
    import numpy as np

    from engine.data.ink import Ink
    from engine.data.svg import inks_to_svg

    inks = [Ink.from_stroke3(ds.line(i).points, ds.line(i).text) for i in range(min(n, len(ds)))]
    height = float(np.median([b[3] - b[1] for b in (i.bounds() for i in inks)])) if inks else 0.0
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot write --svg-preview {path}: {exc.strerror or exc}") from None
    write_output(path, inks_to_svg(inks, stroke_width=max(1.0, height / 50), background="white"), "--svg-preview")


def _report(title: str, ds, report, svg_preview: str | None) -> int:
    """What every dataset-building command prints at the end (and the optional SVG preview)."""
    print(title)
    print(summary(ds, report))
    if svg_preview:
        _svg_preview(ds, svg_preview)
        print(f"preview: {svg_preview}")
    return 0


def cmd_import_iam(args) -> int:
    from engine.data.iam import import_iam

    opts = _clean_options(args)
    out = _check_out(args.out, args.svg_preview)
    ds, report = import_iam(args.root, out, clean=opts, val_fraction=args.val, test_fraction=args.test,
                            jobs=args.jobs, use_cache=not args.no_cache, progress=_progress("parsing"))
    return _report(f"IAM-OnDB -> {out}", ds, report, args.svg_preview)


def cmd_import_inkml(args) -> int:
    from engine.data.inkml import import_inkml

    opts = _clean_options(args)
    out = _check_out(args.out, args.svg_preview)
    ds, report = import_inkml(args.folder, out, clean=opts, val_fraction=args.val, test_fraction=args.test,
                              progress=_progress("reading"))
    return _report(f"InkML -> {out}", ds, report, args.svg_preview)


def cmd_synth(args) -> int:
    import time

    from engine.core.paths import assets_dir
    from engine.data.synth import LATE_MARKS, parse_hands, synth_corpus

    if args.min_chars > args.max_chars:
        raise DataError(f"--min-chars {args.min_chars} is more than --max-chars {args.max_chars}")
    try:
        hands = parse_hands(args.hands)
    except DataError as exc:
        raise DataError(f"--hands: {exc}") from None
    _check_out(args.out, args.svg_preview)
    corpus = Path(args.corpus) if args.corpus else assets_dir() / "corpora" / "tinyshakespeare.txt"
    if not corpus.is_file():
        raise DataError(f"corpus {corpus} is not a file")
    try:
        text = corpus.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read corpus {corpus}: {exc}") from None
    out = _check_out(args.out)
    t0 = time.perf_counter()
    ds = synth_corpus(text, args.lines, writers=args.writers, seed=args.seed, mix=args.mix, caps=args.caps,
                      min_chars=args.min_chars, max_chars=args.max_chars, jobs=args.jobs,
                      progress=_progress("writing"), hz=args.hz, hands=hands, shape_var=args.shape_var,
                      word_space=args.word_space, round_joins=args.round_joins, script_lifts=args.script_lifts,
                      late_marks=LATE_MARKS if args.late_marks is None else args.late_marks)
    ds.source = f"{ds.source} from {corpus.name}"
    ds.save(out)
    return _report(f"synthetic handwriting -> {out} in {time.perf_counter() - t0:.1f} s", ds, None, args.svg_preview)
