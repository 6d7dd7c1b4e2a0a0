"""engine.core.ink_stream.line_start: the state after a prime, forced once and shared by several takes of a line
and by their reading back, gives exactly what forcing the prime each time gives; a start is refused for another
line."""

import numpy as np
import pytest
from test_ink_score import CHARS, NORM, Recorder, random_line, tiny

from engine.core.ink_score import score_line
from engine.core.ink_stream import ink_stream, line_start, prepare_line
from engine.models.torch_stepper import TorchStepper

KW = dict(vocab=list(CHARS), norm=NORM)


def stepper(seed=5, kind="ink-synthesis"):
    return Recorder(TorchStepper(tiny(kind, seed=seed).step_module()))


@pytest.mark.parametrize("primed", [True, False])
def test_a_shared_start_writes_and_reads_back_as_forcing_the_prime_does(primed):
    prime = prepare_line(random_line(12, seed=7)) if primed else None
    ptext = "hold" if primed else None
    st = stepper()
    start = line_start(st, text="below", prime_stroke3=prime, prime_text=ptext, **KW)
    forced = len(st.fed)
    assert forced == 1 + (len(prime) if primed else 0)          # the start row, then the prime
    for seed in range(3):                                       # one start, used again and again
        a_stats, b_stats = {}, {}
        a = np.stack(list(ink_stream(st, text="below", prime_stroke3=prime, prime_text=ptext, seed=seed,
                                     stats=a_stats, start=start, **KW)))
        fed = len(st.fed)
        alone = stepper()
        b = np.stack(list(ink_stream(alone, text="below", prime_stroke3=prime, prime_text=ptext, seed=seed,
                                     stats=b_stats, **KW)))
        np.testing.assert_array_equal(a, b)
        assert a_stats == b_stats and a_stats["stopped"] in ("stop-rule", "cap")
        # with the start, the prime is not forced again: only the steps that draw
        prime_steps = 1 + (len(prime) if primed else 0)
        assert fed - forced == len(alone.fed) - prime_steps > 0
        forced = fed
        foci_a, foci_b = [], []
        line = random_line(20, seed=seed)
        na = score_line(st, line, text="below", prime_stroke3=prime, prime_text=ptext, gap=4.0, foci=foci_a,
                        start=start, **KW)
        assert len(st.fed) - forced == len(line) - 1
        forced = len(st.fed)
        nb = score_line(stepper(), line, text="below", prime_stroke3=prime, prime_text=ptext, gap=4.0, foci=foci_b,
                        **KW)
        np.testing.assert_array_equal(na, nb)
        assert foci_a == foci_b and len(foci_a) == len(line)


def test_a_prediction_model_shares_its_start_too():
    st = stepper(kind="ink-prediction")
    prime = prepare_line(random_line(10, seed=3))
    start = line_start(st, prime_stroke3=prime, **KW)
    a = np.stack(list(ink_stream(st, prime_stroke3=prime, seed=1, max_steps=30, start=start, **KW)))
    b = np.stack(list(ink_stream(stepper(kind="ink-prediction"), prime_stroke3=prime, seed=1, max_steps=30, **KW)))
    np.testing.assert_array_equal(a, b)


def test_a_start_forced_for_another_line_is_refused():
    prime = prepare_line(random_line(12, seed=7))
    st = stepper()
    start = line_start(st, text="below", prime_stroke3=prime, prime_text="hold", **KW)
    other_prime = prime.copy()
    other_prime[3, 0] += 1.0
    wrong = [dict(text="bell", prime_stroke3=prime, prime_text="hold"),           # another text
             dict(text="below", prime_stroke3=other_prime, prime_text="hold"),    # another prime
             dict(text="below", prime_stroke3=prime, prime_text="hello"),         # another transcript
             dict(text="below")]                                                  # no prime
    for kw in wrong:
        with pytest.raises(ValueError, match="another model, text or prime"):
            next(ink_stream(st, seed=0, start=start, **kw, **KW))
        with pytest.raises(ValueError, match="another model, text or prime"):
            score_line(st, random_line(8), start=start, **kw, **KW)
    with pytest.raises(ValueError, match="another model"):                        # another model
        next(ink_stream(stepper(seed=6), text="below", prime_stroke3=prime, prime_text="hold", seed=0, start=start,
                        **KW))
    with pytest.raises(ValueError, match="another model"):                        # forced without the guide
        next(ink_stream(st, text="below", prime_stroke3=prime, prime_text="hold", seed=0, start=start,
                        guide_prime=False, **KW))
