"""Cleaning raw ink: non-finite values, implausible jumps, duplicate points, resampling, length cap.

Each step takes and returns an :class:`~engine.ink.ink.Ink` (never modifying its input).
:func:`clean_ink` chains them and raises :class:`~engine.errors.DataError` (with the reason) when a line
is unusable, so importers can skip it and report why. No torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from .ink import Ink, Stroke


@dataclass
class CleanOptions:
    max_jump: float | None = None     # absolute limit for one pen-down step (raw units); None: automatic
    jump_factor: float = 12.0         # automatic limit = jump_factor x median pen-down step of the line
    merge_eps: float = 0.0            # consecutive points closer than this (<=) are merged
    resample_step: float | None = None  # resample strokes to this arc-length spacing (None: keep points)
    max_points: int | None = None     # lines with more points are rejected (None: no cap)
    min_points: int = 2               # lines with fewer points are rejected


def _with(ink: Ink, strokes: list[Stroke]) -> Ink:
    return Ink(strokes, ink.text, ink.writer, dict(ink.meta))


def drop_nonfinite(ink: Ink) -> Ink:
    """Drop points whose x or y is NaN/inf; a time or pressure channel with bad values is dropped too."""
    out = []
    for s in ink.strokes:
        ok = np.isfinite(s.x) & np.isfinite(s.y)
        s2 = s if ok.all() else s.take(ok)
        if s2.t is not None and not np.all(np.isfinite(s2.t)):
            s2 = Stroke(s2.x, s2.y, None, s2.p)
        if s2.p is not None and not np.all(np.isfinite(s2.p)):
            s2 = Stroke(s2.x, s2.y, s2.t, None)
        if len(s2):
            out.append(s2)
    if any(s.t is None for s in out) and any(s.t is not None for s in out):   # keep channels consistent
        out = [Stroke(s.x, s.y, None, s.p) for s in out]
    if any(s.p is None for s in out) and any(s.p is not None for s in out):
        out = [Stroke(s.x, s.y, s.t, None) for s in out]
    return _with(ink, out)


def median_step(ink: Ink) -> float:
    """Median length of the non-zero pen-down steps (0 if there are none)."""
    d = [np.hypot(np.diff(s.x), np.diff(s.y)) for s in ink.strokes if len(s) > 1]
    d = np.concatenate(d) if d else np.zeros(0)
    d = d[d > 0]
    return float(np.median(d)) if len(d) else 0.0


def remove_jumps(ink: Ink, max_jump: float | None = None, jump_factor: float = 12.0) -> Ink:
    """Remove implausible pen-down jumps.

    A single point far from both neighbours (a spike out and back) is dropped; any remaining pen-down step
    longer than the limit splits the stroke there (the pen must have been lifted). The limit is ``max_jump``
    or, when None, ``jump_factor`` times the line's median pen-down step.
    """
    limit = max_jump if max_jump is not None else jump_factor * median_step(ink)
    if not limit or limit <= 0:
        return ink
    out = []
    for s in ink.strokes:
        for _ in range(3):     # spikes (rarely nested)
            if len(s) < 3:
                break
            xy = s.xy()
            step = np.hypot(*np.diff(xy, axis=0).T)
            skip = np.hypot(*(xy[2:] - xy[:-2]).T)
            spike = np.zeros(len(s), dtype=bool)
            spike[1:-1] = (step[:-1] > limit) & (step[1:] > limit) & (skip <= limit)
            if not spike.any():
                break
            s = s.take(~spike)
        if len(s) > 1:
            step = np.hypot(np.diff(s.x), np.diff(s.y))
            cuts = np.flatnonzero(step > limit) + 1
            if len(cuts):
                bounds = np.concatenate([[0], cuts, [len(s)]])
                out.extend(s.take(slice(a, b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a)
                continue
        out.append(s)
    return _with(ink, out)


def merge_duplicates(ink: Ink, eps: float = 0.0) -> Ink:
    """Merge consecutive points of a stroke that are within ``eps`` of the last kept point."""
    out = []
    for s in ink.strokes:
        if len(s) < 2:
            out.append(s)
            continue
        step = np.hypot(np.diff(s.x), np.diff(s.y))
        if eps <= 0:
            keep = np.concatenate([[True], step > 0])
        else:
            keep = np.ones(len(s), dtype=bool)
            last = 0
            for i in range(1, len(s)):      # distance to the last *kept* point, not the neighbour
                if np.hypot(s.x[i] - s.x[last], s.y[i] - s.y[last]) <= eps:
                    keep[i] = False
                else:
                    last = i
        out.append(s if keep.all() else s.take(keep))
    return _with(ink, out)


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


def clean_ink(ink: Ink, options: CleanOptions | None = None) -> Ink:
    """All cleaning steps in order. Raises DataError (reason) if the line is empty, too short or too long."""
    o = options or CleanOptions()
    ink = drop_nonfinite(ink)
    ink = merge_duplicates(ink, o.merge_eps)
    ink = remove_jumps(ink, o.max_jump, o.jump_factor)
    if o.resample_step:
        ink = resample(ink, o.resample_step)
    ink = _with(ink, [s for s in ink.strokes if len(s)])
    n = len(ink)
    if n == 0:
        raise DataError("no valid points")
    if n < o.min_points:
        raise DataError(f"too few points ({n} < {o.min_points})")
    if o.max_points and n > o.max_points:
        raise DataError(f"too long ({n} points > cap {o.max_points})")
    return ink
