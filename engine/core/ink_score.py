"""How likely a handwriting model finds a line of ink: teacher-forced negative log-likelihood over a stepper.
No torch.

:func:`score_line` feeds a line's points (stroke-3, raw units) through a stepper one step at a time exactly
as ``engine.core.ink_stream.ink_stream`` feeds a prime (START_ROW first, normalised with the model's
``NormStats``; a synthesis stepper reads the line's text through its attention window) and returns the
negative log-likelihood of each point under the mixture the model output one step before
(:func:`mdn_log_prob`: M bivariate Gaussians over (dx, dy) in normalised units + a Bernoulli pen bit, the
loss of ``engine.models.mdn`` in numpy). Unprimed, the sum equals the trainer's loss for the line.

Primed (``prime_stroke3``): the prime is teacher-forced first, along the path ``ink_stream`` takes (the
window reads the prime's transcript, kept on the word its ink is at (``engine.core.prime_guide``), then is
placed at ``WINDOW_LEAD`` + the line's text before the prime's last point); only the line's points are
scored. Training pairs leave the window free through the prime: ``guide_prime=False`` scores as they do. Its first point, a line's origin, is then the jump
from the end of the prime to where the line starts, as if the line were the next word (:func:`after_prime`):
a word space (``gap``) right of where the pen stopped (the ``"pen"`` join) or of the prime's rightmost point
(``"baseline"``), with the line's middle band continuing the prime's (the ``"start"`` join of older models:
right of the rightmost point, at the height the prime started).

Units: the figures are in the model's normalised units. For the data's own units add
:func:`log_jacobian` per point (the normalisation and any scaling of the ink).
"""

from __future__ import annotations

import math

import numpy as np

from engine.core.errors import ScribeError
from engine.core.ink_stream import (
    Start,
    _as_norm,
    _as_vocab,
    check_text,
    focus,
    line_start,
    prepare_line,
    start_key,
    stepping,
)

# the bounds engine.models.mdn.constrain puts on the mixture (kept equal to it; tested)
LOG_SIGMA_MIN = -6.0
RHO_MAX = 0.999
_RHO_HAT_MAX = math.atanh(RHO_MAX)
_LOG_2PI = math.log(2 * math.pi)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def mdn_log_prob(y, target) -> np.ndarray:
    """log p(target | y) per step, float64: y (..., 6M+1) raw MDN outputs (layout of
    ``engine.core.sampling.mdn_params``), target (..., 3) = (dx, dy, pen) in normalised units.

    The same as ``engine.models.mdn.log_prob``: sigmas floored at exp(LOG_SIGMA_MIN), |rho| <= RHO_MAX,
    log-softmax + log-sum-exp over the components, the pen bit as a logistic log-likelihood."""
    y = np.asarray(y, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    m = (y.shape[-1] - 1) // 6
    e_hat = y[..., 0]
    rest = y[..., 1:].reshape(*y.shape[:-1], 6, m)
    pi_hat, mu1, mu2 = rest[..., 0, :], rest[..., 1, :], rest[..., 2, :]
    s1 = np.maximum(rest[..., 3, :], LOG_SIGMA_MIN)
    s2 = np.maximum(rest[..., 4, :], LOG_SIGMA_MIN)
    rho = np.tanh(np.clip(rest[..., 5, :], -_RHO_HAT_MAX, _RHO_HAT_MAX))
    z1 = (t[..., 0:1] - mu1) * np.exp(-s1)
    z2 = (t[..., 1:2] - mu2) * np.exp(-s2)
    one_m = 1.0 - rho * rho
    zz = z1 * z1 + z2 * z2 - 2.0 * rho * z1 * z2
    log_n = -zz / (2.0 * one_m) - _LOG_2PI - s1 - s2 - 0.5 * np.log(one_m)
    a = _log_softmax(pi_hat) + log_n
    top = a.max(axis=-1, keepdims=True)
    log_xy = top[..., 0] + np.log(np.exp(a - top).sum(axis=-1))
    log_e = t[..., 2] * e_hat - np.logaddexp(0.0, e_hat)     # -BCE with logits, stable
    return log_xy + log_e


def log_jacobian(norm, scale: float = 1.0) -> float:
    """What one point's NLL gains from the model's normalised units back to the data's own units, for
    ink that was multiplied by ``scale`` before normalising (z = (scale * d - mean) / std):
    log(std_x * std_y) - 2 log(scale). The pen bit needs none."""
    norm = _as_norm(norm)
    return float(np.log(norm.std[0]) + np.log(norm.std[1]) - 2.0 * math.log(scale))


GAP_X_HEIGHTS = 0.6   # the word space between a prime and a line after it, in x-heights (scoring and training)


# how a line written after a prime is placed (a model's card records its join in ``ink_scale``; see after_prime)
JOINS = ("pen", "baseline", "start")
TRAIN_JOINS = JOINS[:2]   # what training pairs can use (scribe train ink --join); "start" is only read from old cards
MAX_LINE_SLOPE = 0.3   # a steeper fitted slope is the shape of the writing, not the line's (also prime.y_band)


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    """A line's slope, robust to ascenders, descenders and stray marks: the median slope between points at
    least a quarter of the line's width apart (at most 120 points, evenly spread, are paired). 0 when the
    line is too short or the slope is steeper than ``MAX_LINE_SLOPE``."""
    if len(x) < 2 or not np.ptp(x) > 0:
        return 0.0
    k = np.unique(np.linspace(0, len(x) - 1, min(len(x), 120)).astype(np.int64))
    dx = x[k][None, :] - x[k][:, None]
    dy = y[k][None, :] - y[k][:, None]
    far = dx > 0.25 * np.ptp(x)
    if not far.any():
        return 0.0
    slope = float(np.median(dy[far] / dx[far]))
    return slope if abs(slope) < MAX_LINE_SLOPE else 0.0


def midline(xy: np.ndarray, at_x: float) -> float:
    """The height of a line's middle at ``at_x`` (points (n, 2), absolute): the median of its points'
    heights around the line's slope (:func:`_slope`); the median ignores ascenders, descenders and capitals."""
    x, y = xy[:, 0], xy[:, 1]
    slope = _slope(x, y)
    return float(np.median(y - slope * x) + slope * at_x)


def after_prime(prime_stroke3, gap: float, line_stroke3, join: str = "baseline") -> np.ndarray:
    """The (dx, dy) jump (raw units) from a prime's last point to where a line written after it starts,
    by ``join``:

    - ``"pen"``: ``gap`` right of the prime's last point, the line's middle (:func:`midline`, at its first
      point) on the prime's middle carried on to there. The jump's length is then the same after every prime,
      so a model need not work out how far left of the prime's end its last stroke (a late i-dot or t-bar)
      was; the letters after a prime still sit on the prime's baseline whatever letter each line starts with.
      Where the line lands along x does not show: the app's page places each line by its own ink;
    - ``"baseline"``: as ``"pen"``, but ``gap`` right of the prime's rightmost point, as the next word of
      the prime's line would be;
    - ``"start"`` (the join of models trained before the baseline join): ``gap`` right of the rightmost
      point, at the height of the prime's first point (a line that starts with a capital after one that
      starts with a small letter sits lower)."""
    if join not in JOINS:
        raise ScribeError(f"unknown prime join {join!r} (expected one of {', '.join(JOINS)})")
    a = np.asarray(prime_stroke3, dtype=np.float64).reshape(-1, 3)
    xy = np.cumsum(a[:, :2], axis=0)
    x0 = (xy[-1, 0] if join == "pen" else xy[:, 0].max()) + gap
    if join != "start":
        b = np.asarray(line_stroke3, dtype=np.float64).reshape(-1, 3)
        own = np.cumsum(b[:, :2], axis=0) - b[0, :2]            # the line from its first point
        y0 = midline(xy, x0) - midline(own, 0.0)
    else:
        y0 = xy[0, 1]
    return np.array([x0 - xy[-1, 0], y0 - xy[-1, 1]], dtype=np.float64)


def score_line(stepper, stroke3, *, text: str = "", vocab=None, norm=None, prime_stroke3=None,
               prime_text: str | None = None, gap: float = 0.0, join: str = "baseline",
               foci: list | None = None, guide_prime: bool = True, start: Start | None = None) -> np.ndarray:
    """Negative log-likelihood (nats, normalised units) of each point of ``stroke3`` (a line in the model's
    raw units; its first point is moved to the origin), teacher-forced through ``stepper``: (n,) float64.

    text: the line's transcript (synthesis steppers; ScribeError if missing or not writable). prime_stroke3 /
    prime_text: teacher-force another line first (see the module docstring); ``gap``: the word space (raw
    units) between the prime and the line; ``join``: how the line is placed after it (:func:`after_prime`;
    the model's ``InkScale.join``). foci: a list that gets, for each point (synthesis steppers), the
    index in ``text`` of the character the attention is on when the point is predicted. guide_prime: keep the
    window on the prime's ink while it is forced, as sampling does (``engine.core.prime_guide``). start: the state
    with the prime already forced (``engine.core.ink_stream.line_start`` for the same text, prime and options;
    ValueError otherwise), as the takes of a line share it."""
    synthesis = "chars" in stepper.input_names
    norm = _as_norm(norm)
    vocab = _as_vocab(vocab)
    line = prepare_line(stroke3)
    if len(line) == 0:
        raise ScribeError("the line has no points")
    prime = None if prime_stroke3 is None else prepare_line(prime_stroke3)
    if prime is not None and len(prime) == 0:
        prime = None
    for what, a in (("line", line), ("priming ink", prime)):
        if a is not None and not np.all(np.isfinite(a)):
            raise ScribeError(f"the {what} has non-finite coordinates")
    if prime is not None:
        line[0, :2] = after_prime(prime, gap, line, join)
    if synthesis:
        if vocab is None:
            raise ScribeError("a synthesis model needs its character set (vocab) to read the text")
        if not text:
            raise ScribeError("a synthesis model needs the line's transcript to score it")
        check_text(text, vocab)
    text, prime_text = (text, prime_text if prime is not None else None) if synthesis else ("", None)
    if start is None:
        start = line_start(stepper, text=text, vocab=vocab, norm=norm, prime_stroke3=prime, prime_text=prime_text,
                           guide_prime=guide_prime)
    else:
        given = None if prime is None else np.asarray(prime_stroke3, dtype=np.float32).reshape(-1, 3)
        if start.key != start_key(stepper, text, given, prime_text, True, guide_prime and synthesis):
            raise ValueError("this line start was forced for another model, text or prime")
    feeds, res = start.state()
    step = stepping(stepper, feeds)
    watched = [focus(res["phi"]) - start.new_at] if foci is not None and synthesis else []

    def advance(row) -> dict:
        res = step(row)
        if foci is not None and synthesis:
            watched.append(focus(res["phi"]) - start.new_at)
        return res

    def normalised(a: np.ndarray) -> np.ndarray:
        return norm.normalise(a) if norm is not None else a.astype(np.float32)

    target = normalised(line)
    y = np.asarray(res["y"], dtype=np.float64).reshape(-1)
    ys = np.empty((len(target), y.size), dtype=np.float64)
    for i, row in enumerate(target):
        ys[i] = y
        if i < len(target) - 1:
            y = np.asarray(advance(row)["y"], dtype=np.float64).reshape(-1)
    if foci is not None and synthesis:
        foci.extend(min(max(f, 0), len(text) - 1) for f in watched)
    return -mdn_log_prob(ys, target)


def rank_primes(stepper, candidates, targets, *, vocab=None, norm=None, gap: float = 0.0,
                join: str = "baseline") -> list[tuple[float, int]]:
    """Which of a writer's lines tells the model most about the writer: for each candidate prime
    (stroke-3, text), the mean primed NLL per point of the writer's other lines ``targets`` (stroke-3, text)
    scored after it (:func:`score_line`). Returns ``(nats per point, candidate index)`` pairs, best first."""
    if not targets:
        raise ScribeError("ranking primes needs at least one line to score after them")
    ranked = []
    for k, (prime, prime_text) in enumerate(candidates):
        per_line = [score_line(stepper, s3, text=text, vocab=vocab, norm=norm, prime_stroke3=prime,
                               prime_text=prime_text, gap=gap, join=join).mean() for s3, text in targets]
        ranked.append((float(np.mean(per_line)), k))
    return sorted(ranked)
