"""Vocabulary: the characters a model knows, stored with the model."""

from __future__ import annotations

import numpy as np


class Vocab:
    """An ordered list of characters (unicode code points) <-> integer ids."""

    def __init__(self, chars):
        chars = list(chars)
        if len(set(chars)) != len(chars):
            raise ValueError("vocabulary has duplicate characters")
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}
        self._codes = np.array([ord(c) for c in chars], dtype=np.int64)
        self._order = np.argsort(self._codes)

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, ch: str) -> bool:
        return ch in self.index

    @property
    def dtype(self):
        return np.uint8 if len(self) <= 256 else (np.uint16 if len(self) <= 65536 else np.int32)

    @classmethod
    def from_codepoints(cls, codes: np.ndarray) -> "Vocab":
        return cls(chr(int(c)) for c in np.unique(codes))

    @classmethod
    def from_text(cls, text: str) -> "Vocab":
        return cls.from_codepoints(codepoints(text))

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` this vocabulary cannot represent, in order of first appearance."""
        seen: dict[str, None] = {}
        for ch in text:
            if ch not in self.index:
                seen.setdefault(ch, None)
        return list(seen)

    def encode_codepoints(self, codes: np.ndarray, unknown: int | None = None) -> np.ndarray:
        """Vectorised encoding of a code-point array. Unknown code points map to ``unknown``
        (or raise KeyError when ``unknown`` is None)."""
        sorted_codes = self._codes[self._order]
        pos = np.searchsorted(sorted_codes, codes)
        pos = np.clip(pos, 0, len(sorted_codes) - 1)
        ok = sorted_codes[pos] == codes
        ids = self._order[pos]
        if not ok.all():
            if unknown is None:
                bad = sorted({chr(int(c)) for c in codes[~ok][:1000]})
                raise KeyError(f"characters not in the vocabulary: {bad!r}")
            ids = np.where(ok, ids, unknown)
        return ids.astype(self.dtype if unknown is None or unknown < len(self) else np.int64)

    def encode(self, text: str) -> np.ndarray:
        return self.encode_codepoints(codepoints(text))

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def to_json(self) -> list[str]:
        return list(self.chars)

    @classmethod
    def from_json(cls, data) -> "Vocab":
        return cls(data)


def codepoints(text: str) -> np.ndarray:
    """Unicode code points of ``text`` as a uint32 array, without a Python list."""
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
