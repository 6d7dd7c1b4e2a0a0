"""The ink data model: strokes of points plus an optional transcription. No torch, no Qt.

Coordinates are in raw units with y pointing DOWN (screen / IAM-OnDB convention). A :class:`Stroke` is one
pen-down segment; ``t`` (seconds) and ``p`` (pressure / force) are optional per-point channels.

Stroke-3 is the model representation: one row per point, ``(dx, dy, pen_up)``, where ``dx, dy`` is the
offset from the previous point (the first row is the first point's offset from the origin) and
``pen_up = 1`` on the last point of every stroke.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _vec(a, dtype=np.float64) -> np.ndarray:
    return np.asarray(a, dtype=dtype).reshape(-1)


@dataclass
class Stroke:
    x: np.ndarray
    y: np.ndarray
    t: np.ndarray | None = None
    p: np.ndarray | None = None

    def __post_init__(self):
        self.x = _vec(self.x)
        self.y = _vec(self.y)
        if len(self.x) != len(self.y):
            raise ValueError(f"stroke has {len(self.x)} x values but {len(self.y)} y values")
        for name in ("t", "p"):
            v = getattr(self, name)
            if v is not None:
                v = _vec(v)
                if len(v) != len(self.x):
                    raise ValueError(f"stroke channel {name} has {len(v)} values for {len(self.x)} points")
                setattr(self, name, v)

    def __len__(self) -> int:
        return len(self.x)

    def xy(self) -> np.ndarray:
        """(n, 2) float64 array of the points."""
        return np.stack([self.x, self.y], axis=1)

    def take(self, idx) -> "Stroke":
        """A new stroke with the points selected by ``idx`` (index array or boolean mask)."""
        return Stroke(self.x[idx], self.y[idx], None if self.t is None else self.t[idx],
                      None if self.p is None else self.p[idx])


@dataclass
class Ink:
    strokes: list[Stroke]
    text: str = ""
    writer: str = ""
    meta: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        """Number of points."""
        return sum(len(s) for s in self.strokes)

    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) over all points; zeros for an empty ink."""
        xs = [s.x for s in self.strokes if len(s)]
        if not xs:
            return (0.0, 0.0, 0.0, 0.0)
        x = np.concatenate(xs)
        y = np.concatenate([s.y for s in self.strokes if len(s)])
        return (float(x.min()), float(y.min()), float(x.max()), float(y.max()))

    def translated(self, dx: float, dy: float) -> "Ink":
        return Ink([Stroke(s.x + dx, s.y + dy, s.t, s.p) for s in self.strokes], self.text, self.writer,
                   dict(self.meta))

    def at_origin(self) -> "Ink":
        """The same ink moved so its first point is at (0, 0) (stroke-3's first row becomes (0, 0, .))."""
        for s in self.strokes:
            if len(s):
                return self.translated(-s.x[0], -s.y[0])
        return self

    # ------------------------------------------------------------------ stroke-3
    def to_stroke3(self) -> np.ndarray:
        """(n, 3) float32: dx, dy, pen_up. Empty strokes are skipped."""
        strokes = [s for s in self.strokes if len(s)]
        if not strokes:
            return np.zeros((0, 3), dtype=np.float32)
        x = np.concatenate([s.x for s in strokes])
        y = np.concatenate([s.y for s in strokes])
        out = np.zeros((len(x), 3), dtype=np.float64)
        out[:, 0] = np.diff(x, prepend=0.0)
        out[:, 1] = np.diff(y, prepend=0.0)
        ends = np.cumsum([len(s) for s in strokes]) - 1
        out[ends, 2] = 1.0
        return out.astype(np.float32)

    @classmethod
    def from_stroke3(cls, arr, text: str = "", writer: str = "", meta: dict | None = None) -> "Ink":
        """Absolute positions by cumulative sum; a stroke ends at every row with pen_up >= 0.5."""
        a = np.asarray(arr, dtype=np.float64).reshape(-1, 3)
        if len(a) == 0:
            return cls([], text, writer, dict(meta or {}))
        x = np.cumsum(a[:, 0])
        y = np.cumsum(a[:, 1])
        ends = np.flatnonzero(a[:, 2] >= 0.5) + 1
        if len(ends) == 0 or ends[-1] != len(a):
            ends = np.append(ends, len(a))
        starts = np.concatenate([[0], ends[:-1]])
        strokes = [Stroke(x[s:e], y[s:e]) for s, e in zip(starts, ends) if e > s]
        return cls(strokes, text, writer, dict(meta or {}))
