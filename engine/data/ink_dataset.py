"""An ink dataset on disk: many lines of stroke-3 points with transcriptions. No pickle.

Folder layout::

    DATASET/
      data.npz    points float32 (N, 3): all lines' stroke-3 rows (dx, dy, pen_up) in raw units,
                  concatenated; offsets int64 (L+1): line i is points[offsets[i]:offsets[i+1]]
      meta.json   {"format": "scribe-ink-dataset", "format_version": 1, "source": ...,
                   "lines": [{"text": ..., "writer": ..., "split": "train"|"val"|"test", "id": ...}],
                   "skipped": [["file", "reason"], ...], ...}

The first row of a line is the first point's offset from the origin (usually (0, 0, 0)).

Saving is crash-safe: both files are written into a staging folder ``DATASET/.saving-PID-*`` and fsynced, then
renamed into place (data.npz first, meta.json last) and the folder is fsynced. Both files carry the same
``write_id``; a save killed between the two renames is finished by the next load (from the staging
folder), so data and meta never disagree silently. Leftovers of killed saves (their writer's process is gone)
are removed by the next save. Concurrent saves into one folder each stage their own files and commit under a
lock on the folder, so the last one wins whole; a load that meets a save between its renames waits for it.

Nothing read back is trusted: meta.json is parsed with a depth limit and checked (lines are objects with
string fields), the arrays must have the documented shapes and types, the offsets must be non-decreasing
from 0 to the number of points, and every coordinate must be finite; anything else is a DataError.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.core.card_schema import parse_json
from engine.core.errors import DataError
from engine.core.process import folder_lock, fsync_path, pid_alive, writer_pid

FORMAT = "scribe-ink-dataset"
FORMAT_VERSION = 1
STAGING_PREFIX = ".saving-"
_OLD_TEMPS = ("data.tmp.npz", "meta.json.tmp")     # what saves before the staging folder left behind


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
    fsync_path(path.parent)
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
        stage = folder / f"{STAGING_PREFIX}{os.getpid()}-{write_id[:12]}"
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
            fsync_path(stage)
            with folder_lock(folder):      # another save's (or a load's repair) renames never interleave with ours
                os.replace(stage / "data.npz", folder / "data.npz")
                os.replace(stage / "meta.json", folder / "meta.json")     # the commit point
                fsync_path(folder)
            stage.rmdir()
        except BaseException as exc:
            # keep the staging folder only when data.npz is already in place but meta.json is not: the next
            # load finishes that save from it; otherwise the folder still holds a consistent pair
            if (stage / "data.npz").exists() or not (stage / "meta.json").exists():
                shutil.rmtree(stage, ignore_errors=True)
            if isinstance(exc, OSError):   # a full disk, a read-only folder: one line; the earlier dataset is kept
                why = "the disk is full" if exc.errno in (errno.ENOSPC, errno.EFBIG) else (exc.strerror or str(exc))
                raise DataError(f"cannot write the dataset to {folder}: {why}") from None
            raise
        self.write_id = write_id
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "InkDataset":
        folder = Path(folder)
        if not (folder / "meta.json").is_file() or not (folder / "data.npz").is_file():
            raise DataError(f"{folder} is not an ink dataset (expected data.npz and meta.json; "
                            f"create one with 'scribe import' or 'scribe synth')")
        meta, points, offsets, data_id = _read_pair(folder)
        if data_id is not None and meta.get("write_id") != data_id:
            with folder_lock(folder):     # a save between its two renames: wait for it, then look again
                meta, points, offsets, data_id = _read_pair(folder)
                if data_id is not None and meta.get("write_id") != data_id:
                    meta = _finish_interrupted_save(folder, data_id)
        lines = _checked_lines(meta, folder)
        points, offsets = _checked_arrays(points, offsets, len(lines), folder)
        skipped = meta.get("skipped") if isinstance(meta.get("skipped"), list) else []
        extra = meta.get("extra") if isinstance(meta.get("extra"), dict) else {}
        return cls(points, offsets, lines, str(meta.get("source", "")),
                   [tuple(str(x) for x in s[:2]) if isinstance(s, (list, tuple)) else (str(s), "") for s in skipped],
                   extra, str(meta.get("write_id", "")))


MAX_META_BYTES = 2 * 2**30


def _read_meta(path: Path, folder: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_META_BYTES + 1)
    except OSError as exc:
        raise DataError(f"ink dataset {folder}: cannot read meta.json: {exc.strerror or exc}") from None
    if len(raw) > MAX_META_BYTES:
        raise DataError(f"ink dataset {folder}: meta.json is larger than {MAX_META_BYTES // 2**30} GB")
    meta = parse_json(raw, f"ink dataset {folder / 'meta.json'}", error=DataError)
    if not isinstance(meta, dict):
        raise DataError(f"ink dataset {folder / 'meta.json'} is damaged: not a JSON object")
    return meta


def _read_pair(folder: Path):
    """(meta, points, offsets, write_id of data.npz or None), read without trusting either file."""
    meta = _read_meta(folder / "meta.json", folder)
    try:
        with np.load(folder / "data.npz", allow_pickle=False) as z:
            points, offsets = z["points"], z["offsets"]
            data_id = str(z["write_id"]) if "write_id" in z.files else None
    except (ValueError, OSError, KeyError, EOFError, SyntaxError, TypeError, MemoryError, zipfile.BadZipFile,
            zipfile.LargeZipFile) as exc:
        why = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise DataError(f"ink dataset {folder} is corrupt: data.npz: {why}") from None
    return meta, points, offsets, data_id


_LINE_FIELDS = ("text", "writer", "split", "id")


def _checked_lines(meta: dict, folder: Path) -> list[dict]:
    if meta.get("format") != FORMAT:
        raise DataError(f"{folder} is not a Scribe ink dataset")
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise DataError(f"ink dataset {folder} is damaged: format_version {str(version)[:40]!r}")
    if version > FORMAT_VERSION:
        raise DataError(f"{folder} was written by a newer Scribe (format {version})")
    lines = meta.get("lines")
    if not isinstance(lines, list):
        raise DataError(f"ink dataset {folder} is damaged: meta.json has no list of lines")
    for i, m in enumerate(lines):
        if not isinstance(m, dict):
            raise DataError(f"ink dataset {folder} is damaged: line {i} is not a JSON object")
        for k in _LINE_FIELDS:
            if k in m and not isinstance(m[k], str):
                raise DataError(f"ink dataset {folder} is damaged: line {i}: {k} is not text "
                                f"({str(m[k])[:40]!r})")
    return lines


def _checked_arrays(points, offsets, n_lines: int, folder: Path):
    bad = f"ink dataset {folder} is damaged: "
    if points.ndim != 2 or points.shape[1] != 3 or points.dtype.kind not in "fiu":
        raise DataError(bad + f"points are {points.dtype} {list(points.shape)}, not (N, 3) numbers")
    if points.dtype != np.float32:
        points = points.astype(np.float32)
    if offsets.ndim != 1 or offsets.dtype.kind not in "iu":
        raise DataError(bad + f"offsets are {offsets.dtype} {list(offsets.shape)}, not whole numbers")
    if len(offsets) != n_lines + 1 or offsets[0] != 0 or offsets[-1] != len(points) or np.any(np.diff(offsets) < 0):
        raise DataError(f"ink dataset {folder} is inconsistent (offsets do not match points/lines)")
    if not np.isfinite(points).all():
        raise DataError(bad + "points with non-finite coordinates")
    return points, offsets.astype(np.int64, copy=False)


def _remove_leftovers(folder: Path) -> None:
    """Remove what killed saves left: staging folders whose writer is gone (a live process's save in progress
    is left alone; folders named without a process id come from older versions) and the old single-file
    temporaries."""
    for p in folder.glob(STAGING_PREFIX + "*"):
        pid = writer_pid(p.name[len(STAGING_PREFIX) - 1:])
        if pid is not None and pid != os.getpid() and pid_alive(pid):
            continue
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
            meta = _read_meta(staged, folder)
        except DataError:
            continue
        if meta.get("write_id") != data_id:
            continue
        try:
            os.replace(staged, folder / "meta.json")
            fsync_path(folder)
            shutil.rmtree(stage, ignore_errors=True)
        except OSError:
            pass                               # read-only: use the staged meta without moving it
        return meta
    raise DataError(f"ink dataset {folder} is inconsistent: data.npz and meta.json come from different saves "
                    f"(an interrupted write?); import or save it again")
