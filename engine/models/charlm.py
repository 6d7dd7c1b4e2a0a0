"""Character language model: embedding -> stacked RNN (optional Graves skips) -> logits."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from engine.models.rnn import RNNConfig, StackedRNN


@dataclass
class CharLMConfig:
    vocab_size: int
    cell: str = "lstm"
    layers: int = 2
    hidden: int = 512
    embed: int = 64
    dropout: float = 0.0
    skip: bool = False
    orthogonal_init: bool = True
    gate_bias: float = 1.0

    def rnn(self) -> RNNConfig:
        return RNNConfig(cell=self.cell, layers=self.layers, hidden=self.hidden, dropout=self.dropout,
                         skip=self.skip, orthogonal_init=self.orthogonal_init, gate_bias=self.gate_bias)


class CharLM(nn.Module):
    def __init__(self, cfg: CharLMConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed)
        self.rnn = StackedRNN(cfg.embed, cfg.rnn())
        self.head = nn.Linear(self.rnn.output_size, cfg.vocab_size)

    @classmethod
    def from_config(cls, d: dict) -> "CharLM":
        return cls(CharLMConfig(**d))

    def config_dict(self) -> dict:
        return asdict(self.cfg)

    def forward(self, ids: torch.Tensor, state=None):
        h, state = self.rnn(self.embed(ids), state)
        return self.head(h), state


class CharLMStep(nn.Module):
    """One sampling step of a :class:`CharLM` with explicit state, for ONNX export and the shared
    numpy sampling loop (the stepper protocol: ``engine.core.stepper``).

    Inputs: ``x`` int64 (1, 1) and the state, ``h`` (layers, 1, hidden) (+ ``c`` for LSTM).
    Outputs: ``logits`` (1, V) and the new state ``h_out`` (+ ``c_out``).
    """

    def __init__(self, lm: CharLM):
        super().__init__()
        self.lm = lm
        cfg = lm.cfg
        self.lstm = cfg.cell == "lstm"
        self.layers, self.hidden = cfg.layers, cfg.hidden
        self.state_names = ["h", "c"] if self.lstm else ["h"]
        self.input_names = ["x"] + self.state_names
        self.output_names = ["logits"] + [f"{n}_out" for n in self.state_names]

    def initial_state(self) -> dict:
        import numpy as np

        return {n: np.zeros((self.layers, 1, self.hidden), dtype=np.float32) for n in self.state_names}

    def example_inputs(self) -> tuple:
        x = torch.zeros(1, 1, dtype=torch.long)
        return (x,) + tuple(torch.from_numpy(v) for v in self.initial_state().values())

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor | None = None):
        if self.lm.cfg.skip:  # one module per layer: split the stacked state
            state = [(h[i:i + 1], c[i:i + 1]) if self.lstm else h[i:i + 1] for i in range(self.layers)]
        else:
            state = [(h, c) if self.lstm else h]
        out, new = self.lm.rnn(self.lm.embed(x), state)
        logits = self.lm.head(out[:, -1])
        if self.lm.cfg.skip:
            h_new = torch.cat([s[0] if self.lstm else s for s in new], dim=0)
            c_new = torch.cat([s[1] for s in new], dim=0) if self.lstm else None
        else:
            h_new, c_new = (new[0] if self.lstm else (new[0], None))
        return (logits, h_new, c_new) if self.lstm else (logits, h_new)
