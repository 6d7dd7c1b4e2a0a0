"""Training steps replayed from CUDA graphs, for tasks whose batches come in a few fixed shapes.

A handwriting training step launches thousands of small kernels (the attention window is stepped once
per pen point), so on a GPU it is bound by kernel launches, not arithmetic: on an H200 the whole step
captured in one CUDA graph ran 4.2x faster than the same step launched eagerly
(bench/RESULTS-handwriting.md). ``GraphedSteps`` captures forward + loss + backward + gradient norms +
clipping once per batch shape (the length buckets of ``engine.training.ink_task`` give a handful of static
shapes) and replays it; the optimizer update stays an eager fused kernel, so the trainer keeps its
non-finite-step guard (it reads the loss and norm, then decides whether to step).

The task provides::

    static_batches = True                               # what the trainer checks
    def next_static_batch() -> (key, [tensors])       # key names the shape; tensors on the device
    def static_loss(*tensors) -> (loss, n_units)        # both tensors; no host sync inside

Without ``capture`` (CPU, tests) the same code runs eagerly over the same static buffers.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch


@dataclass
class _Entry:
    inputs: list
    graph: object | None
    out: torch.Tensor | None


class GraphedSteps:
    def __init__(self, task, params: list[torch.nn.Parameter], norms_and_clip, amp: bool, capture: bool,
                 warmup: int = 2):
        self.task = task
        self.params = [p for p in params if p.requires_grad]
        self.norms_and_clip = norms_and_clip   # () -> (total, per_group) tensors; clips in place
        self.amp = amp
        self.capture = capture
        self.warmup = warmup
        self.entries: dict = {}
        self.pool = None
        self.failed: str | None = None         # set when capturing failed and steps run eagerly

    # static gradients: allocated once, zeroed inside the step (never set to None while graphs exist)
    def _ensure_grads(self) -> None:
        for p in self.params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)

    def zero_grad(self) -> None:
        torch._foreach_zero_([p.grad for p in self.params if p.grad is not None])

    def _body(self, inputs: list) -> torch.Tensor:
        self.zero_grad()
        dev = inputs[0].device
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=self.amp, cache_enabled=False):
            loss, n = self.task.static_loss(*inputs)
        loss.backward()
        total, per_group = self.norms_and_clip()
        return torch.cat([loss.detach().float().reshape(1), total.float().reshape(1).to(dev),
                          per_group.float().to(dev), n.float().reshape(1).to(dev)])

    def _build(self, key, batch: list) -> _Entry:
        self._ensure_grads()
        inputs = [None if t is None else t.clone() for t in batch]
        if not (self.capture and self.failed is None):
            return _Entry(inputs, None, None)
        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):   # warm up: cuDNN/cuBLAS plans, the norm helper's index tensor
                for _ in range(self.warmup):
                    self._body(inputs)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self.pool):
                out = self._body(inputs)
            if self.pool is None:
                self.pool = graph.pool()   # every shape's graph shares one memory pool (replayed one at a time)
            return _Entry(inputs, graph, out)
        except Exception as exc:  # noqa: BLE001 - graphs are an optimisation: fall back to eager steps
            self.failed = f"{type(exc).__name__}: {str(exc)[:300]}"
            warnings.warn(f"CUDA graph capture failed, training with eager steps: {self.failed}")
            torch.cuda.synchronize()
            self.entries.clear()   # graphs captured before the failure are dropped too
            return _Entry(inputs, None, None)

    def step(self) -> list[float]:
        """One forward/backward (+ norms, clipping) on the task's next batch. Returns
        [loss, total_norm, *per_group_norms, n_units] as Python floats (the step's one host sync)."""
        key, batch = self.task.next_static_batch()
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = self._build(key, batch)
        else:
            for dst, src in zip(entry.inputs, batch):
                if dst is not None:
                    dst.copy_(src, non_blocking=True)
        if entry.graph is not None:
            entry.graph.replay()
            return entry.out.tolist()
        return self._body(entry.inputs).tolist()
