"""Vocabulary: the characters a model knows, stored with the model (torch-free).

Characters are Unicode code points, so any script works (CJK, Devanagari, emoji ...). Encoding is
vectorised through a code-point lookup table: a large corpus never becomes a Python list.
"""

from __future__ import annotations

import numpy as np


class Vocab:
    """An ordered list of characters (unicode code points) <-> integer ids."""

    def __init__(self, chars):
        chars = list(chars)
        if len(set(chars)) != len(chars):
            raise ValueError("vocabulary has duplicate characters")
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError("a vocabulary entry must be exactly one character")
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}
        codes = np.array([ord(c) for c in chars], dtype=np.int64)
        # table[code] -> id, -1 for unknown; the last slot is always -1 (codes beyond the table clip to it)
        self._table = np.full(int(codes.max(initial=-1)) + 2, -1, dtype=np.int32)
        self._table[codes] = np.arange(len(chars), dtype=np.int32)

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, ch: str) -> bool:
        return ch in self.index

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"Vocab({len(self)} chars)"

    @property
    def dtype(self):
        """The narrowest unsigned dtype that holds every id."""
        return np.uint8 if len(self) <= 256 else (np.uint16 if len(self) <= 65536 else np.int32)

    @classmethod
    def from_codepoints(cls, codes: np.ndarray) -> "Vocab":
        """Sorted by code point, so the same text always gives the same ids."""
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

    def lookup(self, codes: np.ndarray) -> np.ndarray:
        """Ids (int32) of a code-point array; -1 where the vocabulary lacks the character."""
        codes = np.asarray(codes)
        return self._table[np.minimum(codes, len(self._table) - 1)]

    def encode_codepoints(self, codes: np.ndarray, unknown: int | None = None) -> np.ndarray:
        """Vectorised encoding of a code-point array. Unknown code points map to ``unknown`` (the result
        is then int64) or raise KeyError when ``unknown`` is None (the result has :attr:`dtype`)."""
        ids = self.lookup(codes)
        bad = ids < 0
        if bad.any():
            if unknown is None:
                chars = sorted({chr(int(c)) for c in np.asarray(codes)[bad][:1000]})
                raise KeyError(f"characters not in the vocabulary: {''.join(chars)!r}")
            return np.where(bad, unknown, ids).astype(np.int64)
        return ids.astype(self.dtype if unknown is None else np.int64)

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
    """Unicode code points of ``text`` as a uint32 array, without a Python list.
    (``surrogatepass`` so a stray surrogate from a GUI text field cannot crash encoding.)"""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
