"""The page on which generated handwriting appears, written out at the chosen speed.

Points arrive in batches from the generation job; the view reveals them at ``speed`` points per second
(or at once) so the ink is drawn as it is being written. Strokes that are complete and fully revealed
are turned into a QPainterPath once and cached.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QFrame, QScrollArea, QSizePolicy, QWidget

from studio.common.theme import DEFAULT_INK, PAPER, PAPER_EDGE, PAPER_TEXT_HINT
from studio.handwriting.canvas import smooth_path
from studio.handwriting.page import InkPage

MAX_XHEIGHT_PX = 46.0   # never draw bigger than this, however short the text
ANIM_INTERVAL_MS = 16


def speed_to_rate(speed: int) -> float | None:
    """Speed slider (1..10) to points per second; 10 means instant."""
    if speed >= 10:
        return None
    return 30.0 * (1.5 ** (max(1, speed) - 1))


def pen_width_units(width_setting: float, x_height: float) -> float:
    """Stroke width in model units: the setting is relative to the x-height, so it scales with the page."""
    return max(0.05, float(width_setting)) * x_height / 18.0


class PagePainter:
    """Draws an InkPage (up to ``revealed`` points) with a cache of finished stroke paths."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, int], QPainterPath] = {}
        self._page_id = None

    def reset(self) -> None:
        self._cache.clear()

    def paint(self, p: QPainter, page: InkPage, revealed: int | None, color: QColor, width_units: float,
              show_nib: bool = False) -> QPointF | None:
        if self._page_id != id(page):
            self._cache.clear()
            self._page_id = id(page)
        pen = QPen(color, width_units, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        budget = page.total_points if revealed is None else revealed
        nib = None
        for li, line in enumerate(page.lines):
            if budget <= 0:
                break
            ox, oy = page.line_origin(li)
            p.save()
            p.translate(ox, oy)
            n_strokes = len(line.strokes)
            for si, stroke in enumerate(line.strokes):
                if budget <= 0:
                    break
                complete = si < n_strokes - 1 or line.lifted or line.done
                if budget >= len(stroke) and complete:
                    path = self._cache.get((li, si))
                    if path is None:
                        path = smooth_path([q[0] for q in stroke], [q[1] for q in stroke])
                        self._cache[(li, si)] = path
                    budget -= len(stroke)
                    last = stroke[-1]
                else:
                    k = min(budget, len(stroke))
                    part = stroke[:k]
                    path = smooth_path([q[0] for q in part], [q[1] for q in part])
                    budget -= k
                    last = part[-1]
                p.drawPath(path)
                nib = QPointF(last[0] + ox, last[1] + oy)
            p.restore()
        if show_nib and nib is not None:
            p.save()
            c = QColor(color)
            c.setAlpha(90)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(c)
            p.drawEllipse(nib, width_units * 2.2, width_units * 2.2)
            p.restore()
        return nib


def render_page_image(page: InkPage, color: QColor, width_setting: float, px_per_xheight: float = 40.0,
                      background: QColor | None = PAPER) -> QImage:
    """The whole page as an image (for PNG export and the clipboard)."""
    scale = px_per_xheight / page.x_height
    b = page.content_bounds()
    if b is None:
        w, h = page.page_size()
        b = (0.0, 0.0, w, h)
    pad = page.x_height * 1.2
    x0, y0, x1, y1 = b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad
    img = QImage(max(1, int((x1 - x0) * scale)), max(1, int((y1 - y0) * scale)), QImage.Format.Format_ARGB32)
    img.fill(background if background is not None else Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.scale(scale, scale)
    p.translate(-x0, -y0)
    PagePainter().paint(p, page, None, color, pen_width_units(width_setting, page.x_height))
    p.end()
    return img


class _PageWidget(QWidget):
    """The inner widget of the scroll area: paper, ink, and the writing animation."""

    def __init__(self, view: "InkPageView"):
        super().__init__()
        self.view = view
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(600, 400)

    def paintEvent(self, event) -> None:  # noqa: N802
        self.view._paint(self, event)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.view._update_height()


class InkPageView(QScrollArea):
    """Shows an InkPage; ``append(line, points)`` feeds it, the animation reveals the points."""

    progress = Signal(int, int)   # revealed, received
    caught_up = Signal()          # everything received so far is on the page

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._inner = _PageWidget(self)
        self.setWidget(self._inner)
        self.page: InkPage | None = None
        self.revealed = 0
        self.rate: float | None = speed_to_rate(6)
        self.color = QColor(DEFAULT_INK)
        self.width_setting = 1.6
        self.hint = "Type some text and press Write (Ctrl+Enter)"
        self._painter = PagePainter()
        self._anim = QTimer(self)
        self._anim.setInterval(ANIM_INTERVAL_MS)
        self._anim.timeout.connect(self._tick)
        self._last_tick = 0.0
        self._carry = 0.0
        self._writing = False
        self._scale_cap: float | None = None

    # --- configuration ----------------------------------------------------------------------------
    def set_speed(self, speed: int) -> None:
        self.rate = speed_to_rate(speed)
        if self.rate is None and self.page is not None:
            self.reveal_all()

    def set_ink(self, color: QColor | None = None, width_setting: float | None = None) -> None:
        if color is not None:
            self.color = QColor(color)
        if width_setting is not None:
            self.width_setting = float(width_setting)
        self._inner.update()

    # --- content ----------------------------------------------------------------------------------
    def set_page(self, page: InkPage | None, writing: bool = False) -> None:
        self.page = page
        self.revealed = 0 if writing else (page.total_points if page else 0)
        self._writing = writing
        self._scale_cap = None
        self._painter.reset()
        self._carry = 0.0
        self._update_height()
        self._inner.update()
        if writing:
            self._last_tick = time.perf_counter()
            self._anim.start()

    def append(self, line: int, points) -> None:
        """Add generated points (each dx, dy, pen_up) to ``line``."""
        if self.page is None:
            return
        for pt in points:
            self.page.add_point(line, pt)
        if self.rate is None:
            self.revealed = self.page.total_points
        self._update_height()
        if not self._anim.isActive():
            self._last_tick = time.perf_counter()
            self._anim.start()
        self._inner.update()

    def finish_line(self, line: int) -> None:
        if self.page is not None and 0 <= line < len(self.page.lines):
            self.page.lines[line].done = True

    def writing_done(self) -> None:
        """Generation ended (or was stopped): keep revealing what arrived, then rest."""
        self._writing = False
        if self.page is not None:
            for ln in self.page.lines:
                if ln.points:
                    ln.done = True
        self._inner.update()

    def stop_animation(self) -> None:
        """Show everything received at once (Stop)."""
        self._writing = False
        self.reveal_all()

    def reveal_all(self) -> None:
        if self.page is not None:
            self.revealed = self.page.total_points
        self._anim.stop()
        self._inner.update()
        self.progress.emit(self.revealed, self.revealed)
        self.caught_up.emit()

    def is_animating(self) -> bool:
        return self._anim.isActive()

    def _tick(self) -> None:
        if self.page is None:
            self._anim.stop()
            return
        now = time.perf_counter()
        dt, self._last_tick = now - self._last_tick, now
        total = self.page.total_points
        if self.rate is None:
            self.revealed = total
        else:
            self._carry += self.rate * min(dt, 0.25)
            step = int(self._carry)
            self._carry -= step
            self.revealed = min(total, self.revealed + step)
        self.progress.emit(self.revealed, total)
        self._inner.update()
        self._follow_pen()
        if self.revealed >= total:
            self._carry = 0.0
            if not self._writing:
                self._anim.stop()
            self.caught_up.emit()

    # --- geometry ---------------------------------------------------------------------------------
    def _scale(self, width: int) -> float:
        if self.page is None:
            return 1.0
        pw, _ = self.page.page_size()
        s = min((width - 32) / max(pw, 1.0), MAX_XHEIGHT_PX / self.page.x_height)
        s = max(s, 0.05)
        if self._writing:  # never grow while writing: the page only zooms out as lines get longer
            if self._scale_cap is not None:
                s = min(s, self._scale_cap)
            self._scale_cap = s
        return s

    def _update_height(self) -> None:
        if self.page is None:
            self._inner.setMinimumHeight(0)
            return
        s = self._scale(self._inner.width())
        _, ph = self.page.page_size()
        need = int(ph * s + 32)
        if abs(self._inner.minimumHeight() - need) > 2:
            self._inner.setMinimumHeight(need)

    def _page_rect(self) -> tuple[float, QRectF]:
        w = self._inner.width()
        s = self._scale(w)
        pw, ph = self.page.page_size()
        x = max(16.0, (w - pw * s) / 2)
        return s, QRectF(x, 16.0, pw * s, ph * s)

    def _follow_pen(self) -> None:
        if self.page is None or not self._writing:
            return
        s, r = self._page_rect()
        # the line being written
        li = max((i for i, ln in enumerate(self.page.lines) if ln.points), default=0)
        _, oy = self.page.line_origin(li)
        y = r.y() + oy * s
        self.ensureVisible(int(r.x()), int(y), 0, int(self.page.line_height * s))

    def _paint(self, widget: QWidget, event) -> None:
        p = QPainter(widget)
        p.fillRect(event.rect(), self.palette().color(self.backgroundRole()).darker(104))
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if self.page is None or not self.page.lines:
            p.setPen(PAPER_TEXT_HINT)
            p.drawText(widget.rect(), Qt.AlignmentFlag.AlignCenter, self.hint)
            p.end()
            return
        s, r = self._page_rect()
        # paper with a soft edge
        for i, a in ((3, 18), (2, 26), (1, 40)):
            c = QColor(0, 0, 0, a)
            p.fillRect(r.adjusted(-i + 1, -i + 2, i + 1, i + 2), c)
        p.fillRect(r, PAPER)
        p.setPen(QPen(PAPER_EDGE, 1))
        p.drawRect(r)
        p.save()
        p.translate(r.topLeft())
        p.scale(s, s)
        self._painter.paint(p, self.page, self.revealed, self.color,
                            pen_width_units(self.width_setting, self.page.x_height),
                            show_nib=self._writing or self.is_animating())
        p.restore()
        p.end()
