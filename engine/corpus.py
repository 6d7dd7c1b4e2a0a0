"""Text corpora: one UTF-8 file or a folder of them, encoded into a compact numpy array."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataError
from .vocab import Vocab, codepoints

TEXT_SUFFIXES = {".txt", ".text", ".md", ".rst", ".csv", ".tsv", ".json", ".py", ".html", ".xml", ""}


@dataclass
class Corpus:
    """An encoded corpus. ``data`` is a 1-D uint8/uint16 array of vocabulary ids."""

    data: np.ndarray
    vocab: Vocab
    files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unknown_chars: list[str] = field(default_factory=list)
    n_bytes: int = 0

    def split(self, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
        """Contiguous split: the last ``val_fraction`` is validation."""
        n_val = int(len(self.data) * val_fraction)
        if val_fraction > 0 and n_val < 2:
            raise DataError(f"corpus too small for a {val_fraction:.0%} validation split "
                            f"({len(self.data)} characters)")
        return self.data[:len(self.data) - n_val], self.data[len(self.data) - n_val:]

    def summary(self) -> dict:
        return {"characters": int(len(self.data)), "bytes": self.n_bytes, "vocab_size": len(self.vocab),
                "files": len(self.files), "skipped": [f"{p}: {why}" for p, why in self.skipped],
                "unknown_chars": self.unknown_chars}


def _decode_file(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(f"{path} looks binary (NUL byte at byte offset {nul}); a corpus must be UTF-8 text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not valid UTF-8: byte 0x{raw[exc.start]:02x} at byte offset {exc.start} "
                        f"({exc.reason}); save the file as UTF-8") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def list_text_files(root: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            p = Path(dirpath) / name
            if p.suffix.lower() in TEXT_SUFFIXES:
                files.append(p)
    return files


def read_text(path: str | os.PathLike) -> tuple[str, list[str], list[tuple[str, str]]]:
    """Read a corpus path (file or folder) into one string. Returns (text, files, skipped)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"corpus not found: {p}")
    if p.is_file():
        text = _decode_file(p)
        if not text:
            raise DataError(f"corpus file is empty: {p}")
        return text, [str(p)], []
    if not p.is_dir():
        raise DataError(f"corpus is neither a file nor a folder: {p}")
    files = list_text_files(p)
    if not files:
        raise DataError(f"no text files in folder {p} (looked for {', '.join(sorted(s for s in TEXT_SUFFIXES if s))})")
    parts, used, skipped = [], [], []
    for f in files:
        try:
            t = _decode_file(f)
        except DataError as exc:
            skipped.append((str(f), str(exc)))
            continue
        if t:
            parts.append(t if t.endswith("\n") else t + "\n")
            used.append(str(f))
        else:
            skipped.append((str(f), "empty"))
    if not parts:
        reasons = "; ".join(why for _, why in skipped[:3])
        raise DataError(f"folder {p} has no usable UTF-8 text ({len(skipped)} files skipped: {reasons})")
    return "".join(parts), used, skipped


def load_corpus(path: str | os.PathLike, vocab: Vocab | None = None) -> Corpus:
    """Load and encode a corpus. With ``vocab`` (continuing a model on new data) characters it cannot
    represent are dropped and listed in ``unknown_chars``."""
    text, files, skipped = read_text(path)
    n_bytes = sum(os.path.getsize(f) for f in files)
    codes = codepoints(text)
    del text
    unknown: list[str] = []
    if vocab is None:
        vocab = Vocab.from_codepoints(codes)
        data = vocab.encode_codepoints(codes)
    else:
        ids = vocab.encode_codepoints(codes, unknown=len(vocab))
        bad = ids == len(vocab)
        if bad.any():
            unknown = sorted({chr(int(c)) for c in np.unique(codes[bad])})
            ids = ids[~bad]
        data = ids.astype(vocab.dtype)
    if len(data) < 2:
        raise DataError(f"corpus {path} has fewer than 2 usable characters")
    return Corpus(data=np.ascontiguousarray(data), vocab=vocab, files=files, skipped=skipped,
                  unknown_chars=unknown, n_bytes=n_bytes)
