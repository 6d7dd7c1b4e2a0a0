"""An ink dataset on disk: many lines of stroke-3 points with transcriptions. No pickle.

Folder layout::

    DATASET/
      data.npz    points float32 (N, 3): all lines' stroke-3 rows (dx, dy, pen_up) in raw units,
                  concatenated; offsets int64 (L+1): line i is points[offsets[i]:offsets[i+1]]
      meta.json   {"format": "scribe-ink-dataset", "format_version": 1, "source": ...,
                   "lines": [{"text": ..., "writer": ..., "split": "train"|"val"|"test", "id": ...}],
                   "skipped": [["file", "reason"], ...], ...}

The first row of a line is the first point's offset from the origin (usually (0, 0, 0)).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.core.errors import DataError

FORMAT = "scribe-ink-dataset"
FORMAT_VERSION = 1


def split_for_key(key: str, val_fraction: float = 0.05, test_fraction: float = 0.05) -> str:
    """Deterministic train/val/test split of a group key (form, file, ...): same answer on every run."""
    h = int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big") / 2.0 ** 64
    if h < test_fraction:
        return "test"
    if h < test_fraction + val_fraction:
        return "val"
    return "train"


@dataclass
class ImportReport:
    """What an importer did: counts, timing, cache use and the files it skipped (with reasons)."""
    lines: int = 0
    points: int = 0
    files: int = 0
    parsed: int = 0          # files parsed in this run
    reused: int = 0          # files taken from the cache
    cached: bool = False     # nothing changed: the stored dataset was returned as is
    seconds: float = 0.0
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class InkLine:
    points: np.ndarray          # (n, 3) float32 stroke-3
    text: str = ""
    writer: str = ""
    split: str = "train"
    id: str = ""
    meta: dict = field(default_factory=dict)   # further per-line fields kept in meta.json (e.g. form, file)


@dataclass
class InkDataset:
    points: np.ndarray
    offsets: np.ndarray
    lines_meta: list[dict]
    source: str = ""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.lines_meta)

    def line(self, i: int) -> InkLine:
        m = self.lines_meta[i]
        rest = {k: v for k, v in m.items() if k not in ("text", "writer", "split", "id")}
        return InkLine(self.points[self.offsets[i]:self.offsets[i + 1]], m.get("text", ""), m.get("writer", ""),
                       m.get("split", "train"), m.get("id", str(i)), rest)

    def __iter__(self):
        return (self.line(i) for i in range(len(self)))

    def indices(self, split: str) -> np.ndarray:
        return np.array([i for i, m in enumerate(self.lines_meta) if m.get("split") == split], dtype=np.int64)

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def charset(self) -> list[str]:
        return sorted({c for m in self.lines_meta for c in m.get("text", "")})

    @classmethod
    def from_lines(cls, lines: list[InkLine], source: str = "", skipped=(), extra: dict | None = None) -> "InkDataset":
        if not lines:
            raise DataError(f"no usable ink lines{' in ' + source if source else ''}")
        pts = [np.asarray(l.points, dtype=np.float32).reshape(-1, 3) for l in lines]
        offsets = np.zeros(len(pts) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(p) for p in pts])
        meta = [{**l.meta, "text": l.text, "writer": l.writer, "split": l.split, "id": l.id or str(i)}
                for i, l in enumerate(lines)]
        return cls(np.concatenate(pts, axis=0), offsets, meta, source, list(skipped), dict(extra or {}))

    def save(self, folder: str | os.PathLike) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "data.tmp.npz"
        np.savez(tmp, points=self.points.astype(np.float32), offsets=self.offsets.astype(np.int64))
        os.replace(tmp, folder / "data.npz")
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "source": self.source,
                "lines": self.lines_meta, "skipped": [list(s) for s in self.skipped], "extra": self.extra}
        (folder / "meta.json.tmp").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        os.replace(folder / "meta.json.tmp", folder / "meta.json")
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "InkDataset":
        folder = Path(folder)
        if not (folder / "meta.json").exists() or not (folder / "data.npz").exists():
            raise DataError(f"{folder} is not an ink dataset (expected data.npz and meta.json; "
                            f"create one with 'scribe import' or 'scribe synth')")
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            with np.load(folder / "data.npz", allow_pickle=False) as z:
                points, offsets = z["points"], z["offsets"]
        except (ValueError, OSError, KeyError) as exc:
            raise DataError(f"ink dataset {folder} is corrupt: {exc}") from None
        if meta.get("format") != FORMAT:
            raise DataError(f"{folder} is not a Scribe ink dataset")
        if int(meta.get("format_version", 0)) > FORMAT_VERSION:
            raise DataError(f"{folder} was written by a newer Scribe (format {meta['format_version']})")
        if len(offsets) != len(meta["lines"]) + 1 or offsets[-1] != len(points):
            raise DataError(f"ink dataset {folder} is inconsistent (offsets do not match points/lines)")
        return cls(points, offsets, meta["lines"], meta.get("source", ""),
                   [tuple(s) for s in meta.get("skipped", [])], meta.get("extra", {}))
