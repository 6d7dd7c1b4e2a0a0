"""Text corpora: one UTF-8 file or a folder of them, encoded into a compact numpy array.

Files are decoded in blocks (never one huge string), and encoded straight into a ``uint8``/``uint16``
array of vocabulary ids, so a 500 MB corpus costs about 500 MB (plus a block of scratch), never a Python
list. Bad input raises :class:`~engine.core.errors.DataError` with one clear message: missing path, empty file,
binary or non-UTF-8 bytes (naming the file and the byte offset), a folder without text.
"""

from __future__ import annotations

import codecs
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from engine.core.errors import DataError
from engine.core.vocab import Vocab, codepoints

TEXT_SUFFIXES = {".txt", ".text", ".md", ".rst", ".csv", ".tsv", ".json", ".py", ".html", ".xml", ""}
BLOCK_BYTES = 1 << 22  # 4 MiB of file per decoded block
_MAX_CODE = 0x110000


@dataclass
class Corpus:
    """An encoded corpus. ``data`` is a 1-D uint8/uint16 array of vocabulary ids."""

    data: np.ndarray
    vocab: Vocab
    files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unknown_chars: list[str] = field(default_factory=list)   # dropped: the (given) vocabulary lacks them
    n_dropped: int = 0                                       # how many characters were dropped
    n_bytes: int = 0

    def split(self, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
        """Contiguous split: the last ``val_fraction`` is validation (views, no copy)."""
        if not 0 < val_fraction < 1:
            raise DataError(f"the validation fraction must be between 0 and 1 (got {val_fraction})")
        n_val = int(len(self.data) * val_fraction)
        if n_val < 2 or len(self.data) - n_val < 2:
            raise DataError(f"corpus too small for a {val_fraction:.0%} validation split "
                            f"({len(self.data)} characters)")
        return self.data[:len(self.data) - n_val], self.data[len(self.data) - n_val:]

    def summary(self) -> dict:
        return {"characters": int(len(self.data)), "bytes": self.n_bytes, "vocab_size": len(self.vocab),
                "files": len(self.files), "skipped": [f"{p}: {why}" for p, why in self.skipped],
                "unknown_chars": self.unknown_chars, "dropped_characters": self.n_dropped}


def iter_decoded(path: Path, block_bytes: int | None = None) -> Iterator[str]:
    """Decode a UTF-8 file block by block. Raises DataError naming the file and the byte offset of a
    NUL byte (binary file) or of the first byte that is not UTF-8. A leading BOM is dropped."""
    block_bytes = block_bytes or BLOCK_BYTES
    dec = codecs.getincrementaldecoder("utf-8")()
    pos = 0  # file offset of the block being decoded
    first = True
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    with fh:
        while True:
            try:
                raw = fh.read(block_bytes)
            except OSError as exc:
                raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
            final = not raw
            nul = raw.find(b"\x00")
            if nul >= 0:
                raise DataError(f"{path} looks binary (NUL byte at byte offset {pos + nul}); "
                                f"a corpus must be UTF-8 text")
            pending = len(dec.getstate()[0])
            try:
                text = dec.decode(raw, final=final)
            except UnicodeDecodeError as exc:
                off = pos - pending + exc.start
                bad = exc.object[exc.start]
                raise DataError(f"{path} is not valid UTF-8: byte 0x{bad:02x} at byte offset {off} "
                                f"({exc.reason}); save the file as UTF-8") from None
            pos += len(raw)
            if first and text:
                first = False
                if text.startswith("\ufeff"):
                    text = text[1:]
            if text:
                yield text
            if final:
                return


def list_text_files(root: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            p = Path(dirpath) / name
            if p.suffix.lower() in TEXT_SUFFIXES and p.is_file():
                files.append(p)
    return files


def _scan(path: Path, scratch: np.ndarray) -> tuple[np.ndarray, int, bool]:
    """Validate a file; return (its distinct code points, character count, ends with a newline).
    ``scratch`` is an all-False bool array over every code point; it is left all-False."""
    n, last = 0, ""
    try:
        for block in iter_decoded(path):
            cps = codepoints(block)
            scratch[cps] = True
            n += len(cps)
            last = block[-1]
    finally:
        distinct = np.flatnonzero(scratch)
        scratch[distinct] = False
    return distinct, n, last == "\n"


def corpus_files(path: str | os.PathLike) -> tuple[list[Path], list[tuple[str, str]], list[tuple[np.ndarray, int, bool]]]:
    """Resolve and validate a corpus path: (usable files, skipped (file, why), scan per usable file).

    A single file must be usable (else DataError); in a folder, unusable files are skipped and listed,
    and a folder with no usable file is an error."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"corpus not found: {p}")
    scratch = np.zeros(_MAX_CODE, dtype=bool)
    if p.is_file():
        scan = _scan(p, scratch)
        if scan[1] == 0:
            raise DataError(f"corpus file is empty: {p}")
        return [p], [], [scan]
    if not p.is_dir():
        raise DataError(f"corpus is neither a file nor a folder: {p}")
    files = list_text_files(p)
    if not files:
        raise DataError(f"no text files in folder {p} (looked for {', '.join(sorted(s for s in TEXT_SUFFIXES if s))}"
                        f" and files without a suffix)")
    used, skipped, scans = [], [], []
    for f in files:
        try:
            scan = _scan(f, scratch)
        except DataError as exc:
            skipped.append((str(f), str(exc)))
            continue
        if scan[1] == 0:
            skipped.append((str(f), "empty"))
            continue
        used.append(f)
        scans.append(scan)
    if not used:
        reasons = "; ".join(why for _, why in skipped[:3])
        raise DataError(f"folder {p} has no usable UTF-8 text ({len(skipped)} file(s) skipped: {reasons})")
    return used, skipped, scans


def _iter_corpus_codes(files: list[Path], scans) -> Iterator[np.ndarray]:
    """Code points of the concatenated corpus (a newline is added after a file that lacks one, so
    files never run into each other)."""
    many = len(files) > 1
    for f, (_, _, ends_nl) in zip(files, scans):
        for block in iter_decoded(f):
            yield codepoints(block)
        if many and not ends_nl:
            yield np.array([10], dtype=np.uint32)


def load_corpus(path: str | os.PathLike, vocab: Vocab | None = None) -> Corpus:
    """Load and encode a corpus (a UTF-8 file or a folder of them).

    Without ``vocab`` the vocabulary is built from the data (sorted by code point). With ``vocab``
    (continuing a model on new data) characters it cannot represent are dropped, and listed in
    ``unknown_chars`` (``n_dropped`` counts them) so the caller can say so."""
    files, skipped, scans = corpus_files(path)
    present = np.zeros(_MAX_CODE, dtype=bool)
    total = 0
    for distinct, n, ends_nl in scans:
        present[distinct] = True
        total += n + (1 if len(files) > 1 and not ends_nl else 0)
    if len(files) > 1 and not all(s[2] for s in scans):
        present[10] = True
    codes_present = np.flatnonzero(present)
    unknown: list[str] = []
    if vocab is None:
        vocab = Vocab.from_codepoints(codes_present)
    else:
        known = vocab.lookup(codes_present) >= 0
        unknown = [chr(int(c)) for c in codes_present[~known]]
    data = np.empty(total, dtype=vocab.dtype)
    n = 0
    for cps in _iter_corpus_codes(files, scans):
        ids = vocab.lookup(cps)
        if unknown:
            ids = ids[ids >= 0]
        data[n:n + len(ids)] = ids
        n += len(ids)
    data = data[:n]
    if n < 2:
        what = " the model knows" if unknown else ""
        raise DataError(f"corpus {path} has fewer than 2 usable characters{what}")
    return Corpus(data=data, vocab=vocab, files=[str(f) for f in files], skipped=skipped,
                  unknown_chars=unknown, n_dropped=total - n, n_bytes=sum(os.path.getsize(f) for f in files))


def read_text(path: str | os.PathLike) -> str:
    """The whole corpus as one string (small corpora only: prompts, previews, tests)."""
    files, _, scans = corpus_files(path)
    return "".join(np.concatenate(list(_iter_corpus_codes(files, scans))).astype("<u4").tobytes()
                   .decode("utf-32-le"))
