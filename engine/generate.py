"""Steppers and the numpy text-sampling loop shared by the torch and ONNX paths. No torch at import.

A *stepper* runs ONE time step of a model with explicit state (see the contracts):

    stepper.input_names, stepper.output_names      # lists of names
    stepper.initial_state() -> dict[str, np.ndarray]  # zero state, batch 1
    stepper.step(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]

A state input ``s`` comes back as output ``s_out``. :class:`TorchStepper` wraps an exportable torch
step module (``CharLMStep``, the handwriting step modules); ``engine.runtime`` wraps an onnxruntime
session. The loops below (and ``engine.ink.generate.ink_stream``) only see numpy arrays and draw with
``engine.sampling``, so the same seed gives the same output on both backends.
"""

from __future__ import annotations

from typing import Iterator, Protocol

import numpy as np

from engine.errors import ScribeError
from engine.sampling import make_rng, sample_logits


class Stepper(Protocol):
    input_names: list[str]
    output_names: list[str]

    def initial_state(self) -> dict[str, np.ndarray]: ...

    def step(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


def state_names(stepper) -> list[str]:
    """The recurrent-state inputs of a stepper: inputs ``s`` that come back as ``s_out``."""
    outs = set(stepper.output_names)
    return [n for n in stepper.input_names if f"{n}_out" in outs]


class TorchStepper:
    """A stepper over a torch step module (inputs/outputs in ``input_names``/``output_names`` order)."""

    def __init__(self, module, device="cpu"):
        import torch

        self.module = module.eval()
        self.device = torch.device(device)
        self.module.to(self.device)
        self.input_names = list(module.input_names)
        self.output_names = list(module.output_names)

    def initial_state(self) -> dict[str, np.ndarray]:
        return {k: _to_numpy(v) for k, v in self.module.initial_state().items()}

    def step(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        with torch.inference_mode():
            args = [torch.from_numpy(np.ascontiguousarray(feeds[n])).to(self.device) for n in self.input_names]
            outs = self.module(*args)
        return {n: _to_numpy(o) for n, o in zip(self.output_names, outs)}


def _to_numpy(v) -> np.ndarray:
    if hasattr(v, "detach"):  # a torch tensor
        v = v.detach()
        if v.is_floating_point():
            v = v.float()
        return v.cpu().numpy()
    return np.asarray(v)


def text_stream(stepper, vocab, prime: str, length: int, temperature: float = 1.0,
                top_k: int | None = None, seed: int | None = None, context: str = "") -> Iterator[str]:
    """Stream ``length`` sampled characters (one per item) after teacher-forcing ``prime``.

    ``vocab`` is an ``engine.vocab.Vocab``. ``context`` (a model card's "context": a paragraph of its
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
