"""Toy handwriting for the tests of the handwriting model (tests/test_hw_*.py): every character is a
small fixed one-stroke glyph, so a line's ink is determined by its text (plus optional jitter)."""

from __future__ import annotations

import numpy as np

from engine.data.ink_dataset import InkDataset, InkLine

GLYPH_POINTS = 6


def glyph(ch: str) -> np.ndarray:
    """(GLYPH_POINTS, 2) absolute points of a character's one-stroke glyph, starting near x=0."""
    k = ord(ch) % 17
    t = np.linspace(0.0, 1.0, GLYPH_POINTS)
    x = 4.0 * t + 0.8 * np.sin(np.pi * t * (1 + k % 3))
    y = -(2.0 + 0.4 * (k % 5)) * np.sin(np.pi * t * (1 + k % 4))
    return np.stack([x, y], 1)


def line_stroke3(text: str, jitter: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
    pts, pen = [], []
    x0 = 0.0
    for ch in text:
        if ch == " ":
            x0 += 4.0
            continue
        g = glyph(ch) + [x0, 0.0]
        if jitter and rng is not None:
            g = g + rng.normal(0, jitter, g.shape)
        pts.append(g)
        pen.append(np.r_[np.zeros(len(g) - 1), 1.0])
        x0 += 6.0
    xy = np.concatenate(pts)
    out = np.zeros((len(xy), 3), dtype=np.float32)
    out[:, :2] = np.diff(xy, axis=0, prepend=np.zeros((1, 2)))
    out[:, 2] = np.concatenate(pen)
    return out


def toy_dataset(texts, jitter: float = 0.1, val_every: int = 5, seed: int = 0) -> InkDataset:
    rng = np.random.default_rng(seed)
    lines = [InkLine(line_stroke3(t, jitter, rng), t, "w1", "val" if val_every and i % val_every == val_every - 1
                     else "train", str(i)) for i, t in enumerate(texts)]
    return InkDataset.from_lines(lines, source="toy")


WORDS = "the quick brown fox jumps over a lazy dog and then sleeps".split()


def toy_texts(n: int, seed: int = 0, words: int = 3) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, words)) for _ in range(n)]
