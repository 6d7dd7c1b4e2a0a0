"""engine.data.ink_writer.InkWriter: the model's own word spacing comes from its card or is measured once; the
factor on word spaces comes from the prime; the floor and the factor reach the generation loop."""

import numpy as np

from engine.core.vocab import Vocab
from engine.data.ink_writer import InkWriter
from engine.data.prime import InkScale

VOCAB = Vocab(list(" abcdehlnorstuw"))


class StraightStepper:
    """A synthesis stepper with no model in it: the pen moves 1 right a step and lifts every 3rd step; the
    attention moves one character every 3 steps. Counts its steps."""

    input_names = ["x", "chars", "k"]
    output_names = ["y", "phi", "k_out"]

    def __init__(self):
        self.steps = 0

    def initial_state(self):
        return {"k": np.zeros((1, 1), np.float32)}

    def step(self, feeds):
        self.steps += 1
        k = feeds["k"] + 1
        u = feeds["chars"].shape[1]
        phi = np.exp(-((np.arange(u + 1) - k[0, 0] / 3) ** 2))[None].astype(np.float32)
        y = np.zeros((1, 19), np.float32)
        y[0, 0] = 20.0 if int(k[0, 0]) % 3 == 0 else -20.0
        y[0, 4:7] = 1.0                       # mean dx 1
        y[0, 10:16] = -5.0                    # tiny spread
        return {"y": y, "phi": phi, "k_out": k}


def writer(word_gap=None, styles=None):
    return InkWriter(StraightStepper(), synthesis=True, vocab=VOCAB, norm=None,
                     scale=InkScale(10.0, None, word_gap=word_gap), styles=styles)


def test_the_cards_word_gap_is_used_without_writing_anything():
    w = writer(word_gap=1.5)
    assert w.reference_gap == 1.5 and w.stepper.steps == 0


def test_without_one_the_models_spacing_is_measured_once():
    w = writer()
    first = w.reference_gap
    steps = w.stepper.steps
    assert first is not None and first > 0 and steps > 0
    assert w.reference_gap == first and w.stepper.steps == steps


def test_the_factor_comes_from_the_prime_and_reaches_the_loop():
    w = writer(word_gap=0.5)
    # a prime of three words, 2 x-heights apart (x-height 10): sqrt(2 / 0.5) = 2
    prime = np.array([[0, 0, 0], [5, 0, 1], [20, 0, 0], [5, 0, 1], [20, 0, 0], [5, 0, 1]], np.float32)
    stats = {}
    pts = np.stack(list(w.generate("ab ba", prime_stroke3=prime, prime_text="a b c", seed=0, stats=stats,
                                   word_gap=0)))
    assert stats["word_space"] == 2.0 and stats["spaced"] >= 1
    plain_stats = {}
    plain = np.stack(list(w.generate("ab ba", prime_stroke3=prime, prime_text="a b c", seed=0, stats=plain_stats,
                                     word_gap=0, word_space=1.0)))
    assert plain_stats["word_space"] == 1.0 and plain_stats["spaced"] == 0
    assert pts.shape == plain.shape and pts[:, 0].sum() > plain[:, 0].sum()   # the line got wider
    unprimed = {}
    list(w.generate("ab ba", seed=0, stats=unprimed))
    assert unprimed["word_space"] == 1.0


def test_a_model_that_cannot_write_the_reference_texts_measures_with_its_styles_texts():
    few = Vocab(list(" abcdehlorst"))                    # no "n", "u", "w": REFERENCE_TEXTS cannot be written
    style = {"stroke3": np.array([[0, 0, 0], [5, 0, 1], [20, 0, 0], [5, 0, 1]], np.float32), "text": "the cat"}
    w = InkWriter(StraightStepper(), synthesis=True, vocab=few.to_json(), norm=None, scale=InkScale(10.0),
                  styles=[style])
    assert w.reference_gap is not None and w.stepper.steps > 0
    none = InkWriter(StraightStepper(), synthesis=True, vocab=few, norm=None, scale=InkScale(10.0))
    assert none.reference_gap is None and none.word_space(style["stroke3"], "the cat") == 1.0


def test_the_lean_is_the_primes_a_number_given_or_none():
    import math

    import pytest

    from engine.core.hand import PRIME_SLANT_SHARE, SLANT_SETTLE_X_HEIGHTS

    w = writer(word_gap=1.0)
    t = math.tan(math.radians(18.0))
    stroke = [[8.0, 0.0, 0.0]] + [[t * 2.5, -2.5, 0.0]] * 4 + [[-t * 2.5, 2.5, 0.0]] * 4
    stroke[-1] = [-t * 2.5, 2.5, 1.0]
    n = math.ceil(SLANT_SETTLE_X_HEIGHTS * 10.0 / 20.0)         # 20 units of steep ink a stroke, x-height 10
    prime = np.array(stroke * n, np.float32)
    target, share = w.lean(prime, None)                          # the prime's, part of the way
    assert target == pytest.approx(18.0, abs=0.01) and share == PRIME_SLANT_SHARE < 1
    assert w.lean(prime[:9 * (n - 1)], None)[0] is None         # too little ink to tell
    assert w.lean(prime, 5) == (5.0, 1.0) and w.lean(None, -7.5) == (-7.5, 1.0)   # a number: all the way
    assert w.lean(None, None)[0] is None
    assert w.lean(prime, "off")[0] is None and w.lean(prime, " OFF ")[0] is None
    with pytest.raises(ValueError, match="slant"):
        w.lean(prime, "wide")
    # it reaches the loop: the stats say what was aimed at, and a lean asked for shears the line
    stats = {}
    list(w.generate("ab ba", prime_stroke3=prime, prime_text="a b c", seed=0, stats=stats))
    assert stats["slant"] == pytest.approx(18.0, abs=0.01) and stats["slant_share"] == PRIME_SLANT_SHARE
    assert "shear" in stats
    off = {}
    list(w.generate("ab ba", prime_stroke3=prime, prime_text="a b c", seed=0, stats=off, slant="off"))
    assert off["slant"] is None and "shear" not in off


def test_without_a_prime_the_lean_is_the_one_the_model_records_for_its_writer():
    import pytest

    from engine.core.hand import PRIME_SLANT_SHARE

    w = InkWriter(StraightStepper(), synthesis=True, vocab=VOCAB, norm=None,
                  scale=InkScale(10.0, None, word_gap=1.0, slant=-6.5))
    assert w.lean(None, None) == (-6.5, PRIME_SLANT_SHARE)        # as far as a prime's lean is carried
    assert w.lean(np.zeros((0, 3), np.float32), None) == (-6.5, PRIME_SLANT_SHARE)
    assert w.lean(None, 3) == (3.0, 1.0) and w.lean(None, "off") == (None, 1.0)
    prime = np.array([[0, 0, 0], [5, 0, 1]], np.float32)           # a prime, even one too short to tell, wins
    assert w.lean(prime, None) == (None, PRIME_SLANT_SHARE)
    stats = {}
    list(w.generate("ab ba", seed=0, stats=stats))
    assert stats["slant"] == pytest.approx(-6.5) and stats["slant_share"] == PRIME_SLANT_SHARE


class WatchedStepper(StraightStepper):
    """Counts the steps fed each x."""

    def __init__(self):
        super().__init__()
        self.fed_x = []

    def step(self, feeds):
        self.fed_x.append(float(feeds["x"][0, 0]))
        return super().step(feeds)


def test_several_takes_force_the_prime_once_and_keep_what_forcing_it_each_time_keeps():
    import contextlib
    from unittest import mock

    prime = np.array([[0, 0, 0]] + [[777, 0, k % 2] for k in range(9)], np.float32)   # a prime no take draws

    def run(share: bool):
        w = InkWriter(WatchedStepper(), synthesis=True, vocab=VOCAB, norm=None, scale=InkScale(10.0, None, word_gap=1.0))
        stats = {}
        # without a start handed to them, the takes force the prime themselves, as they did before it was shared
        with contextlib.nullcontext() if share else mock.patch("engine.data.ink_writer.line_start", lambda *a, **k: None):
            pts = np.stack(list(w.generate("ab ba", prime_stroke3=prime, prime_text="a b", seed=4, takes=3,
                                           stats=stats)))
        return pts, stats, w.stepper.fed_x.count(777.0)

    shared, stats, forced = run(True)
    alone, alone_stats, forced_alone = run(False)
    np.testing.assert_array_equal(shared, alone)
    assert stats["take"] == alone_stats["take"] and stats["take_scores"] == alone_stats["take_scores"]
    assert forced == 9 and forced_alone == 6 * 9     # once, not for each of 3 takes and 3 readings back


def test_without_a_prime_the_spacing_is_the_one_the_model_records_for_its_writer():
    import pytest

    from engine.core.word_space import space_factor

    w = InkWriter(StraightStepper(), synthesis=True, vocab=VOCAB, norm=None, scale=InkScale(10.0, None, hand_gap=3.0))
    assert w.stepper.steps == 0                              # nothing measured until it is needed
    stats = {}
    list(w.generate("ab ba", seed=0, stats=stats))
    own = w.own_gap
    assert own is not None and own > 0 and stats["word_space"] == pytest.approx(space_factor(3.0, own))
    steps = w.stepper.steps
    assert w.own_gap == own and w.stepper.steps == steps     # measured once
    plain = writer(word_gap=1.0)                             # a model that records no writer: as drawn, nothing measured
    assert plain.word_space(None, None) == 1.0 and plain.stepper.steps == 0
    assert space_factor(None, 1.0) == space_factor(2.0, None) == 1.0 and space_factor(4.0, 1.0) == 2.0
