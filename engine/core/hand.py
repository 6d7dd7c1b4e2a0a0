"""Two measures of a hand, for comparing a writer's line with what a model writes for them, and a writer's slant
given to generated ink (:class:`Slanter`). No torch.

* :func:`strokes_per_letter` - pen-down strokes over the letters of the line's text. A print hand lifts the
  pen at least once a letter (about one stroke a letter or more: t-bars, i-dots and two-stroke capitals
  count too); a joined hand writes a word or a run of letters in one stroke (a third to two thirds of a
  stroke a letter). It needs the text only for its letter count.
* :func:`slant` - the lean of the downstrokes, in degrees from upright (positive: leaning right, as most
  right-handed writers lean). The pen-down steps steeper than 45 degrees, weighted by their length, taken as
  going up the page, and the length-weighted median of their angle from vertical.

Both work on stroke-3 in any units (x to the right; y either way up, ``y_up`` says which), so a real line,
a prime and a sample compare directly (bench/RESULTS-handwriting.md 2n).
"""

from __future__ import annotations

import math

import numpy as np

from engine.core.word_space import median_gap

MIN_LETTERS = 3
SLANT_SETTLE_X_HEIGHTS = 10.0   # steep pen-down ink measured before a line's own slant is taken (x-heights)
MAX_SLANT = 45.0                # degrees: a target or a measured lean beyond this is not a slant
MAX_SHEAR = math.tan(math.radians(35.0))   # the largest change of a line's lean, as a shear
# how far a prime's lean is carried: the share of the difference between the model's lean and the prime's that
# the shear makes up. Not all of it: the nearer the lean, the worse Tesseract reads the lines (a cost that grows
# with the shear, in either direction; bench/RESULTS-handwriting.md 2n)
PRIME_SLANT_SHARE = 0.5


def _as_array(stroke3) -> np.ndarray:
    return np.asarray(stroke3, dtype=np.float64).reshape(-1, 3)


def stroke_count(stroke3) -> int:
    """The pen-down strokes of a line: runs of points between pen lifts (a last point without a lift flag
    still ends one)."""
    a = _as_array(stroke3)
    if not len(a):
        return 0
    lifts = a[:, 2] >= 0.5
    return int(lifts.sum() + (not lifts[-1]))


def strokes_per_letter(stroke3, text: str) -> float:
    """Pen-down strokes per letter of ``text`` (spaces not counted); NaN when the text has fewer than
    :data:`MIN_LETTERS` letters."""
    letters = sum(not c.isspace() for c in text)
    if letters < MIN_LETTERS:
        return float("nan")
    return stroke_count(stroke3) / letters


def describe(stroke3, text: str, x_height: float) -> str:
    """A line's hand (stroke-3, y down) in a few words, for a person who has just drawn it: its lean, how often
    the pen lifts and how far apart its words are ("leaning 14 degrees right, partly joined (0.8 strokes a
    letter), words 1.9 x-heights apart"); the parts that cannot be told (a short line, one word) are left out."""
    parts = []
    lean = slant(stroke3)
    if math.isfinite(lean):
        side = "right" if lean > 0 else "left"
        parts.append("upright" if abs(lean) < 3 else f"leaning {abs(lean):.0f} degrees {side}")
    per = strokes_per_letter(stroke3, text)
    if math.isfinite(per):
        kind = ("joined" if per < 2 / 3 else "partly joined" if per < 1 else
                "the pen lifted about once a letter" if per < 1.5 else "the pen lifted more than once a letter")
        parts.append(f"{kind} ({per:.1f} strokes a letter)")
    gap = median_gap(stroke3, text, x_height)
    if gap is not None:
        parts.append(f"words {gap:.1f} x-heights apart")
    return ", ".join(parts)


def _steep_steps(stroke3, y_up: bool) -> tuple[np.ndarray, np.ndarray]:
    """(angle from upright in degrees, length) of each pen-down step steeper than 45 degrees, taken as going up."""
    a = _as_array(stroke3)
    if len(a) < 2:
        return np.zeros(0), np.zeros(0)
    d = np.diff(np.cumsum(a[:, :2], axis=0), axis=0)[a[:-1, 2] < 0.5]   # a step is drawn when its start does not lift
    rise = d[:, 1] if y_up else -d[:, 1]       # the step's rise up the page
    steep = np.abs(rise) > np.abs(d[:, 0])
    return _lean_of(d[steep, 0], rise[steep]), np.hypot(d[steep, 0], rise[steep])


def _lean_of(dx, rise):
    """A step's angle from upright in degrees, positive to the right, the step taken as going up the page
    (arrays or numbers)."""
    return np.degrees(np.arctan2(np.where(rise < 0, -dx, dx), np.abs(rise)))


def slant(stroke3, y_up: bool = False) -> float:
    """The lean of a line's downstrokes in degrees from upright, positive to the right (the length-weighted
    median over its steep pen-down steps); NaN with no steep pen-down step. ``y_up``: whether y grows up the page
    (stroke-3 from the models and the importers grows down, as on a screen)."""
    angle, w = _steep_steps(stroke3, y_up)
    return _weighted_median(angle, w) if len(angle) else float("nan")


def prime_slant(stroke3, x_height: float, settle: float | None = None) -> float | None:
    """A prime's lean (degrees, :func:`slant`), or None when it has less steep ink than a generated line's lean
    is measured on (``settle`` x-heights, default :data:`SLANT_SETTLE_X_HEIGHTS`): a word or two says too little."""
    angle, w = _steep_steps(stroke3, y_up=False)
    need = (SLANT_SETTLE_X_HEIGHTS if settle is None else settle) * x_height
    if not len(angle) or w.sum() < need:
        return None
    value = _weighted_median(angle, w)
    return value if abs(value) <= MAX_SLANT else None


def hand_slant(lines, x_height: float) -> float | None:
    """The lean of a hand from several of its lines (stroke-3, y down): the median of their :func:`prime_slant`,
    None when no line has enough steep ink to tell."""
    leans = [v for v in (prime_slant(s3, x_height) for s3 in lines) if v is not None]
    return float(np.median(leans)) if leans else None


def shear_for(target: float, measured: float) -> float:
    """The horizontal shear (dx per unit of rise) that turns downstrokes leaning ``measured`` degrees into ones
    leaning ``target``: the difference of the tangents, at most :data:`MAX_SHEAR` either way; 0 when either is
    not a finite lean within :data:`MAX_SLANT`."""
    if not (math.isfinite(target) and math.isfinite(measured)) or max(abs(target), abs(measured)) > MAX_SLANT:
        return 0.0
    k = math.tan(math.radians(target)) - math.tan(math.radians(measured))
    return max(-MAX_SHEAR, min(MAX_SHEAR, k))


def _weighted_median(angle: np.ndarray, w: np.ndarray) -> float:
    order = np.argsort(angle)
    cum = np.cumsum(w[order])
    return float(angle[order][np.searchsorted(cum, cum[-1] / 2.0)])


class Slanter:
    """A writer's lean given to generated ink as it is drawn: ``feed(point, focus)`` -> the (point, focus) pairs
    ready to go out, in order; ``flush()`` the rest. Points are stroke-3 offsets in raw units, y down.

    A model carries only part of a prime's slant, and unevenly (the same writer's prime comes back anywhere from
    upright to their own lean, and a line's lean wanders; bench/RESULTS-handwriting.md 2n). So the model's own
    lean is measured on the last ``settle`` units of steep pen-down ink it drew (:func:`slant`), and each point
    is sheared by the amount that turns that lean into ``target`` degrees (:func:`shear_for`), or by ``share`` of
    it (a prime's lean is carried half-way: :data:`PRIME_SLANT_SHARE`). The line's first
    points are held back until there is that much ink to measure; then they go out with the lean measured on
    them. A shear keeps every letter and its joins; the jumps between strokes are sheared with the strokes.
    ``shear`` is the amount used last (None until one is known), ``measured`` the first lean measured."""

    def __init__(self, target: float, settle: float, share: float = 1.0, track: bool = True):
        self.target, self.settle, self.share, self.track = float(target), float(settle), float(share), track
        self.held: list[tuple[np.ndarray, int]] = []
        self.shear: float | None = None
        self.measured = float("nan")
        self.angles: list[float] = []     # the steep pen-down steps drawn so far: angle from upright, length
        self.lengths: list[float] = []
        self.steep = 0.0                  # their length, in all
        self.pen_up = True                # the pen is up before the next point (the first is a jump)

    def _note(self, point) -> bool:
        """Keep the point's step if it is drawn and steep; True if it was."""
        dx, dy = float(point[0]), float(point[1])
        drawn = not self.pen_up
        self.pen_up = bool(point[2] >= 0.5)
        if not drawn or abs(dy) <= abs(dx):
            return False
        self.angles.append(float(_lean_of(dx, -dy)))
        self.lengths.append(math.hypot(dx, dy))
        self.steep += self.lengths[-1]
        return True

    def _lean(self) -> float:
        """The lean of the last ``settle`` units of steep ink (all of it, while there is less)."""
        if not self.angles:
            return float("nan")
        w = np.asarray(self.lengths)
        keep = len(w) - min(int(np.searchsorted(np.cumsum(w[::-1]), self.settle)) + 1, len(w))
        if keep and self.shear is not None:          # steps older than the last ``settle`` units are not needed again
            del self.angles[:keep], self.lengths[:keep]
            w, keep = w[keep:], 0
        return _weighted_median(np.asarray(self.angles[keep:]), w[keep:])

    def feed(self, point: np.ndarray, focus: int) -> list[tuple[np.ndarray, int]]:
        steep = self._note(point)
        if self.shear is not None:
            if steep and self.track:
                self.shear = self.share * shear_for(self.target, self._lean())
            return [self._apply(point, focus)]
        self.held.append((point, focus))
        return self.flush() if self.steep >= self.settle else []

    def flush(self) -> list[tuple[np.ndarray, int]]:
        """Let out the held points, sheared (the shear is taken from them if it is not known yet)."""
        if self.shear is None:
            self.measured = self._lean()
            self.shear = self.share * shear_for(self.target, self.measured)
        out, self.held = [self._apply(p, g) for p, g in self.held], []
        return out

    def _apply(self, point: np.ndarray, focus: int) -> tuple[np.ndarray, int]:
        if self.shear:
            point = point.copy()
            point[0] -= self.shear * point[1]
        return point, focus
