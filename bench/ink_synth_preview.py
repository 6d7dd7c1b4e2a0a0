"""Render a few synthetic handwriting lines (different writers) to a PNG: docs/synth-preview.png.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/ink_synth_preview.py [--out docs/synth-preview.png]

Uses engine.data.synth + engine.data.svg, rasterised with Qt's SVG renderer (a dev tool, not engine code).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.svg import inks_to_svg  # noqa: E402
from engine.data.synth import corpus_lines, make_writers, render_line  # noqa: E402

TEXTS = ["The quick brown fox jumps over the lazy dog.",
         "Pack my box with five dozen liquor jugs!",
         "\"Hello,\" she said; it's 12:30 (or 7/8?) & fine.",
         "Zebras quietly vex Jim, 0123456789 - ok.",
         "First Citizen: Before we proceed any further,",
         "Sphinx of black quartz, judge my vow.",
         "MENENIUS: What work's, my countrymen, in hand?",
         "Well, No. 42 is at 9:15 on 3/7 (Wed)."]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/synth-preview.png")
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--variable-width", action="store_true")
    ap.add_argument("--corpus", default=None, help="take the lines from this text instead")
    a = ap.parse_args()

    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv)  # noqa: F841
    writers = make_writers(a.writers, a.seed)
    texts = TEXTS if a.corpus is None else corpus_lines(Path(a.corpus).read_text(encoding="utf-8"),
                                                        a.writers, a.seed)
    inks = [render_line(texts[i % len(texts)], w, seed=a.seed + i) for i, w in enumerate(writers)]
    svg = inks_to_svg(inks, stroke_width=1.8, background="white", variable_width=a.variable_width)
    r = QSvgRenderer(svg.encode("utf-8"))
    vb = r.viewBoxF()
    h = int(a.width * vb.height() / vb.width())
    img = QImage(a.width, h, QImage.Format.Format_RGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    r.render(p, QRectF(0, 0, a.width, h))
    p.end()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    img.save(a.out)
    print(f"wrote {a.out} ({a.width}x{h}): " + ", ".join(f"{w.name} ({w.caps} caps, slant {w.slant:+.2f})"
                                                        for w in writers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
