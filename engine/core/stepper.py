"""The stepper protocol: one time step of a model with explicit state, over torch or onnxruntime. No torch.

A *stepper* runs ONE time step of a model with explicit state:

    stepper.input_names, stepper.output_names      # lists of names
    stepper.initial_state() -> dict[str, np.ndarray]  # zero state, batch 1
    stepper.step(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]

A state input ``s`` comes back as output ``s_out``. ``engine.models.torch_stepper.TorchStepper`` wraps an exportable torch
step module (``CharLMStep``, the handwriting step modules); ``engine.runtime`` wraps an onnxruntime
session. The loops (``engine.core.text_stream`` and ``engine.core.ink_stream``) only see numpy arrays and draw with
``engine.core.sampling``, so the same seed gives the same output on both backends.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Stepper(Protocol):
    input_names: list[str]
    output_names: list[str]

    def initial_state(self) -> dict[str, np.ndarray]: ...

    def step(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


def state_names(stepper) -> list[str]:
    """The recurrent-state inputs of a stepper: inputs ``s`` that come back as ``s_out``."""
    outs = set(stepper.output_names)
    return [n for n in stepper.input_names if f"{n}_out" in outs]
