"""Samples while training: the latest text sample, or the latest handwriting sample rendered.

Every sample is kept (up to ``MAX_SAMPLES``) so people can step back and watch them get better.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFont, QFontDatabase, QPainter, QPen
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPlainTextEdit, QStackedWidget, QVBoxLayout, QWidget

from studio.common.theme import DEFAULT_INK, PAPER, PAPER_EDGE, PAPER_TEXT_HINT
from studio.handwriting.canvas import smooth_path

MAX_SAMPLES = 200
NO_SAMPLE = "No sample yet: one is written at every evaluation and at the end of the run."


def stroke3_strokes(points) -> list[tuple[np.ndarray, np.ndarray]]:
    """Absolute (xs, ys) per stroke from stroke-3 rows (dx, dy, pen_up); y points down."""
    a = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if not len(a):
        return []
    xy = np.cumsum(a[:, :2], axis=0)
    ends = np.flatnonzero(a[:, 2] >= 0.5)
    out, start = [], 0
    for e in list(ends) + ([len(a) - 1] if not len(ends) or ends[-1] != len(a) - 1 else []):
        if e >= start:
            out.append((xy[start:e + 1, 0], xy[start:e + 1, 1]))
        start = e + 1
    return out


class InkSampleView(QWidget):
    """Paints one stroke-3 sample, scaled to fit, on paper."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.strokes: list[tuple[np.ndarray, np.ndarray]] = []
        self.caption = ""
        self.setMinimumHeight(90)
        self._paths = []
        self._bounds = QRectF()

    def set_points(self, points, caption: str = "") -> None:
        self.strokes = stroke3_strokes(points)
        self.caption = caption
        self._paths = [smooth_path(xs, ys) for xs, ys in self.strokes]
        if self.strokes:
            xs = np.concatenate([s[0] for s in self.strokes])
            ys = np.concatenate([s[1] for s in self.strokes])
            self._bounds = QRectF(xs.min(), ys.min(), max(np.ptp(xs), 1e-3), max(np.ptp(ys), 1e-3))
        else:
            self._bounds = QRectF()
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(4, 4, -4, -4)
        p.setPen(QPen(PAPER_EDGE, 1))
        p.setBrush(PAPER)
        p.drawRoundedRect(r, 6, 6)
        if not self._paths:
            p.setPen(PAPER_TEXT_HINT)
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, "The handwriting sample appears here at each evaluation "
                                                        "and at the end of the run.")
            return
        inner = r.adjusted(16, 22 if self.caption else 12, -16, -12)
        b = self._bounds
        s = min(inner.width() / b.width(), inner.height() / b.height())
        s = min(s, 6.0 * inner.height() / max(b.height(), 1e-3))
        p.save()
        p.translate(inner.left() - b.left() * s, inner.center().y() - (b.top() + b.height() / 2) * s)
        p.scale(s, s)
        pen = QPen(DEFAULT_INK, 1.6 / s)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        for path in self._paths:
            p.drawPath(path)
        p.restore()
        if self.caption:
            p.setPen(PAPER_TEXT_HINT)
            p.drawText(r.adjusted(10, 4, -10, 0), Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft,
                       self.caption)


class SamplePanel(QWidget):
    """The latest sample (text or handwriting), with a picker for earlier ones."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.samples: list[dict] = []
        self.picker = QComboBox()
        self.picker.setToolTip("Earlier samples: watch the model improve")
        self.picker.setMinimumWidth(140)
        self.picker.currentIndexChanged.connect(self._show_index)
        self.info = QLabel(NO_SAMPLE)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.text.setFont(font)
        self.text.setPlaceholderText("The model's text appears here while it trains.")
        self.ink = InkSampleView()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.text)
        self.stack.addWidget(self.ink)
        top = QHBoxLayout()
        top.addWidget(self.info, 1)
        top.addWidget(self.picker)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.stack, 1)

    def clear(self) -> None:
        self.samples.clear()
        self.picker.blockSignals(True)
        self.picker.clear()
        self.picker.blockSignals(False)
        self.text.clear()
        self.ink.set_points([], "")
        self.info.setText(NO_SAMPLE)

    def set_task(self, task: str) -> None:
        """Show the placeholder of ``task`` ("text" or "ink-...") until its first sample arrives."""
        if not self.samples:
            self.stack.setCurrentWidget(self.ink if task.startswith("ink-") else self.text)

    def add(self, ev: dict) -> None:
        self.samples.append(ev)
        self.picker.blockSignals(True)
        if len(self.samples) > MAX_SAMPLES:
            del self.samples[1]          # keep the very first one for comparison
            self.picker.removeItem(1)
        self.picker.addItem(f"step {ev.get('step', '?')}")
        self.picker.setCurrentIndex(self.picker.count() - 1)
        self.picker.blockSignals(False)
        self._show(ev)

    def latest_text(self) -> str:
        return self.text.toPlainText()

    def _show_index(self, i: int) -> None:
        if 0 <= i < len(self.samples):
            self._show(self.samples[i])

    def _show(self, ev: dict) -> None:
        step = ev.get("step", "?")
        if "points" in ev:
            pts = np.asarray(ev.get("points") or [], dtype=np.float64).reshape(-1, 3)
            text = ev.get("text") or ""
            cap = f"“{text}”" if text else "unconditional (prediction network)"
            self.ink.set_points(pts, cap)
            self.info.setText(f"Handwriting sample at step {step}: {len(pts)} points, bias {ev.get('bias', 0):g}"
                              + (" · primed with your style" if ev.get("primed") else ""))
            self.stack.setCurrentWidget(self.ink)
        else:
            prime = ev.get("prime") or ""
            self.text.setPlainText(prime + (ev.get("text") or ""))
            shown = prime.replace("\n", "⏎")[:30]
            self.info.setText(f"Text sample at step {step} (primed with “{shown}”)")
            self.stack.setCurrentWidget(self.text)

