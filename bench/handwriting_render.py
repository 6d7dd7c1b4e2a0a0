"""Render handwriting (stroke-3 lines) to a PNG sheet with Qt, for looking at samples. Not part of the engine.

    .venv/bin/python bench/handwriting_render.py --data runs/synth-ink-30hz --n 8 --png /tmp/data.png
"""

from __future__ import annotations

import argparse
import os

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def render_png(lines: list[tuple[np.ndarray, str]], path: str, width: int = 1400, row_h: int = 110,
               scale: float | None = None, pen_width: float = 2.0) -> str:
    """lines: (stroke3 in raw units (y down), caption). Each row is scaled to fit ``width``."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter, QPainterPath, QPen

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841
    img = QImage(width, row_h * len(lines), QImage.Format_RGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    p.setRenderHint(QPainter.Antialiasing)
    for r, (s3, caption) in enumerate(lines):
        s3 = np.asarray(s3, dtype=np.float64).reshape(-1, 3)
        top = r * row_h
        p.setPen(QColor("#999"))
        p.setFont(QFont("Sans", 8))
        p.drawText(6, top + 12, caption[:150])
        if not len(s3):
            continue
        xy = np.cumsum(s3[:, :2], 0)
        lo, hi = xy.min(0), xy.max(0)
        k = scale or min((width - 20) / max(hi[0] - lo[0], 1e-6), (row_h - 24) / max(hi[1] - lo[1], 1e-6))
        pts = (xy - lo) * k + [10, top + 18]
        pen = QPen(QColor("#123"), pen_width)
        pen.setCapStyle(Qt.RoundCap)
        pen.setJoinStyle(Qt.RoundJoin)
        p.setPen(pen)
        ends = np.flatnonzero(s3[:, 2] >= 0.5)
        start = 0
        for e in list(ends) + [len(s3) - 1]:
            seg = pts[start:e + 1]
            if len(seg):
                qp = QPainterPath(QPointF(*seg[0]))
                for q in seg[1:]:
                    qp.lineTo(QPointF(*q))
                if len(seg) == 1:
                    qp.lineTo(QPointF(seg[0][0] + 0.5, seg[0][1]))
                p.drawPath(qp)
            start = e + 1
    p.end()
    img.save(path)
    return path


def svg_to_png(svg_path: str, png_path: str, width: int = 1400) -> str:
    """Rasterise an SVG file with Qt's SVG renderer (offscreen), white background."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841
    r = QSvgRenderer(svg_path)
    if not r.isValid():
        raise ValueError(f"{svg_path} is not a valid SVG")
    size = r.defaultSize()
    height = max(1, int(width * size.height() / max(size.width(), 1)))
    img = QImage(width, height, QImage.Format_RGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    p.setRenderHint(QPainter.Antialiasing)
    r.render(p, QRectF(0, 0, width, height))
    p.end()
    img.save(png_path)
    return png_path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--png", required=True)
    a = ap.parse_args()
    from engine.data.ink_dataset import InkDataset

    ds = InkDataset.load(a.data)
    rows = [(ds.line(i).points, f"{ds.line(i).writer}: {ds.line(i).text}") for i in range(a.start, a.start + a.n)]
    print(render_png(rows, a.png))


if __name__ == "__main__":
    main()
