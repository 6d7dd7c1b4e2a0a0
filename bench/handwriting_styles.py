"""The bundled priming styles of a handwriting package, as one picture: each style's priming line, then the
package writing new text in that style; last, the same text unprimed. Runs on the torch-free runtime.
Lines keep their relative size (a large style's lines are large), stacked with handwriting_samples.sheet.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/handwriting_styles.py \
        --model assets/models/handwriting-script --png docs/handwriting-styles.png

``--stray N``: instead, count for each style the samples (4 sentences x N seeds, bias 0.75 as in the app) that
begin with a stray mark (a first stroke under 0.6 x-heights across, 0.3 x-heights or more left of the rest),
with and without ``ink_stream``'s dropping of strokes drawn on the word boundary after the prime.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

STRAY_TEXTS = ["Scribe Studio writes what you type,", "in the hand you pick.", "Please buy milk and bread.",
               "The bus leaves at ten."]


def starts_with_a_stray_mark(s3: np.ndarray, x_height: float) -> bool:
    xy = np.cumsum(np.asarray(s3, dtype=np.float64)[:, :2], 0)
    ends = np.flatnonzero(s3[:, 2] > 0.5)
    if len(ends) < 2:
        return False
    first, rest = xy[:ends[0] + 1], xy[ends[0] + 1:]
    return np.ptp(first, 0).max() < 0.6 * x_height and rest[:, 0].min() - first[:, 0].max() > 0.3 * x_height


def count_stray(pkg, seeds: int, bias: float = 0.75) -> None:
    from engine.core.ink_stream import ink_sample

    xh = pkg.ink_scale.x_height
    for s in pkg.styles + [{"name": "(unprimed)", "text": None, "stroke3": None}]:
        counts = []
        for drop in (False, True):
            n = sum(starts_with_a_stray_mark(ink_sample(
                pkg.stepper, text=t, vocab=pkg.vocab, norm=pkg.card["norm"], bias=bias, prime_stroke3=s["stroke3"],
                prime_text=s["text"], seed=seed, drop_lead_strokes=drop), xh)
                for seed in range(seeds) for t in STRAY_TEXTS)
            counts.append(n)
        print(f"| {s['name']} | {s['text'] or ''} | {counts[0]} | {counts[1]} | of {seeds * len(STRAY_TEXTS)} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="assets/models/handwriting-script")
    ap.add_argument("--text", default="Quick brown foxes, 2024!")
    ap.add_argument("--bias", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--width", type=int, default=900)
    ap.add_argument("--png", default=None)
    ap.add_argument("--stray", type=int, default=0, metavar="N", help="count stray first marks over N seeds")
    a = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from handwriting_render import svg_to_png
    from handwriting_samples import sheet

    from engine.data.svg import ink_to_svg
    from engine.runtime import load_package

    pkg = load_package(a.model)
    if not pkg.styles:
        raise SystemExit(f"{a.model} has no bundled styles")
    if a.stray:
        count_stray(pkg, a.stray)
        return
    if not a.png:
        raise SystemExit("give --png FILE (or --stray N)")
    rows = []
    for s in pkg.styles:
        pts = np.stack(list(pkg.generate_ink(a.text, bias=a.bias, prime_stroke3=s["stroke3"], prime_text=s["text"],
                                             seed=a.seed)))
        rows += [np.asarray(s["stroke3"], dtype=np.float32), pts]
        print(f"{s['name']}: primed with {s['text']!r}, {len(pts)} points")
    rows.append(np.stack(list(pkg.generate_ink(a.text, bias=a.bias, seed=a.seed + 1))))
    with tempfile.TemporaryDirectory() as tmp:
        svg = os.path.join(tmp, "styles.svg")
        with open(svg, "w", encoding="utf-8") as fh:
            fh.write(ink_to_svg(sheet(rows), stroke_width=1.6, background="#ffffff", title="Bundled styles"))
        print(f"wrote {svg_to_png(svg, a.png, width=a.width)}")


if __name__ == "__main__":
    main()
