"""A stepper (``engine.core.stepper``) over a torch step module: the torch side of the shared sampling loops."""

from __future__ import annotations

import numpy as np
import torch


class TorchStepper:
    """A stepper over a torch step module (inputs/outputs in ``input_names``/``output_names`` order)."""

    def __init__(self, module, device="cpu"):
        self.module = module.eval()
        self.device = torch.device(device)
        self.module.to(self.device)
        self.input_names = list(module.input_names)
        self.output_names = list(module.output_names)

    def initial_state(self) -> dict[str, np.ndarray]:
        return {k: _to_numpy(v) for k, v in self.module.initial_state().items()}

    def step(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
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
