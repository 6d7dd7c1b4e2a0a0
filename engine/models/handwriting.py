"""Graves' (2013) handwriting networks: prediction (unconditional) and synthesis (text-conditioned).

Both read normalised stroke-3 steps (dx, dy, eos) and emit raw mixture-density parameters
(``engine.models.mdn``, layout shared with ``engine.core.sampling``).

PredictionNet: a stacked LSTM with Graves' skips (input -> every layer, every layer -> output), built on
``engine.models.rnn.StackedRNN``; each layer is one fused (cuDNN) LSTM call over the whole sequence.

SynthesisNet: the same plus a soft attention window over the one-hot characters c_1..c_U, a mixture of K
Gaussians whose parameters come from layer 1::

    (a_hat, b_hat, k_hat) = W h1_t + b;  alpha = exp(a_hat), beta = exp(b_hat), kappa_t = kappa_{t-1} + exp(k_hat)
    phi(t, u) = sum_k alpha_k exp(-beta_k (kappa_k - u)^2);   w_t = sum_u phi(t, u) c_u

wired as in the paper: w_{t-1} feeds layer 1 at step t; w_t feeds layers 2..L and the output.

Speed layout (the choice the GPU speed depends on): only layer 1 and the window are stepped in a Python
loop (the input projection of x for all steps is one matmul before the loop). Once h1 and w are known for
the whole sequence, each upper layer n runs as ONE fused nn.LSTM call over the sequence with input
[x, h_{n-1}, w]. Layer n needs h_{n-1} for the whole sequence, so layers 2..L are L-1 fused calls rather
than a single multi-layer call; each is still one cuDNN kernel sequence. On CUDA the loop body can be
compiled with torch.compile (``SynthesisNet.compile_step``), which fuses its ~20 small kernels.

Step modules (ONNX export and the numpy sampling loop, stepper protocol in ``engine.core.stepper``):
``PredictionStep(net)`` and ``SynthesisStep(net)`` (``net.step_module()`` builds the right one); both
have ``input_names``, ``output_names``, ``dynamic_axes``, ``example_inputs()`` (a tuple in
``input_names`` order, batch 1), ``initial_state()`` (dict of zero numpy arrays) and ``step(feeds)``; ``engine.models.torch_stepper.TorchStepper``
wraps them for ``engine.core.ink_stream.ink_stream``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.models import mdn
from engine.models.rnn import RNNConfig, StackedRNN, _make_layer, init_recurrent

INPUT_SIZE = 3  # dx, dy, eos


@dataclass
class HandwritingConfig:
    layers: int = 3
    hidden: int = 400
    mixtures: int = 20
    window_k: int = 10          # synthesis only
    vocab_size: int = 0         # synthesis only: number of characters (one-hot width)
    dropout: float = 0.0
    gate_bias: float = 1.0
    orthogonal_init: bool = True
    kappa_init: float = 0.05    # synthesis: initial attention speed, characters per point

    @classmethod
    def from_dict(cls, d: dict) -> "HandwritingConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown handwriting model settings: {sorted(unknown)}")
        return cls(**d)


class PredictionNet(nn.Module):
    kind = "ink-prediction"

    def __init__(self, cfg: HandwritingConfig):
        super().__init__()
        self.cfg = cfg
        self.rnn = StackedRNN(INPUT_SIZE, RNNConfig(cell="lstm", layers=cfg.layers, hidden=cfg.hidden,
                                                    dropout=cfg.dropout, skip=True,
                                                    orthogonal_init=cfg.orthogonal_init, gate_bias=cfg.gate_bias))
        self.head = mdn.MDNHead(self.rnn.output_size, cfg.mixtures)

    @classmethod
    def from_config(cls, d: dict) -> "PredictionNet":
        return cls(HandwritingConfig.from_dict(d))

    def config_dict(self) -> dict:
        return asdict(self.cfg)

    def forward(self, x: torch.Tensor, state=None):
        """x (B, T, 3) normalised -> (y (B, T, 6M+1) raw MDN params, state list of (h, c))."""
        h, state = self.rnn(x, state)
        return self.head(h), state

    def step_module(self) -> "PredictionStep":
        return PredictionStep(self)


def layer1_window_step(xg_t, h, c, w, kappa, w_hh, w_w, win_w, win_b, chars, u):
    """One step of layer 1 and the attention window (shared by training, sampling and export).

    xg_t (B, 4H): input projection of x_t incl. biases; h, c (B, H); w (B, V) previous window;
    kappa (B, K); chars (B, U, V) one-hot; u (U') float positions 0..U'-1 (U' = U, or U+1 for the stop rule).
    Returns h, c, w_t, kappa_t, phi (B, U').
    """
    gates = xg_t + F.linear(h, w_hh) + F.linear(w, w_w)
    i, f, g, o = gates.chunk(4, -1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    a, b, k = torch.exp(F.linear(h, win_w, win_b)).chunk(3, -1)
    kappa = kappa + k
    d = kappa.unsqueeze(-1) - u                                           # (B, K, U')
    phi = (a.unsqueeze(-1) * torch.exp(-b.unsqueeze(-1) * d * d)).sum(1)  # (B, U')
    w = torch.bmm(phi[:, None, :chars.shape[1]], chars)[:, 0]             # (B, V)
    return h, c, w, kappa, phi


class _EagerFallback:
    """Call a compiled step; on a compilation/runtime failure switch to the eager step for good."""

    def __init__(self, compiled):
        self.compiled = compiled
        self.failed: str | None = None

    def __call__(self, *args):
        if self.failed is None:
            try:
                return self.compiled(*args)
            except Exception as exc:  # noqa: BLE001
                self.failed = f"{type(exc).__name__}: {exc}"
                import warnings

                warnings.warn(f"torch.compile of the attention step failed, running eagerly: {self.failed}")
        return layer1_window_step(*args)


class SynthesisNet(nn.Module):
    kind = "ink-synthesis"

    def __init__(self, cfg: HandwritingConfig):
        super().__init__()
        if cfg.vocab_size < 1:
            raise ValueError("a synthesis network needs vocab_size >= 1")
        if cfg.layers < 1:
            raise ValueError("layers must be >= 1")
        self.cfg = cfg
        H, V, K = cfg.hidden, cfg.vocab_size, cfg.window_k
        self.lstm1 = _make_layer("lstm", INPUT_SIZE + V, H)   # stepped (input [x_t, w_{t-1}])
        self.window = nn.Linear(H, 3 * K)
        self.upper = nn.ModuleList(_make_layer("lstm", INPUT_SIZE + H + V, H) for _ in range(cfg.layers - 1))
        self.drop = nn.Dropout(cfg.dropout)
        self.head = mdn.MDNHead(cfg.layers * H + V, cfg.mixtures)
        for m in [self.lstm1, *self.upper]:
            init_recurrent(m, "lstm", cfg.orthogonal_init, cfg.gate_bias)
        with torch.no_grad():
            # start with windows about one character wide, moving at about the data's characters-per-point speed
            self.window.weight.mul_(0.1)
            self.window.bias.zero_()
            self.window.bias[:K] = -math.log(K)   # sum of alphas ~ 1: w starts as about one character
            self.window.bias[2 * K:] = math.log(max(cfg.kappa_init, 1e-4))
        self._step_fn = layer1_window_step

    @classmethod
    def from_config(cls, d: dict) -> "SynthesisNet":
        return cls(HandwritingConfig.from_dict(d))

    def config_dict(self) -> dict:
        return asdict(self.cfg)

    def compile_step(self, enabled: bool = True) -> bool:
        """Compile the layer-1 + window step with torch.compile (fuses its small kernels; meant for
        CUDA). Returns whether compilation is requested; if compiling fails at the first call, the
        eager step is used from then on."""
        self._step_fn = layer1_window_step
        if not enabled:
            return False
        try:
            compiled = torch.compile(layer1_window_step, dynamic=False, fullgraph=True)
        except Exception:  # noqa: BLE001 - compilation is an optimisation only
            return False
        self._step_fn = _EagerFallback(compiled)
        return True

    def zero_state(self, batch: int, device=None, dtype=None) -> dict:
        cfg = self.cfg
        z = lambda *s: torch.zeros(*s, device=device, dtype=dtype)  # noqa: E731
        return {"h": z(cfg.layers, batch, cfg.hidden), "c": z(cfg.layers, batch, cfg.hidden),
                "kappa": z(batch, cfg.window_k), "w": z(batch, cfg.vocab_size)}

    def _x_proj(self, x: torch.Tensor) -> torch.Tensor:
        l1 = self.lstm1
        return F.linear(x, l1.weight_ih_l0[:, :INPUT_SIZE], l1.bias_ih_l0 + l1.bias_hh_l0)

    def forward(self, x: torch.Tensor, chars: torch.Tensor, state: dict | None = None, attention: bool = False,
                switch: tuple[torch.Tensor, torch.Tensor] | None = None):
        """x (B, T, 3) normalised, chars (B, U, V) one-hot (zero rows = padding).

        switch: ``(at (B,) long, chars2 (B, U, V))``: for line b with ``at[b] >= 0``, before step ``at[b]`` the
        window state (kappa, w) is reset to zero and the window reads ``chars2[b]`` from then on: a prime
        followed by a new line, exactly as ``engine.core.ink_stream`` places the window after a prime (the
        LSTM states run on). Trains priming (``engine.training.ink_task.PairedInkTask``).

        Returns (y (B, T, 6M+1), new state dict[, {"phi": (B, T, U), "kappa": (B, T, K)}]).
        """
        B = x.shape[0]
        U = chars.shape[1]
        st = state if state is not None else self.zero_state(B, x.device, x.dtype)
        l1 = self.lstm1
        w_w = l1.weight_ih_l0[:, INPUT_SIZE:]
        xg = self._x_proj(x)
        u = torch.arange(U, device=x.device, dtype=x.dtype)
        h, c, kappa, w = st["h"][0], st["c"][0], st["kappa"], st["w"]
        hs, ws, phis, kappas = [], [], [], []
        step = self._step_fn
        # unbind once: indexing xg[:, t] in the loop would make backward allocate a full-size
        # gradient per step (quadratic in T)
        switch_at: dict[int, torch.Tensor] = {}
        if switch is not None:
            at, chars2 = switch
            for t in sorted({int(a) for a in at.tolist() if a >= 0}):
                switch_at[t] = (at == t).to(x.dtype)[:, None]       # (B, 1): the lines that switch at t
        for t, xg_t in enumerate(xg.unbind(1)):
            if t in switch_at:
                keep = 1.0 - switch_at[t]
                kappa, w = kappa * keep, w * keep
                chars = torch.where(switch_at[t][:, :, None] > 0, chars2, chars)
            h, c, w, kappa, phi = step(xg_t, h, c, w, kappa, l1.weight_hh_l0, w_w,
                                       self.window.weight, self.window.bias, chars, u)
            hs.append(h)
            ws.append(w)
            if attention:
                phis.append(phi)
                kappas.append(kappa)
        h1 = torch.stack(hs, 1)
        wseq = torch.stack(ws, 1)
        outs, hn, cn = [h1], [h], [c]
        below = h1
        for i, rnn in enumerate(self.upper):
            inp = torch.cat([x, self.drop(below), wseq], dim=-1)
            out, (hi, ci) = rnn(inp, (st["h"][i + 1:i + 2].contiguous(), st["c"][i + 1:i + 2].contiguous()))
            outs.append(out)
            hn.append(hi[0])
            cn.append(ci[0])
            below = out
        y = self.head(torch.cat([self.drop(torch.cat(outs, -1)), wseq], -1))
        new_state = {"h": torch.stack(hn, 0), "c": torch.stack(cn, 0), "kappa": kappa, "w": w}
        if attention:
            return y, new_state, {"phi": torch.stack(phis, 1), "kappa": torch.stack(kappas, 1)}
        return y, new_state

    def step_module(self) -> "SynthesisStep":
        return SynthesisStep(self)


# ---- step modules (stepper protocol) ------------------------------------------------------------------

class _StepBase(nn.Module):
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict = {}

    @torch.no_grad()
    def step(self, feeds: dict) -> dict:
        """Numpy in, numpy out: one time step (``engine.models.torch_stepper``)."""
        args = [torch.from_numpy(np.ascontiguousarray(feeds[n], dtype=np.float32)) for n in self.input_names]
        outs = self(*args)
        return {n: o.detach().cpu().numpy() for n, o in zip(self.output_names, outs)}

    def example_inputs(self) -> tuple:
        st = self.initial_state()
        return tuple(torch.from_numpy(st[n]) if n in st else self._example(n) for n in self.input_names)

    def _example(self, name: str) -> torch.Tensor:
        if name == "x":
            return torch.tensor([[0.0, 0.0, 1.0]])
        raise KeyError(name)


class PredictionStep(_StepBase):
    """One step of a PredictionNet. Inputs ``x`` (1, 3) normalised (dx, dy, eos), ``h``/``c``
    (layers, 1, hidden). Outputs ``y`` (1, 6M+1) (constrained raw MDN params), ``h_out``, ``c_out``."""

    input_names = ["x", "h", "c"]
    output_names = ["y", "h_out", "c_out"]
    dynamic_axes: dict = {}

    def __init__(self, net: PredictionNet):
        super().__init__()
        self.net = net
        self.eval()

    def initial_state(self) -> dict:
        cfg = self.net.cfg
        return {n: np.zeros((cfg.layers, 1, cfg.hidden), dtype=np.float32) for n in ("h", "c")}

    def forward(self, x, h, c):
        L = self.net.cfg.layers
        state = [(h[i:i + 1], c[i:i + 1]) for i in range(L)]
        y, new = self.net(x[:, None, :], state)
        return (mdn.constrain(y[:, 0], self.net.cfg.mixtures), torch.cat([s[0] for s in new], 0),
                torch.cat([s[1] for s in new], 0))


class SynthesisStep(_StepBase):
    """One step of a SynthesisNet. Inputs ``x`` (1, 3) normalised, ``chars`` (1, U, V) one-hot (U dynamic),
    ``h``/``c`` (layers, 1, hidden), ``kappa`` (1, K), ``w`` (1, V) (the previous window). Outputs ``y``
    (1, 6M+1), ``phi`` (1, U+1) (attention incl. the past-the-end position U, for the stop rule) and the
    new state ``h_out``, ``c_out``, ``kappa_out``, ``w_out``."""

    input_names = ["x", "chars", "h", "c", "kappa", "w"]
    output_names = ["y", "phi", "h_out", "c_out", "kappa_out", "w_out"]
    dynamic_axes = {"chars": {1: "U"}, "phi": {1: "U1"}}

    def __init__(self, net: SynthesisNet):
        super().__init__()
        self.net = net
        self.eval()

    def initial_state(self) -> dict:
        cfg = self.net.cfg
        return {"h": np.zeros((cfg.layers, 1, cfg.hidden), dtype=np.float32),
                "c": np.zeros((cfg.layers, 1, cfg.hidden), dtype=np.float32),
                "kappa": np.zeros((1, cfg.window_k), dtype=np.float32),
                "w": np.zeros((1, cfg.vocab_size), dtype=np.float32)}

    def _example(self, name: str) -> torch.Tensor:
        if name == "chars":
            ch = torch.zeros(1, 5, self.net.cfg.vocab_size)
            ch[0, torch.arange(5), torch.arange(5) % self.net.cfg.vocab_size] = 1.0
            return ch
        return super()._example(name)

    def forward(self, x, chars, h, c, kappa, w):
        net = self.net
        l1 = net.lstm1
        u = torch.arange(chars.shape[1] + 1, dtype=x.dtype, device=x.device)
        h1, c1, w_t, kappa_t, phi = layer1_window_step(
            net._x_proj(x), h[0], c[0], w, kappa, l1.weight_hh_l0, l1.weight_ih_l0[:, INPUT_SIZE:],
            net.window.weight, net.window.bias, chars, u)
        xs = x[:, None, :]
        ws = w_t[:, None, :]
        outs, hn, cn = [h1], [h1], [c1]
        below = h1[:, None, :]
        for i, rnn in enumerate(net.upper):
            out, (hi, ci) = rnn(torch.cat([xs, below, ws], -1), (h[i + 1:i + 2], c[i + 1:i + 2]))
            outs.append(out[:, 0])
            hn.append(hi[0])
            cn.append(ci[0])
            below = out
        y = net.head(torch.cat(outs + [w_t], -1))
        return (mdn.constrain(y, net.cfg.mixtures), phi, torch.stack(hn, 0), torch.stack(cn, 0), kappa_t, w_t)


def build(kind: str, cfg: dict) -> nn.Module:
    """A handwriting model from a kind ("ink-synthesis"/"synthesis", "ink-prediction"/"prediction")."""
    k = kind.removeprefix("ink-")
    if k == "synthesis":
        return SynthesisNet.from_config(cfg)
    if k == "prediction":
        return PredictionNet.from_config(cfg)
    raise ValueError(f"unknown handwriting model kind {kind!r}")
