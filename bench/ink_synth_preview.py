"""Render a preview sheet of the synthetic handwriting corpus: docs/synth-preview.png.

Several writers of EACH hand family (print, italic, script, cursive) write a pangram, the capitals and
digits, and a line of punctuation; every writer is labelled with its id, family, font and habits.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/ink_synth_preview.py [--out docs/synth-preview.png]
        [--per-hand 3] [--writers 32] [--seed 0] [--hands print,italic,script,cursive] [--corpus FILE] [--hz 70]

The writers are those of ``make_writers(--writers, --seed)``, the ones the packaged corpus
(``scribe synth --writers 32 --seed 0``) uses, so a label here names a real corpus writer. Uses
engine.data.synth, drawn with QPainter (a dev tool, not engine code).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.synth import HANDS, corpus_lines, make_writers, parse_hands, render_line  # noqa: E402

TEXTS = ["The quick brown fox jumps over the lazy dog.",
         "ABCDEFGHIJKLM NOPQRSTUVWXYZ 0123456789",
         "\"Hello,\" she said; it's 12:30 (or 7/8?) & fine - Sphinx of black quartz!"]


def label(w) -> str:
    habits = [w.font, f"slant {w.slant:+.2f}", f"deform {w.deform:.2f}"]
    if w.hand in ("print", "italic"):
        habits += [f"lift {w.lift:.2f}", f"join {w.join:.2f}"]
    elif w.join < 1:
        habits.append(f"join {w.join:.2f}")
    if w.hand in ("script", "cursive"):
        habits.append(f"{w.caps} caps")
    habits.append("late dots" if w.late_marks > 0 else "dots at once")
    return f"{w.name}  {w.hand}:  " + ", ".join(habits)


def draw_sheet(rows, width: int = 1500):
    """A QImage of labelled rows: [(writer or label text, [Ink, ...]), ...], one common scale."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter, QPainterPath, QPen

    app = QGuiApplication.instance() or QGuiApplication(sys.argv)  # noqa: F841
    margin, label_h, gap = 14.0, 22.0, 10.0
    widest = max(i.bounds()[2] - i.bounds()[0] for _, inks in rows for i in inks)
    scale = (width - 2 * margin) / widest
    height = margin
    for _, inks in rows:
        height += label_h + sum((i.bounds()[3] - i.bounds()[1]) * scale + gap for i in inks) + gap
    img = QImage(width, int(height + margin), QImage.Format.Format_RGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = QFont()
    font.setPixelSize(14)
    p.setFont(font)
    y = margin
    last = None
    for w, inks in rows:
        hand = getattr(w, "hand", None)
        if hand != last and last is not None:
            p.setPen(QPen(QColor("#999999"), 1.0))
            p.drawLine(QPointF(0, y - gap / 2), QPointF(width, y - gap / 2))
        last = hand
        p.setPen(QColor("#1f5fbf"))
        p.drawText(QPointF(margin, y + 15), label(w) if hand else str(w))
        y += label_h
        pen = QPen(QColor("#1b1b1b"), 1.7)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        p.setPen(pen)
        for ink in inks:
            x0, y0, _, y1 = ink.bounds()
            for s in ink.strokes:
                path = QPainterPath(QPointF((s.x[0] - x0) * scale + margin, (s.y[0] - y0) * scale + y))
                if len(s) == 1:
                    path.lineTo(QPointF((s.x[0] - x0) * scale + margin + 0.1, (s.y[0] - y0) * scale + y))
                for xx, yy in zip(s.x[1:], s.y[1:]):
                    path.lineTo(QPointF((xx - x0) * scale + margin, (yy - y0) * scale + y))
                p.drawPath(path)
            y += (y1 - y0) * scale + gap
        y += gap
    p.end()
    return img


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/synth-preview.png")
    ap.add_argument("--writers", type=int, default=32, help="writers drawn (as for the corpus)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-hand", type=int, default=3, help="writers shown per hand family")
    ap.add_argument("--hands", default=None, help="families to show (default: all)")
    ap.add_argument("--width", type=int, default=1500)
    ap.add_argument("--corpus", default=None, help="take the lines from this text instead")
    ap.add_argument("--hz", type=float, default=70.0, help="pen sampling rate (the packaged corpus uses 30)")
    a = ap.parse_args()

    show = list(parse_hands(a.hands)) if a.hands else list(HANDS)
    writers = make_writers(a.writers, a.seed)
    chosen = [w for h in show for w in [w for w in writers if w.hand == h][:a.per_hand]]
    n = len(TEXTS)
    texts = TEXTS * len(chosen) if a.corpus is None else \
        corpus_lines(Path(a.corpus).read_text(encoding="utf-8"), n * len(chosen), a.seed, mix=0.45)
    rows = []                                   # (writer, [inks])
    for j, w in enumerate(chosen):
        rows.append((w, [render_line(t, w, seed=a.seed * 1000 + 10 * j + k, hz=a.hz)
                         for k, t in enumerate(texts[n * j:n * j + n])]))
    img = draw_sheet(rows, a.width)
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage

    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    img.convertToFormat(QImage.Format.Format_Indexed8, Qt.ImageConversionFlag.ThresholdDither).save(a.out)
    print(f"wrote {a.out} ({img.width()}x{img.height()}): {len(chosen)} writers of {', '.join(show)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
