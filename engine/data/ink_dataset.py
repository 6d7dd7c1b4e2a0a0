"""An ink dataset on disk: many lines of stroke-3 points with transcriptions. No pickle.

Folder layout::

    DATASET/
      data.npz    points float32 (N, 3): all lines' stroke-3 rows (dx, dy, pen_up) in raw units,
                  concatenated; offsets int64 (L+1): line i is points[offsets[i]:offsets[i+1]]
      meta.json   {"format": "scribe-ink-dataset", "format_version": 1, "source": ...,
                   "lines": [{"text": ..., "writer": ..., "split": "train"|"val"|"test", "id": ...}],
                   "skipped": [["file", "reason"], ...], ...}

The first row of a line is the first point's offset from the origin (usually (0, 0, 0)).

Saving is crash-safe: both files are written into a staging folder ``DATASET/.saving-*`` and fsynced, then
renamed into place (data.npz first, meta.json last) and the folder is fsynced. Both files carry the same
``write_id``; a save killed between the two renames is finished by the next load (from the staging
folder), so data and meta never disagree silently. Leftovers of killed saves are removed by the next save.
Concurrent saves into one folder are not supported.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.core.errors import DataError

FORMAT = "scribe-ink-dataset"
FORMAT_VERSION = 1
STAGING_PREFIX = ".saving-"
_OLD_TEMPS = ("data.tmp.npz", "meta.json.tmp")     # what saves before the staging folder left behind


def _fsync_dir(folder: Path) -> None:
    """Make renames inside ``folder`` durable (a no-op where directories cannot be opened, e.g. Windows)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_file_durably(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync it, rename it into place, fsync the folder.
    Temporaries that killed writes of the same file left behind are removed first."""
    path = Path(path)
    for old in [*path.parent.glob(f"{path.name}.*.tmp"), path.with_name(path.name + ".tmp")]:
        try:
            old.unlink()
        except OSError:
            pass
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)
    return path


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
    dropped: dict = field(default_factory=dict)    # lines dropped for their transcription, by reason
    cleaning: dict = field(default_factory=dict)   # what cleaning did (see engine.data.ink_clean.CLEAN_STATS)


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
    write_id: str = ""          # set by save/load: the same id is stored in data.npz and meta.json

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
        """Write data.npz and meta.json crash-safely (see the module docstring); sets ``write_id``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(folder)
        write_id = uuid.uuid4().hex
        stage = folder / f"{STAGING_PREFIX}{write_id[:12]}"
        stage.mkdir()
        try:
            with open(stage / "data.npz", "wb") as fh:
                np.savez(fh, points=self.points.astype(np.float32), offsets=self.offsets.astype(np.int64),
                         write_id=np.array(write_id))
                fh.flush()
                os.fsync(fh.fileno())
            meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "write_id": write_id,
                    "source": self.source, "lines": self.lines_meta, "skipped": [list(s) for s in self.skipped],
                    "extra": self.extra}
            with open(stage / "meta.json", "wb") as fh:
                fh.write(json.dumps(meta, ensure_ascii=False).encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            _fsync_dir(stage)
            os.replace(stage / "data.npz", folder / "data.npz")
            os.replace(stage / "meta.json", folder / "meta.json")     # the commit point
            _fsync_dir(folder)
            stage.rmdir()
        except BaseException:
            # keep the staging folder only when data.npz is already in place but meta.json is not: the next
            # load finishes that save from it; otherwise the folder still holds a consistent pair
            if (stage / "data.npz").exists() or not (stage / "meta.json").exists():
                shutil.rmtree(stage, ignore_errors=True)
            raise
        self.write_id = write_id
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
                data_id = str(z["write_id"]) if "write_id" in z.files else None
        except (ValueError, OSError, KeyError) as exc:
            raise DataError(f"ink dataset {folder} is corrupt: {exc}") from None
        if data_id is not None and meta.get("write_id") != data_id:
            meta = _finish_interrupted_save(folder, data_id)
        if meta.get("format") != FORMAT:
            raise DataError(f"{folder} is not a Scribe ink dataset")
        if int(meta.get("format_version", 0)) > FORMAT_VERSION:
            raise DataError(f"{folder} was written by a newer Scribe (format {meta['format_version']})")
        if len(offsets) != len(meta["lines"]) + 1 or offsets[-1] != len(points):
            raise DataError(f"ink dataset {folder} is inconsistent (offsets do not match points/lines)")
        return cls(points, offsets, meta["lines"], meta.get("source", ""),
                   [tuple(s) for s in meta.get("skipped", [])], meta.get("extra", {}), meta.get("write_id", ""))


def _remove_leftovers(folder: Path) -> None:
    """Remove what killed saves left: staging folders and the old single-file temporaries."""
    for p in folder.glob(STAGING_PREFIX + "*"):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
    for name in _OLD_TEMPS:
        try:
            (folder / name).unlink()
        except OSError:
            pass


def _finish_interrupted_save(folder: Path, data_id: str) -> dict:
    """data.npz is newer than meta.json (a save was killed between its two renames): take the meta.json
    of that save from its staging folder, move it into place (when the folder is writable) and return it."""
    for stage in sorted(folder.glob(STAGING_PREFIX + "*")):
        staged = stage / "meta.json"
        try:
            meta = json.loads(staged.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            continue
        if meta.get("write_id") != data_id:
            continue
        try:
            os.replace(staged, folder / "meta.json")
            _fsync_dir(folder)
            shutil.rmtree(stage, ignore_errors=True)
        except OSError:
            pass                               # read-only: use the staged meta without moving it
        return meta
    raise DataError(f"ink dataset {folder} is inconsistent: data.npz and meta.json come from different saves "
                    f"(an interrupted write?); import or save it again")
