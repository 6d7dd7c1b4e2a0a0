"""Fit text to a model's characters: typographic and accented characters the model does not know become
the plain ones it does (é -> e, curly quotes -> straight, en/em dash -> -, … -> ...), through a small
table and Unicode NFKD decomposition. Used the same way by the CLI, the runtime and the app, which each
say what was changed (:meth:`Fitted.note`). Torch-free."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

# replacements NFKD does not give (tried before the decomposition)
TABLE = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u00d7": "x",
    "\u00df": "ss", "\u00e6": "ae", "\u00c6": "AE", "\u0153": "oe", "\u0152": "OE", "\u00f8": "o", "\u00d8": "O",
    "\u0142": "l", "\u0141": "L", "\u0111": "d", "\u0110": "D", "\u0131": "i", "\u00f0": "d", "\u00fe": "th",
}


def _candidates(ch: str) -> list[str]:
    if unicodedata.combining(ch):  # an accent on its own (decomposed text): the letter stays, the mark goes
        return [""]
    out = []
    if ch in TABLE:
        out.append(TABLE[ch])
    plain = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if plain and plain != ch:
        out.append(plain)
    return out


@dataclass
class Fitted:
    """``text`` rewritten for a model: ``replaced`` maps each changed character to what stands in for it,
    ``dropped`` lists the characters with no stand-in (left out of ``text`` unless ``fit_text`` kept them)."""

    text: str
    replaced: dict[str, str] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)

    def note(self) -> str:
        """One line saying what changed ("" when nothing did)."""
        parts = []
        swaps = [f"{new!r} for {old!r}" for old, new in self.replaced.items() if new]
        if swaps:
            parts.append("wrote " + ", ".join(swaps))
        if any(not new for new in self.replaced.values()):
            parts.append("left out accents")
        if self.dropped:
            parts.append("left out " + ", ".join(repr(c) for c in self.dropped) + " (the model does not know them)")
        return "; ".join(parts)


def fit_text(text: str, known, keep: str = "", drop: bool = True) -> Fitted:
    """Rewrite ``text`` with the characters in ``known`` (a set, a Vocab or any container of characters).

    A character the model knows, or one of ``keep`` (e.g. line breaks the caller handles), stays. Any other
    is replaced by its transliteration when every character of it is known; the rest are left out (or, with
    ``drop=False``, kept as they are, so that the caller can refuse them by name)."""
    text = unicodedata.normalize("NFC", text)  # 'e' + combining acute -> 'é' (one character to look up)
    out: list[str] = []
    replaced: dict[str, str] = {}
    dropped: list[str] = []
    cache: dict[str, str | None] = {}
    for ch in text:
        if ch in known or ch in keep:
            out.append(ch)
            continue
        if ch not in cache:
            cache[ch] = next((c for c in _candidates(ch) if all(x in known for x in c)), None)
        new = cache[ch]
        if new is not None:
            replaced.setdefault(ch, new)
            out.append(new)
        else:
            if ch not in dropped:
                dropped.append(ch)
            if not drop:
                out.append(ch)
    return Fitted("".join(out), replaced, dropped)
