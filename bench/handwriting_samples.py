"""A sample sheet of a synthesis model: prompts covering a-z, A-Z, 0-9 and punctuation at a few biases,
plus primed samples (style copied from validation lines), written as one SVG (engine.data.svg, smooth
paths) and rasterised to PNG with Qt's SVG renderer.

    .venv/bin/python bench/handwriting_samples.py --model runs/default-ink --data runs/synth-ink \
        --svg docs/handwriting-default.svg --png docs/handwriting-default.png
    # capitals only, three seeds each (docs/handwriting-capitals.png)
    .venv/bin/python bench/handwriting_samples.py --model assets/models/handwriting-script --prompts capitals \
        --seeds 3 --primed 0 --svg /tmp/caps.svg --png docs/handwriting-capitals.png
"""

from __future__ import annotations

import argparse

import numpy as np

PROMPTS = [
    "The quick brown fox jumps over the lazy dog.",
    "PACK MY BOX WITH FIVE DOZEN LIQUOR JUGS!",
    "0123456789 (tel. 555-0199) at 12:45",
    "Hello, world; \"quotes\" & 'ticks' - ok?",
    "Sphinx of black quartz, judge my vow: 3/4",
    "Scribe Studio writes by hand",
]

CAPITALS = [
    "ABCDEFGHIJKLM NOPQRSTUVWXYZ",
    "PACK MY BOX WITH FIVE DOZEN LIQUOR JUGS",
    "THE QUICK BROWN FOX, NO. 42",
    "GOOD MORNING, LONDON!",
]


def sheet(rows, gap: float = 18.0):
    """Stack stroke-3 lines (raw units) into one Ink, one line under the other."""
    from engine.data.ink import Ink

    strokes, y = [], 0.0
    for s3 in rows:
        ink = Ink.from_stroke3(s3)
        if not ink.strokes:
            continue
        x0, y0, x1, y1 = ink.bounds()
        moved = ink.translated(-x0, y - y0)
        strokes.extend(moved.strokes)
        y += (y1 - y0) + gap
    return Ink(strokes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", default=None, help="dataset whose validation lines prime the style samples")
    ap.add_argument("--biases", default="0.5", help="comma-separated biases for the prompt samples")
    ap.add_argument("--primed", type=int, default=3, help="primed samples (needs --data)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=1, help="samples per prompt (seeds seed, seed+100, ...)")
    ap.add_argument("--prompts", choices=["default", "capitals"], default="default")
    ap.add_argument("--svg", required=True)
    ap.add_argument("--png", default=None)
    a = ap.parse_args()

    from engine.cli.ink import load_ink_generator
    from engine.data.svg import ink_to_svg

    generate, kind = load_ink_generator(a.model)
    rows, captions = [], []
    for b in [float(v) for v in a.biases.split(",")]:
        for i, text in enumerate(CAPITALS if a.prompts == "capitals" else PROMPTS):
            for r in range(a.seeds):
                pts = np.stack(list(generate(text, bias=b, seed=a.seed + i + 100 * r)))
                rows.append(pts)
                captions.append(f"bias {b}, seed {a.seed + i + 100 * r}: {text} ({len(pts)} points)")
    if a.data and a.primed:
        from engine.data.ink_dataset import InkDataset

        ds = InkDataset.load(a.data)
        val = ds.indices("val")
        seen = set()
        for i in val:
            line = ds.line(int(i))
            if line.writer in seen or len(line.text) < 12:
                continue
            seen.add(line.writer)
            rows.append(line.points)
            captions.append(f"prime ({line.writer}): {line.text}")
            text = "writes in the style of the line above"
            pts = np.stack(list(generate(text, bias=0.5, prime_stroke3=line.points, prime_text=line.text,
                                         seed=a.seed)))
            rows.append(pts)
            captions.append(f"primed, bias 0.5: {text}")
            if len(seen) >= a.primed:
                break
    ink = sheet(rows)
    with open(a.svg, "w", encoding="utf-8") as fh:
        fh.write(ink_to_svg(ink, stroke_width=1.6, background="#ffffff", title="Scribe Studio handwriting samples"))
    print("\n".join(captions))
    print(f"wrote {a.svg}")
    if a.png:
        from handwriting_render import svg_to_png

        print(f"wrote {svg_to_png(a.svg, a.png)}")


if __name__ == "__main__":
    main()
