"""engine.core.ink_score: the numpy NLL equals the trainer's torch loss, it is stable at the bounds, and a
primed line is fed exactly the way ink_stream feeds a prime."""

import math

import numpy as np
import pytest
import torch

from engine.core.errors import ScribeError
from engine.core.ink_score import (
    LOG_SIGMA_MIN,
    RHO_MAX,
    after_prime,
    log_jacobian,
    mdn_log_prob,
    midline,
    rank_primes,
    score_line,
)
from engine.core.ink_stream import START_ROW, ink_stream, prepare_line
from engine.core.norm import NormStats
from engine.models import mdn
from engine.models.handwriting import build
from engine.models.torch_stepper import TorchStepper

CHARS = " abcdehlorw"
NORM = {"mean": [1.5, 0.2], "std": [3.0, 2.5]}


def tiny(kind, seed=0):
    torch.manual_seed(seed)
    cfg = dict(layers=2, hidden=12, mixtures=3)
    if kind == "ink-synthesis":
        cfg.update(window_k=2, vocab_size=len(CHARS))
    return build(kind, cfg).eval()


def random_line(n, seed=0):
    rng = np.random.default_rng(seed)
    a = np.zeros((n, 3), np.float32)
    a[:, :2] = rng.normal([2.0, 0.0], [3.0, 2.0], (n, 2))
    a[:, 2] = rng.random(n) < 0.15
    a[-1, 2] = 1
    return a


def test_bounds_match_the_torch_mdn():
    assert LOG_SIGMA_MIN == mdn.LOG_SIGMA_MIN and RHO_MAX == mdn.RHO_MAX


def test_log_prob_matches_torch_including_extremes():
    rng = np.random.default_rng(1)
    m = 4
    y = rng.normal(0, 2, (200, mdn.mdn_size(m)))
    y[:50, 1 + 3 * m:1 + 5 * m] = rng.uniform(-30, -5, (50, 2 * m))   # below the sigma floor
    y[50:100, 1 + 5 * m:] = rng.uniform(-40, 40, (50, m))             # rho at its bound
    y[100:120, 0] = rng.choice([-60.0, 60.0], 20)                     # a certain pen bit
    t = rng.normal(0, 3, (200, 3))
    t[120:140, :2] *= 1e3                                              # far out
    t[:, 2] = rng.random(200) < 0.3
    got = mdn_log_prob(y, t)
    want = mdn.log_prob(torch.tensor(y), torch.tensor(t), m).numpy()
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-7)


@pytest.mark.parametrize("kind", ["ink-synthesis", "ink-prediction"])
def test_score_equals_the_trainers_loss(kind):
    """The trainer's loss of a line (InkTask: input [START_ROW, p_1..p_{n-1}], target p_1..p_n, normalised)
    == the sum of score_line's per-point NLL through the step module, to ~1e-4 per point."""
    model = tiny(kind, seed=3)
    norm = NormStats.from_json(NORM)
    text = "hello world"
    line = random_line(40, seed=2)
    p = norm.normalise(prepare_line(line))
    x = np.concatenate([START_ROW[None], p[:-1]])[None]
    with torch.no_grad():
        if kind == "ink-synthesis":
            chars = torch.zeros(1, len(text), len(CHARS))
            chars[0, torch.arange(len(text)), torch.tensor([CHARS.index(c) for c in text])] = 1
            y, _ = model(torch.from_numpy(x), chars)
        else:
            y, _ = model(torch.from_numpy(x))
        want = float(mdn.nll(y, torch.from_numpy(p)[None], model.cfg.mixtures))
    got = score_line(TorchStepper(model.step_module()), line, text=text if kind == "ink-synthesis" else "",
                     vocab=list(CHARS) if kind == "ink-synthesis" else None, norm=NORM)
    assert got.shape == (40,)
    assert float(got.sum()) == pytest.approx(want, abs=40 * 1e-4)


class Recorder:
    """A stepper that records what it is fed and the attention (phi) it outputs."""

    def __init__(self, inner):
        self.inner, self.fed, self.phis = inner, [], []
        self.input_names, self.output_names = inner.input_names, inner.output_names

    def initial_state(self):
        return self.inner.initial_state()

    def step(self, feeds):
        self.fed.append({k: np.array(v, copy=True) for k, v in feeds.items()})
        res = self.inner.step(feeds)
        self.phis.append(np.asarray(res.get("phi", np.zeros(0))).reshape(-1))
        return res


def test_primed_scoring_feeds_the_prime_as_ink_stream_does():
    model = tiny("ink-synthesis", seed=5)
    prime, line = random_line(12, seed=7), random_line(20, seed=8)
    a, b = Recorder(TorchStepper(model.step_module())), Recorder(TorchStepper(model.step_module()))
    kw = dict(vocab=list(CHARS), norm=NORM, prime_stroke3=prime, prime_text="hold")
    next(ink_stream(a, text="below", seed=0, drop_lead_strokes=False, **kw))
    nll = score_line(b, line, text="below", gap=4.0, **kw)
    n = 1 + len(prime)          # START_ROW and the prime; ink_stream has fed its first sample too by now
    assert len(a.fed) == n + 1 and len(b.fed) == n + len(line) - 1
    for fa, fb in zip(a.fed[:n], b.fed[:n]):
        assert fa.keys() == fb.keys()
        for k in fa:
            np.testing.assert_array_equal(fa[k], fb[k])
    # the window was placed at " below" before the prime's last point
    assert b.fed[len(prime)]["chars"].shape[1] == len(" below") and b.fed[len(prime) - 1]["chars"].shape[1] == 4
    # the line's first point is the jump to a word space right of the prime (score_line's default join, the
    # "baseline" join), its middle on the prime's
    jump = after_prime(prepare_line(prime), 4.0, prepare_line(line))
    xy = np.cumsum(prepare_line(prime)[:, :2].astype(np.float64), 0)
    placed = np.cumsum(prepare_line(line)[:, :2].astype(np.float64), 0) + xy[-1, :2] + jump
    assert placed[0, 0] == pytest.approx(xy[:, 0].max() + 4.0)
    assert midline(placed, placed[0, 0]) == pytest.approx(midline(xy, placed[0, 0]), abs=1e-6)
    fed_jump = NormStats.from_json(NORM).denormalise(b.fed[len(prime) + 1]["x"])[0, :2]
    np.testing.assert_allclose(fed_jump, jump, rtol=1e-5, atol=1e-4)
    # only the line's points are scored, and the prime changes them
    unprimed = score_line(b, line, text="below", vocab=list(CHARS), norm=NORM)
    assert nll.shape == unprimed.shape == (20,) and not np.allclose(nll[1:], unprimed[1:])


def test_the_baseline_join_puts_the_line_on_the_primes_middle_whatever_letter_it_starts_with():
    # a prime on a baseline sloping down 0.1 per unit, whose middle band is y = 0.1 x (ascenders above it)
    x = np.linspace(0, 100, 201)
    prime_xy = np.stack([x, 0.1 * x + np.where(np.arange(201) % 10 == 0, -30.0, np.sin(x))], 1)
    prime = np.diff(np.vstack([[0, 0], prime_xy]), axis=0)
    prime = np.hstack([prime, np.zeros((len(prime), 1))])
    # the same line, once starting at an ascender's top (40 above its middle) and once at its middle
    body = np.stack([np.linspace(0, 60, 121), np.sin(np.linspace(0, 60, 121))], 1)
    middles = []
    for lead in (-40.0, 0.0):
        xy = np.vstack([[0.0, lead], body + [1.0, 0.0]])
        line = np.hstack([np.diff(np.vstack([[0, 0], xy]), axis=0), np.zeros((len(xy), 1))])
        jump = after_prime(prime, 8.0, line)
        start = prime_xy[-1] + jump
        assert start[0] == pytest.approx(108.0)
        # the line's middle (its first point - lead) lands on the prime's there (0.1 * 108, within the sine
        # of amplitude 1 both are drawn with), and does not depend on the line's first letter
        middles.append(start[1] - lead)
        assert middles[-1] == pytest.approx(10.8, abs=0.6)
        # the older join ignores the line: at the height the prime started
        assert (prime_xy[-1] + after_prime(prime, 8.0, line, join="start"))[1] == pytest.approx(prime_xy[0, 1])
    assert middles[0] == pytest.approx(middles[1], abs=0.05)
    with pytest.raises(ScribeError, match="unknown prime join"):
        after_prime(prime, 8.0, line, join="middle")


def test_the_pen_join_jumps_the_same_way_after_a_late_mark_the_baseline_join_does_not():
    # a flat prime (middle band y = 0) whose last stroke is a t-bar written late, ending 25 units left of its end
    x = np.linspace(0, 100, 201)
    word = np.stack([x, np.sin(x)], 1)
    bar = np.array([[65.0, -12.0], [75.0, -12.0]])
    pen = np.r_[np.zeros(200), 1.0, 0.0, 0.0]                 # the pen lifts after the word, the bar is drawn
    prime_xy = np.vstack([word, bar])
    prime = np.hstack([np.diff(np.vstack([[0, 0], prime_xy]), axis=0), pen[:, None]])
    body = np.stack([np.linspace(0, 60, 121), np.sin(np.linspace(0, 60, 121))], 1)
    line = np.hstack([np.diff(np.vstack([[0, 0], body]), axis=0), np.zeros((len(body), 1))])
    by_pen, by_edge = after_prime(prime, 8.0, line, join="pen"), after_prime(prime, 8.0, line, join="baseline")
    # "pen": a word space right of where the pen stopped, whatever the prime's last stroke was
    assert by_pen[0] == pytest.approx(8.0)
    # "baseline": right of the prime's rightmost point, so the jump's length depends on the late mark
    assert by_edge[0] == pytest.approx(100.0 + 8.0 - 75.0)
    # both put the line's middle on the prime's (y = 0 within the sine both are drawn with): 12 below the bar
    for jump in (by_pen, by_edge):
        assert (prime_xy[-1] + jump)[1] == pytest.approx(0.0, abs=0.6)


def test_log_jacobian():
    assert log_jacobian(NORM) == pytest.approx(math.log(3.0 * 2.5))
    assert log_jacobian(NORM, 0.5) == pytest.approx(math.log(3.0 * 2.5) + 2 * math.log(2))


def test_bad_input():
    st = TorchStepper(tiny("ink-synthesis").step_module())
    with pytest.raises(ScribeError, match="transcript"):
        score_line(st, random_line(5), vocab=list(CHARS), norm=NORM)
    with pytest.raises(ScribeError, match="cannot write"):
        score_line(st, random_line(5), text="xyz", vocab=list(CHARS), norm=NORM)
    with pytest.raises(ScribeError, match="no points"):
        score_line(st, np.zeros((0, 3)), text="hello", vocab=list(CHARS), norm=NORM)


def test_foci_follow_the_attention_and_change_nothing():
    """foci[i] is the attention's focus in the step whose output predicts point i (the last step before it)."""
    model = tiny("ink-synthesis", seed=5)
    prime, line = random_line(12, seed=7), random_line(20, seed=8)
    for kw, lead in (({}, 0), (dict(prime_stroke3=prime, prime_text="hold", gap=4.0), 1)):
        foci: list[int] = []
        rec = Recorder(TorchStepper(model.step_module()))
        nll = score_line(rec, line, text="below", vocab=list(CHARS), norm=NORM, foci=foci, **kw)
        plain = score_line(TorchStepper(model.step_module()), line, text="below", vocab=list(CHARS), norm=NORM, **kw)
        np.testing.assert_array_equal(nll, plain)
        # steps: START_ROW, the prime, then every line point but the last; the line's points use the last len(line)
        steps = rec.phis[len(rec.phis) - len(line):]
        want = [min(max(int(np.argmax(p[:-1])) - lead, 0), len("below") - 1) for p in steps]
        assert len(foci) == len(nll) == 20 and foci == want


def test_rank_primes_orders_candidates_by_the_primed_nll_of_the_other_lines():
    net = tiny("ink-synthesis", seed=4)
    step = TorchStepper(net.step_module())
    norm = NormStats.from_json(NORM)
    cands = [(random_line(n, seed=s), t) for n, s, t in ((14, 1, "hello"), (3, 2, "a"), (20, 3, "world wide"))]
    targets = [(random_line(12, seed=7), "hold"), (random_line(9, seed=8), "crew")]
    ranked = rank_primes(step, cands, targets, vocab=CHARS, norm=norm, gap=4.0)
    want = sorted((float(np.mean([score_line(step, s3, text=t, vocab=CHARS, norm=norm, prime_stroke3=p,
                                             prime_text=pt, gap=4.0).mean() for s3, t in targets])), k)
                  for k, (p, pt) in enumerate(cands))
    assert [k for _, k in ranked] == [k for _, k in want]
    np.testing.assert_allclose([v for v, _ in ranked], [v for v, _ in want])
    assert len({round(v, 6) for v, _ in ranked}) == 3      # the primes do change the scores
    with pytest.raises(ScribeError, match="at least one line"):
        rank_primes(step, cands, [], vocab=CHARS, norm=norm)
