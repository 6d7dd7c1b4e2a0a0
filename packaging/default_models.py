"""Build the bundled default models in assets/models/ from trained runs.

The recipes (run from the repo root; figures in bench/RESULTS-charlm.md and bench/RESULTS-handwriting.md):

    # text: char LM on the bundled tinyshakespeare corpus
    scribe train text --preset default-text --out runs/default-text
    # handwriting: synthesis net on the synthetic Hershey-script corpus ...
    scribe synth --corpus assets/corpora/tinyshakespeare.txt --lines 12000 --writers 32 --hz 30 \\
        --min-chars 8 --max-chars 40 --mix 0.45 --seed 0 --out runs/synth-ink
    scribe train ink --data runs/synth-ink --preset default-ink --out runs/default-ink
    # ... then fine-tuned on twice the lines, 20 % of them all capitals
    scribe synth --corpus assets/corpora/tinyshakespeare.txt --lines 24000 --writers 32 --hz 30 \\
        --min-chars 8 --max-chars 40 --mix 0.45 --caps 0.2 --seed 0 --out runs/synth-caps
    scribe train ink --data runs/synth-caps --init-from runs/default-ink --preset default-ink --steps 1600 \\
        --lr 1.5e-3 --warmup 50 --out runs/caps-ink
    # ... and once more on 36,000 lines, 30 % in capitals
    scribe synth --corpus assets/corpora/tinyshakespeare.txt --lines 36000 --writers 32 --hz 30 \\
        --min-chars 8 --max-chars 40 --mix 0.45 --caps 0.3 --seed 0 --out runs/synth-caps2
    scribe train ink --data runs/synth-caps2 --init-from runs/caps-ink --preset default-ink --steps 1600 \\
        --lr 1e-3 --warmup 50 --out runs/caps2-ink
    # ... and a third time on 48,000 lines, 35 % in capitals
    scribe synth --corpus assets/corpora/tinyshakespeare.txt --lines 48000 --writers 32 --hz 30 \\
        --min-chars 8 --max-chars 40 --mix 0.45 --caps 0.35 --seed 0 --out runs/synth-caps3
    scribe train ink --data runs/synth-caps3 --init-from runs/caps2-ink --preset default-ink --steps 1800 \\
        --lr 8e-4 --warmup 50 --out runs/caps3-ink
    # package both (export with parity check, add priming styles from the training writers)
    python packaging/default_models.py --text-run runs/default-text --ink-run runs/caps3-ink \
        --ink-data runs/synth-ink
    # card figures come from the benchmark runs, when present:
    #   bench/charlm_quality.py --out runs/default-text ...            -> runs/default-text/bench-quality.json
    #   bench/handwriting_eval.py --model runs/caps3-ink --data runs/synth-caps ... --json runs/caps3-ink-eval.json

Styles are real lines of chosen synthetic writers (the model was trained on them), so priming with one
writes new text in that writer's slant, size and spacing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "assets" / "models"

INK_RECIPE = " && ".join([
    "scribe synth --corpus assets/corpora/tinyshakespeare.txt --lines 12000 --writers 32 --hz 30 --min-chars 8 "
    "--max-chars 40 --mix 0.45 --seed 0 --out runs/synth-ink",
    "scribe train ink --data runs/synth-ink --preset default-ink --out runs/default-ink",
    "scribe synth --corpus assets/corpora/tinyshakespeare.txt --lines 24000 --writers 32 --hz 30 --min-chars 8 "
    "--max-chars 40 --mix 0.45 --caps 0.2 --seed 0 --out runs/synth-caps",
    "scribe train ink --data runs/synth-caps --init-from runs/default-ink --preset default-ink --steps 1600 "
    "--lr 1.5e-3 --warmup 50 --out runs/caps-ink",
    "scribe synth --corpus assets/corpora/tinyshakespeare.txt --lines 36000 --writers 32 --hz 30 --min-chars 8 "
    "--max-chars 40 --mix 0.45 --caps 0.3 --seed 0 --out runs/synth-caps2",
    "scribe train ink --data runs/synth-caps2 --init-from runs/caps-ink --preset default-ink --steps 1600 "
    "--lr 1e-3 --warmup 50 --out runs/caps2-ink",
    "scribe synth --corpus assets/corpora/tinyshakespeare.txt --lines 48000 --writers 32 --hz 30 --min-chars 8 "
    "--max-chars 40 --mix 0.45 --caps 0.35 --seed 0 --out runs/synth-caps3",
    "scribe train ink --data runs/synth-caps3 --init-from runs/caps2-ink --preset default-ink --steps 1800 "
    "--lr 8e-4 --warmup 50 --out runs/caps3-ink"])

# (writer index in the synthetic corpus, style name)
STYLES = [(17, "Slanted, compact"), (22, "Backhand, airy"), (5, "Upright, print capitals"),
          (9, "Large, round"), (0, "Small, neat")]


def pick_styles(ink_data: Path, min_chars: int = 18, max_chars: int = 34) -> list[dict]:
    from engine.data.ink_dataset import InkDataset

    ds = InkDataset.load(ink_data)
    styles = []
    for writer, name in STYLES:
        wid = f"synth-{writer:03d}"
        for i, m in enumerate(ds.lines_meta):
            if m.get("writer") == wid and m.get("split") == "train" and min_chars <= len(m["text"]) <= max_chars \
                    and m["text"].strip() == m["text"]:
                line = ds.line(i)
                pts = np.asarray(line.points, dtype=np.float32).copy()
                pts[0, :2] = 0.0  # start at the origin
                styles.append({"name": name, "text": line.text, "stroke3": pts})
                break
    return styles


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
        export_package(ink_run, out, name="Script handwriting (synthesis LSTM)")
        extra = {}
        if ink_data:
            styles = pick_styles(ink_data)
            extra["styles"] = [{"name": s["name"], "text": s["text"],
                                "stroke3": s["stroke3"].round(3).tolist()} for s in styles]
        ev = Path(str(ink_run) + "-eval.json")  # bench/handwriting_eval.py --json RUN-eval.json
        if ev.is_file():
            e = json.loads(ev.read_text(encoding="utf-8"))
            extra["benchmark"] = {k: e[k] for k in ("nats_per_line", "nats_per_point", "val_lines", "runaway_rate",
                                                    "prompts", "bias", "stop_rule_rate") if k in e}
        extra["size_bytes"] = (out / "model.onnx").stat().st_size
        _annotate(out, recipe=INK_RECIPE,
                  data_license="synthetic: Hershey fonts (Hershey-Fonts package, MIT) writing tinyshakespeare "
                               "(public domain); freely redistributable", **extra)
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
    args = ap.parse_args()
    build(args.text_run, args.ink_run, args.ink_data)


if __name__ == "__main__":
    main()
