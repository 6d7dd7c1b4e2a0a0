"""Cleaning raw ink: non-finite values, implausible jumps, duplicate points, resampling, length cap.

The jump rule is relative to the line itself: a pen-down step is implausible only when it is an outlier
against the line's median step *and* long against the line's height, so a sparsely sampled line (a fast
ascender or t-bar drawn with one or two samples) keeps its strokes while a glitch of many line heights is
still split or dropped.

Each step takes and returns an :class:`~engine.data.ink.Ink` (never modifying its input).
:func:`clean_ink` chains them and raises :class:`~engine.core.errors.DataError` (with the reason) when a line
is unusable, so importers can skip it and report why. No torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.core.errors import DataError
from engine.data.ink import Ink, Stroke

MAX_COORD = 1e7     # larger |x| or |y| is not handwriting in any unit we read (same bound as the priming check)


def check_coordinates(ink: Ink, where: str) -> None:
    """DataError naming ``where`` when an x or y is infinite or beyond ±MAX_COORD (never stored).

    NaN is allowed: it marks an unknown or garbled value, which cleaning drops point by point."""
    for s in ink.strokes:
        for name, v in (("x", s.x), ("y", s.y)):
            bad = np.abs(v) > MAX_COORD          # NaN compares False; inf is caught
            if bad.any():
                val = float(v[np.flatnonzero(bad)[0]])
                what = "is not finite" if not np.isfinite(val) else f"is beyond ±{MAX_COORD:g}"
                raise DataError(f"{name} coordinate {val:g} in {where} {what} (not handwriting units)")


@dataclass
class CleanOptions:
    max_jump: float | None = None     # absolute limit for one pen-down step (raw units); None: automatic
    jump_factor: float = 12.0         # automatic: a jump is longer than jump_factor x the median pen-down step
    jump_height_factor: float = 3.0   # ... and longer than this x the line's height (0: median rule only)
    merge_eps: float = 0.0            # consecutive points closer than this (<=) are merged
    resample_step: float | None = None  # resample strokes to this arc-length spacing (None: keep points)
    max_points: int | None = None     # lines with more points are rejected (None: no cap)
    min_points: int = 2               # lines with fewer points are rejected


def _with(ink: Ink, strokes: list[Stroke]) -> Ink:
    return Ink(strokes, ink.text, ink.writer, dict(ink.meta))


class _Flat:
    """A line as flat arrays (x, y, optional t and p, stroke id per point) for vectorised cleaning."""

    def __init__(self, ink: Ink):
        strokes = [s for s in ink.strokes if len(s)]
        self.ink = ink
        cat = (lambda vs: np.concatenate(vs) if vs else np.zeros(0))
        self.x = cat([s.x for s in strokes])
        self.y = cat([s.y for s in strokes])
        self.t = cat([s.t for s in strokes]) if strokes and all(s.t is not None for s in strokes) else None
        self.p = cat([s.p for s in strokes]) if strokes and all(s.p is not None for s in strokes) else None
        self.sid = np.repeat(np.arange(len(strokes)), [len(s) for s in strokes])

    def keep(self, mask: np.ndarray) -> None:
        self.x, self.y, self.sid = self.x[mask], self.y[mask], self.sid[mask]
        if self.t is not None:
            self.t = self.t[mask]
        if self.p is not None:
            self.p = self.p[mask]

    def steps(self) -> tuple[np.ndarray, np.ndarray]:
        """Length of each step to the next point and whether it is pen-down (same stroke)."""
        return np.hypot(np.diff(self.x), np.diff(self.y)), self.sid[1:] == self.sid[:-1]

    def to_ink(self) -> Ink:
        if len(self.x) == 0:
            return _with(self.ink, [])
        cuts = np.flatnonzero(np.diff(self.sid)) + 1
        parts = [np.split(v, cuts) if v is not None else [None] * (len(cuts) + 1)
                 for v in (self.x, self.y, self.t, self.p)]
        return _with(self.ink, [Stroke(*ch) for ch in zip(*parts)])


def _drop_nonfinite(f: _Flat) -> None:
    f.keep(np.isfinite(f.x) & np.isfinite(f.y))
    if f.t is not None and not np.all(np.isfinite(f.t)):
        f.t = None
    if f.p is not None and not np.all(np.isfinite(f.p)):
        f.p = None


def _median_step(f: _Flat) -> float:
    step, down = f.steps()
    d = step[down & (step > 0)]
    return float(np.median(d)) if len(d) else 0.0


def _merge_duplicates(f: _Flat, eps: float) -> None:
    if len(f.x) < 2:
        return
    step, down = f.steps()
    if eps <= 0:
        f.keep(np.concatenate([[True], ~(down & (step == 0))]))
        return
    keep = np.ones(len(f.x), dtype=bool)
    last = 0
    for i in range(1, len(f.x)):      # distance to the last *kept* point of the stroke, not the neighbour
        if f.sid[i] == f.sid[last] and np.hypot(f.x[i] - f.x[last], f.y[i] - f.y[last]) <= eps:
            keep[i] = False
        else:
            last = i
    f.keep(keep)


def line_height(ink_or_y) -> float:
    """A robust height of a line: the spread of its points' y between the 5th and 95th percentile.

    Percentiles ignore a few glitch points far away; the body of the writing sets the value, so it is close
    to the x-height for dense lines and nearer the full height for sparse ones. 0 for fewer than 2 points."""
    y = ink_or_y if isinstance(ink_or_y, np.ndarray) else _Flat(ink_or_y).y
    y = y[np.isfinite(y)]
    if len(y) < 2:
        return 0.0
    lo, hi = np.percentile(y, [5.0, 95.0])
    return float(hi - lo)


def jump_limit(f_or_ink, max_jump: float | None = None, jump_factor: float = 12.0,
               jump_height_factor: float = 3.0) -> float:
    """The longest plausible pen-down step of a line: ``max_jump`` when given, else the larger of
    ``jump_factor`` x the median pen-down step and ``jump_height_factor`` x :func:`line_height`."""
    if max_jump is not None:
        return float(max_jump)
    f = f_or_ink if isinstance(f_or_ink, _Flat) else _Flat(f_or_ink)
    limit = jump_factor * _median_step(f)
    if jump_height_factor and jump_height_factor > 0:
        limit = max(limit, jump_height_factor * line_height(f.y))
    return float(limit)


def _remove_jumps(f: _Flat, max_jump: float | None, jump_factor: float,
                  jump_height_factor: float = 3.0) -> tuple[int, int]:
    """Drop spikes and split strokes at implausible steps; returns (points dropped, strokes split)."""
    limit = jump_limit(f, max_jump, jump_factor, jump_height_factor)
    if not limit or limit <= 0:
        return 0, 0
    dropped = 0
    for _ in range(3):                 # spikes: one point far from both neighbours (rarely nested)
        if len(f.x) < 3:
            break
        step, down = f.steps()
        big = (step > limit) & down
        skip = np.hypot(f.x[2:] - f.x[:-2], f.y[2:] - f.y[:-2])
        spike = np.zeros(len(f.x), dtype=bool)
        spike[1:-1] = big[:-1] & big[1:] & (skip <= limit)
        if not spike.any():
            break
        dropped += int(spike.sum())
        f.keep(~spike)
    splits = 0
    if len(f.x) > 1:                   # any other long pen-down step: the pen must have been lifted
        step, down = f.steps()
        cut = down & (step > limit)
        splits = int(cut.sum())
        new = np.concatenate([[True], ~down | cut])
        f.sid = np.cumsum(new) - 1
    return dropped, splits


def drop_nonfinite(ink: Ink) -> Ink:
    """Drop points whose x or y is NaN/inf; a time or pressure channel with bad values is dropped too."""
    f = _Flat(ink)
    _drop_nonfinite(f)
    return f.to_ink()


def remove_jumps(ink: Ink, max_jump: float | None = None, jump_factor: float = 12.0,
                 jump_height_factor: float = 3.0) -> Ink:
    """Remove implausible pen-down jumps.

    A single point far from both neighbours (a spike out and back) is dropped; any remaining pen-down step
    longer than the limit splits the stroke there (the pen must have been lifted). The limit is ``max_jump``
    or, when None, :func:`jump_limit`: longer than ``jump_factor`` times the line's median pen-down step
    *and* than ``jump_height_factor`` times its height (so sparse sampling alone never splits a stroke).
    """
    f = _Flat(ink)
    _remove_jumps(f, max_jump, jump_factor, jump_height_factor)
    return f.to_ink()


def merge_duplicates(ink: Ink, eps: float = 0.0) -> Ink:
    """Merge consecutive points of a stroke that are within ``eps`` of the last kept point."""
    f = _Flat(ink)
    _merge_duplicates(f, eps)
    return f.to_ink()


def resample(ink: Ink, step: float) -> Ink:
    """Resample every stroke to points ``step`` apart along its path (time and pressure interpolated)."""
    if step <= 0:
        raise DataError(f"resampling step must be positive, got {step}")
    out = []
    for s in ink.strokes:
        if len(s) < 2:
            out.append(s)
            continue
        seg = np.hypot(np.diff(s.x), np.diff(s.y))
        arc = np.concatenate([[0.0], np.cumsum(seg)])
        total = arc[-1]
        if total <= 0:
            out.append(s.take(slice(0, 1)))
            continue
        n = max(int(np.ceil(total / step)), 1)
        u = np.linspace(0.0, total, n + 1)
        # drop zero-length segments so interpolation is well defined
        keep = np.concatenate([[True], seg > 0])
        a = arc[keep]
        ch = [np.interp(u, a, v[keep]) if v is not None else None for v in (s.x, s.y, s.t, s.p)]
        out.append(Stroke(*ch))
    return _with(ink, out)


CLEAN_STATS = ("points_in", "nonfinite", "duplicates", "spikes", "splits")


def clean_ink(ink: Ink, options: CleanOptions | None = None, stats: dict | None = None) -> Ink:
    """All cleaning steps in order. Raises DataError (reason) if the line is empty, too short or too long.

    ``stats`` (a dict), when given, is increased by what was done: ``points_in`` (points read), points
    dropped as ``nonfinite``, ``duplicates`` and ``spikes``, and strokes split at jumps (``splits``)."""
    o = options or CleanOptions()
    f = _Flat(ink)
    n0 = len(f.x)
    _drop_nonfinite(f)
    n1 = len(f.x)
    _merge_duplicates(f, o.merge_eps)
    n2 = len(f.x)
    spikes, splits = _remove_jumps(f, o.max_jump, o.jump_factor, o.jump_height_factor)
    if stats is not None:
        for k, v in zip(CLEAN_STATS, (n0, n0 - n1, n1 - n2, spikes, splits)):
            stats[k] = stats.get(k, 0) + int(v)
    ink = f.to_ink()
    if o.resample_step:
        ink = resample(ink, o.resample_step)
    n = len(ink)
    if n == 0:
        raise DataError("no valid points")
    if n < o.min_points:
        raise DataError(f"too few points ({n} < {o.min_points})")
    if o.max_points and n > o.max_points:
        raise DataError(f"too long ({n} points > cap {o.max_points})")
    return ink
