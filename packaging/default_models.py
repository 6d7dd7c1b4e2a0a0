"""Build the bundled default models in assets/models/ from trained runs.

The recipes (run from the repo root; figures in bench/RESULTS-charlm.md and bench/RESULTS-handwriting.md):

    # text: char LM on the bundled tinyshakespeare corpus
    scribe train text --preset default-text --out runs/default-text
    # handwriting: synthesis net on a synthetic corpus of many hands (print, italic, script, cursive) whose pen
    # drifts in speed, flutters and rests (bench/RESULTS-handwriting.md 2g, 2h), fine-tuned with line pairs (for
    # priming) in four stages from the bundled model of git 97dd6e5 (its own recipe is in that commit's
    # card): first on the corpus as drawn, then on one whose letters stray further from the fonts (--shape-var),
    # then on that corpus again with pairs joined on the prime's baseline (2i), last on one whose writers
    # mostly dot and cross at the letter (2r)
    scribe synth --corpus assets/corpora/tinyshakespeare.txt --lines 40000 --writers 96 --hz 30 \
        --min-chars 8 --max-chars 40 --mix 0.45 --caps 0.3 --seed 1 --jobs 2 --out runs/synth-rests
    scribe train ink --data runs/synth-rests --init-from assets/models/handwriting-script --preset default-ink \
        --pairs 0.5 --minutes 42 --lr 1e-3 --warmup 50 --eval-every 200 --threads 1 --seed 7 --out runs/rests-ink
    scribe export runs/rests-ink --out runs/rests-pkg
    scribe synth --corpus assets/corpora/tinyshakespeare.txt --lines 40000 --writers 96 --hz 30 \
        --min-chars 8 --max-chars 40 --mix 0.45 --caps 0.3 --seed 1 --jobs 2 --shape-var 1.8 --out runs/synth-hands
    scribe train ink --data runs/synth-hands --init-from runs/rests-pkg --preset default-ink \
        --pairs 0.5 --minutes 40 --lr 1e-3 --warmup 50 --eval-every 200 --threads 1 --seed 8 --out runs/hands-ink
    scribe export runs/hands-ink --out runs/hands-pkg
    scribe train ink --data runs/synth-hands --init-from runs/hands-pkg --preset default-ink \
        --pairs 0.5 --steps 380 --lr 1e-3 --warmup 50 --eval-every 200 --threads 1 --seed 9 --out runs/join-ink
    scribe export runs/join-ink --out runs/join-pkg
    # a fourth stage on a corpus where most writers dot and cross at the letter (--late-marks 0.1: a tenth of
    # them after the word, not half): the model had learnt to leave t-bars and i-dots for later and then
    # forgot them (bench/RESULTS-handwriting.md 2r)
    scribe synth --corpus assets/corpora/tinyshakespeare.txt --lines 40000 --writers 96 --hz 30 \
        --min-chars 8 --max-chars 40 --mix 0.45 --caps 0.3 --seed 1 --jobs 2 --shape-var 1.8 --late-marks 0.1 \
        --out runs/synth-marks
    scribe train ink --data runs/synth-marks --init-from runs/join-pkg --preset default-ink \
        --pairs 0.5 --steps 400 --lr 3e-4 --warmup 30 --eval-every 200 --threads 1 --seed 11 --out runs/marks-ink
    # (each training ran beside another on a 2-core machine: 399, 365, 380 and 400 steps)
    # package both (export with parity check, add priming styles from the training writers)
    python packaging/default_models.py --text-run runs/default-text --ink-run runs/marks-ink \
        --ink-data runs/synth-marks
    # card figures come from the benchmark runs, when present:
    #   bench/charlm_quality.py --out runs/default-text ...            -> runs/default-text/bench-quality.json
    #   bench/handwriting_eval.py --model runs/marks-ink --data runs/synth-marks ... --json runs/marks-ink-eval.json

Styles are real lines of chosen synthetic writers (the model was trained on them), so priming with one
writes new text in that writer's hand, slant, size and spacing. Each is the line of its writer that shows the
small letters and after which the model finds the writer's other lines most likely (pick_styles); to pick them
again for the bundled model without its run folder:

    python packaging/default_models.py --restyle --ink-data runs/synth-marks
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "assets" / "models"

INK_RECIPE = " && ".join([
    "(the model before these stages: git 97dd6e5, whose card has its recipe; bench/RESULTS-handwriting.md 2h)",
    "scribe synth --corpus assets/corpora/tinyshakespeare.txt --lines 40000 --writers 96 --hz 30 --min-chars 8 "
    "--max-chars 40 --mix 0.45 --caps 0.3 --seed 1 --jobs 2 --out runs/synth-rests",
    "scribe train ink --data runs/synth-rests --init-from assets/models/handwriting-script --preset default-ink "
    "--pairs 0.5 --minutes 42 --lr 1e-3 --warmup 50 --eval-every 200 --threads 1 --seed 7 --out runs/rests-ink",
    "scribe export runs/rests-ink --out runs/rests-pkg",
    "scribe synth --corpus assets/corpora/tinyshakespeare.txt --lines 40000 --writers 96 --hz 30 --min-chars 8 "
    "--max-chars 40 --mix 0.45 --caps 0.3 --seed 1 --jobs 2 --shape-var 1.8 --out runs/synth-hands",
    "scribe train ink --data runs/synth-hands --init-from runs/rests-pkg --preset default-ink "
    "--pairs 0.5 --minutes 40 --lr 1e-3 --warmup 50 --eval-every 200 --threads 1 --seed 8 --out runs/hands-ink",
    "scribe export runs/hands-ink --out runs/hands-pkg",
    "(from here on training pairs join a line to its prime on the prime's baseline: bench/RESULTS-handwriting.md 2i)",
    "scribe train ink --data runs/synth-hands --init-from runs/hands-pkg --preset default-ink "
    "--pairs 0.5 --steps 380 --lr 1e-3 --warmup 50 --eval-every 200 --threads 1 --seed 9 --out runs/join-ink",
    "scribe export runs/join-ink --out runs/join-pkg",
    "(then most writers dot and cross at the letter: bench/RESULTS-handwriting.md 2r)",
    "scribe synth --corpus assets/corpora/tinyshakespeare.txt --lines 40000 --writers 96 --hz 30 --min-chars 8 "
    "--max-chars 40 --mix 0.45 --caps 0.3 --seed 1 --jobs 2 --shape-var 1.8 --late-marks 0.1 --out runs/synth-marks",
    "scribe train ink --data runs/synth-marks --init-from runs/join-pkg --preset default-ink "
    "--pairs 0.5 --steps 400 --lr 3e-4 --warmup 30 --eval-every 200 --threads 1 --seed 11 --out runs/marks-ink"])

# (hand family, which writer of that family in corpus order, style name): one style per family of the corpus
STYLES = [("print", 0, "Print, upright"), ("print", 3, "Print, small"), ("italic", 0, "Italic"),
          ("script", 0, "Joined script"), ("cursive", 0, "Cursive")]


def shows_lowercase(text: str, min_letters: int = 12, share: float = 0.8) -> bool:
    """A line that shows a hand's small letters: at least ``min_letters`` letters, ``share`` of them lowercase
    (a line of capitals and figures tells a model little about how the writer writes the text people type)."""
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= min_letters and sum(c.islower() for c in letters) >= share * len(letters)


def sample_cer(pkg, prime: np.ndarray, prime_text: str, seeds: int = 2, sentences: int = 4) -> float:
    """Median character error rate of Tesseract's reading of the package writing bench sentences primed with
    ``prime`` (``pkg``: a loaded package; bias 0.75, the app's default; bench/handwriting_real_writers.py
    renders and reads them)."""
    import statistics
    import sys
    import tempfile

    if str(ROOT / "bench") not in sys.path:         # (called for every candidate line)
        sys.path.insert(0, str(ROOT / "bench"))
    from handwriting_real_writers import SENTENCES, legibility

    cers = []
    with tempfile.TemporaryDirectory() as work:
        for seed in range(seeds):
            for text in SENTENCES[:sentences]:
                s3 = np.stack(list(pkg.generate_ink(text, bias=0.75, prime_stroke3=prime, prime_text=prime_text,
                                                    seed=seed)))
                cers.append(legibility(s3, text, pkg.ink_scale.x_height, work)[0])
    return statistics.median(cers)


def pick_styles(ink_data: Path, model: Path | None = None, min_chars: int = 18, max_chars: int = 34,
                candidates: int = 16, targets: int = 8, read: int = 5, near: float = 0.05) -> list[dict]:
    """One priming line per entry of STYLES: of the writer's training lines that fit (``min_chars`` to
    ``max_chars`` long, showing their lowercase letters; the first ``candidates``), the (at most ``read``) after
    which ``model`` (a package or run) finds ``targets`` other lines of the writer most likely, within ``near``
    nats/point of the best (``engine.core.ink_score.rank_primes``), and of those the one whose samples Tesseract
    reads best (:func:`sample_cer`; a package and Tesseract needed, else the most likely is kept); without a
    model, the first that fits. Figures: bench/RESULTS-handwriting.md 2f."""
    import shutil

    from engine.core.ink_score import rank_primes
    from engine.core.ink_stream import prepare_line
    from engine.data.ink_dataset import InkDataset

    ds = InkDataset.load(ink_data)
    scorer = None
    if model is not None:
        from engine.cli.evaluate import load_ink_scorer

        scorer = load_ink_scorer(str(model))
    pkg = None      # a package to read samples of (OCR)
    if model is not None and read > 1 and shutil.which("tesseract") and (Path(model) / "model.onnx").exists():
        from engine.runtime import load_package

        pkg = load_package(model)
    by_hand: dict[str, list[str]] = {}
    for m in ds.lines_meta:
        writers = by_hand.setdefault(m.get("hand", "cursive"), [])
        if m.get("writer") not in writers:
            writers.append(m.get("writer"))

    def stroke3(i: int) -> np.ndarray:
        return prepare_line(ds.line(i).points)   # starts at the origin

    styles = []
    for hand, k, name in STYLES:
        writers = by_hand.get(hand) or []
        if k >= len(writers):
            continue
        own = [i for i, m in enumerate(ds.lines_meta) if m.get("writer") == writers[k] and m.get("split") == "train"]
        fits = [i for i in own if min_chars <= len(ds.lines_meta[i]["text"]) <= max_chars
                and ds.lines_meta[i]["text"].strip() == ds.lines_meta[i]["text"]
                and shows_lowercase(ds.lines_meta[i]["text"])][:candidates]
        if not fits:
            continue
        best = fits[0]
        others = [i for i in own if i not in fits][:targets]
        if scorer is not None and others:
            ranked = rank_primes(scorer.stepper, [(stroke3(i), ds.lines_meta[i]["text"]) for i in fits],
                                 [(stroke3(i), ds.lines_meta[i]["text"]) for i in others],
                                 vocab=scorer.vocab, norm=scorer.norm, gap=scorer.scale.prime_gap, join=scorer.scale.join)
            best = fits[ranked[0][1]]
            print(f"{name}: {len(fits)} lines of {writers[k]}, primed NLL of {len(others)} other lines "
                  f"{ranked[0][0]:.3f} to {ranked[-1][0]:.3f} nats/point")
            if pkg is not None:
                close = [(nll, c) for nll, c in ranked[:read] if nll <= ranked[0][0] + near]
                cer = {fits[c]: sample_cer(pkg, stroke3(fits[c]), ds.lines_meta[fits[c]]["text"]) for _, c in close}
                for nll, c in close:
                    print(f"  {nll:.3f} nats/point, CER {cer[fits[c]]:.3f}: {ds.lines_meta[fits[c]]['text']!r}")
                best = min(cer, key=cer.get)     # ties: the more likely (dicts keep the ranking's order)
            print(f"  picked {ds.lines_meta[best]['text']!r}")
        styles.append({"name": name, "text": ds.lines_meta[best]["text"], "stroke3": stroke3(best)})
    return styles


def card_styles(styles: list[dict]) -> list[dict]:
    """pick_styles' styles as the card stores them."""
    return [{"name": s["name"], "text": s["text"], "stroke3": s["stroke3"].round(3).tolist()} for s in styles]


def restyle(package: Path, ink_data: Path) -> None:
    """Pick a package's priming styles again (pick_styles, ranked by the package itself) and rewrite its card."""
    _annotate(package, styles=card_styles(pick_styles(ink_data, model=package)))
    record_word_gap(package)
    print("restyled", package)


def record_word_gap(package: Path) -> None:
    """Measure the model's own word spacing after its styles (engine.core.word_space.reference_gap) and keep it
    in the card's ink_scale, so the app carries a prime's spacing without measuring it first."""
    from engine.runtime import load_package

    pkg = load_package(package)
    gap = pkg.ink_writer.measure_reference_gap()
    _annotate(package, ink_scale={**pkg.card["ink_scale"], "word_gap": round(gap, 4)})


def build(text_run: Path | None, ink_run: Path | None, ink_data: Path | None) -> None:
    from engine.export.exporter import export_package

    MODELS.mkdir(parents=True, exist_ok=True)
    if text_run:
        out = MODELS / "shakespeare-lstm"
        export_package(text_run, out, name="Shakespeare (char LSTM)")
        extra = {}
        card = json.loads((out / "card.json").read_text(encoding="utf-8"))
        if not card.get("context"):  # runs trained before cards carried a warm-up context
            from engine.core.vocab import Vocab
            from engine.data.corpus import load_corpus
            from engine.training.text_task import warm_context

            corpus = load_corpus(ROOT / "assets" / "corpora" / "tinyshakespeare.txt", vocab=Vocab(card["vocab"]))
            extra["context"] = warm_context(corpus.split(0.1)[0], corpus.vocab)
        quality = Path(text_run) / "bench-quality.json"  # bench/charlm_quality.py --out RUN writes it
        if quality.is_file():
            best = json.loads(quality.read_text(encoding="utf-8"))["best"]
            extra["benchmark"] = {k: best[k] for k in ("val_loss_nanogpt", "blocks", "val_loss_stateful",
                                                       "bpc_stateful", "weights_mb") if k in best}
            extra["benchmark"]["protocol"] = "nanoGPT: contiguous 90/10 split, random 256-char blocks, fresh state"
        _annotate(out, recipe="scribe train text --preset default-text --out runs/default-text",
                  data_license="tinyshakespeare: public domain",
                  size_bytes=(out / "model.onnx").stat().st_size, **extra)
        print("wrote", out)
    if ink_run:
        out = MODELS / "handwriting-script"
        export_package(ink_run, out, name="Handwriting, many hands (synthesis LSTM)")
        extra = {}
        if ink_data:
            extra["styles"] = card_styles(pick_styles(ink_data, model=out))
        ev = Path(str(ink_run) + "-eval.json")  # bench/handwriting_eval.py --json RUN-eval.json
        if ev.is_file():
            e = json.loads(ev.read_text(encoding="utf-8"))
            extra["benchmark"] = {k: e[k] for k in ("nats_per_line", "nats_per_point", "val_lines", "runaway_rate",
                                                    "prompts", "bias", "stop_rule_rate", "data_over_factor_rate",
                                                    "runaway_rate_flat") if k in e}
        extra["size_bytes"] = (out / "model.onnx").stat().st_size
        _annotate(out, recipe=INK_RECIPE,
                  data_license="synthetic: Hershey fonts (Hershey-Fonts package, MIT: futural, rowmans, scripts, "
                               "cursive) writing tinyshakespeare (public domain); freely redistributable; no "
                               "IAM-OnDB data", **extra)
        record_word_gap(out)
        print("wrote", out)


def _annotate(pkg: Path, **fields) -> None:
    card_path = pkg / "card.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card.update(fields)
    card.pop("source", None)  # local paths of the build machine
    card_path.write_text(json.dumps(card, indent=1, ensure_ascii=False), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text-run", type=Path)
    ap.add_argument("--ink-run", type=Path)
    ap.add_argument("--ink-data", type=Path)
    ap.add_argument("--restyle", action="store_true",
                    help="only pick the bundled handwriting model's priming styles again (needs --ink-data)")
    args = ap.parse_args()
    if args.restyle:
        if not args.ink_data:
            ap.error("--restyle needs --ink-data (the corpus the model was trained on)")
        restyle(MODELS / "handwriting-script", args.ink_data)
        return
    build(args.text_run, args.ink_run, args.ink_data)


if __name__ == "__main__":
    main()
