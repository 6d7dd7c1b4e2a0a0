"""Stacked recurrent networks with the lecture's tools against vanishing/exploding gradients.

- cells: rnn-tanh, rnn-relu, gru, lstm
- orthogonal init of the recurrent matrices (per gate block)
- forget-gate (LSTM) / update-gate (GRU) bias init
- Graves' skip wiring: the input feeds every layer, every layer feeds the output
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

CELLS = ("rnn-tanh", "rnn-relu", "gru", "lstm")


@dataclass
class RNNConfig:
    cell: str = "lstm"
    layers: int = 2
    hidden: int = 512
    dropout: float = 0.0
    skip: bool = False
    orthogonal_init: bool = True
    gate_bias: float = 1.0  # LSTM forget-gate bias / GRU update-gate bias


def _make_layer(cell: str, input_size: int, hidden: int, num_layers: int = 1, dropout: float = 0.0):
    kw = dict(input_size=input_size, hidden_size=hidden, num_layers=num_layers, batch_first=True,
              dropout=dropout if num_layers > 1 else 0.0)
    if cell == "lstm":
        return nn.LSTM(**kw)
    if cell == "gru":
        return nn.GRU(**kw)
    if cell in ("rnn-tanh", "rnn-relu"):
        return nn.RNN(nonlinearity=cell.split("-")[1], **kw)
    raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}")


def init_recurrent(module: nn.RNNBase, cell: str, orthogonal: bool, gate_bias: float) -> None:
    """Orthogonal recurrent weights per gate block and gate-bias init for a torch RNN module."""
    h = module.hidden_size
    for name, p in module.named_parameters():
        with torch.no_grad():
            if name.startswith("weight_hh") and orthogonal:
                for k in range(p.shape[0] // h):
                    nn.init.orthogonal_(p[k * h:(k + 1) * h])
            elif name.startswith("weight_ih"):
                nn.init.xavier_uniform_(p)
            elif name.startswith("bias"):
                p.zero_()
                if cell == "lstm" and name.startswith("bias_ih"):
                    p[h:2 * h] = gate_bias  # gates i, f, g, o
                if cell == "gru" and name.startswith("bias_ih"):
                    p[h:2 * h] = gate_bias  # gates r, z, n: z>0 keeps the previous state


class StackedRNN(nn.Module):
    """A stack of recurrent layers over (B, T, input) sequences.

    Without skip connections this is one fused multi-layer module (cuDNN on GPU). With skip
    connections each layer sees [input, h_below] and ``forward`` returns all layers' outputs
    concatenated so an output layer can sum per-layer projections.
    State is a list (one entry per layer; LSTM entries are (h, c) tuples) or None.
    """

    def __init__(self, input_size: int, cfg: RNNConfig):
        super().__init__()
        if cfg.cell not in CELLS:
            raise ValueError(f"unknown cell {cfg.cell!r}; choose one of {', '.join(CELLS)}")
        self.cfg = cfg
        self.input_size = input_size
        if cfg.skip:
            self.rnns = nn.ModuleList(
                _make_layer(cfg.cell, input_size + (cfg.hidden if i else 0), cfg.hidden)
                for i in range(cfg.layers))
        else:
            self.rnns = nn.ModuleList([_make_layer(cfg.cell, input_size, cfg.hidden, cfg.layers, cfg.dropout)])
        self.drop = nn.Dropout(cfg.dropout)
        for m in self.rnns:
            init_recurrent(m, cfg.cell, cfg.orthogonal_init, cfg.gate_bias)

    @property
    def output_size(self) -> int:
        return self.cfg.hidden * (self.cfg.layers if self.cfg.skip else 1)

    def forward(self, x: torch.Tensor, state=None):
        if not self.cfg.skip:
            st = None if state is None else state[0]
            out, new = self.rnns[0](x, st)
            return self.drop(out), [new]
        outs, new_state = [], []
        below = None
        for i, rnn in enumerate(self.rnns):
            inp = x if below is None else torch.cat([x, self.drop(below)], dim=-1)
            out, st = rnn(inp, None if state is None else state[i])
            new_state.append(st)
            outs.append(out)
            below = out
        return self.drop(torch.cat(outs, dim=-1)), new_state

    def layer_outputs(self, x: torch.Tensor, state=None):
        """Per-layer hidden sequences (used by the gradient-flow probe)."""
        if not self.cfg.skip:
            # run layer by layer through the fused module's weights is not possible; return top only
            out, st = self.forward(x, state)
            return [out], st
        out, st = self.forward(x, state)
        return list(out.split(self.cfg.hidden, dim=-1)), st


def detach_state(state):
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return type(state)(detach_state(s) for s in state) if isinstance(state, tuple) else [detach_state(s) for s in state]


def state_tensors(state, prefix: str = "state") -> dict[str, torch.Tensor]:
    """Flatten a nested state into named tensors (for checkpoints and ONNX I/O)."""
    out: dict[str, torch.Tensor] = {}
    if state is None:
        return out
    if isinstance(state, torch.Tensor):
        out[prefix] = state
        return out
    for i, s in enumerate(state):
        out.update(state_tensors(s, f"{prefix}.{i}"))
    return out


def state_from_tensors(template, tensors: dict[str, torch.Tensor], prefix: str = "state"):
    if isinstance(template, torch.Tensor):
        return tensors[prefix]
    items = [state_from_tensors(s, tensors, f"{prefix}.{i}") for i, s in enumerate(template)]
    return tuple(items) if isinstance(template, tuple) else items
