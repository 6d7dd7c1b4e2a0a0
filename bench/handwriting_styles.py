"""The bundled priming styles of a handwriting package, as one picture: each style's priming line, then the
package writing new text in that style; last, the same text unprimed. Runs on the torch-free runtime.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/handwriting_styles.py \
        --model assets/models/handwriting-script --png docs/handwriting-styles.png
"""

from __future__ import annotations

import argparse
import os

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="assets/models/handwriting-script")
    ap.add_argument("--text", default="Quick brown foxes, 2024!")
    ap.add_argument("--bias", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--width", type=int, default=720)
    ap.add_argument("--png", required=True)
    a = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QByteArray
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer
    from PySide6.QtWidgets import QApplication

    from engine.ink.svg import ink_to_svg
    from engine.runtime import load_package

    app = QApplication.instance() or QApplication([])  # noqa: F841 - QSvgRenderer needs one
    pkg = load_package(a.model)
    if not pkg.styles:
        raise SystemExit(f"{a.model} has no bundled styles")
    svgs = []
    for s in pkg.styles:
        pts = np.stack(list(pkg.generate_ink(a.text, bias=a.bias, prime_stroke3=s["stroke3"], prime_text=s["text"],
                                             seed=a.seed)))
        svgs += [ink_to_svg(s["stroke3"]), ink_to_svg(pts)]
        print(f"{s['name']}: primed with {s['text']!r}, {len(pts)} points")
    svgs.append(ink_to_svg(np.stack(list(pkg.generate_ink(a.text, bias=a.bias, seed=a.seed + 1)))))
    images = []
    for svg in svgs:  # each line scaled to fit width x 80 px
        r = QSvgRenderer(QByteArray(svg.encode()))
        size = r.defaultSize()
        scale = min((a.width - 20) / max(size.width(), 1), 80 / max(size.height(), 1))
        im = QImage(int(size.width() * scale) + 4, int(size.height() * scale) + 6, QImage.Format_RGB32)
        im.fill(QColor("white"))
        p = QPainter(im)
        r.render(p)
        p.end()
        images.append(im)
    out = QImage(a.width, sum(i.height() for i in images), QImage.Format_RGB32)
    out.fill(QColor("white"))
    p = QPainter(out)
    y = 0
    for im in images:
        p.drawImage(0, y, im)
        y += im.height()
    p.end()
    if not out.save(a.png):
        raise SystemExit(f"could not write {a.png}")
    print(f"wrote {a.png}")


if __name__ == "__main__":
    main()
