"""The user's own handwriting collection ("My handwriting"): one InkML file per written line. No torch, no Qt.

Each accepted line is written at once (atomically) as ``NNNN-first-words.inkml`` in :func:`collection_dir`,
its text in the file's ``truth`` annotation, so closing the app loses nothing. :class:`Collection` lists,
adds and deletes lines, says which prompt (:mod:`engine.data.prompts`) comes next and which characters
still have too few samples, and exports to / imports from a folder or a ``.zip`` of InkML files (each
imported file is read with :func:`~engine.data.inkml.read_inkml`; a file that cannot be used is skipped
and reported with its reason).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import engine.data.xmlsafe as xmlsafe
from engine.core.errors import DataError
from engine.core.paths import user_subdir
from engine.data.ink import Ink, Stroke
from engine.data.inkml import read_inkml, write_inkml
from engine.data.prompts import PROMPTS, TARGET_CHARS, char_counts

FOLDER_NAME = "my-handwriting"
STATE_FILE = "progress.json"
SUFFIX = ".inkml"
MAX_FILE_BYTES = 20 * 1024 * 1024     # one imported InkML file (a written line is a few tens of kB)
MAX_IMPORT_FILES = 20000              # entries looked at in one import (folder files or zip members)
_NAME = re.compile(r"^(\d+)-")


def collection_dir() -> Path:
    """The user's handwriting collection folder (``<user dir>/my-handwriting``), created if missing."""
    return user_subdir(FOLDER_NAME)


def _clean_text(text: str) -> str:
    return " ".join((text or "").split())


def _slug(text: str, limit: int = 32) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = ""
    for w in words:
        if out and len(out) + 1 + len(w) > limit:
            break
        out = f"{out}-{w}" if out else w[:limit]
    return out or "line"


def _usable(ink: Ink) -> list[Stroke]:
    """The ink's strokes without non-finite points or empty strokes."""
    out = []
    for s in ink.strokes:
        ok = np.isfinite(s.x) & np.isfinite(s.y)
        s = s if ok.all() else s.take(ok)
        if len(s):
            out.append(s)
    return out


def fingerprint(text: str, strokes: Sequence[Stroke]) -> str:
    """Identity of a line as it is stored (text + coordinates at the file's precision): spots duplicates."""
    h = hashlib.sha1(_clean_text(text).encode("utf-8"))
    for s in strokes:
        h.update(b"|")
        h.update(" ".join(f"{v:.4f}" for v in np.stack([s.x, s.y], 1).ravel()).encode("ascii"))
    return h.hexdigest()


@dataclass(frozen=True)
class CollectedLine:
    """One written line of the collection."""

    path: Path
    text: str
    strokes: int
    points: int
    key: str           # fingerprint()


@dataclass
class ImportReport:
    """What an import did: files added, lines already there, and what was skipped and why."""

    added: list[Path] = field(default_factory=list)
    duplicates: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (file name, reason)

    def summary(self) -> str:
        parts = [f"Imported {len(self.added)} line{'s' if len(self.added) != 1 else ''}"]
        if self.duplicates:
            parts.append(f"{self.duplicates} already in the collection")
        if self.skipped:
            parts.append(f"skipped {len(self.skipped)}: " + "; ".join(f"{n} ({r})" for n, r in self.skipped[:3])
                         + ("; …" if len(self.skipped) > 3 else ""))
        return ", ".join(parts) + "."


class Collection:
    """The lines in one collection folder, and where the user is in the prompt list."""

    def __init__(self, folder: str | os.PathLike | None = None, prompts: Sequence[str] = PROMPTS):
        self.folder = Path(folder) if folder is not None else collection_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.prompts = tuple(prompts)
        self._cache: dict[str, tuple[tuple[int, int], CollectedLine | None]] = {}

    # ------------------------------------------------------------------------------ lines
    def files(self) -> list[Path]:
        return sorted(p for p in self.folder.glob(f"*{SUFFIX}") if p.is_file())

    def _entry(self, path: Path) -> CollectedLine | None:
        try:
            st = path.stat()
        except OSError:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        hit = self._cache.get(path.name)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        try:
            ink = read_inkml(path)[0]
            strokes = _usable(ink)
            entry = CollectedLine(path, _clean_text(ink.text), len(strokes), sum(len(s) for s in strokes),
                                  fingerprint(ink.text, strokes))
        except xmlsafe.FILE_ERRORS:
            entry = None          # a damaged file stays on disk but is not listed
        self._cache[path.name] = (stamp, entry)
        return entry

    def list(self) -> list[CollectedLine]:
        """The collected lines, oldest first (unreadable files are left out)."""
        return [e for e in map(self._entry, self.files()) if e is not None]

    def texts(self) -> list[str]:
        return [e.text for e in self.list()]

    def _new_path(self, text: str) -> Path:
        nums = [int(m.group(1)) for p in self.files() if (m := _NAME.match(p.name))]
        n = max(nums, default=0) + 1
        while True:
            path = self.folder / f"{n:04d}-{_slug(text)}{SUFFIX}"
            if not path.exists():
                return path
            n += 1

    def add(self, ink: Ink, text: str | None = None) -> Path:
        """Save one written line (``text``, or the ink's own) as a new InkML file; returns its path."""
        text = _clean_text(ink.text if text is None else text)
        strokes = _usable(ink)
        if not strokes:
            raise DataError("write the line first: there is no ink")
        if not text:
            raise DataError("the line has no text")
        path = self._new_path(text)
        write_inkml(path, Ink(strokes, text, ink.writer))
        return path

    def delete(self, path: str | os.PathLike) -> None:
        """Remove one line's file (only files inside this collection)."""
        p = Path(path)
        if p.resolve().parent != self.folder.resolve() or p.suffix.lower() != SUFFIX:
            raise DataError(f"{p.name} is not a line of this collection")
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise DataError(f"cannot delete {p.name}: {exc.strerror or exc}") from None
        self._cache.pop(p.name, None)

    # ------------------------------------------------------------------------------ prompts and coverage
    @property
    def position(self) -> int:
        """The prompt the user was last shown (kept in ``progress.json``)."""
        try:
            pos = int(json.loads((self.folder / STATE_FILE).read_text(encoding="utf-8"))["position"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0
        return pos if 0 <= pos < len(self.prompts) else 0

    @position.setter
    def position(self, index: int) -> None:
        path = self.folder / STATE_FILE
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(json.dumps({"position": int(index)}), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass          # only the place in the list is lost; the lines themselves are saved

    def written(self) -> set[str]:
        return set(self.texts())

    def next_prompt(self, start: int | None = None) -> int | None:
        """Index of the first prompt from ``start`` (default: :attr:`position`; wrapping round) that has
        not been written yet; None when every prompt has been written."""
        n = len(self.prompts)
        if not n:
            return None
        start = self.position if start is None else start % n
        done = self.written()
        for k in range(n):
            i = (start + k) % n
            if _clean_text(self.prompts[i]) not in done:
                return i
        return None

    def counts(self, chars: str = TARGET_CHARS) -> dict[str, int]:
        """How many times each target character has been written so far."""
        return char_counts(self.texts(), chars)

    def coverage(self, min_count: int = 2, chars: str = TARGET_CHARS) -> dict[str, int]:
        """The target characters written fewer than ``min_count`` times: char -> count (empty when covered)."""
        return {c: n for c, n in self.counts(chars).items() if n < min_count}

    # ------------------------------------------------------------------------------ export / import
    def export_zip(self, path: str | os.PathLike) -> int:
        """Write every line into a .zip of InkML files; returns how many."""
        files = [e.path for e in self.list()]
        if not files:
            raise DataError("nothing to export: no lines collected yet")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        try:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in files:
                    zf.write(f, f.name)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise DataError(f"cannot write {path.name}: {exc.strerror or exc}") from None
        return len(files)

    def export_folder(self, folder: str | os.PathLike) -> int:
        """Copy every line's InkML file into ``folder``; returns how many."""
        files = [e.path for e in self.list()]
        if not files:
            raise DataError("nothing to export: no lines collected yet")
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for f in files:
                shutil.copy2(f, folder / f.name)
        except OSError as exc:
            raise DataError(f"cannot write to {folder}: {exc.strerror or exc}") from None
        return len(files)

    def import_from(self, path: str | os.PathLike) -> ImportReport:
        """Add the lines of a .zip, a folder (searched recursively) or a single file of InkML.

        Every file is checked with read_inkml; a file that is not InkML, cannot be read or has a line
        without text is skipped with its reason; lines already in the collection are not added twice."""
        src = Path(path)
        report = ImportReport()
        known = {e.key for e in self.list()}
        if src.is_dir():
            entries = sorted(p for p in src.rglob("*") if p.is_file())
            for p in entries[:MAX_IMPORT_FILES]:
                self._import_file(p.relative_to(src).as_posix(), p, report, known)
        elif src.is_file() and src.suffix.lower() == ".zip":
            self._import_zip(src, report, known)
        elif src.is_file():
            self._import_file(src.name, src, report, known)
        else:
            raise DataError(f"{src} does not exist")
        return report

    def _import_zip(self, src: Path, report: ImportReport, known: set[str]) -> None:
        try:
            zf = zipfile.ZipFile(src)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError(f"{src.name} is not a readable .zip file ({exc})") from None
        with zf, tempfile.TemporaryDirectory(prefix="scribe-import-") as tmp:
            members = [m for m in zf.infolist() if not m.is_dir()][:MAX_IMPORT_FILES]
            for m in members:
                name = m.filename
                if not name.lower().endswith(SUFFIX):
                    report.skipped.append((name, "not an InkML file"))
                    continue
                if m.file_size > MAX_FILE_BYTES:
                    report.skipped.append((name, f"too large ({m.file_size // 1024 ** 2} MB)"))
                    continue
                try:
                    with zf.open(m) as fh:
                        data = fh.read(MAX_FILE_BYTES + 1)
                except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:
                    report.skipped.append((name, f"cannot unpack: {exc}"))
                    continue
                if len(data) > MAX_FILE_BYTES:
                    report.skipped.append((name, "too large"))
                    continue
                local = Path(tmp) / f"member{SUFFIX}"
                local.write_bytes(data)
                self._import_file(name, local, report, known, checked=True)

    def _import_file(self, name: str, path: Path, report: ImportReport, known: set[str],
                     checked: bool = False) -> None:
        if not checked:
            if path.suffix.lower() != SUFFIX:
                report.skipped.append((name, "not an InkML file"))
                return
            try:
                if path.stat().st_size > MAX_FILE_BYTES:
                    report.skipped.append((name, "too large"))
                    return
            except OSError as exc:
                report.skipped.append((name, xmlsafe.reason(exc)))
                return
        try:
            inks = read_inkml(path)
        except xmlsafe.FILE_ERRORS as exc:
            report.skipped.append((name, xmlsafe.reason(exc)))
            return
        for j, ink in enumerate(inks):
            label = name if len(inks) == 1 else f"{name}#{j + 1}"
            text = _clean_text(ink.text)
            strokes = _usable(ink)
            if not text:
                report.skipped.append((label, "the line has no text (no truth annotation)"))
                continue
            if not strokes:
                report.skipped.append((label, "no usable points"))
                continue
            key = fingerprint(text, strokes)
            if key in known:
                report.duplicates += 1
                continue
            try:
                report.added.append(self.add(Ink(strokes, text, ink.writer)))
            except (DataError, OSError) as exc:
                report.skipped.append((label, xmlsafe.reason(exc)))
                continue
            known.add(key)
