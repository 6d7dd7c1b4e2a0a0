"""engine.core.ink_stream.ink_stream: bias, priming, the stop rule and cap, unknown characters, determinism."""

import numpy as np
import pytest
import torch
from hw_data import line_stroke3

from engine.core.errors import ScribeError
from engine.core.ink_stream import START_ROW, ink_sample, ink_stream, one_hot, past_end, prepare_line
from engine.core.norm import NormStats
from engine.core.sampling import make_rng, sample_mdn
from engine.core.vocab import Vocab
from engine.models.handwriting import HandwritingConfig, PredictionNet, SynthesisNet
from engine.models.torch_stepper import TorchStepper

VOCAB = Vocab(list(" abdefgnortx"))
NORM = NormStats([0.8, -0.1], [2.0, 1.5])


def _synth(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = dict(layers=2, hidden=16, mixtures=3, window_k=2, vocab_size=len(VOCAB))
    cfg.update(kw)
    return SynthesisNet(HandwritingConfig(**cfg)).eval()


def _stepper(net):
    return TorchStepper(net.step_module())


def test_unknown_characters_are_named():
    st = _stepper(_synth())
    with pytest.raises(ScribeError) as e:
        next(ink_stream(st, text="tea for 2 Q", vocab=VOCAB, norm=NORM))
    msg = str(e.value)
    assert "'2'" in msg and "'Q'" in msg and "'a'" not in msg
    with pytest.raises(ScribeError, match="'Z'"):   # without window placement the window reads the prime's text
        next(ink_stream(st, text="tea", vocab=VOCAB, norm=NORM, prime_stroke3=line_stroke3("ab"), prime_text="Zab",
                        place_window=False))
    # with it (the default) a transcript the model cannot read is only conditioning: its unknown characters
    # are left out, and the new text is written
    assert len(ink_sample(st, text="tea", vocab=VOCAB, norm=NORM, prime_stroke3=line_stroke3("ab"),
                          prime_text="Zab", seed=0)) > 0


def test_missing_inputs_are_clear_errors():
    st = _stepper(_synth())
    with pytest.raises(ScribeError, match="text"):
        next(ink_stream(st, text="", vocab=VOCAB))
    with pytest.raises(ScribeError, match="transcript"):
        next(ink_stream(st, text="ab", vocab=VOCAB, prime_stroke3=line_stroke3("ab"), place_window=False))
    with pytest.raises(ScribeError, match="without priming ink"):
        next(ink_stream(st, text="ab", vocab=VOCAB, prime_text="ab"))


def test_same_seed_same_ink_and_raw_units():
    st = _stepper(_synth())
    a = ink_sample(st, text="a dog", vocab=VOCAB, norm=NORM, seed=5, bias=0.5)
    b = ink_sample(st, text="a dog", vocab=VOCAB, norm=NORM, seed=5, bias=0.5)
    c = ink_sample(st, text="a dog", vocab=VOCAB, norm=NORM, seed=6, bias=0.5)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.dtype == np.float32 and a.shape[1] == 3 and a[-1, 2] == 1.0


def test_points_come_back_in_raw_units():
    # the scripted model predicts (0, 0) with tiny sigmas in normalised units -> the raw mean offset
    pts = ink_sample(ScriptedStepper(per_char=3), text="ab", vocab=VOCAB, norm=NORM, seed=0)
    assert np.allclose(pts[:, 0], 0.8, atol=0.05) and np.allclose(pts[:, 1], -0.1, atol=0.05)


def test_larger_bias_gives_smaller_sample_variance():
    net = PredictionNet(HandwritingConfig(layers=2, hidden=16, mixtures=4))
    st = _stepper(net)
    var = {}
    for b in (0.0, 1.0, 3.0):
        pts = ink_sample(st, norm=NORM, bias=b, seed=3, max_steps=400)
        var[b] = float(np.var(pts[:, 0]) + np.var(pts[:, 1]))
    assert var[0.0] > var[1.0] > var[3.0]
    assert var[3.0] < 0.1 * var[0.0]


class ScriptedStepper:
    """A fake synthesis stepper: attention moves one character every ``per_char`` steps; records inputs."""

    input_names = ["x", "chars", "k"]
    output_names = ["y", "phi", "k_out"]

    def __init__(self, per_char=3, pen_every=1):
        self.per_char, self.pen_every, self.seen = per_char, pen_every, []

    def initial_state(self):
        return {"k": np.zeros((1, 1), np.float32)}

    def step(self, feeds):
        self.seen.append(feeds["x"].copy())
        k = feeds["k"] + 1
        U = feeds["chars"].shape[1]
        pos = k[0, 0] / self.per_char
        phi = np.exp(-((np.arange(U + 1) - pos) ** 2))[None].astype(np.float32)
        y = np.zeros((1, 19), np.float32)
        y[0, 0] = 20.0 if int(k[0, 0]) % self.pen_every == 0 else -20.0   # pen lifts every pen_every steps
        y[0, 1 + 3 * 3:1 + 5 * 3] = -5.0                                   # tiny sigmas
        return {"y": y, "phi": phi, "k_out": k}


def test_stop_rule_ends_a_sample_when_attention_passes_the_text():
    st = ScriptedStepper(per_char=3)
    stats = {}
    pts = ink_sample(st, text="abba", vocab=VOCAB, seed=0, stats=stats)
    # attention reaches position U=4 (past the end) after ~4.5 * 3 steps, far below the 40 x 4 cap
    assert stats["stopped"] == "stop-rule" and 10 <= len(pts) <= 16 and pts[-1, 2] == 1.0
    k = len(st.seen) - 1
    assert past_end(st.step({"x": st.seen[-1], "chars": one_hot("abba", VOCAB), "k": np.array([[k]], np.float32)})["phi"])


def test_stop_rule_lets_the_stroke_in_progress_finish():
    st = ScriptedStepper(per_char=3, pen_every=7)
    stats = {}
    pts = ink_sample(st, text="abba", vocab=VOCAB, seed=0, stats=stats)
    assert stats["stopped"] == "stop-rule" and pts[-1, 2] == 1.0 and len(pts) % 7 in (0, 6)
    strict = ink_sample(ScriptedStepper(per_char=3, pen_every=7), text="abba", vocab=VOCAB, seed=0, finish_stroke=0)
    assert len(strict) < len(pts)


def test_step_cap_stops_a_runaway():
    st = ScriptedStepper(per_char=1000)          # attention never moves past the text
    stats = {}
    pts = ink_sample(st, text="abba", vocab=VOCAB, seed=0, stats=stats)
    assert stats["stopped"] == "cap" and len(pts) == 40 * 4 and pts[-1, 2] == 1.0
    assert len(ink_sample(ScriptedStepper(per_char=1000), text="ab", vocab=VOCAB, max_steps=7)) == 7


def test_stop_rule_not_applied_during_the_prime():
    st = ScriptedStepper(per_char=1)              # during a long prime the attention is past "ab" early on
    prime = line_stroke3("ab ab ab")
    pts = ink_sample(st, text="ba", vocab=VOCAB, prime_stroke3=prime, prime_text="ab", seed=0, include_prime=True)
    assert len(pts) > len(prime)
    assert np.array_equal(pts[:len(prime)], prime)


def test_primed_sampling_teacher_forces_the_prime_then_continues_from_it():
    net = _synth(seed=1)
    st = _stepper(net)
    prime = line_stroke3("dog a", jitter=0.2, rng=np.random.default_rng(0))
    prime[0, :2] = [3.0, -2.0]     # a first-row offset from the origin: the model sees the line at the origin
    out = ink_sample(st, text="tern", vocab=VOCAB, norm=NORM, prime_stroke3=prime, prime_text="dog a", seed=11,
                     include_prime=True, bias=0.3, place_window=False)
    assert np.array_equal(out[:len(prime)], prime)        # the prime comes back unchanged
    cont = out[len(prime):]
    assert len(cont) > 0
    # the continuation is conditioned on the teacher-forced prime: the first new point is drawn from the
    # output the sequence forward gives after reading [start, prime] with the text "dog a tern"
    x = np.concatenate([START_ROW[None], NORM.normalise(prepare_line(prime))])
    with torch.no_grad():
        y, _ = net(torch.from_numpy(x)[None], torch.from_numpy(one_hot("dog a tern", VOCAB)))
    from engine.models import mdn
    want = sample_mdn(mdn.constrain(y[0, -1], 3).numpy(), make_rng(11), 0.3)
    assert np.allclose(cont[0, :2], NORM.denormalise(want[None])[0, :2], atol=1e-4)
    # without include_prime only the continuation is yielded, identical to the above
    only = ink_sample(st, text="tern", vocab=VOCAB, norm=NORM, prime_stroke3=prime, prime_text="dog a", seed=11,
                      bias=0.3, place_window=False)
    assert np.array_equal(only, cont)
    # and the prime matters
    unprimed = ink_sample(st, text="tern", vocab=VOCAB, norm=NORM, seed=11, bias=0.3)
    assert not np.allclose(unprimed[:3], cont[:3])


def test_window_placement_after_the_prime():
    """The prime is read with its transcript; before its last point the window state is reset to the start of a
    line and the window reads only the new text: the same as running the network in two parts by hand."""
    from engine.models import mdn

    net = _synth(seed=2)
    st = _stepper(net)
    prime = line_stroke3("dog a", jitter=0.2, rng=np.random.default_rng(1))
    stats = {}
    out = ink_sample(st, text="tern", vocab=VOCAB, norm=NORM, prime_stroke3=prime, prime_text="dog a", seed=5,
                     bias=0.3, stats=stats, drop_lead_strokes=False, guide_prime=False)
    x = np.concatenate([START_ROW[None], NORM.normalise(prepare_line(prime))])
    with torch.no_grad():
        _, state = net(torch.from_numpy(x[:-1])[None], torch.from_numpy(one_hot("dog a", VOCAB)))
        start = net.zero_state(1, torch.device("cpu"), torch.float32)
        state = dict(state, kappa=start["kappa"], w=start["w"])
        y, _, att = net(torch.from_numpy(x[-1:])[None], torch.from_numpy(one_hot(" tern", VOCAB)), state,
                        attention=True)
    want = sample_mdn(mdn.constrain(y[0, -1], 3).numpy(), make_rng(5), 0.3)
    assert np.allclose(out[0, :2], NORM.denormalise(want[None])[0, :2], atol=1e-4)
    assert stats["new_text_at"] == 1 and stats["first_focus"] == int(att["phi"][0, -1].argmax()) - 1 == -1
    # the old way reads "dog a tern" throughout: the attention is wherever the prime left it
    old = {}
    ink_sample(st, text="tern", vocab=VOCAB, norm=NORM, prime_stroke3=prime, prime_text="dog a", seed=5,
               bias=0.3, stats=old, place_window=False)
    assert old["new_text_at"] == len("dog a ")


def test_the_window_is_steered_along_the_primes_ink():
    """An untrained network's window barely moves through a prime; steered (the default), it follows the prime's
    words and ends the prime on its last character, which changes the state the new line starts from. Sampling
    and scoring steer alike: the primed score of the same line differs from the unsteered one."""
    from engine.core.ink_score import score_line

    st = _stepper(_synth(seed=2))
    prime = line_stroke3("dog a tern", jitter=0.2, rng=np.random.default_rng(1))
    free, steered = {}, {}
    kw = dict(text="tern", vocab=VOCAB, norm=NORM, prime_stroke3=prime, prime_text="dog a tern", seed=5, bias=0.3)
    a = ink_sample(st, stats=free, guide_prime=False, **kw)
    b = ink_sample(st, stats=steered, **kw)
    assert free["steered"] == 0 and free["prime_focus"] < -3          # the window stayed near the start
    assert steered["steered"] > 0 and abs(steered["prime_focus"]) <= 1
    assert steered["first_focus"] == free["first_focus"] == -1        # placement as before
    assert not np.allclose(a[:5], b[:5])
    line = line_stroke3("tern", jitter=0.2, rng=np.random.default_rng(2))
    score = dict(text="tern", vocab=VOCAB, norm=NORM, prime_stroke3=prime, prime_text="dog a tern", gap=4.0)
    assert not np.allclose(score_line(st, line, **score), score_line(st, line, guide_prime=False, **score))
    # without a transcript there is nothing to steer by
    none = {}
    ink_sample(st, stats=none, **dict(kw, prime_text=None))
    assert none["steered"] == 0


class LeadStepper:
    """A fake synthesis stepper whose window (kappa, reset by placement) moves one character every 4 steps and
    whose pen lifts at the window steps in ``lifts``; every step moves 1 unit right."""

    input_names = ["x", "chars", "kappa", "w"]
    output_names = ["y", "phi", "kappa_out", "w_out"]

    def __init__(self, lifts):
        self.lifts = lifts

    def initial_state(self):
        return {"kappa": np.zeros((1, 1), np.float32), "w": np.zeros((1, 1), np.float32)}

    def step(self, feeds):
        k = feeds["kappa"] + 1
        u = np.arange(feeds["chars"].shape[1] + 1)
        phi = np.exp(-((u - k[0, 0] / 4) ** 2))[None].astype(np.float32)
        y = np.zeros((1, 19), np.float32)
        y[0, 0] = 20.0 if int(k[0, 0]) in self.lifts else -20.0
        y[0, 4:7] = 1.0                                                   # mu_x
        y[0, 1 + 3 * 3:1 + 5 * 3] = -5.0                                  # tiny sigmas
        return {"y": y, "phi": phi, "kappa_out": k, "w_out": feeds["w"]}


def test_a_stroke_drawn_on_the_word_boundary_after_a_prime_is_dropped():
    """After the prime the window reads " " + text: sampled points 1-2 are drawn with the attention on that
    space (the focus moves to the text at the 3rd). A stroke ending there is the prime's ink going on: dropped,
    its offsets carried, so every later point is where it would have been."""
    prime = line_stroke3("ab ab")
    kw = dict(text="ab", vocab=VOCAB, prime_stroke3=prime, prime_text="ab ab", seed=0, steps_per_char=20)
    stats, raw_stats = {}, {}
    pts = ink_sample(LeadStepper(lifts={2, 6, 9, 11}), stats=stats, **kw)
    raw = ink_sample(LeadStepper(lifts={2, 6, 9, 11}), stats=raw_stats, drop_lead_strokes=False, **kw)
    assert stats["steps"] == raw_stats["steps"] and stats["first_focus"] == -1 and stats["stopped"] == "stop-rule"
    assert raw[1, 2] == 1.0 and raw_stats["foci"][:3] == [-1, -1, 0]
    assert len(pts) == len(raw) - 2 and min(stats["foci"]) == 0 and len(stats["foci"]) == len(pts)
    np.testing.assert_allclose(pts[0, :2], raw[:3, :2].sum(0), atol=1e-3)              # carried
    np.testing.assert_array_equal(pts[1:], raw[3:])
    # a stroke begun on the boundary that goes on into the text is the new text's first letter: kept whole
    whole = ink_sample(LeadStepper(lifts={5, 9, 11}), **kw)
    np.testing.assert_array_equal(whole, ink_sample(LeadStepper(lifts={5, 9, 11}), drop_lead_strokes=False, **kw))
    # unprimed, nothing is held back
    st = {}
    assert len(ink_sample(LeadStepper(lifts={2, 11}), text="ab", vocab=VOCAB, seed=0, stats=st)) == st["steps"]


def test_placement_does_not_depend_on_the_transcript():
    """A wrong transcript, none at all, or a scribble: the first new point is drawn attending to the new text's
    first character, and the output differs from an unprimed one (the prime still sets the style)."""
    st = _stepper(_synth(seed=3))
    scribble = np.random.default_rng(0).normal(0, 3, (60, 3)).astype(np.float32)
    scribble[:, 2] = (np.arange(60) % 15 == 14).astype(np.float32)
    for prime, pt in ((line_stroke3("dog a"), "tern"), (line_stroke3("dog a"), None), (scribble, "ab ab")):
        stats = {}
        out = ink_sample(st, text="tern", vocab=VOCAB, norm=NORM, prime_stroke3=prime, prime_text=pt, seed=1,
                         stats=stats)
        assert stats["first_focus"] == -1 and len(out) > 0


class WideTailStepper(ScriptedStepper):
    """The pen never lifts; the mixture is a short step (1, 0) and, with weight ``long``, a long one (50, 0)."""

    def __init__(self, long_logit=-1.0, **kw):
        super().__init__(**kw)
        self.long_logit = long_logit

    def step(self, feeds):
        out = super().step(feeds)
        y = out["y"]
        y[0, 0] = -20.0                               # the pen stays down
        y[0, 1:4] = [0.0, self.long_logit, -30.0]     # mixture weights (logits): short, long, unused
        y[0, 4:7] = [1.0, 50.0, 0.0]                  # mean dx of each component (dy 0)
        return out


def test_a_pen_down_step_longer_than_max_step_is_drawn_again():
    free = ink_sample(WideTailStepper(per_char=1000), text="ab", vocab=VOCAB, seed=0, max_steps=60)
    assert np.hypot(free[1:, 0], free[1:, 1]).max() > 40          # the long component is drawn now and then
    stats = {}
    bound = ink_sample(WideTailStepper(per_char=1000), text="ab", vocab=VOCAB, seed=0, max_steps=60, max_step=5.0,
                       stats=stats)
    steps = np.hypot(bound[1:, 0], bound[1:, 1])                 # the first point follows a lifted pen: free
    assert steps.max() <= 5.0 + 1e-4 and stats["redrawn"] > 0
    assert np.allclose(steps, 1.0, atol=0.05)                     # drawn again from the mixture, not cut short
    # a mixture with nothing shorter than the bound: after MAX_STEP_TRIES draws the step is shortened
    only_long = ink_sample(WideTailStepper(long_logit=30.0, per_char=1000), text="ab", vocab=VOCAB, seed=0,
                           max_steps=10, max_step=5.0)
    assert np.allclose(np.hypot(only_long[1:, 0], only_long[1:, 1]), 5.0, atol=1e-3)


class SteadyStepper(ScriptedStepper):
    """Every step moves the pen 1 to the right (tiny spread); the pen lifts every ``pen_every`` steps."""

    def step(self, feeds):
        out = super().step(feeds)
        out["y"][0, 4:7] = 1.0
        return out


def test_a_word_that_starts_against_the_last_is_moved_right_by_the_word_gap():
    kw = dict(text="ab ba", vocab=VOCAB, seed=0, finish_stroke=0)
    free_stats, stats = {}, {}
    free = ink_sample(SteadyStepper(per_char=3, pen_every=3), stats=free_stats, **kw)
    spaced = ink_sample(SteadyStepper(per_char=3, pen_every=3), stats=stats, word_gap=2.5, **kw)
    assert free_stats["spaced"] == 0 and stats["spaced"] == 1

    # only one jump changes: same points, same pen, everything after it moved by the same amount
    assert len(free) == len(spaced) and np.array_equal(free[:, 2], spaced[:, 2])
    diff = spaced[:, :2] - free[:, :2]
    (i,) = np.flatnonzero(np.abs(diff).max(axis=1) > 1e-6)
    assert diff[i, 0] > 0 and diff[i, 1] == 0
    # it is the first stroke drawn with the attention past the first word, and it now starts 2.5 right of its ink
    starts = [0] + [j + 1 for j in np.flatnonzero(spaced[:-1, 2] == 1.0)]
    assert i == min(j for j in starts if stats["foci"][j] >= 2)
    for pts, least, most in ((free, 0.0, 2.5), (spaced, 2.5 - 1e-4, 2.6)):
        x = np.cumsum(pts[:, 0])
        assert least <= x[i] - x[:i].max() < most


def test_the_line_is_given_the_lean_asked_for_and_nothing_else_changes():
    from engine.core.hand import Slanter

    kw = dict(text="abba gone", vocab=VOCAB, norm=NORM, seed=3, bias=1.0, slant_settle=8.0)
    plain_stats, stats = {}, {}
    plain = ink_sample(_stepper(_synth(4)), stats=plain_stats, **kw)
    for target in (-10.0, 25.0):
        leaned = ink_sample(_stepper(_synth(4)), stats=stats, slant=target, **kw)
        # the same draws: the same rises and pen lifts; only x moves
        assert leaned.shape == plain.shape and np.array_equal(leaned[:, 1:], plain[:, 1:])
        assert not np.allclose(leaned[:, 0], plain[:, 0])
        # exactly what the Slanter makes of the line drawn without it (engine.core.hand, tested there)
        sl = Slanter(target, 8.0)
        expected = [p for k, row in enumerate(plain) for p, _ in sl.feed(row.copy(), k)] + [p for p, _ in sl.flush()]
        np.testing.assert_allclose(leaned, np.stack(expected), atol=1e-5)
        assert stats["shear"] == sl.shear and stats["slant_measured"] == sl.measured
    assert "shear" not in plain_stats
