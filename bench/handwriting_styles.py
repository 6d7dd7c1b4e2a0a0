"""The bundled priming styles of a handwriting package, as one picture: each style's priming line, then the
package writing new text in that style; last, the same text unprimed. Runs on the torch-free runtime.
Lines keep their relative size (a large style's lines are large), stacked with handwriting_samples.sheet.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/handwriting_styles.py \
        --model assets/models/handwriting-script --png docs/handwriting-styles.png
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="assets/models/handwriting-script")
    ap.add_argument("--text", default="Quick brown foxes, 2024!")
    ap.add_argument("--bias", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--width", type=int, default=900)
    ap.add_argument("--png", required=True)
    a = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from handwriting_render import svg_to_png
    from handwriting_samples import sheet

    from engine.data.svg import ink_to_svg
    from engine.runtime import load_package

    pkg = load_package(a.model)
    if not pkg.styles:
        raise SystemExit(f"{a.model} has no bundled styles")
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
