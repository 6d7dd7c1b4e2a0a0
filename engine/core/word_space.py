"""A floor on the blank between words in generated handwriting. No torch.

A synthesis model leaves a space between words by a pen-up jump, drawn like any other offset from its mixture.
Now and then the draw comes from the short end: the next word starts on or against the last one's ink
("Thereis"; bench/RESULTS-handwriting.md 2k and 2l), although the attention has read the space and the pen has
lifted. :class:`WordSpacer` sits on the points as they are drawn (raw units, x to the right) with the
attention's focus of each, and moves the first stroke of a word right when its leftmost point (not always its
first: an "a" starts at the right of its bowl) is less than ``floor`` right of the last word's ink. The
attention says when a stroke belongs to the next word; what it cannot say is a late mark of the last word (an
i-dot, a t-bar, written after the attention has moved on): a stroke that starts left of the last word's right
edge and ends less than ``floor`` past it is taken for one and left where it is. The move is a longer jump
before the word, so the word itself is unchanged, and so is every stroke after it, relative to it. The stroke
that starts a word is held back until its pen lifts.

The same place carries a writer's word spacing. A model follows a prime's spacing only a little (0.1-0.2
x-heights per x-height of the writer's; bench/RESULTS-handwriting.md 2k), so a writer who leaves wide spaces
comes back with the model's. ``factor`` scales every blank between words (then the floor holds):
:func:`prime_word_space` works it out from the prime, against the model's own spacing after a prime
(:func:`reference_gap`, measured with its bundled styles). The model has already carried part of the
writer's spacing, so the factor is the square root of the ratio (:data:`WORD_SPACE_POWER`): the full ratio
overshoots every wide writer (bench/RESULTS-handwriting.md 2l). A personal model written without a prime spaces
its words about as the base does whatever its writer's spacing (bench/RESULTS-personal.md): its card records the
writer's gap (:func:`hand_gap`) and the factor is taken from it against the model's own unprimed spacing, by the
same rule (:func:`space_factor`).
"""

from __future__ import annotations

import statistics

import numpy as np

WORD_GAP_X_HEIGHTS = 0.5   # the least blank between words, in x-heights of the model's ink
WORD_SPACE_POWER = 0.5          # the factor taken from a prime: (prime's gap / model's gap) ** this
WORD_SPACE_RANGE = (0.5, 2.5)   # and kept in this range
# what a model writes after each of its styles to measure its own spacing (short words, common letters)
REFERENCE_TEXTS = ("we went out to see the sea", "a note on the old red door")


def blank_columns(stroke3) -> list[tuple[float, float]]:
    """A line's blank columns, left to right: (left, right) x (raw units, from its first point) of each stretch
    that no stroke covers (the strokes' x-extents merged)."""
    a = np.asarray(stroke3, dtype=np.float64).reshape(-1, 3)
    if not len(a):
        return []
    x = np.cumsum(a[:, 0])
    ends = np.flatnonzero(a[:, 2] >= 0.5) + 1
    spans = sorted((float(s.min()), float(s.max())) for s in np.split(x, ends) if len(s))
    columns, right = [], spans[0][1]
    for lo, hi in spans[1:]:
        if lo > right:
            columns.append((right, lo))
        right = max(right, hi)
    return columns


def word_columns(stroke3, n_words: int) -> list[tuple[float, float]]:
    """The blank columns taken for the spaces of a line of ``n_words`` words: its ``n_words - 1`` widest, left
    to right (fewer when its words run together)."""
    if n_words < 2:
        return []
    widest = sorted(blank_columns(stroke3), key=lambda c: c[1] - c[0], reverse=True)[:n_words - 1]
    return sorted(widest)


def word_gaps(stroke3, n_words: int, x_height: float) -> list[float]:
    """A line's ``n_words - 1`` widest blank columns (:func:`word_columns`), widest first, in x-heights (0 for
    each space no blank column is left for). Slant and overhanging letters (a t-bar, a descender's loop) narrow
    a gap; a model's lines and a writer's are measured the same way."""
    if n_words < 2 or not len(np.asarray(stroke3).reshape(-1, 3)):
        return []
    gaps = sorted((hi - lo for lo, hi in word_columns(stroke3, n_words)), reverse=True)
    return [g / x_height for g in gaps] + [0.0] * (n_words - 1 - len(gaps))


def median_gap(stroke3, text: str, x_height: float) -> float | None:
    """The median blank between words of a line (x-heights) with its transcript; None for fewer than two words."""
    gaps = word_gaps(stroke3, len((text or "").split()), x_height)
    return statistics.median(gaps) if gaps else None


def reference_gap(generate, styles, x_height: float, texts=REFERENCE_TEXTS) -> float | None:
    """A model's own median word gap after a prime (x-heights): ``generate(text, prime_stroke3, prime_text,
    seed)`` -> stroke-3 without spacing changes, after each of ``styles`` (dicts with ``stroke3`` and ``text``;
    unprimed when there are none) writing ``texts`` (None when there are none)."""
    gaps = []
    for k, style in enumerate(styles or [None]):
        for text in texts:
            s3 = generate(text, None if style is None else style["stroke3"], None if style is None else style["text"],
                          k)
            gaps += word_gaps(s3, len(text.split()), x_height)
    return statistics.median(gaps) if gaps else None


def prime_word_space(prime_stroke3, prime_text: str | None, x_height: float, reference: float | None,
                     power: float = WORD_SPACE_POWER) -> float:
    """The factor on the model's word spaces that gives a prime's spacing: the prime's median gap over the
    model's ``reference``, to the ``power`` (:data:`WORD_SPACE_POWER`), in :data:`WORD_SPACE_RANGE`; 1 when
    either is unknown (a prime of one word, no transcript)."""
    own = median_gap(prime_stroke3, prime_text or "", x_height) if prime_stroke3 is not None else None
    return space_factor(own, reference, power)


def space_factor(gap: float | None, reference: float | None, power: float = WORD_SPACE_POWER) -> float:
    """The factor on a model's word spaces that brings its median gap ``reference`` towards a writer's ``gap`` (both
    in x-heights): their ratio to the ``power``, in :data:`WORD_SPACE_RANGE`; 1 when either is unknown."""
    if not gap or not reference:
        return 1.0
    lo, hi = WORD_SPACE_RANGE
    return float(min(max((gap / reference) ** power, lo), hi))


def hand_gap(lines, x_height: float) -> float | None:
    """The median blank between words of a hand (x-heights) from its lines, ``(stroke3, text)`` pairs: the median
    of their :func:`median_gap`; None when no line has two words."""
    gaps = [g for g in (median_gap(s3, text, x_height) for s3, text in lines) if g is not None]
    return statistics.median(gaps) if gaps else None


class WordSpacer:
    """``feed(point, focus)`` -> the (point, focus) pairs ready to go out, in order; ``flush()`` the rest.

    text: what the attention reads from focus 0 on (the new text); a space belongs to the word after it.
    floor: the least blank between words, raw units (0: none). factor: on every blank between words (1: as
    drawn). ``moved`` counts the words moved."""

    def __init__(self, text: str, floor: float | None, factor: float = 1.0):
        self.words = np.cumsum([c == " " for c in text]) if text else np.zeros(1, dtype=np.int64)
        self.floor = float(floor or 0.0)
        self.factor = float(factor)
        self.x = 0.0                # the pen's x after the last point let out
        self.word = -1              # the word being written (-1: none yet)
        self.right = None           # the right edge of its ink
        self.pen_up = True          # the pen is up before the next point
        self.held: list[tuple[np.ndarray, int]] = []
        self.held_word = -1
        self.moved = 0

    def word_of(self, focus: int) -> int:
        return int(self.words[min(max(int(focus), 0), len(self.words) - 1)])

    def feed(self, point: np.ndarray, focus: int) -> list[tuple[np.ndarray, int]]:
        starts = self.pen_up
        self.pen_up = bool(point[2] >= 0.5)
        if self.held:
            self.held.append((point, focus))
            return self.flush() if self.pen_up else []
        word = self.word_of(focus)
        if starts and self.right is not None and word > self.word:
            self.held, self.held_word = [(point, focus)], word
            return self.flush() if self.pen_up else []
        self._draw([point], word if self.word < 0 else self.word)
        return [(point, focus)]

    def flush(self) -> list[tuple[np.ndarray, int]]:
        """Let out the held stroke, its blank after the last word scaled by the factor and kept to the floor."""
        out, self.held = self.held, []
        if not out:
            return out
        xs = self.x + np.cumsum([float(p[0]) for p, _ in out])
        if xs[0] < self.right and xs.max() < self.right + self.floor:
            self._draw([p for p, _ in out], self.word)          # a late mark of the last word
            return out
        blank = xs.min() - self.right        # the blank column: a stroke may start right of its leftmost point
        wanted = blank * self.factor if blank > 0 else blank
        shift = max(wanted, self.floor) - blank if self.floor else wanted - blank
        if abs(shift) > 1e-9:
            out[0][0][0] += shift
            self.moved += 1
        self.right = None
        self._draw([p for p, _ in out], self.held_word)
        return out

    def _draw(self, points, word: int) -> None:
        if word != self.word:
            self.word, self.right = word, None
        for p in points:
            self.x += float(p[0])
            self.right = self.x if self.right is None else max(self.right, self.x)
