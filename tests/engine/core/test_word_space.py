"""engine.core.word_space: the first stroke of a word is moved right to keep a blank of at least the floor after
the last word's ink (late marks of the last word and strokes inside a word are left alone); every blank can be
scaled by a factor taken from a prime's spacing."""

import numpy as np
import pytest

from engine.core.word_space import (
    REFERENCE_TEXTS,
    WORD_SPACE_RANGE,
    WordSpacer,
    median_gap,
    prime_word_space,
    reference_gap,
    word_gaps,
)

TEXT = "ab cd"      # focus 0-1: word 0, 2-4: word 1 (the space belongs to the word after it)


def stroke(dxs, lift=True):
    """Points of one stroke: x offsets dxs (the first is the jump to its start), the pen lifted at the end."""
    pts = [np.array([dx, 0.0, 0.0], dtype=np.float32) for dx in dxs]
    pts[-1][2] = 1.0 if lift else 0.0
    return pts


def run(strokes, floor=5.0, factor=1.0):
    """strokes: (dxs, focus) each. Returns (the x of every point let out, the spacer)."""
    sp, out = WordSpacer(TEXT, floor, factor), []
    for dxs, f in strokes:
        for p in stroke(dxs):
            out += sp.feed(p, f)
    out += sp.flush()
    return np.cumsum([float(p[0]) for p, _ in out]), sp


def test_a_word_that_starts_too_close_is_moved_right_to_the_floor():
    xs, sp = run([([0, 4, 6], 0), ([1, 3, 3], 3)])      # word 0 ends at x 10; word 1 would start at 11
    assert sp.moved == 1
    assert xs[3] == 15.0                                 # 10 + the floor
    assert list(np.diff(xs[3:])) == [3.0, 3.0]           # the word itself unchanged


def test_the_blank_is_measured_from_the_strokes_leftmost_point():
    # an "a": the stroke starts 6 right of word 0's edge (past the floor) but its bowl comes back to 2 right of it
    xs, sp = run([([0, 4, 6], 0), ([6, -4, 5], 3)])
    assert sp.moved == 1 and list(xs[3:]) == [19.0, 15.0, 20.0]


def test_a_word_already_far_enough_is_left_alone():
    xs, sp = run([([0, 4, 6], 0), ([7, 3, 3], 3)])
    assert sp.moved == 0 and xs[3] == 17.0


def test_a_late_mark_of_the_last_word_is_not_moved():
    # after word 0 (x 0..10) the attention is on the space when the pen goes back to x 7 for a t-bar reaching x 12
    xs, sp = run([([0, 4, 6], 0), ([-3, 5], 2), ([2, 3], 3)])
    assert list(xs[3:5]) == [7.0, 12.0]
    assert sp.moved == 1 and xs[5] == 17.0               # the next word keeps the floor from the mark's end too


def test_strokes_inside_a_word_are_left_alone():
    xs, sp = run([([0, 4, 6], 0), ([-8, 2], 1), ([1, 1], 1)])
    assert sp.moved == 0 and list(xs) == [0.0, 4.0, 10.0, 2.0, 4.0, 5.0, 6.0]


def test_a_stroke_that_starts_left_but_runs_on_into_the_next_word_is_moved():
    # starts 1 left of the last word's edge and goes 8 past it: the next word written over the last one's end
    xs, sp = run([([0, 4, 6], 0), ([-1, 4, 5], 3)])
    assert sp.moved == 1 and xs[3] == 15.0


def test_the_stroke_is_held_until_its_pen_lifts():
    sp = WordSpacer(TEXT, 5.0)
    for p in stroke([0, 4, 6]):
        assert len(sp.feed(p, 0)) == 1
    first, *rest = stroke([1, 3, 3])
    assert sp.feed(first, 3) == [] and sp.feed(rest[0], 3) == []
    out = sp.feed(rest[1], 3)
    assert [f for _, f in out] == [3, 3, 3] and float(out[0][0][0]) == 5.0


def test_the_factor_scales_every_blank_between_words_and_the_floor_still_holds():
    words = [([0, 4, 6], 0), ([8, 3, 3], 3)]                 # word 0 ends at x 10, word 1 starts at 18: blank 8
    assert run(words)[0][3] == 18.0
    xs, sp = run(words, factor=2.0)
    assert xs[3] == 26.0 and sp.moved == 1 and list(np.diff(xs[3:])) == [3.0, 3.0]
    assert run(words, factor=0.75)[0][3] == 16.0            # a tight writer: moved left
    assert run(words, factor=0.25)[0][3] == 15.0            # 8 * 0.25 = 2 is under the floor: 5


def line(blanks, x_height=10.0, width=20.0):
    """Stroke-3 of words ``width`` wide with the given blanks between them (x-heights), one stroke a word."""
    pts = []
    for k in range(len(blanks) + 1):
        start = 0.0 if k == 0 else blanks[k - 1] * x_height
        pts += [[start, 0.0, 0.0], [width / 2, 0.0, 0.0], [width / 2, 0.0, 1.0]]
    return np.array(pts, dtype=np.float32)


def test_word_gaps_are_the_widest_blank_columns_in_x_heights():
    s3 = line([1.0, 3.0, 2.0])
    assert word_gaps(s3, 4, 10.0) == pytest.approx([3.0, 2.0, 1.0])
    assert word_gaps(s3, 2, 10.0) == pytest.approx([3.0])                  # a transcript of two words
    assert word_gaps(s3, 6, 10.0) == pytest.approx([3.0, 2.0, 1.0, 0.0, 0.0])   # words run together: 0
    s3[-1, 2] = 0.0                                                         # a last stroke the pen never left
    assert word_gaps(s3, 4, 10.0) == pytest.approx([3.0, 2.0, 1.0])
    assert word_gaps(s3, 1, 10.0) == [] and median_gap(s3, "one", 10.0) is None


def test_the_factor_from_a_prime_is_the_square_root_of_its_spacing_over_the_models():
    prime = line([2.0, 2.0, 4.0])                          # median blank 2 x-heights
    assert prime_word_space(prime, "a b c d", 10.0, reference=0.5) == pytest.approx(2.0)   # sqrt(4)
    assert prime_word_space(prime, "a b c d", 10.0, reference=2.0) == pytest.approx(1.0)
    assert prime_word_space(prime, "a b c d", 10.0, reference=100.0) == WORD_SPACE_RANGE[0]
    assert prime_word_space(prime, "abcd", 10.0, reference=0.5) == 1.0    # one word: no spacing to carry
    assert prime_word_space(prime, None, 10.0, reference=0.5) == 1.0
    assert prime_word_space(prime, "a b c d", 10.0, reference=None) == 1.0


def test_the_reference_is_the_models_median_gap_after_its_styles():
    calls = []

    def generate(text, prime_stroke3, prime_text, seed):
        calls.append((text, prime_text, seed))
        return line([1.5] * (len(text.split()) - 1))

    styles = [{"stroke3": line([1.0]), "text": "a b"}, {"stroke3": line([1.0]), "text": "c d"}]
    assert reference_gap(generate, styles, 10.0) == pytest.approx(1.5)
    assert {c[1] for c in calls} == {"a b", "c d"} and {c[0] for c in calls} == set(REFERENCE_TEXTS)
    calls.clear()
    assert reference_gap(generate, [], 10.0) == pytest.approx(1.5) and {c[1] for c in calls} == {None}
