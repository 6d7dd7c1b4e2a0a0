"""A page of generated handwriting: text wrapped into lines, each line's ink as it streams in.

Pure Python + numpy (no Qt): the view renders it, the exporters turn it into SVG, PNG and InkML.
Units are the model's raw units with y down; line ``i`` sits at ``line_origin(i)`` on the page.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

import numpy as np


def wrap_lines(text: str, width: int) -> list[str]:
    """Split ``text`` into page lines: explicit newlines are kept, long paragraphs wrap at ``width``.

    Blank lines stay as empty lines (a gap on the page); trailing blank lines are dropped.
    """
    width = max(4, int(width))
    out: list[str] = []
    for para in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        para = " ".join(para.split())
        if not para:
            out.append("")
            continue
        out.extend(textwrap.wrap(para, width=width, break_long_words=True, break_on_hyphens=True))
    while out and not out[-1]:
        out.pop()
    while out and not out[0]:
        out.pop(0)
    return out


ALIGN_MIN_POINTS = 24


@dataclass
class PageLine:
    text: str
    strokes: list[list[tuple[float, float]]] = field(default_factory=list)
    pen: tuple[float, float] = (0.0, 0.0)
    lifted: bool = True  # the next point starts a new stroke
    points: int = 0
    done: bool = False
    _shift: tuple[float, float] | None = None  # frozen alignment once the line is done

    def shift(self) -> tuple[float, float]:
        """Where to move the line so lines align: left edge at x = 0 and the middle of its letters
        (median y) at y = 0. Settles after a few letters; frozen when the line is done."""
        if self._shift is not None:
            return self._shift
        if self.points < ALIGN_MIN_POINTS:
            return (0.0, 0.0)
        a = np.asarray([p for s in self.strokes for p in s], dtype=np.float64)
        sh = (-float(a[:, 0].min()), -float(np.median(a[:, 1])))
        if self.done:
            self._shift = sh
        return sh

    def add(self, dx: float, dy: float, pen_up: float) -> None:
        x, y = self.pen[0] + float(dx), self.pen[1] + float(dy)
        self.pen = (x, y)
        if self.lifted or not self.strokes:
            self.strokes.append([])
        self.strokes[-1].append((x, y))
        self.lifted = pen_up >= 0.5
        self.points += 1

    def bounds(self) -> tuple[float, float, float, float] | None:
        pts = [p for s in self.strokes for p in s]
        if not pts:
            return None
        a = np.asarray(pts)
        return float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 0].max()), float(a[:, 1].max())


class InkPage:
    """Lines of handwriting on a page. ``x_height`` (model units) sets spacing and pen width."""

    def __init__(self, lines: list[str] | None = None, x_height: float = 25.0, line_spacing: float = 4.2):
        self.x_height = float(x_height)
        self.line_height = self.x_height * line_spacing
        self.margin = self.x_height * 1.6
        self.lines: list[PageLine] = [PageLine(t) for t in (lines or [])]

    # --- geometry ---------------------------------------------------------------------------------
    def line_origin(self, i: int) -> tuple[float, float]:
        """Where line ``i``'s own (0, 0) goes on the page: its guide position plus its alignment shift
        (see PageLine.shift: the left edge at the margin, the middle of the letters on the guide)."""
        gx, gy = self.margin, self.margin + self.x_height * 2.2 + i * self.line_height
        if 0 <= i < len(self.lines):
            sx, sy = self.lines[i].shift()
            return gx + sx, gy + sy
        return gx, gy

    def content_bounds(self) -> tuple[float, float, float, float] | None:
        boxes = []
        for i, ln in enumerate(self.lines):
            b = ln.bounds()
            if b is not None:
                ox, oy = self.line_origin(i)
                boxes.append((b[0] + ox, b[1] + oy, b[2] + ox, b[3] + oy))
        if not boxes:
            return None
        a = np.asarray(boxes)
        return float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 2].max()), float(a[:, 3].max())

    def page_size(self, char_width: float | None = None) -> tuple[float, float]:
        """Page width/height: room for the expected text, grown to fit whatever was written."""
        cw = char_width if char_width is not None else self.x_height * 1.15
        longest = max((len(ln.text) for ln in self.lines), default=0)
        w = self.margin * 2 + cw * max(longest, 8)
        gy = self.margin + self.x_height * 2.2 + (max(len(self.lines), 1) - 1) * self.line_height
        h = gy + self.x_height * 2.0 + self.margin
        b = self.content_bounds()
        if b is not None:
            w = max(w, b[2] + self.margin)
            h = max(h, b[3] + self.margin)
        return w, h

    # --- data -------------------------------------------------------------------------------------
    def add_point(self, line: int, point) -> None:
        self.lines[line].add(point[0], point[1], point[2])

    @property
    def total_points(self) -> int:
        return sum(ln.points for ln in self.lines)

    def is_empty(self) -> bool:
        return self.total_points == 0

    def text(self) -> str:
        return "\n".join(ln.text for ln in self.lines)

    def line_inks(self):
        """One engine Ink per written line, in page coordinates (for InkML)."""
        from engine.data.ink import Ink, Stroke

        out = []
        for i, ln in enumerate(self.lines):
            if not ln.strokes:
                continue
            ox, oy = self.line_origin(i)
            strokes = [Stroke(x=np.asarray([p[0] + ox for p in s], dtype=np.float32),
                              y=np.asarray([p[1] + oy for p in s], dtype=np.float32)) for s in ln.strokes if s]
            out.append(Ink(strokes=strokes, text=ln.text, meta={"source": "scribe-studio", "line": i}))
        return out

    def to_ink(self):
        """The whole page as one Ink (page coordinates), text = the lines joined by newlines."""
        from engine.data.ink import Ink

        strokes = [s for ink in self.line_inks() for s in ink.strokes]
        return Ink(strokes=strokes, text=self.text(), meta={"source": "scribe-studio"})
