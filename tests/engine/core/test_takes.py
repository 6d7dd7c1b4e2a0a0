"""engine.core.takes: the seeds of the takes, and which take is kept (the likeliest one the stop rule ended)."""

import numpy as np
import pytest

from engine.core.takes import MAX_TAKES, best_take, check_takes, take_seeds


def test_the_first_take_keeps_the_seed_and_the_others_follow_from_it():
    assert take_seeds(7, 1) == [7] and take_seeds(None, 1) == [None]
    five = take_seeds(7, 5)
    assert five[0] == 7 and len(set(five)) == 5
    assert take_seeds(7, 5) == five                      # the same seed, the same takes
    assert take_seeds(7, 3) == five[:3]                  # more takes add to them, they do not change them
    assert take_seeds(8, 5)[1:] != five[1:]
    assert all(isinstance(s, int) and 0 <= s < 2 ** 63 for s in five)
    # without a seed, several takes start from a fresh one
    a, b = take_seeds(None, 3), take_seeds(None, 3)
    assert None not in a and a != b


@pytest.mark.parametrize("bad", [0, -1, MAX_TAKES + 1, 2.5, "3", True, None])
def test_a_bad_number_of_takes_is_refused_by_value(bad):
    with pytest.raises(ValueError, match="takes must be a whole number"):
        check_takes(bad)


def test_numpy_whole_numbers_are_takes():
    assert check_takes(np.int64(4)) == 4


def fake(outcomes):
    """write / score over ``outcomes``: seed index -> (stopped, score); a take's points name its index."""
    seeds = {}
    scored = []

    def write(seed, st):
        k = seeds.setdefault(seed, len(seeds))
        st.update(stopped=outcomes[k][0], steps=10 + k)
        return iter([np.array([k, 0, 0], np.float32), np.array([k, 0, 1], np.float32)])

    def score(points):
        k = int(points[0][0])
        scored.append(k)
        return outcomes[k][1]

    return write, score, scored


def test_the_likeliest_take_is_kept_and_its_stats_reported():
    write, score, scored = fake([("stop-rule", -1.0), ("stop-rule", -1.5), ("stop-rule", -1.2)])
    st = {}
    pts = best_take(write, score, 3, 11, st)
    assert int(pts[0][0]) == 1 and len(pts) == 2
    assert scored == [0, 1, 2]
    assert st["take"] == 1 and st["takes"] == 3 and st["steps"] == 11
    assert st["take_seed"] == take_seeds(11, 3)[1] and st["take_scores"] == [-1.0, -1.5, -1.2]


def test_a_take_that_ran_to_the_cap_loses_to_any_the_stop_rule_ended():
    write, score, _ = fake([("cap", -5.0), ("stop-rule", -1.0), ("cap", -6.0)])
    assert int(best_take(write, score, 3, 0)[0][0]) == 1
    write, score, _ = fake([("cap", -5.0), ("cap", -6.0)])    # all capped: the likeliest of them
    assert int(best_take(write, score, 2, 0)[0][0]) == 1


def test_equals_keep_the_first_and_a_score_that_is_not_a_number_counts_as_worst():
    write, score, _ = fake([("stop-rule", float("nan")), ("stop-rule", -1.0), ("stop-rule", -1.0)])
    st = {}
    assert int(best_take(write, score, 3, 0, st)[0][0]) == 1
    assert st["take_scores"][0] == float("inf")


def test_one_take_is_written_once_and_not_scored():
    write, score, scored = fake([("cap", 3.0)])
    st = {}
    pts = best_take(write, score, 1, 5, st)
    assert int(pts[0][0]) == 0 and scored == [] and st["take"] == 0 and st["take_seed"] == 5
