"""Priming ink: one path from a person's handwriting to stroke-3 in a model's raw units. No torch.

Used by the CLI (``scribe sample ink --prime-ink``, ``scribe eval ink``), the runtime
(``ModelPackage.generate_ink(prime_ink=...)``) and the app (a drawing on the canvas), so a tablet file, an
IAM-OnDB line, a mouse drawing and a pen drawing all reach the model the same way:

1. read: InkML (the app's own format too) or IAM-OnDB ``lineStrokes`` XML (:func:`read_prime_ink`);
2. scale: the writer's x-height is estimated from the ink itself (the central band of the y values after
   removing the baseline's slope, :func:`ink_x_height`) and brought to the model's x-height;
3. resample: to the point density of the training data (its median pen-down step), so a tablet line (many
   close points), an IAM line and a mouse drawing (few, far-apart points) look alike to the model. The ink
   is resampled evenly in TIME at the rate that gives that median step, which keeps the pen's speed profile
   (points bunch up in curves and thin out on straights, as in the training data; resampling evenly along
   the length instead cost the bundled model several nats per point on real lines, see
   bench/RESULTS-real-writers.md). Ink without time stamps (a dataset's stroke-3) is taken to be sampled at
   a fixed rate, as pens and tablets sample: its point index is its time;
4. stroke-3 with the first point at the origin, at most ``max_points`` points.

What a model expects is its :class:`InkScale`, recorded in its card (``card["ink_scale"]``) from its
training data (:meth:`InkScale.from_lines`); for older cards it is estimated from the bundled styles.
After the prime, the generation loop places the attention window at the first character of the new text
(``engine.core.ink_stream``), so nothing of the prime's text is written, whatever its transcription.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.core.errors import DataError
from engine.core.hand import MAX_SLANT, hand_slant
from engine.core.ink_score import GAP_X_HEIGHTS, JOINS, MAX_LINE_SLOPE
from engine.core.word_space import hand_gap
from engine.data.ink import Ink, Stroke

DEFAULT_X_HEIGHT = 25.0     # the synthetic corpus's x-height range is 20-28 units
BAND_PER_X_HEIGHT = 0.9     # 20th-80th percentile band of y over a line, in x-heights (measured on synth)
MAX_PRIME_POINTS = 1500
MAX_WORD_GAP = 50.0         # x-heights: a card's word_gap above this is not a measurement
MAX_COORD = 1e7             # larger coordinates are not handwriting (or not a unit we can read)


def stroke3_to_points(stroke3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Absolute points (n, 2) and pen_up flags (n,) from stroke-3."""
    a = np.asarray(stroke3, dtype=np.float64).reshape(-1, 3)
    return np.cumsum(a[:, :2], axis=0), a[:, 2] >= 0.5


def y_band(xs, ys) -> float | None:
    """Height of the central 60 % of a line's y values around its baseline's slope: a size measure that
    ignores ascenders, descenders and a line written uphill. None for fewer than 20 points."""
    x = np.asarray(xs, dtype=np.float64).reshape(-1)
    y = np.asarray(ys, dtype=np.float64).reshape(-1)
    if len(y) < 20:
        return None
    if np.ptp(x) > 0:
        slope = np.polyfit(x, y, 1)[0]
        if abs(slope) < MAX_LINE_SLOPE:  # a baseline drifts; a steeper fit is the writing's shape, not its slope
            y = y - slope * x
    band = float(np.percentile(y, 80) - np.percentile(y, 20))
    return band if band > 0 else None


def ink_x_height(ink: Ink) -> float | None:
    """The x-height of a line of handwriting in its own units (None when it is too short to tell).

    Measured on the strokes resampled evenly along their length, so it does not depend on the device's
    sampling rate or on where the pen slowed down."""
    strokes = [s for s in ink.strokes if len(s)]
    if not strokes or sum(len(s) for s in strokes) < 20:
        return None
    length = sum(float(np.hypot(np.diff(s.x), np.diff(s.y)).sum()) for s in strokes)
    if not length > 0:
        return None
    step = length / 2000.0
    xs, ys = zip(*(resample(s.x, s.y, step) for s in strokes))
    band = y_band(np.concatenate(xs), np.concatenate(ys))
    return band / BAND_PER_X_HEIGHT if band else None


def median_step(stroke3) -> float | None:
    """Median length of the pen-down steps of stroke-3 (rows that start a stroke are jumps, not steps)."""
    a = np.asarray(stroke3, dtype=np.float64).reshape(-1, 3)
    if len(a) < 3:
        return None
    prev_up = np.concatenate([[True], a[:-1, 2] >= 0.5])
    d = np.hypot(a[:, 0], a[:, 1])[~prev_up]
    d = d[d > 0]
    return float(np.median(d)) if len(d) else None


def _word_gap(value) -> float | None:
    """A card's ``ink_scale.word_gap``, or None when it is missing or damaged (measured again on first use)."""
    try:
        gap = float(value)
    except (TypeError, ValueError):
        return None
    return gap if np.isfinite(gap) and 0 < gap < MAX_WORD_GAP else None


def _slant(value) -> float | None:
    """A card's ``ink_scale.slant`` (degrees), or None when it is missing or not a lean (beyond ``MAX_SLANT``)."""
    if isinstance(value, bool):
        return None
    try:
        lean = float(value)
    except (TypeError, ValueError):
        return None
    return lean if np.isfinite(lean) and abs(lean) <= MAX_SLANT else None


def _style_lines(styles) -> list[tuple[np.ndarray, str]]:
    """(stroke3 float64, text) of each style (a dict with ``stroke3``) that can be read; the others left out."""
    lines = []
    for st in styles or []:
        try:
            lines.append((np.asarray(st["stroke3"], dtype=np.float64).reshape(-1, 3), str(st.get("text") or "")))
        except (KeyError, TypeError, ValueError):
            continue
    return lines


def _styles_hand(styles, x_height: float, lean: float | None, gap: float | None) -> tuple[float | None, float | None]:
    """(lean, word gap) of a hand from its styles' lines (``engine.core.hand.hand_slant``,
    ``engine.core.word_space.hand_gap``) where not already known; None where it cannot be told."""
    lines = [(s3, text) for s3, text in _style_lines(styles) if np.all(np.isfinite(s3))]
    if not lines:
        return lean, gap
    lean = lean if lean is not None else _slant(hand_slant([s3 for s3, _ in lines], x_height))
    return lean, gap if gap is not None else _word_gap(hand_gap(lines, x_height))


@dataclass(frozen=True)
class InkScale:
    """The ink a model was trained on: its x-height and typical pen-down step, in the model's raw units, and
    how its training pairs placed a line after a prime (``engine.core.ink_score.after_prime``)."""

    x_height: float = DEFAULT_X_HEIGHT
    spacing: float | None = None        # None: keep the prime's own points
    join: str = "baseline"              # what this code trains; cards without one are "start" (older models)
    # the model's median blank between words after its styles, x-heights (engine.core.word_space.reference_gap;
    # None: not measured yet, the runtime measures it on first use)
    word_gap: float | None = None
    # the lean of the hand it learnt, degrees from upright (engine.core.hand.slant), where the card records one: a
    # personal model's is its writer's, given to what it writes without a prime (InkWriter.lean); None: as it draws
    slant: float | None = None
    # the median blank between words of the hand it learnt, x-heights (engine.core.word_space.hand_gap), where the
    # card records one: a personal model's writer's, carried into what it writes without a prime (InkWriter.word_space)
    hand_gap: float | None = None

    @property
    def prime_gap(self) -> float:
        """The word space between a prime and the line written after it, in raw units (scoring, training pairs)."""
        return GAP_X_HEIGHTS * self.x_height

    def to_json(self) -> dict:
        out = {"x_height": round(float(self.x_height), 4),
               "spacing": None if self.spacing is None else round(float(self.spacing), 4), "join": self.join}
        if self.word_gap is not None:
            out["word_gap"] = round(float(self.word_gap), 4)
        if self.slant is not None:
            out["slant"] = round(float(self.slant), 2)
        if self.hand_gap is not None:
            out["hand_gap"] = round(float(self.hand_gap), 4)
        return out

    @classmethod
    def from_lines(cls, lines) -> "InkScale":
        """Measured on training lines (stroke-3 in raw units): medians of the per-line figures."""
        xh, sp = [], []
        for s3 in lines:
            x = ink_x_height(Ink.from_stroke3(s3)) if len(s3) else None
            if x:
                xh.append(x)
            m = median_step(s3)
            if m:
                sp.append(m)
        return cls(float(np.median(xh)) if xh else DEFAULT_X_HEIGHT, float(np.median(sp)) if sp else None)

    @classmethod
    def from_card(cls, card: dict | None, styles: list[dict] | None = None) -> "InkScale":
        """From ``card["ink_scale"]``; for cards without it, estimated from the bundled ``styles``
        (dicts with ``stroke3``) or the card's ``x_height``; else the defaults. A card that does not name its
        join (or names one this code does not know) has the ``"start"`` join of the models made before. A personal
        model's card made before it recorded its writer's lean gets the lean of its styles (the person's lines)."""
        card = card or {}
        rec = card.get("ink_scale")
        if isinstance(rec, dict):
            join = rec.get("join") if rec.get("join") in JOINS else "start"
            try:
                xh = float(rec.get("x_height") or 0)
                sp = rec.get("spacing")
                sp = float(sp) if sp is not None else None
                if np.isfinite(xh) and xh > 0 and (sp is None or (np.isfinite(sp) and sp > 0)):
                    lean, gap = _slant(rec.get("slant")), _word_gap(rec.get("hand_gap"))
                    if card.get("personal") and (lean is None or gap is None):
                        # a personal model made before its card recorded its writer's hand: its styles are the
                        # person's lines
                        lean, gap = _styles_hand(styles, xh, lean, gap)
                    return cls(xh, sp, join, _word_gap(rec.get("word_gap")), lean, gap)
            except (TypeError, ValueError):
                pass
        lines = [s3 for s3, _ in _style_lines(styles)]
        measured = cls.from_lines(lines) if lines else cls()
        try:
            xh = float(card.get("x_height") or 0)
        except (TypeError, ValueError):
            xh = 0.0
        return cls(xh if np.isfinite(xh) and xh > 0 else measured.x_height, measured.spacing, "start")


def read_prime_ink(path: str | os.PathLike) -> Ink:
    """The first line of handwriting in an InkML file or an IAM-OnDB ``lineStrokes`` XML file (DataError
    naming the file otherwise). An InkML file's truth annotation becomes the ink's text."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file" if not p.exists() else f"{p} is not a file")
    try:
        with open(p, "rb") as fh:
            raw = fh.read(4096)
    except OSError as exc:
        raise DataError(f"cannot read {p}: {exc.strerror or exc}") from None
    utf16 = raw[:2] in (b"\xff\xfe", b"\xfe\xff")
    head = raw.decode("utf-16" if utf16 else "utf-8", errors="replace")
    root = _ROOT_TAG.search(head)
    root = root.group(1) if root else ""
    if root not in ("WhiteboardCaptureSession", "StrokeSet", "ink"):
        raise DataError(f"{p} is neither InkML nor IAM-OnDB lineStrokes XML")
    from engine.data import xmlsafe

    try:
        if root == "ink":
            from engine.data.inkml import read_inkml

            inks = read_inkml(p)
            if not inks:
                raise DataError("holds no ink")
            ink = inks[0]
        else:
            from engine.data.iam import parse_line_file

            ink = parse_line_file(p)
    except xmlsafe.FILE_ERRORS as exc:   # whatever one hostile file can raise: one line naming it
        msg = xmlsafe.reason(exc)
        raise DataError(msg if str(p) in msg else f"{p}: {msg}") from None
    ink = _known_points(ink)
    check_ink(ink, p)
    return ink


_ROOT_TAG = re.compile(r"<(?:[\w.-]+:)?(ink|WhiteboardCaptureSession|StrokeSet)[\s>/]")


def _known_points(ink: Ink) -> Ink:
    """The ink without points whose x or y is unknown (NaN: InkML's ``?``, a garbled IAM value), as importing
    drops them; infinite and absurd values are refused by the readers."""
    strokes = []
    for s in ink.strokes:
        keep = ~(np.isnan(s.x) | np.isnan(s.y))
        if keep.all():
            strokes.append(s)
        elif keep.any():
            strokes.append(Stroke(s.x[keep], s.y[keep], None if s.t is None else s.t[keep],
                                  None if s.p is None else s.p[keep]))
    return Ink(strokes, ink.text, ink.writer, dict(ink.meta)) if len(strokes) != len(ink.strokes) or \
        any(a is not b for a, b in zip(strokes, ink.strokes)) else ink


def check_ink(ink: Ink, where: str | os.PathLike = "the priming ink") -> None:
    """DataError naming ``where`` for ink without points or with non-finite or absurd coordinates."""
    if not any(len(s) for s in ink.strokes):
        raise DataError(f"{where} has no points")
    for s in ink.strokes:
        if len(s) and not (np.all(np.isfinite(s.x)) and np.all(np.isfinite(s.y))):
            raise DataError(f"{where} has non-finite coordinates")
        if len(s) and max(np.abs(s.x).max(), np.abs(s.y).max()) > MAX_COORD:
            raise DataError(f"{where} has coordinates beyond ±{MAX_COORD:g}: not handwriting units")


def resample(xs, ys, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``spacing`` along the polyline (keeps both ends)."""
    xs = np.asarray(xs, dtype=np.float64)
    ys = np.asarray(ys, dtype=np.float64)
    if len(xs) < 2 or not spacing or spacing <= 0:
        return xs, ys
    seg = np.hypot(np.diff(xs), np.diff(ys))
    s = np.concatenate([[0.0], np.cumsum(seg)])
    total = s[-1]
    if total <= spacing:
        return np.array([xs[0], xs[-1]]), np.array([ys[0], ys[-1]])
    n = int(np.ceil(total / spacing)) + 1
    t = np.linspace(0.0, total, n)
    return np.interp(t, s, xs), np.interp(t, s, ys)


def resample_in_time(x, y, t, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``dt`` seconds along a stroke (both ends kept), linear between the samples."""
    x, y, t = (np.asarray(v, dtype=np.float64) for v in (x, y, t))
    if len(x) < 2 or not dt > 0 or not t[-1] > t[0]:
        return x, y
    t = np.maximum.accumulate(t)                     # tablets repeat or reorder time stamps now and then
    n = max(2, int(np.ceil((t[-1] - t[0]) / dt)) + 1)
    tt = np.linspace(t[0], t[-1], n)
    return np.interp(tt, t, x), np.interp(tt, t, y)


def _clock(ink: Ink) -> list[np.ndarray]:
    """Each stroke's time: its time stamps when every stroke has usable ones, else its point index (the
    sampling of a pen or tablet is regular) at a nominal 100 Hz."""
    strokes = [s for s in ink.strokes if len(s)]
    timed = all(s.t is not None and np.all(np.isfinite(s.t)) for s in strokes) and \
        sum(float(s.t[-1] - s.t[0]) for s in strokes if len(s) > 1) > 0
    if timed:
        return [np.asarray(s.t, dtype=np.float64) for s in strokes]
    return [np.arange(len(s), dtype=np.float64) / 100.0 for s in strokes]


def _time_strokes(ink: Ink, scale: float, spacing: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ink's strokes resampled evenly in time, at the rate whose median pen-down step is ``spacing``."""
    strokes = [s for s in ink.strokes if len(s)]
    clocks = _clock(ink)
    dt = 1 / 30.0
    for _ in range(4):   # the median step is nearly proportional to the time step: a few corrections suffice
        out = [resample_in_time(s.x * scale, s.y * scale, t, dt) for s, t in zip(strokes, clocks)]
        steps = np.concatenate([np.hypot(np.diff(x), np.diff(y)) for x, y in out])
        steps = steps[steps > 0]
        if not len(steps):
            break
        med = float(np.median(steps))
        if abs(med / spacing - 1) < 0.03:
            break
        dt *= spacing / med
    return out


def strokes_to_stroke3(strokes, scale: float = 1.0, spacing: float | None = None) -> np.ndarray:
    """Strokes of absolute (xs, ys) to stroke-3 (dx, dy, pen_up), scaled, then resampled every
    ``spacing`` (scaled units) when given. The first point becomes the origin (first row (0, 0, .))."""
    rows: list[np.ndarray] = []
    origin = prev = None
    for xs, ys in strokes:
        x = np.asarray(xs, dtype=np.float64) * scale
        y = np.asarray(ys, dtype=np.float64) * scale
        if len(x) == 0:
            continue
        if spacing:
            x, y = resample(x, y, spacing)
        if origin is None:
            origin = (x[0], y[0])
        pts = np.stack([x - origin[0], y - origin[1]], axis=1)
        start = np.zeros(2) if prev is None else prev
        d = np.diff(np.vstack([start, pts]), axis=0)
        pen = np.zeros((len(pts), 1))
        pen[-1, 0] = 1.0
        rows.append(np.hstack([d, pen]))
        prev = pts[-1]
    if not rows:
        return np.zeros((0, 3), dtype=np.float32)
    return np.vstack(rows).astype(np.float32)


def prime_scale(ink: Ink, model: InkScale, guide_x_height: float | None = None) -> float:
    """The factor that brings ``ink`` to the model's x-height. ``guide_x_height``: the x-height the writer
    was shown (the app's ruled guide), used when the ink is too short to measure and as a bound (the
    measured size is trusted within 2x of the guide's)."""
    measured = ink_x_height(ink)
    if guide_x_height and guide_x_height > 0:
        measured = guide_x_height if measured is None else float(np.clip(measured, guide_x_height / 2,
                                                                             guide_x_height * 2))
    if not measured:
        raise DataError("the priming ink is too short to tell its size: write a whole line")
    return float(model.x_height / measured)


def prepare_prime(ink: Ink, model: InkScale, *, guide_x_height: float | None = None,
                  max_points: int = MAX_PRIME_POINTS) -> np.ndarray:
    """A person's line of handwriting as stroke-3 in the model's raw units (see the module docstring)."""
    check_ink(ink)
    scale = prime_scale(ink, model, guide_x_height)
    if model.spacing:
        s3 = strokes_to_stroke3(_time_strokes(ink, scale, model.spacing))
    else:
        s3 = strokes_to_stroke3([(s.x, s.y) for s in ink.strokes if len(s)], scale=scale, spacing=model.spacing)
    if len(s3) > max_points:  # keep whole strokes from the start
        ends = np.flatnonzero(s3[:, 2] >= 0.5)
        cut = int(ends[ends < max_points].max()) + 1 if np.any(ends < max_points) else max_points
        s3 = s3[:cut].copy()
        s3[-1, 2] = 1.0
    if len(s3) < 2:
        raise DataError("the priming ink has too few points")
    return s3
