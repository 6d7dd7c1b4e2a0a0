"""The drawing canvas: people write here with a mouse or a pen (tablet), on a ruled guide.

Points are kept in *canvas units*: the widget's height always spans ``LOGICAL_HEIGHT`` units, so a
drawing keeps its place on the guide lines when the window is resized. The guide's x-height is
``X_HEIGHT`` units; the handwriting view uses it to scale a drawing into the model's units.

Input: tablet events are accepted (so Qt synthesises no duplicate mouse events) and keep pressure;
event compression is switched off so every pen sample arrives; every point carries a timestamp.
Rendering: one QPainterPath per stroke, built once when the stroke ends and cached; the stroke being
written grows its path incrementally and repaints only the changed rectangle.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.common.theme import GUIDE, GUIDE_STRONG, PAPER, PAPER_TEXT_HINT

LOGICAL_HEIGHT = 200.0
BASELINE_Y = 128.0
X_HEIGHT = 36.0          # baseline to the dashed mid line
ASCENDER_Y = BASELINE_Y - 2.1 * X_HEIGHT
DESCENDER_Y = BASELINE_Y + 1.2 * X_HEIGHT
LEFT_MARGIN = 16.0


def disable_event_compression() -> None:
    """Deliver every mouse/tablet sample (Qt compresses high-frequency events by default)."""
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_CompressHighFrequencyEvents, False)
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_CompressTabletEvents, False)


@dataclass
class DrawnStroke:
    """One pen-down segment as drawn: canvas units, seconds, pressure (None for a mouse)."""

    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    ts: list[float] = field(default_factory=list)
    ps: list[float] | None = None
    path: QPainterPath | None = None  # cached once finished
    width_scale: float = 1.0

    def __len__(self) -> int:
        return len(self.xs)

    def to_dict(self) -> dict:
        d = {"x": self.xs, "y": self.ys, "t": self.ts}
        if self.ps is not None:
            d["p"] = self.ps
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DrawnStroke":
        xs = [float(v) for v in d["x"]]
        ys = [float(v) for v in d["y"]]
        ts = [float(v) for v in d.get("t") or [0.0] * len(xs)]
        ps = [float(v) for v in d["p"]] if d.get("p") is not None else None
        if not (len(xs) == len(ys) == len(ts)) or (ps is not None and len(ps) != len(xs)) or not xs:
            raise ValueError("stroke arrays differ in length or are empty")
        return cls(xs, ys, ts, ps)


def smooth_path(xs, ys) -> QPainterPath:
    """A smooth path through the points (quadratic segments between midpoints)."""
    path = QPainterPath()
    n = len(xs)
    if n == 0:
        return path
    path.moveTo(xs[0], ys[0])
    if n == 1:
        path.lineTo(xs[0] + 0.01, ys[0])  # a dot: the round cap draws it
        return path
    for i in range(1, n):
        mx, my = (xs[i - 1] + xs[i]) / 2, (ys[i - 1] + ys[i]) / 2
        if i == 1:
            path.lineTo(mx, my)
        else:
            path.quadTo(xs[i - 1], ys[i - 1], mx, my)
    path.lineTo(xs[-1], ys[-1])
    return path


class DrawingCanvas(QWidget):
    """A ruled strip to write one line on."""

    changed = Signal()          # strokes added, undone or cleared
    stroke_finished = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        disable_event_compression()
        self.setAttribute(Qt.WidgetAttribute.WA_TabletTracking, False)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setMouseTracking(False)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMinimumHeight(120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.strokes: list[DrawnStroke] = []
        self._current: DrawnStroke | None = None
        self._current_path: QPainterPath | None = None
        self._tablet_down = False
        self._ink_color = QColor("#1d2b4f")
        self._pen_width = 2.2  # canvas units
        self.hint = "Write a line here with your mouse or pen"

    # --- geometry ---------------------------------------------------------------------------------
    def scale(self) -> float:
        return max(self.height(), 1) / LOGICAL_HEIGHT

    def to_canvas(self, pos: QPointF) -> tuple[float, float]:
        s = self.scale()
        return pos.x() / s, pos.y() / s

    def to_widget_rect(self, r: QRectF) -> QRectF:
        s = self.scale()
        return QRectF(r.x() * s, r.y() * s, r.width() * s, r.height() * s)

    # --- appearance -------------------------------------------------------------------------------
    def set_ink(self, color: QColor, width: float | None = None) -> None:
        self._ink_color = QColor(color)
        if width is not None:
            self._pen_width = float(width)
        self.update()

    # --- data -------------------------------------------------------------------------------------
    def stroke_count(self) -> int:
        return len(self.strokes)

    def point_count(self) -> int:
        return sum(len(s) for s in self.strokes)

    def is_empty(self) -> bool:
        return not self.strokes

    def undo(self) -> bool:
        if self._current is not None:
            self._current = None
            self._current_path = None
            self._tablet_down = False
        elif self.strokes:
            self.strokes.pop()
        else:
            return False
        self.update()
        self.changed.emit()
        return True

    def clear(self) -> None:
        had = bool(self.strokes) or self._current is not None
        self.strokes.clear()
        self._current = None
        self._current_path = None
        self._tablet_down = False
        self.update()
        if had:
            self.changed.emit()

    def set_strokes(self, strokes: list[DrawnStroke]) -> None:
        self.strokes = list(strokes)
        for s in self.strokes:
            self._finish_path(s)
        self._current = None
        self.update()
        self.changed.emit()

    def to_dict(self) -> dict:
        return {"version": 1, "units": "canvas", "x_height": X_HEIGHT, "baseline": BASELINE_Y,
                "strokes": [s.to_dict() for s in self.strokes]}

    def to_ink(self, text: str = ""):
        """The drawing as an engine Ink (canvas units, y down, t in seconds from the first point)."""
        from engine.data.ink import Ink, Stroke

        t0 = self.strokes[0].ts[0] if self.strokes else 0.0
        out = []
        for s in self.strokes:
            out.append(Stroke(x=np.asarray(s.xs, dtype=np.float32), y=np.asarray(s.ys, dtype=np.float32),
                              t=np.asarray(s.ts, dtype=np.float64) - t0,
                              p=None if s.ps is None else np.asarray(s.ps, dtype=np.float32)))
        return Ink(strokes=out, text=text, meta={"source": "scribe-studio canvas", "units": "canvas",
                                                 "x_height": X_HEIGHT})

    # --- input ------------------------------------------------------------------------------------
    @staticmethod
    def _clock(event) -> float:
        ts = event.timestamp()
        return ts / 1000.0 if ts else time.monotonic()

    def _begin(self, pos: QPointF, t: float, pressure: float | None) -> None:
        x, y = self.to_canvas(pos)
        self._current = DrawnStroke([x], [y], [t], None if pressure is None else [pressure])
        self._current_path = QPainterPath(QPointF(x, y))
        self._update_around(x, y, x, y)

    def _extend(self, pos: QPointF, t: float, pressure: float | None) -> None:
        s = self._current
        if s is None:
            return
        x, y = self.to_canvas(pos)
        if x == s.xs[-1] and y == s.ys[-1]:
            if s.ps is not None and pressure is not None:
                s.ps[-1] = max(s.ps[-1], pressure)
            return
        px, py = s.xs[-1], s.ys[-1]
        s.xs.append(x)
        s.ys.append(y)
        s.ts.append(max(t, s.ts[-1]))
        if s.ps is not None:
            s.ps.append(pressure if pressure is not None else s.ps[-1])
        # grow the live path up to the midpoint of the newest segment
        if len(s) == 2:
            self._current_path.lineTo((px + x) / 2, (py + y) / 2)
        else:
            self._current_path.quadTo(px, py, (px + x) / 2, (py + y) / 2)
        if s.ps is not None:  # width follows the mean pressure: repaint the whole live stroke
            r = self._current_path.boundingRect()
            self._update_around(r.left(), r.top(), r.right(), r.bottom(), x, y)
        else:
            self._update_around(s.xs[-3] if len(s) > 2 else px, s.ys[-3] if len(s) > 2 else py, x, y, px, py)

    def _end(self, pos: QPointF | None, t: float, pressure: float | None) -> None:
        if self._current is None:
            return
        if pos is not None:
            self._extend(pos, t, pressure)
        s = self._current
        self._current = None
        self._current_path = None
        self._finish_path(s)
        self.strokes.append(s)
        self.update()
        self.stroke_finished.emit()
        self.changed.emit()

    def _finish_path(self, s: DrawnStroke) -> None:
        s.path = smooth_path(s.xs, s.ys)
        if s.ps:
            s.width_scale = float(0.55 + 0.9 * min(1.0, max(0.0, float(np.mean(s.ps)))))

    def _update_around(self, *coords: float) -> None:
        xs, ys = coords[0::2], coords[1::2]
        m = self._pen_width * 2 + 2
        r = QRectF(min(xs) - m, min(ys) - m, max(xs) - min(xs) + 2 * m, max(ys) - min(ys) + 2 * m)
        self.update(self.to_widget_rect(r).toAlignedRect())

    def tabletEvent(self, event) -> None:  # noqa: N802 (Qt API)
        et = event.type()
        pos = event.position()
        t = self._clock(event)
        p = float(event.pressure())
        if et == event.Type.TabletPress:
            if event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton) or p > 0:
                self._tablet_down = True
                self._begin(pos, t, p)
        elif et == event.Type.TabletMove:
            if self._tablet_down:
                self._extend(pos, t, p)
        elif et == event.Type.TabletRelease:
            if self._tablet_down:
                self._tablet_down = False
                self._end(pos, t, p)
        event.accept()  # no synthesized mouse events, so no duplicate points

    def _from_pen(self, event) -> bool:
        from PySide6.QtGui import QInputDevice

        dev = event.device()
        return self._tablet_down or (dev is not None and dev.type() == QInputDevice.DeviceType.Stylus)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if self._from_pen(event):
            event.ignore()
            return
        if event.button() == Qt.MouseButton.LeftButton:
            self._begin(event.position(), self._clock(event), None)
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._from_pen(event):
            event.ignore()
            return
        if self._current is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self._extend(event.position(), self._clock(event), None)
            event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._from_pen(event):
            event.ignore()
            return
        if event.button() == Qt.MouseButton.LeftButton and self._current is not None:
            self._end(event.position(), self._clock(event), None)
            event.accept()

    # --- painting ---------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(event.rect(), PAPER)
        s = self.scale()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        w_units = self.width() / s
        # guides: ascender/descender faint, x-height dashed, baseline solid
        p.save()
        p.scale(s, s)
        faint = QPen(GUIDE, 0)
        faint.setCosmetic(True)
        p.setPen(faint)
        for y in (ASCENDER_Y, DESCENDER_Y):
            p.drawLine(QPointF(0, y), QPointF(w_units, y))
        dashed = QPen(GUIDE_STRONG, 0, Qt.PenStyle.DashLine)
        dashed.setCosmetic(True)
        p.setPen(dashed)
        p.drawLine(QPointF(0, BASELINE_Y - X_HEIGHT), QPointF(w_units, BASELINE_Y - X_HEIGHT))
        base = QPen(GUIDE_STRONG, 1.4)
        base.setCosmetic(True)
        p.setPen(base)
        p.drawLine(QPointF(0, BASELINE_Y), QPointF(w_units, BASELINE_Y))
        # ink
        pen = QPen(self._ink_color, self._pen_width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                   Qt.PenJoinStyle.RoundJoin)
        p.setBrush(Qt.BrushStyle.NoBrush)
        for st in self.strokes:
            pen.setWidthF(self._pen_width * st.width_scale)
            p.setPen(pen)
            p.drawPath(st.path)
        cur = self._current
        if cur is not None and self._current_path is not None:
            if cur.ps:
                pen.setWidthF(self._pen_width * (0.55 + 0.9 * min(1.0, float(np.mean(cur.ps)))))
            else:
                pen.setWidthF(self._pen_width)
            p.setPen(pen)
            live = QPainterPath(self._current_path)
            live.lineTo(cur.xs[-1], cur.ys[-1])
            p.drawPath(live)
        p.restore()
        if not self.strokes and cur is None and self.hint:
            p.setPen(PAPER_TEXT_HINT)
            f = p.font()
            f.setPointSizeF(max(9.0, f.pointSizeF()))
            p.setFont(f)
            r = self.rect().adjusted(0, 0, 0, -int((LOGICAL_HEIGHT - BASELINE_Y + 6) * s))
            p.drawText(r, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, self.hint)
        p.end()


# --- autosave --------------------------------------------------------------------------------------

def save_drawing(path: Path, canvas: DrawingCanvas, text: str) -> None:
    """Write the drawing (and what the user said they wrote) atomically as JSON."""
    data = canvas.to_dict()
    data["text"] = text
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(path)


def load_drawing(path: Path) -> tuple[list[DrawnStroke], str]:
    """Read an autosaved drawing; a missing or damaged file gives an empty drawing."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        strokes = [DrawnStroke.from_dict(d) for d in data.get("strokes", [])]
        return strokes, str(data.get("text", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return [], ""
