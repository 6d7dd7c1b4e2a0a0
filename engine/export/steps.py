"""Export-optimised single-step modules ("fused" graphs) for the three model kinds.

Batch-1 sampling is bound by how many weight bytes each step streams through the CPU, plus a fixed cost
per graph node. The models' own step modules (``CharLMStep``, ``PredictionStep``, ``SynthesisStep``) export
through torch's RNN ops, which onnxruntime runs as LSTM/GRU kernels wrapped in layout shuffles, with
weights that are computed (reshaped) rather than stored. Here every recurrent layer is ONE matrix
product over [input, h] with a pre-concatenated, pre-transposed weight matrix stored as a plain
initializer, followed by the gate nonlinearities; the MDN constraint is one max/min against constant
bounds. That gives a graph with fewer nodes, and weights that onnxruntime's dynamic int8 quantization
can handle for every cell type (the LSTM op path quantizes LSTMs only).

These modules re-state the models' step math from their weights, so they are never trusted on their
own: ``engine.export.exporter`` checks every exported graph against the model's OWN step module (50 chained
steps, 1e-4). If a model changes in a way these modules do not follow, export fails loudly (or, with
``graph="reference"``, exports the model's own step module instead).

Same stepper protocol: ``input_names``, ``output_names``, ``dynamic_axes``, ``example_inputs()``,
``initial_state()``; the same input/output names and shapes as the reference step module.
"""

from __future__ import annotations

import torch
from torch import nn


def fused_step_module(model, kind: str):
    """The fused step module for ``model``, or None when this model structure is not supported."""
    name = type(model).__name__
    if kind == "text" and name == "CharLM":
        return FusedCharLMStep(model).eval()
    if kind == "ink-prediction" and name == "PredictionNet":
        return FusedPredictionStep(model).eval()
    if kind == "ink-synthesis" and name == "SynthesisNet":
        return FusedSynthesisStep(model).eval()
    return None


def _param(t: torch.Tensor) -> nn.Parameter:
    return nn.Parameter(t.detach().clone().contiguous(), requires_grad=False)


class FusedCell(nn.Module):
    """One recurrent cell (torch gate layout) as matrix products on [x, h]."""

    def __init__(self, cell: str, w_ih, w_hh, b_ih, b_hh):
        super().__init__()
        self.cell = cell
        if cell == "gru":  # r needs the hidden projection of n separately: two products
            self.wi, self.bi = _param(w_ih.t()), _param(b_ih)
            self.wh, self.bh = _param(w_hh.t()), _param(b_hh)
        else:
            self.w = _param(torch.cat([w_ih, w_hh], 1).t())
            self.b = _param(b_ih + b_hh)

    def forward(self, x, h, c=None):
        if self.cell == "gru":
            ir, iz, in_ = (x @ self.wi + self.bi).chunk(3, -1)
            hr, hz, hn = (h @ self.wh + self.bh).chunk(3, -1)
            r = torch.sigmoid(ir + hr)
            z = torch.sigmoid(iz + hz)
            n = torch.tanh(in_ + r * hn)
            return (1 - z) * n + z * h, None
        g = torch.cat([x, h], -1) @ self.w + self.b
        if self.cell == "lstm":
            i, f, gg, o = g.chunk(4, -1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
            return torch.sigmoid(o) * torch.tanh(c), c
        if self.cell == "rnn-tanh":
            return torch.tanh(g), None
        if self.cell == "rnn-relu":
            return torch.relu(g), None
        raise ValueError(f"unknown cell {self.cell!r}")


class _FusedStack(nn.Module):
    """A StackedRNN (with or without Graves skips) as fused cells."""

    def __init__(self, stacked):
        super().__init__()
        cfg = stacked.cfg
        self.skip, self.layers, self.lstm = cfg.skip, cfg.layers, cfg.cell == "lstm"
        self.cells = nn.ModuleList(FusedCell(cfg.cell, *stacked.layer_weights(i)) for i in range(cfg.layers))

    def forward(self, x, h, c):
        hs, cs = [], []
        below = None
        for i, cell in enumerate(self.cells):
            if below is None:
                inp = x
            else:
                inp = torch.cat([x, below], -1) if self.skip else below
            hi, ci = cell(inp, h[i], c[i] if self.lstm else None)
            hs.append(hi)
            cs.append(ci)
            below = hi
        out = torch.cat(hs, -1) if self.skip else hs[-1]
        return out, torch.stack(hs), (torch.stack(cs) if self.lstm else None)


class FusedCharLMStep(nn.Module):
    def __init__(self, lm):
        super().__init__()
        from engine.models.charlm import CharLMStep

        self.ref = CharLMStep(lm)
        self.input_names, self.output_names = self.ref.input_names, self.ref.output_names
        self.lstm = self.ref.lstm
        self.embed = _param(lm.embed.weight)
        self.stack = _FusedStack(lm.rnn)
        self.head_w, self.head_b = _param(lm.head.weight.t()), _param(lm.head.bias)

    def initial_state(self):
        return self.ref.initial_state()

    def example_inputs(self):
        return self.ref.example_inputs()

    def forward(self, x, h, c=None):
        e = self.embed[x[:, 0]]
        out, h_new, c_new = self.stack(e, h, c)
        logits = out @ self.head_w + self.head_b
        return (logits, h_new, c_new) if self.lstm else (logits, h_new)


def _mdn_bounds(constrain, m: int):
    """(lo, hi) rows such that min(max(y, lo), hi) == constrain(y) for every finite y."""
    big = 1e30
    lo = constrain(torch.full((1, 6 * m + 1), -big), m)
    hi = constrain(torch.full((1, 6 * m + 1), big), m)
    return lo, hi


class _FusedMDNStep(nn.Module):
    """What the fused handwriting steps share: the model's own step module (names, example inputs,
    initial state) and the MDN output layer with its parameter bounds done as one max/min."""

    def __init__(self, net):
        super().__init__()
        from engine.models import mdn

        self.ref = net.step_module()
        self.input_names, self.output_names = list(self.ref.input_names), list(self.ref.output_names)
        self.dynamic_axes = dict(getattr(self.ref, "dynamic_axes", {}) or {})
        self.head_w, self.head_b = _param(net.head.linear.weight.t()), _param(net.head.linear.bias)
        lo, hi = _mdn_bounds(mdn.constrain, net.cfg.mixtures)
        self.register_buffer("lo", lo)
        self.register_buffer("hi", hi)

    def initial_state(self):
        return self.ref.initial_state()

    def example_inputs(self):
        return self.ref.example_inputs()

    def head(self, features):
        return torch.minimum(torch.maximum(features @ self.head_w + self.head_b, self.lo), self.hi)


class FusedPredictionStep(_FusedMDNStep):
    def __init__(self, net):
        super().__init__(net)
        self.stack = _FusedStack(net.rnn)

    def forward(self, x, h, c):
        out, h_new, c_new = self.stack(x, h, c)
        return self.head(out), h_new, c_new


class FusedSynthesisStep(_FusedMDNStep):
    def __init__(self, net):
        super().__init__(net)
        l1 = net.lstm1
        self.cell1 = FusedCell("lstm", l1.weight_ih_l0, l1.weight_hh_l0, l1.bias_ih_l0, l1.bias_hh_l0)
        self.upper = nn.ModuleList(FusedCell("lstm", r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0)
                                   for r in net.upper)
        self.win_w, self.win_b = _param(net.window.weight.t()), _param(net.window.bias)

    def forward(self, x, chars, h, c, kappa, w):
        # layer 1 reads [x_t, w_{t-1}] (the order of SynthesisNet.lstm1's input weights)
        h1, c1 = self.cell1(torch.cat([x, w], -1), h[0], c[0])
        a, b, k = torch.exp(h1 @ self.win_w + self.win_b).chunk(3, -1)
        kappa_t = kappa + k
        u = torch.arange(chars.shape[1] + 1, dtype=x.dtype, device=x.device)
        d = kappa_t.unsqueeze(-1) - u                                          # (1, K, U+1)
        phi = (a.unsqueeze(-1) * torch.exp(-b.unsqueeze(-1) * d * d)).sum(1)   # (1, U+1)
        w_t = torch.bmm(phi[:, None, :chars.shape[1]], chars)[:, 0]            # (1, V)
        hs, cs = [h1], [c1]
        below = h1
        for i, cell in enumerate(self.upper):   # upper layers read [x_t, h_below, w_t]
            hi, ci = cell(torch.cat([x, below, w_t], -1), h[i + 1], c[i + 1])
            hs.append(hi)
            cs.append(ci)
            below = hi
        y = self.head(torch.cat(hs + [w_t], -1))
        return y, phi, torch.stack(hs), torch.stack(cs), kappa_t, w_t
