"""Make the synthetic handwriting dataset the default handwriting model is trained on.

Same generator as ``scribe synth`` (engine.ink.synth: Hershey cursive, per-writer styles), sampled at a
lower pen rate (``--hz``, default 30 -> ~9 points per letter instead of ~20-25 at 70 Hz) so a CPU can
train a synthesis model on it in minutes; and lines of ``--min-chars``..``--max-chars`` characters.

    .venv/bin/python bench/handwriting_data.py --lines 6000 --writers 24 --out runs/synth-ink
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from engine.ink import synth
from engine.ink.dataset import InkDataset, InkLine

REPO = Path(__file__).resolve().parents[1]


def make(lines: int, writers: int, hz: float, min_chars: int, max_chars: int, mix: float, seed: int,
         corpus: str) -> InkDataset:
    texts = synth.corpus_lines(corpus, lines, seed, min_chars, max_chars, mix)
    ws = synth.make_writers(writers, seed)
    out = []
    for i, text in enumerate(texts):
        w = ws[i % len(ws)]
        ink = synth.render_line(text, w, np.random.default_rng([seed, i]), hz=hz)
        split = synth._split(i)  # the generator's deterministic 90/5/5 split
        out.append(InkLine(ink.at_origin().to_stroke3(), ink.text, w.name, split, f"synth-{i:06d}"))
    return InkDataset.from_lines(out, source=f"synthetic (Hershey cursive, {hz:g} Hz)",
                                 extra={"units": "synthetic", "seed": seed, "sample_hz": hz,
                                        "writers": [w.to_json() for w in ws]})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=6000)
    ap.add_argument("--writers", type=int, default=24)
    ap.add_argument("--hz", type=float, default=30.0)
    ap.add_argument("--min-chars", type=int, default=8)
    ap.add_argument("--max-chars", type=int, default=40)
    ap.add_argument("--mix", type=float, default=0.35, help="fraction of lines rich in digits/capitals/punctuation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--corpus", default=str(REPO / "assets/corpora/tinyshakespeare.txt"))
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    t = time.time()
    ds = make(a.lines, a.writers, a.hz, a.min_chars, a.max_chars, a.mix, a.seed,
              Path(a.corpus).read_text(encoding="utf-8"))
    ds.save(a.out)
    n_chars = sum(len(m["text"]) for m in ds.lines_meta)
    print(f"{len(ds)} lines, {len(ds.points)} points ({len(ds.points) / n_chars:.1f} per character), "
          f"{len(ds.charset())} characters, {time.time() - t:.0f} s -> {a.out}")


if __name__ == "__main__":
    main()
