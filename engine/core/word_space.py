"""A floor on the blank between words in generated handwriting. No torch.

A synthesis model leaves a space between words by a pen-up jump, drawn like any other offset from its mixture.
Now and then the draw comes from the short end: the next word starts on or against the last one's ink
("Thereis"; bench/RESULTS-handwriting.md 2k and 2l), although the attention has read the space and the pen has
lifted. :class:`WordSpacer` sits on the points as they are drawn (raw units, x to the right) with the
attention's focus of each, and moves the first stroke of a word right when it starts less than ``floor``
right of the last word's ink. The attention says when a stroke belongs to the next word; what it cannot say
is a late mark of the last word (an i-dot, a t-bar, written after the attention has moved on): a stroke that
starts left of the last word's right edge and ends less than ``floor`` past it is taken for one and left
where it is. The move is a longer jump before the word, so the word itself is unchanged, and so is every
stroke after it, relative to it. The stroke that starts a word is held back until its pen lifts.
"""

from __future__ import annotations

import numpy as np

WORD_GAP_X_HEIGHTS = 0.5   # the least blank between words, in x-heights of the model's ink


class WordSpacer:
    """``feed(point, focus)`` -> the (point, focus) pairs ready to go out, in order; ``flush()`` the rest.

    text: what the attention reads from focus 0 on (the new text); a space belongs to the word after it.
    floor: the least blank between words, raw units. ``moved`` counts the words moved right."""

    def __init__(self, text: str, floor: float):
        self.words = np.cumsum([c == " " for c in text]) if text else np.zeros(1, dtype=np.int64)
        self.floor = float(floor)
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
        """Let out the held stroke, moved right if it starts the next word too close to the last."""
        out, self.held = self.held, []
        if not out:
            return out
        xs = self.x + np.cumsum([float(p[0]) for p, _ in out])
        if xs[0] < self.right and xs.max() < self.right + self.floor:
            self._draw([p for p, _ in out], self.word)          # a late mark of the last word
            return out
        shift = self.right + self.floor - xs[0]
        if shift > 0:
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
