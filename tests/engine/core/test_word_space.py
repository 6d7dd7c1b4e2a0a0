"""engine.core.word_space.WordSpacer: the first stroke of a word is moved right to keep a blank of at least the
floor after the last word's ink; late marks of the last word and strokes inside a word are left alone."""

import numpy as np

from engine.core.word_space import WordSpacer

TEXT = "ab cd"      # focus 0-1: word 0, 2-4: word 1 (the space belongs to the word after it)


def stroke(dxs, lift=True):
    """Points of one stroke: x offsets dxs (the first is the jump to its start), the pen lifted at the end."""
    pts = [np.array([dx, 0.0, 0.0], dtype=np.float32) for dx in dxs]
    pts[-1][2] = 1.0 if lift else 0.0
    return pts


def run(strokes, floor=5.0):
    """strokes: (dxs, focus) each. Returns (the x of every point let out, the spacer)."""
    sp, out = WordSpacer(TEXT, floor), []
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
