"""Normalisation of stroke-3 offsets: mean 0 / std 1 per axis, statistics from the training split.

The statistics travel with a model (``to_json`` into its card, ``from_json`` when loading), so a model
always sees inputs scaled exactly as in training and its raw-unit outputs can be recovered. No torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from engine.core.errors import DataError


@dataclass
class NormStats:
    mean: np.ndarray    # (2,) float64: mean dx, dy
    std: np.ndarray     # (2,) float64: std of dx, dy (always > 0)

    def __post_init__(self):
        self.mean = np.asarray(self.mean, dtype=np.float64).reshape(2)
        self.std = np.asarray(self.std, dtype=np.float64).reshape(2)
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.std)) and np.all(self.std > 0)):
            raise DataError(f"invalid normalisation statistics (mean {self.mean.tolist()}, std {self.std.tolist()})")

    def normalise(self, stroke3) -> np.ndarray:
        """Stroke-3 in raw units -> normalised (pen column unchanged). Returns a new float32 array."""
        a = np.array(stroke3, dtype=np.float32, copy=True).reshape(-1, 3)
        a[:, :2] = (a[:, :2] - self.mean.astype(np.float32)) / self.std.astype(np.float32)
        return a

    def denormalise(self, stroke3) -> np.ndarray:
        """Normalised stroke-3 -> raw units (pen column unchanged). Returns a new float32 array."""
        a = np.array(stroke3, dtype=np.float32, copy=True).reshape(-1, 3)
        a[:, :2] = a[:, :2] * self.std.astype(np.float32) + self.mean.astype(np.float32)
        return a

    def to_json(self) -> dict:
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_json(cls, obj) -> "NormStats":
        if isinstance(obj, (str, bytes)):
            try:
                obj = json.loads(obj)
            except ValueError as exc:
                raise DataError(f"normalisation statistics are not valid JSON: {exc}") from None
        try:
            return cls(obj["mean"], obj["std"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"normalisation statistics are malformed: {exc!r}") from None


def stats_from_lines(lines, min_std: float = 1e-6) -> NormStats:
    """Statistics over a list of stroke-3 arrays. Each line's first row (offset from the origin) is left out."""
    rows = [np.asarray(l, dtype=np.float64).reshape(-1, 3)[1:, :2] for l in lines]
    rows = [r for r in rows if len(r)]
    if not rows:
        raise DataError("no points to compute normalisation statistics from")
    return _stats(np.concatenate(rows), min_std)


def _stats(d: np.ndarray, min_std: float = 1e-6) -> NormStats:
    d = d[np.all(np.isfinite(d), axis=1)]
    if len(d) < 2:
        raise DataError("too few points to compute normalisation statistics from")
    return NormStats(d.mean(axis=0), np.maximum(d.std(axis=0), min_std))


def compute_norm_stats(dataset, split: str | None = "train") -> NormStats:
    """Statistics of an :class:`~engine.data.ink_dataset.InkDataset` over ``split`` (all lines if None).

    Each line's first row is excluded (it is the offset from the origin, not a pen movement).
    """
    offsets = np.asarray(dataset.offsets)
    idx = np.arange(len(dataset)) if split is None else dataset.indices(split)
    if len(idx) == 0:
        raise DataError(f"the dataset has no '{split}' lines to compute normalisation statistics from")
    starts, ends = offsets[idx] + 1, offsets[idx + 1]
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    lens = ends - starts
    if lens.sum() == 0:
        raise DataError("too few points to compute normalisation statistics from")
    # gather all rows of the selected lines except their first, without a Python loop over lines
    base = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
    rows = np.asarray(dataset.points)[base + np.arange(lens.sum()), :2].astype(np.float64)
    return _stats(rows)
