"""engine.core.prime_guide: every point of a prime gets the place in its transcript its ink has reached (words
from the widest blank columns, letters in proportion to x), and the window is moved onto it when it strays."""

import numpy as np
import pytest

from engine.core.prime_guide import GUIDE_TOLERANCE, prime_alignment, steer_window


def line(words, gap=30.0, letter=10.0):
    """A stroke-3 line: each word one stroke of ``letter`` units a character, ``gap`` blank between words."""
    pts = []
    for k, w in enumerate(words):
        jump = gap if k else 0.0
        steps = [jump] + [letter / 2] * (2 * len(w))
        pts += [[dx, 0.0, 0.0] for dx in steps]
        pts[-1][2] = 1.0
    return np.array(pts, dtype=np.float32)


def test_each_word_of_the_ink_is_aligned_with_its_word_of_the_transcript():
    words = ["ab", "cdef", "g"]
    s3 = line(words)
    pos = prime_alignment(s3, "ab cdef g")
    assert pos.shape == (len(s3),) and np.all(np.diff(pos) >= 0)
    x = np.cumsum(s3[:, 0])
    starts = np.flatnonzero(np.r_[True, s3[:-1, 2] > 0.5])          # the first point of each word
    ends = np.flatnonzero(s3[:, 2] > 0.5)
    assert pos[starts] == pytest.approx([0.0, 3 - 0.5, 8 - 0.5])      # a word's left edge: before its first letter
    assert pos[ends] == pytest.approx([2 - 0.5, 7 - 0.5, 8.0])        # its right edge: after its last (clipped)
    mid = starts[1] + 4                                                # half way through "cdef" (x = 2 letters in)
    assert x[mid] - x[starts[1]] == pytest.approx(20.0) and pos[mid] == pytest.approx(3 + 2 - 0.5)


def test_a_late_mark_going_back_left_keeps_the_furthest_place_reached():
    s3 = line(["abc", "de"])
    late = np.array([[-45.0, -5.0, 0.0], [2.0, 0.0, 1.0]], dtype=np.float32)   # back over "abc" for a dot
    pos = prime_alignment(np.concatenate([s3, late]), "abc de")
    assert pos[-2] == pos[-1] == pos[len(s3) - 1]


def test_more_words_than_blank_columns_is_aligned_in_proportion_to_x():
    s3 = line(["abcdef"])                        # one stroke, no blank column
    pos = prime_alignment(s3, "abc def")         # a transcript of two words
    x = np.cumsum(s3[:, 0])
    assert pos == pytest.approx(np.clip(x / x.max() * 7 - 0.5, 0, 6))


def _phi_at(centre, n=10):
    u = np.arange(n + 1, dtype=np.float64)      # n characters and past-the-end
    phi = np.exp(-2.0 * (u - centre) ** 2)
    phi[-1] = 0.0
    return phi[None]


def test_the_window_is_moved_onto_the_ink_only_when_it_strays():
    feeds = {"kappa": np.array([[2.0, 3.0]], dtype=np.float32)}
    assert steer_window(feeds, _phi_at(3.0), 3.0 + GUIDE_TOLERANCE / 2) is False
    assert feeds["kappa"][0] == pytest.approx([2.0, 3.0])
    assert steer_window(feeds, _phi_at(3.0), 7.0) is True
    assert feeds["kappa"][0] == pytest.approx([6.0, 7.0], abs=1e-4)    # every kappa by the same amount
    assert feeds["kappa"].dtype == np.float32
    assert steer_window({}, _phi_at(3.0), 7.0) is False                # a stepper without a window
