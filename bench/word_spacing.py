"""Word spaces in generated handwriting against real writers (engine/core/word_space.py): the seven IAM-OnDB forms.

(a) the floor: the share of word spaces under half an x-height (words that read as one; ``word_gaps``), with the
    floor off (``word_gap 0``) and on, unprimed and primed with each writer's lines, the writer's spacing not
    carried (``word_space 1``);
(b) the writer's spacing: per writer, the median primed word gap with the factor taken from each prime raised to
    each ``--powers`` value (1 = the factor as the model writes it, 0.5 = the square root the engine uses), against
    the median gap of the writer's own lines (x-heights, all in the model's units); the mean absolute difference
    and the correlation over the writers.

IAM-OnDB is for non-commercial research: the forms are imported into a temporary folder, never into the
repository; only figures are written.

    .venv/bin/python bench/word_spacing.py                 # the bundled model, 12 sentences (a few minutes)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

DEFAULT_IAM = REPO.parent / "shared" / "fixtures" / "iam-ondb-writers"
DEFAULT_MODEL = REPO / "assets" / "models" / "handwriting-script"


def main() -> None:
    from handwriting_real_writers import SENTENCES

    from engine.cli.main import main as scribe
    from engine.core.word_space import prime_word_space, word_gaps
    from engine.data.ink import Ink
    from engine.data.ink_dataset import InkDataset
    from engine.data.prime import prepare_prime
    from engine.runtime import load_package

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(DEFAULT_MODEL), help="an exported handwriting package")
    ap.add_argument("--iam", default=str(DEFAULT_IAM), help="IAM-OnDB root (lineStrokes/ + ascii/)")
    ap.add_argument("--sentences", type=int, default=12)
    ap.add_argument("--powers", default="0,0.5,0.6,0.7,1", help="exponents on the prime's spacing ratio")
    args = ap.parse_args()
    powers = [float(p) for p in args.powers.split(",")]

    pkg = load_package(args.model)
    writer = pkg.ink_writer
    xh, reference = pkg.ink_scale.x_height, writer.reference_gap
    with tempfile.TemporaryDirectory(prefix="word-spacing-") as work:
        data = os.path.join(work, "iam")
        with contextlib.redirect_stdout(io.StringIO()):
            if scribe(["import", "iam", args.iam, "--out", data]):
                raise SystemExit(f"scribe import iam {args.iam} failed")
        ds = InkDataset.load(data)
    writers = sorted({m["writer"] for m in ds.lines_meta})
    lines_of = {w: [i for i, m in enumerate(ds.lines_meta) if m["writer"] == w] for w in writers}
    inks = [Ink.from_stroke3(ds.line(i).points, text=ds.lines_meta[i]["text"]) for i in range(len(ds))]
    sentences = SENTENCES[:args.sentences]

    def prime_of(w, k):
        return None if w is None else inks[lines_of[w][k % len(lines_of[w])]]

    print(f"# Word spaces: {Path(args.model).name}, {len(sentences)} sentences, {len(writers)} writers\n")
    print(f"`{' '.join(['.venv/bin/python', 'bench/word_spacing.py'] + sys.argv[1:])}`; the model's own gap after "
          f"its styles (reference): {reference:.2f} x-heights.\n")
    print("| floor (x-heights) | unprimed: spaces under 0.5 | primed: spaces under 0.5 |\n|---|---|---|")
    for floor in (0.0, 0.5):
        share = {}
        for primed in (False, True):
            gaps = []
            for k, text in enumerate(sentences):
                for w in writers if primed else [None]:
                    s3 = np.stack(list(pkg.generate_ink(text, prime_ink=prime_of(w, k), seed=k, word_gap=floor,
                                                        word_space=1.0)))
                    gaps += word_gaps(s3, len(text.split()), xh)
            share[primed] = f"{np.mean(np.asarray(gaps) < 0.5):.1%} of {len(gaps)}"
        print(f"| {floor} | {share[False]} | {share[True]} |")

    real = {w: statistics.median(g for i in lines_of[w] for g in word_gaps(
        prepare_prime(inks[i], pkg.ink_scale), len(ds.lines_meta[i]["text"].split()), xh)) for w in writers}
    print("\n| power on the ratio | " + " | ".join(w for w in writers) + " | mean abs. diff. | corr. |")
    print("|---|" + "---|" * (len(writers) + 2))
    print("| writers' own lines | " + " | ".join(f"{real[w]:.2f}" for w in writers) + " | | |")
    for power in powers:
        got = {}
        for w in writers:
            gaps = []
            for k, text in enumerate(sentences):
                ink = prime_of(w, k)
                factor = prime_word_space(prepare_prime(ink, pkg.ink_scale), ink.text, xh, reference, power)
                s3 = np.stack(list(pkg.generate_ink(text, prime_ink=ink, seed=k, word_space=factor)))
                gaps += word_gaps(s3, len(text.split()), xh)
            got[w] = statistics.median(gaps)
        a, b = np.array([got[w] for w in writers]), np.array([real[w] for w in writers])
        print(f"| {power:g} | " + " | ".join(f"{got[w]:.2f}" for w in writers)
              + f" | {np.abs(a - b).mean():.2f} | {np.corrcoef(a, b)[0, 1]:.2f} |")


if __name__ == "__main__":
    main()
