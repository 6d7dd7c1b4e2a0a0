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


    # ---- explicit cell-by-cell stepping (the gradient-flow probe; a reference for the fused kernels) ---
    def layer_weights(self, i: int):
        """(w_ih, w_hh, b_ih, b_hh) of layer ``i`` in torch's gate layout."""
        m, j = (self.rnns[i], 0) if self.cfg.skip else (self.rnns[0], i)
        return (getattr(m, f"weight_ih_l{j}"), getattr(m, f"weight_hh_l{j}"),
                getattr(m, f"bias_ih_l{j}"), getattr(m, f"bias_hh_l{j}"))

    def step_cells(self, x: torch.Tensor, state=None):
        """One time step computed cell by cell from the layers' weights, so that each layer's new hidden
        state is ONE autograd node used both by the layer above (and the output) and by the next step.

        ``x``: (B, input). Returns (out (B, output_size), new_state in :meth:`forward`'s format,
        hs: list of the layers' new h, each (B, hidden)). No dropout (call it in eval mode)."""
        cfg = self.cfg
        lstm = cfg.cell == "lstm"
        B = x.shape[0]
        hs, cs = [], []
        below = None
        for i in range(cfg.layers):
            if state is None:
                h = x.new_zeros(B, cfg.hidden)
                c = x.new_zeros(B, cfg.hidden) if lstm else None
            else:
                entry = state[i] if cfg.skip else state[0]
                li = 0 if cfg.skip else i
                h = (entry[0] if lstm else entry)[li]
                c = entry[1][li] if lstm else None
            if cfg.skip:
                inp = x if below is None else torch.cat([x, below], dim=-1)
            else:
                inp = x if below is None else below
            h, c = cell_step(cfg.cell, inp, h, c, *self.layer_weights(i))
            hs.append(h)
            cs.append(c)
            below = h
        out = torch.cat(hs, dim=-1) if cfg.skip else hs[-1]
        if cfg.skip:
            new = [(h[None], c[None]) if lstm else h[None] for h, c in zip(hs, cs)]
        else:
            new = [(torch.stack(hs), torch.stack(cs)) if lstm else torch.stack(hs)]
        return out, new, hs


def cell_step(cell: str, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step of one torch-layout recurrent cell: returns (h_new, c_new) (c_new is None but for LSTM)."""
    gi = torch.nn.functional.linear(x, w_ih, b_ih)
    gh = torch.nn.functional.linear(h, w_hh, b_hh)
    if cell == "lstm":
        i, f, g, o = (gi + gh).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    if cell == "gru":
        ir, iz, in_ = gi.chunk(3, dim=-1)
        hr, hz, hn = gh.chunk(3, dim=-1)
        r = torch.sigmoid(ir + hr)
        z = torch.sigmoid(iz + hz)
        n = torch.tanh(in_ + r * hn)
        return (1 - z) * n + z * h, None
    if cell == "rnn-tanh":
        return torch.tanh(gi + gh), None
    if cell == "rnn-relu":
        return torch.relu(gi + gh), None
    raise ValueError(f"unknown cell {cell!r}")

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
    """Inverse of :func:`state_tensors`, shaped like ``template`` (a state of the same model)."""
    if isinstance(template, torch.Tensor):
        return tensors[prefix]
    items = [state_from_tensors(s, tensors, f"{prefix}.{i}") for i, s in enumerate(template)]
    return tuple(items) if isinstance(template, tuple) else items


def unflatten_state(tensors: dict[str, torch.Tensor], prefix: str = "state"):
    """Inverse of :func:`state_tensors` for a :class:`StackedRNN` state (a list per layer module whose
    entries are tensors, or (h, c) tuples for LSTM), without needing a template. None if empty."""
    keys = [k for k in tensors if k == prefix or k.startswith(prefix + ".")]
    if not keys:
        return None

    def build(pre: str, depth: int):
        if pre in tensors:
            return tensors[pre]
        n = 0
        while any(k == f"{pre}.{n}" or k.startswith(f"{pre}.{n}.") for k in keys):
            n += 1
        items = [build(f"{pre}.{i}", depth + 1) for i in range(n)]
        return items if depth == 0 else tuple(items)

    return build(prefix, 0)
