"""Character language model: embedding -> stacked RNN (optional Graves skips) -> logits."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .rnn import RNNConfig, StackedRNN


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

    def hidden_sequence(self, ids: torch.Tensor, state=None):
        """Per-layer hidden sequences and logits, for the gradient-flow probe."""
        h, state = self.rnn(self.embed(ids), state)
        return h, self.head(h)
