"""The numpy text-sampling loop shared by the torch and ONNX steppers (``engine.core.stepper``). No torch."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from engine.core.errors import ScribeError
from engine.core.sampling import make_rng, sample_logits
from engine.core.stepper import state_names


def text_stream(stepper, vocab, prime: str, length: int, temperature: float = 1.0,
                top_k: int | None = None, seed: int | None = None, context: str = "") -> Iterator[str]:
    """Stream ``length`` sampled characters (one per item) after teacher-forcing ``prime``.

    ``vocab`` is an ``engine.core.vocab.Vocab``. ``context`` (a model card's "context": a paragraph of its
    training text) is fed before the prime so sampling starts from a warmed-up state rather than the
    zero state, which a model trained with carried (TBPTT) state rarely sees; characters of it the
    vocabulary lacks are skipped. An empty prime (and context) starts from the vocabulary's first
    character. Stopping early = closing the generator.
    """
    unknown = vocab.unknown(prime)
    if unknown:
        raise ScribeError(f"the prime uses characters this model does not know: {''.join(unknown)!r}")
    if not prime:
        prime = vocab.chars[0]
    if length <= 0:
        return
    rng = make_rng(seed)
    states = state_names(stepper)
    outs = {f"{n}_out": n for n in states}
    x = np.zeros((1, 1), dtype=np.int64)
    feeds = {"x": x, **stepper.initial_state()}
    chars = vocab.chars

    def advance(i: int) -> np.ndarray:
        x[0, 0] = i
        res = stepper.step(feeds)
        for o, n in outs.items():
            feeds[n] = res[o]
        return res["logits"]

    warm = "".join(c for c in (context or "") if c in vocab)
    for i in vocab.encode(warm + prime):
        logits = advance(int(i))
    for k in range(length):
        i = sample_logits(logits[0], rng, temperature, top_k)
        yield chars[i]
        if k + 1 < length:
            logits = advance(i)
