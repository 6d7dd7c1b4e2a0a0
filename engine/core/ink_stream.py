"""Handwriting generation as a numpy loop over a *stepper* (torch or ONNX; see ``engine.core.stepper``). No torch.

:func:`ink_stream` yields pen points (dx, dy, pen_up) in RAW units (y down), one per model step:

- biased sampling (``engine.core.sampling.sample_mdn``: sigma = exp(sigma_hat - b), pi = softmax(pi_hat (1 + b)),
  the pen bit unbiased);
- primed sampling: the prime's points (stroke-3 + transcript) are teacher-forced in normalised units
  while the window reads ``prime_text + " " + text``; then the new text is written in that style;
- the stop rule (synthesis): stop once phi(t, U+1) > phi(t, u) for every real character u, i.e. the
  attention has moved past the text (letting the stroke in progress finish: stop at its pen-up, at most
  ``finish_stroke`` points later); plus a step cap (``steps_per_char`` x characters) so a sample
  never scribbles on. The last point always lifts the pen.

The same seed gives the same points on every backend (all randomness is drawn here).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from engine.core.errors import ScribeError
from engine.core.sampling import make_rng, sample_mdn

START_ROW = np.array([0.0, 0.0, 1.0], dtype=np.float32)  # "pen was up": the first input of every line
DEFAULT_STEPS_PER_CHAR = 40
DEFAULT_PREDICTION_STEPS = 700
DEFAULT_FINISH_STROKE = 40   # after the stop rule fires, points allowed to finish the stroke in progress


def prepare_line(stroke3) -> np.ndarray:
    """A line as the models see it (raw units): the first point at the origin (first row's offset zeroed)."""
    a = np.array(stroke3, dtype=np.float32, copy=True).reshape(-1, 3)
    if len(a):
        a[0, :2] = 0.0
    return a


def _as_vocab(vocab):
    from engine.core.vocab import Vocab

    if vocab is None or isinstance(vocab, Vocab):
        return vocab
    return Vocab.from_json(list(vocab))


def _as_norm(norm):
    from engine.core.norm import NormStats

    if norm is None or isinstance(norm, NormStats):
        return norm
    return NormStats.from_json(norm)


def check_text(text: str, vocab) -> None:
    """ScribeError naming the characters of ``text`` the model cannot write."""
    unknown = _as_vocab(vocab).unknown(text)
    if unknown:
        names = ", ".join(repr(c) for c in unknown)
        raise ScribeError(f"this handwriting model cannot write {len(unknown)} character(s) of the text: {names}")


def one_hot(text: str, vocab) -> np.ndarray:
    """(1, U, V) float32 one-hot rows of ``text``."""
    vocab = _as_vocab(vocab)
    check_text(text, vocab)
    ids = np.asarray(vocab.encode(text), dtype=np.int64)
    out = np.zeros((1, len(ids), len(vocab)), dtype=np.float32)
    out[0, np.arange(len(ids)), ids] = 1.0
    return out


def past_end(phi: np.ndarray) -> bool:
    """The stop rule: attention on the past-the-end position exceeds attention on every real character."""
    phi = np.asarray(phi).reshape(-1)
    return bool(phi.size > 1 and phi[-1] > phi[:-1].max())


def ink_stream(stepper, *, text: str = "", vocab=None, norm=None, bias: float = 0.5, prime_stroke3=None,
               prime_text: str | None = None, seed: int | None = None, max_steps: int | None = None,
               steps_per_char: int = DEFAULT_STEPS_PER_CHAR, include_prime: bool = False,
               finish_stroke: int = DEFAULT_FINISH_STROKE, stats: dict | None = None) -> Iterator[np.ndarray]:
    """Yield (3,) float32 points (dx, dy, pen_up) in raw units.

    stepper: ``input_names``, ``output_names``, ``initial_state()``, ``step(feeds)``. A stepper with a
    ``chars`` input is a synthesis model (``text`` required, ``vocab`` = its characters).
    norm: ``NormStats`` or its JSON (None: identity). max_steps caps the NEW points (default
    ``steps_per_char`` x len(text) for synthesis, 700 for prediction). finish_stroke: once the stop rule
    fires, the stroke in progress may continue for up to this many points until the pen lifts (the
    attention often leaves the last character while its final stroke is still being drawn); 0 stops at
    once. include_prime: yield the prime's points first (unchanged). stats: if given, filled with ``steps``, ``stopped`` ("stop-rule" | "cap").
    Stopping early = closing the generator.
    """
    from engine.core.stepper import state_names

    synthesis = "chars" in stepper.input_names
    norm = _as_norm(norm)
    vocab = _as_vocab(vocab)
    prime = None if prime_stroke3 is None else np.asarray(prime_stroke3, dtype=np.float32).reshape(-1, 3)
    if prime is not None and len(prime) == 0:
        prime = None
    if prime is not None and not np.all(np.isfinite(prime)):
        raise ScribeError("the priming ink has non-finite coordinates")
    if synthesis:
        if vocab is None:
            raise ScribeError("a synthesis model needs its character set (vocab) to write text")
        if not text:
            raise ScribeError("give some text to write")
        if prime is not None and not prime_text:
            raise ScribeError("priming a synthesis model needs the transcript of the priming ink (prime_text)")
        if prime_text and prime is None:
            raise ScribeError("a prime text was given without priming ink")
        full = (prime_text + " " + text) if prime is not None else text
        check_text(full, vocab)
        cap = max_steps if max_steps is not None else steps_per_char * len(text)
    else:
        full = ""
        cap = max_steps if max_steps is not None else DEFAULT_PREDICTION_STEPS
    cap = max(int(cap), 1)

    rng = make_rng(seed)
    states = state_names(stepper)
    feeds = {"x": np.zeros((1, 3), dtype=np.float32)}
    feeds.update({k: np.asarray(v, dtype=np.float32) for k, v in stepper.initial_state().items()})
    if synthesis:
        feeds["chars"] = one_hot(full, vocab)

    def advance(row) -> dict:
        feeds["x"] = np.asarray(row, dtype=np.float32).reshape(1, 3)
        res = stepper.step(feeds)
        for n in states:
            feeds[n] = res[f"{n}_out"]
        return res

    def to_raw(pt: np.ndarray) -> np.ndarray:
        return (norm.denormalise(pt[None])[0] if norm is not None else pt.astype(np.float32)).astype(np.float32)

    res = advance(START_ROW)
    if prime is not None:
        forced = prepare_line(prime)
        forced = norm.normalise(forced) if norm is not None else forced
        for raw_row, row in zip(prime, forced):
            if include_prime:
                yield raw_row.copy()
            res = advance(row)
    stopped = "cap"
    steps = 0
    ending = False          # the attention has moved past the text: finish the current stroke, then stop
    end_at = cap            # the step by which the stroke being finished must end
    for i in range(cap):
        pt = sample_mdn(res["y"][0], rng, bias)
        steps += 1
        last = i == cap - 1
        if ending and (pt[2] >= 0.5 or steps >= end_at):
            stopped, last = "stop-rule", True
        if not last:
            res = advance(pt)
            if synthesis and not ending and past_end(res["phi"]):
                ending, end_at = True, steps + finish_stroke
                if pt[2] >= 0.5 or finish_stroke <= 0:
                    stopped, last = "stop-rule", True
        if last:
            pt[2] = 1.0
        yield to_raw(pt)
        if last:
            break
    if stats is not None:
        stats.update(steps=steps, stopped=stopped)


def ink_sample(stepper, **kw) -> np.ndarray:
    """:func:`ink_stream` collected into an (n, 3) float32 stroke-3 array."""
    pts = list(ink_stream(stepper, **kw))
    return np.stack(pts).astype(np.float32) if pts else np.zeros((0, 3), dtype=np.float32)
