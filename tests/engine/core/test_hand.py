"""engine.core.hand: the measures of a hand (slant, strokes per letter) and the Slanter that gives generated ink a
writer's lean as it is drawn."""

import math

import numpy as np
import pytest

from engine.core.hand import (
    MAX_SHEAR,
    SLANT_SETTLE_X_HEIGHTS,
    Slanter,
    describe,
    hand_slant,
    prime_slant,
    shear_for,
    slant,
    stroke_count,
    strokes_per_letter,
)


def zigzag(lean_deg, n_strokes=6, height=10.0, y_up=False):
    """A line of down-and-up strokes (stroke-3, y down unless y_up) whose steep steps lean ``lean_deg`` to the right,
    each stroke after a jump that is neither steep nor drawn."""
    t = math.tan(math.radians(lean_deg))
    up = -1.0 if not y_up else 1.0           # the sign of a step up the page
    pts = []
    for _ in range(n_strokes):
        pts.append([8.0, 0.0, 0.0])              # the jump to the stroke's start (the last point lifted)
        for _ in range(4):                       # up, leaning right
            pts.append([t * height / 4, up * height / 4, 0.0])
        for _ in range(4):                       # and down the same line
            pts.append([-t * height / 4, -up * height / 4, 0.0])
        pts[-1][2] = 1.0
    return np.array(pts, dtype=np.float32)


@pytest.mark.parametrize("lean", [-12.0, 0.0, 8.0, 25.0])
def test_the_slant_is_the_lean_of_the_steep_strokes(lean):
    assert slant(zigzag(lean)) == pytest.approx(lean, abs=0.01)
    assert slant(zigzag(lean, y_up=True), y_up=True) == pytest.approx(lean, abs=0.01)
    assert slant(zigzag(lean, y_up=True)) == pytest.approx(-lean, abs=0.01)     # read the wrong way up


def test_jumps_and_flat_steps_do_not_count_and_no_steep_ink_is_nan():
    line = zigzag(10.0)
    jumpy = line.copy()
    jumpy[0::9, :2] = [[3.0, -40.0]] * len(jumpy[0::9])      # steep jumps: the pen is up, so they do not count
    assert slant(jumpy) == pytest.approx(10.0, abs=0.01)
    flat = np.array([[0, 0, 0], [5, 1, 0], [5, -1, 1]], np.float32)
    assert math.isnan(slant(flat)) and math.isnan(slant(np.zeros((0, 3))))


def test_strokes_per_letter_counts_pen_down_runs_over_letters():
    line = zigzag(0.0, n_strokes=6)
    assert stroke_count(line) == 6
    assert strokes_per_letter(line, "abc def") == 1.0          # spaces are not letters
    assert strokes_per_letter(line, "abcdefghijkl") == 0.5
    open_end = line.copy()
    open_end[-1, 2] = 0.0                                       # the last stroke ends without a lift: still one
    assert stroke_count(open_end) == 6 and stroke_count(np.zeros((0, 3))) == 0
    assert math.isnan(strokes_per_letter(line, "a b"))          # too few letters to say


def test_a_prime_too_short_to_tell_has_no_slant():
    x_height = 5.0
    # each zigzag stroke has 20 units of steep ink: 4 x-heights
    need = math.ceil(SLANT_SETTLE_X_HEIGHTS / 4)
    assert prime_slant(zigzag(15.0, n_strokes=need - 1), x_height) is None
    assert prime_slant(zigzag(15.0, n_strokes=need), x_height) == pytest.approx(15.0, abs=0.01)
    assert prime_slant(zigzag(60.0, n_strokes=need + 30), x_height) is None    # steeper than 45: not a slant


def test_a_hands_lean_is_the_median_of_its_lines_that_tell():
    x_height, need = 5.0, math.ceil(SLANT_SETTLE_X_HEIGHTS / 4)
    lines = [zigzag(lean, n_strokes=need) for lean in (4.0, 12.0, 30.0)] + [zigzag(-20.0, n_strokes=need - 1)]
    assert hand_slant(lines, x_height) == pytest.approx(12.0, abs=0.01)     # the short line says nothing
    assert hand_slant(lines[-1:], x_height) is None and hand_slant([], x_height) is None


def test_the_shear_is_the_difference_of_tangents_within_its_bound():
    assert shear_for(20.0, 20.0) == 0.0
    assert shear_for(20.0, 5.0) == pytest.approx(math.tan(math.radians(20)) - math.tan(math.radians(5)))
    assert shear_for(-40.0, 40.0) == -MAX_SHEAR
    assert shear_for(10.0, float("nan")) == 0.0 and shear_for(10.0, 50.0) == 0.0


def feed_all(slanter, line):
    out = []
    for k, p in enumerate(line):
        out += slanter.feed(p.copy(), k)
    return out + slanter.flush()


def test_the_line_is_held_until_its_lean_is_known_then_sheared_to_the_target():
    line = zigzag(0.0, n_strokes=10)                  # 9 points a stroke, 8 steep steps of 2.5 units
    sl = Slanter(target=22.0, settle=50.0)
    released = [k for k, p in enumerate(line) if sl.feed(p.copy(), k)]
    assert released[0] == 22                          # two strokes (40 units) and four steps of the third
    assert sl.measured == pytest.approx(0.0, abs=0.01)
    line = zigzag(4.0, n_strokes=10)
    out = feed_all(Slanter(target=22.0, settle=50.0), line)
    assert [g for _, g in out] == list(range(len(line)))              # every point, in order, its focus kept
    pts = np.stack([p for p, _ in out])
    assert np.array_equal(pts[:, 1:], line[:, 1:])                    # only x changes
    assert slant(pts) == pytest.approx(22.0, abs=0.05)


def test_the_lean_is_followed_along_the_line():
    # a line that starts upright and ends leaning 20 degrees comes out at the target all along
    line = np.concatenate([zigzag(0.0, n_strokes=12), zigzag(20.0, n_strokes=12)])
    out = np.stack([p for p, _ in feed_all(Slanter(target=10.0, settle=40.0), line)])
    half = len(line) // 2
    # the first strokes after the change lean a little on either side while the measure catches up
    assert slant(out[:half]) == pytest.approx(10.0, abs=0.5)
    assert slant(out[half + 40:]) == pytest.approx(10.0, abs=0.5)
    fixed = np.stack([p for p, _ in feed_all(Slanter(target=10.0, settle=40.0, track=False), line)])
    stays = math.degrees(math.atan(math.tan(math.radians(20)) + math.tan(math.radians(10))))
    assert slant(fixed[half + 40:]) == pytest.approx(stays, abs=0.5)    # measured once: the change stays


def test_a_share_of_the_shear_goes_part_of_the_way():
    line = zigzag(4.0, n_strokes=10)
    out = np.stack([p for p, _ in feed_all(Slanter(target=22.0, settle=50.0, share=0.5), line)])
    half = math.degrees(math.atan((math.tan(math.radians(4.0)) + math.tan(math.radians(22.0))) / 2))
    assert slant(out) == pytest.approx(half, abs=0.05)


def test_a_line_too_short_to_settle_is_sheared_with_what_there_is():
    line = zigzag(0.0, n_strokes=1)
    sl = Slanter(target=15.0, settle=1000.0)
    assert all(not sl.feed(p.copy(), 0) for p in line)
    out = np.stack([p for p, _ in sl.flush()])
    assert len(out) == len(line) and slant(out) == pytest.approx(15.0, abs=0.05)


def test_a_hand_is_described_in_a_few_words():
    two_words = np.concatenate([zigzag(14.0, n_strokes=3), [[30.0, 0.0, 0.0]], zigzag(14.0, n_strokes=3)[1:]])
    two_words[9 * 3 - 1, 2] = 1.0
    text = "abc def"                                  # six letters, six strokes, two words
    said = describe(two_words, text, x_height=10.0)
    assert said.startswith("leaning 14 degrees right, the pen lifted about once a letter (1.0 strokes a letter)")
    assert said.endswith("x-heights apart")
    assert describe(zigzag(-1.0), "abcdefghijkl", 10.0) == "upright, joined (0.5 strokes a letter)"
    assert describe(zigzag(-8.0), "abcdefgh", 10.0).startswith("leaning 8 degrees left, partly joined (0.8")
    assert describe(np.zeros((0, 3)), "ab", 10.0) == ""
