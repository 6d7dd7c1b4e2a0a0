"""The shared trainer: used by the char LM and the handwriting models alike.

A *task* owns the model, the data stream and the loss; the trainer owns the optimizer, LR schedule,
gradient clipping, the NaN/inf guard, evaluation cadence, checkpoints (best + last, atomic), early
stopping, resume, pause/stop and the event stream.

Task interface (duck-typed; see ``engine.training.text_task.TextTask``)::

    kind: str                      # "text", "ink-synthesis", "ink-prediction"
    unit: str                      # "tokens" or "points" (for throughput)
    model: nn.Module
    def to(device) -> None
    def train_loss() -> (loss, n_units)   # next batch; mean loss per unit (a scalar tensor)
    def reset_state() -> None             # forget carried state (after a skipped step)
    def evaluate() -> dict                # must hold "val_loss"; model is in eval mode
    def sample(seed: int) -> dict         # a payload for the "sample" event
    def card() -> dict                    # model_config, vocab, data, ... for the checkpoint card
    def checkpoint_state() -> (json_dict, tensor_dict)   # data position, carried state: bit-exact resume
    def load_checkpoint_state(json_dict, tensor_dict) -> None
    warnings: list[str]            # optional: notes emitted as "warning" events when training starts
    run_settings: dict             # optional: settings recorded in the card's "settings" (for --resume)

Semantics: ``steps`` and ``minutes`` are totals for the run, counting what a resumed run already did, so
``--resume`` with a higher ``--steps`` (or ``--minutes``) trains on to the new total. Seed the global RNG
with :func:`seed_everything` *before* building the task so model init is reproducible; the trainer
re-seeds on construction (dropout stream) and restores the saved RNG on resume.

Events (plain dicts, see engine.core.events): start, resume, step (loss, grad_norm = global norm BEFORE
clipping, clipped, layer_grad_norms (also before clipping), lr, rate, eta_s), eval (the task's metrics +
best), sample, checkpoint, warning, paused, resumed, done, error.

Data parallel (``dist``: one process of a torchrun job, engine.training.distributed): each step's gradient,
loss and unit count are summed over the processes before the norms and clipping, so every process applies
the same update; stop and the --minutes clock are decided together; rank 0 evaluates (the metrics are
broadcast), writes checkpoints and samples. Pause is not offered to such a run.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

import engine.training.checkpoint as ckpt
from engine.core.errors import CheckpointError, TrainingError
from engine.core.events import Emitter
from engine.training.device import describe_device, pick_device


@dataclass
class TrainConfig:
    steps: int | None = 1000
    minutes: float | None = None
    lr: float = 2e-3
    min_lr: float | None = None        # default lr / 10
    warmup: int = 50
    schedule: str = "cosine"           # cosine | constant
    optimizer: str = "adamw"           # adamw | rmsprop (centred, Graves)
    weight_decay: float = 0.01
    clip: float = 1.0                  # global-norm threshold; 0 disables clipping
    eval_every: int = 200
    sample_every: int = 0              # 0: with every eval
    patience: int = 0                  # evals without improvement before stopping; 0: never
    max_bad_steps: int = 5             # consecutive non-finite steps before giving up
    device: str = "auto"
    seed: int = 1337
    amp: bool = False                  # bf16 autocast on CUDA
    cuda_graphs: str = "auto"          # auto: replay captured steps on CUDA for tasks with static shapes; on; off
    log_every: int = 1
    keep_last: int = 2
    threads: int | None = None         # CPU threads for torch (None: torch's default, one per core)

    def to_json(self) -> dict:
        return asdict(self)


def seed_everything(seed: int) -> None:
    """Seed every RNG the engine draws from (torch CPU and CUDA)."""
    torch.manual_seed(seed)


def _finite_params(model: torch.nn.Module) -> bool:
    ps = [p.detach() for p in model.parameters()]
    return bool(torch.stack([torch.isfinite(p).all() for p in ps]).all()) if ps else True


_OWNER_CACHE: dict = {}


def grad_norms_and_clip(groups: dict[str, list[torch.nn.Parameter]], clip: float):
    """Per-group and global L2 gradient norms, measured BEFORE clipping, then clip the gradients in place
    to a global norm of at most ``clip`` (0 or inf: no clipping). Returns (total, per_group) as device
    tensors: no host sync here, so the caller can fetch everything at once."""
    names = list(groups)
    grads, owner = [], []
    for gi, n in enumerate(names):
        for p in groups[n]:
            if p.grad is not None:
                grads.append(p.grad)
                owner.append(gi)
    if not grads:
        z = torch.zeros(())
        return z, torch.zeros(len(names))
    dev = grads[0].device
    key = (str(dev), tuple(owner))
    index = _OWNER_CACHE.get(key)
    if index is None:  # built once per parameter layout: no host->device copy per step
        index = _OWNER_CACHE[key] = torch.tensor(owner, device=dev)
    try:
        norms = torch._foreach_norm(grads)  # one fused kernel per dtype/device (what clip_grad_norm_ uses)
    except (AttributeError, RuntimeError):
        norms = [torch.linalg.vector_norm(g) for g in grads]
    sq = torch.stack([n.float() for n in norms]).pow(2)
    per_group = torch.zeros(len(names), device=dev).index_add_(0, index, sq).sqrt()
    total = sq.sum().sqrt()
    if clip and math.isfinite(clip) and clip > 0:
        coef = torch.clamp(clip / (total + 1e-6), max=1.0)
        torch._foreach_mul_(grads, coef) if hasattr(torch, "_foreach_mul_") else [g.mul_(coef) for g in grads]
    return total, per_group


class Control:
    """Pause/stop flags the GUI or a signal handler can set from another thread."""

    def __init__(self):
        import threading

        self.stop = threading.Event()
        self.pause = threading.Event()


_LAYER_RE = re.compile(r"^(.*?)\.(weight|bias)(_ih|_hh)?(_l(\d+))?(_reverse)?$")


def layer_groups(model: torch.nn.Module) -> dict[str, list[torch.nn.Parameter]]:
    """Group parameters by layer for per-layer gradient norms (fused multi-layer RNNs are split)."""
    groups: dict[str, list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        m = _LAYER_RE.match(name)
        key = name
        if m:
            key = m.group(1) + (f".l{m.group(5)}" if m.group(5) is not None else "")
        groups.setdefault(key, []).append(p)
    return groups


def make_optimizer(cfg: TrainConfig, params, fused: bool = False) -> torch.optim.Optimizer:
    """AdamW (weight decay on matrices only) or Graves' centred RMSprop. ``fused``: one CUDA kernel."""
    params = list(params)
    if cfg.optimizer == "adamw":
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                  {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.99),
                                 **({"fused": True} if fused else {}))
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, alpha=0.95, eps=1e-4, momentum=0.9, centered=True)
    raise TrainingError(f"unknown optimizer {cfg.optimizer!r} (adamw or rmsprop)")


def lr_at(cfg: TrainConfig, step: int, progress: float) -> float:
    """Warmup then cosine (by step progress, or by time when training for --minutes)."""
    if cfg.warmup and step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    if cfg.schedule == "constant":
        return cfg.lr
    lo = cfg.min_lr if cfg.min_lr is not None else cfg.lr / 10
    progress = min(max(progress, 0.0), 1.0)
    return lo + 0.5 * (cfg.lr - lo) * (1 + math.cos(math.pi * progress))


class Trainer:
    """Runs a task's training loop. ``callbacks`` receive every event dict; ``control`` lets another
    thread pause or stop (a stop saves a final checkpoint)."""

    def __init__(self, task, cfg: TrainConfig, out_dir: str | Path, callbacks=(), control: Control | None = None,
                 dist=None):
        self.task = task
        self.cfg = cfg
        self.out = Path(out_dir)
        self.events = Emitter(callbacks)
        self.control = control or Control()
        # dist: engine.training.distributed.DistContext when this is one process of a data-parallel job
        self.dist = dist
        self.device = dist.device if dist is not None else pick_device(cfg.device)
        if cfg.threads and self.device.type == "cpu":
            torch.set_num_threads(int(cfg.threads))
        if self.device.type == "cuda":
            torch.set_float32_matmul_precision("high")  # TF32 for the fp32 parts
        self.step = 0
        self.best = math.inf
        self.evals_since_best = 0
        self.bad_steps = 0
        self.skipped_steps = 0
        self.history: list[dict] = []
        self.elapsed_before = 0.0
        self.warmup_elapsed: float | None = None   # training time used when warm-up ended (--minutes cosine)
        self.sampled_at: int | None = None         # step of this session's last sample
        self._t0 = time.monotonic()
        self._session_start_step = 0
        # the dropout stream (the model is built before): its own per rank of a data-parallel job
        seed_everything(cfg.seed + (dist.rank if dist is not None else 0))
        task.to(self.device)
        self.model = task.model
        self.groups = layer_groups(self.model)
        self.opt = make_optimizer(cfg, self.model.parameters(), fused=self.device.type == "cuda")
        self.clip_to = cfg.clip if cfg.clip and cfg.clip > 0 else math.inf   # global-norm threshold (inf: off)
        self._graphed = None   # engine.training.step_graph.GraphedSteps when steps are replayed from CUDA graphs
        self._shared_elapsed: float | None = None   # several processes: rank 0's clock, from the last step's reduce
        self._graph_note = None
        if cfg.cuda_graphs not in ("auto", "on", "off"):
            raise TrainingError(f"cuda_graphs must be auto, on or off, not {cfg.cuda_graphs!r}")
        wants_graphs = cfg.cuda_graphs != "off" and getattr(task, "static_batches", False) and \
            (self.device.type == "cuda" or cfg.cuda_graphs == "on")
        if wants_graphs and dist is not None:
            wants_graphs = False
            self._graph_note = (f"CUDA graphs are off for this run of {dist.world} processes: the gradient "
                                f"all-reduce must run between the backward pass and the clipping, which a graph "
                                f"captures together; training goes on with ordinary steps")
        if wants_graphs:
            from engine.training.step_graph import GraphedSteps

            self._graphed = GraphedSteps(task, list(self.model.parameters()),
                                         lambda: grad_norms_and_clip(self.groups, self.clip_to),
                                         amp=cfg.amp and self.device.type == "cuda",
                                         capture=self.device.type == "cuda")
        self._graph_warned = False

    # ---- checkpoints -------------------------------------------------------------------------
    def _elapsed(self) -> float:
        if self.dist is not None and self._shared_elapsed is not None:
            return self._shared_elapsed   # every rank decides --minutes and the time schedule by rank 0's clock
        return self.elapsed_before + time.monotonic() - self._t0

    @property
    def is_main(self) -> bool:
        """Whether this process writes checkpoints, events and samples (always, but for ranks 1.. of a job)."""
        return self.dist is None or self.dist.is_main

    def _card(self, metrics: dict) -> dict:
        card = dict(self.task.card())
        card.update(kind=self.task.kind, step=self.step, metrics=metrics, train_config=self.cfg.to_json(),
                    best_val_loss=self.best if math.isfinite(self.best) else None, elapsed_s=self._elapsed())
        if getattr(self.task, "run_settings", None):
            card["settings"] = {**(card.get("settings") or {}), **self.task.run_settings}
        return card

    def save(self, metrics: dict, is_best: bool) -> Path | None:
        """Write a checkpoint (atomically). Refuses to write non-finite weights. Several processes: every
        rank takes part (the task gathers the global batch's state), rank 0 writes (others return None)."""
        if not _finite_params(self.model):
            exc = TrainingError(f"the model's weights became non-finite at step {self.step}; no checkpoint "
                                f"written (the last good one is kept). Try a lower learning rate (now "
                                f"{self.cfg.lr:g}) or clip threshold (now {self.cfg.clip:g}).")
            exc.shared = True   # the weights are the same on every rank: each one stops here
            raise exc
        js, ts = self.task.checkpoint_state()
        if not self.is_main:
            return None
        extra_json = {"task": js, "trainer": {"step": self.step, "best": self.best if math.isfinite(self.best) else None,
                                               "evals_since_best": self.evals_since_best,
                                               "skipped_steps": self.skipped_steps,
                                               "elapsed": self._elapsed(),
                                               "warmup_elapsed": self.warmup_elapsed}}
        from safetensors import SafetensorError

        try:
            path = ckpt.save_checkpoint(self.out, model=self.model, card=self._card(metrics), optimizer=self.opt,
                                        extra_tensors=ts, extra_json=extra_json, is_best=is_best,
                                        keep_last=self.cfg.keep_last)
        except (OSError, SafetensorError) as exc:   # a full disk, a file-size limit, a folder gone ...
            why = (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)).splitlines()[0][:200]
            kept = ckpt.list_checkpoints(self.out)
            raise TrainingError(f"cannot write a checkpoint to {self.out} at step {self.step} ({why}); "
                                + (f"the checkpoint of step {kept[-1]['step']} is kept" if kept else
                                   "no checkpoint was written")) from None
        self.events.emit("checkpoint", step=self.step, path=str(path), best=is_best, metrics=metrics)
        return path

    def resume(self, path: str | Path | None = None) -> None:
        """Continue from the last checkpoint of ``path`` (default: this run's folder): weights, optimizer,
        RNG, data position and carried state, so a CPU run continues bit for bit."""
        src = ckpt.resolve(path or self.out, prefer="last")
        card = ckpt.read_card(src)
        if card.get("kind") != self.task.kind:
            raise CheckpointError(f"{src} holds a {card.get('kind')} model, not {self.task.kind}")
        from safetensors.torch import load_file

        try:
            weights = load_file(str(src / "model.safetensors"), device=str(self.device))
            self.model.load_state_dict(weights)
        except Exception as exc:  # noqa: BLE001 - corrupt file or a different architecture
            raise CheckpointError(f"cannot resume from {src}: {exc}") from None
        tensors, meta = ckpt.load_training_state(src)
        try:
            ckpt.restore_optimizer(self.opt, tensors, meta)
        except (ValueError, KeyError, RuntimeError) as exc:
            raise CheckpointError(f"cannot restore the optimizer state from {src} ({exc}); the optimizer "
                                  f"settings must match the run being resumed") from None
        tr = meta.get("trainer", {})
        self.step = int(tr.get("step", card.get("step", 0)))
        self._session_start_step = self.step
        self.best = tr.get("best") if tr.get("best") is not None else math.inf
        self.evals_since_best = int(tr.get("evals_since_best", 0))
        self.skipped_steps = int(tr.get("skipped_steps", 0))
        self.elapsed_before = float(tr.get("elapsed", 0.0))
        we = tr.get("warmup_elapsed")
        if we is None and self.step >= (self.cfg.warmup or 0):   # saved before it was recorded: estimate it
            we = self.elapsed_before * (self.cfg.warmup or 0) / max(self.step, 1)
        self.warmup_elapsed = float(we) if we is not None else None
        self.task.load_checkpoint_state(meta.get("task", {}),
                                        {k: v.to(self.device) for k, v in ckpt.extra_tensors(tensors).items()})
        ckpt.restore_rng(tensors)
        if self.dist is not None and not self.dist.is_main:   # the saved stream is rank 0's: the others draw their own
            seed_everything(self.cfg.seed + self.dist.rank + 7919 * self.step)
        self.events.emit("resume", step=self.step, path=str(src), best_val_loss=self.best if math.isfinite(self.best) else None)

    # ---- the loop -----------------------------------------------------------------------------
    def _evaluate(self) -> dict:
        self.model.eval()
        try:
            with torch.no_grad():
                metrics = self.task.evaluate()
        finally:
            self.model.train()
        return metrics

    def _progress(self) -> float:
        cfg = self.cfg
        if cfg.minutes:
            # the time cosine starts where warm-up ends (not at 0): the LR goes on smoothly from its peak
            # however much of the budget warm-up took
            elapsed = self._elapsed()
            if self.warmup_elapsed is None and self.step >= (cfg.warmup or 0):
                self.warmup_elapsed = elapsed
            start = self.warmup_elapsed or 0.0
            p = (elapsed - start) / max(cfg.minutes * 60 - start, 1e-9)
            if cfg.steps:
                p = max(p, self.step / cfg.steps)
            return p
        return self.step / max(cfg.steps, 1)

    def _finished(self) -> bool:
        cfg = self.cfg
        return (cfg.steps is not None and self.step >= cfg.steps) or \
               (cfg.minutes is not None and self._elapsed() >= cfg.minutes * 60)

    def _eta(self) -> float | None:
        cfg = self.cfg
        done = self.step - self._session_start_step
        spent = time.monotonic() - self._t0
        etas = []
        if cfg.steps is not None and done > 0:
            etas.append(spent / done * max(cfg.steps - self.step, 0))
        if cfg.minutes is not None:
            etas.append(max(cfg.minutes * 60 - self._elapsed(), 0.0))
        return min(etas) if etas else None

    def run(self) -> dict:
        if not self.is_main:   # rank 0 holds the run folder
            return self._run()
        with ckpt.RunLock(self.out):  # one run per folder; cleans leftovers of killed writes (checkpoint.py)
            return self._run()

    def _run(self) -> dict:
        cfg = self.cfg
        if cfg.steps is None and cfg.minutes is None:
            raise TrainingError("give a number of steps or minutes")
        self._t0 = time.monotonic()
        self._session_start_step = self.step
        self.events.emit("start", kind=self.task.kind, device=describe_device(self.device), step=self.step,
                         total_steps=cfg.steps, minutes=cfg.minutes, out=str(self.out),
                         params=sum(p.numel() for p in self.model.parameters()), config=cfg.to_json(),
                         clip=cfg.clip, unit=self.task.unit, layers=list(self.groups))
        for msg in [*(getattr(self.task, "warnings", None) or ()), *([self._graph_note] if self._graph_note else [])]:
            self.events.emit("warning", step=self.step, message=msg)
        dist = self.dist
        if dist is not None:
            self._shared_elapsed = self.elapsed_before   # the same on every rank until the first step's reduce
            dist.broadcast_model(self.model)
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        self.model.train()
        last_metrics: dict = {}
        status = "finished"
        units_since, t_since = 0, time.monotonic()
        clip_to = self.clip_to
        names = list(self.groups)
        amp = cfg.amp and self.device.type == "cuda"
        try:
            while not self._finished():
                if dist is None and self.control.stop.is_set():   # several processes: decided together below
                    status = "stopped"
                    break
                if dist is None and self.control.pause.is_set():
                    self.events.emit("paused", step=self.step)
                    paused_at = time.monotonic()
                    while self.control.pause.is_set() and not self.control.stop.is_set():
                        time.sleep(0.05)
                    self.elapsed_before -= time.monotonic() - paused_at  # a pause does not use up --minutes
                    self.events.emit("resumed", step=self.step)
                    units_since, t_since = 0, time.monotonic()
                    continue
                lr = lr_at(cfg, self.step, self._progress())
                for g in self.opt.param_groups:
                    g["lr"] = lr
                t_step = time.monotonic()
                try:
                    if self._graphed is not None:
                        vals = self._graphed.step()
                        n_units = int(vals.pop())
                        if self._graphed.failed and not self._graph_warned:
                            self._graph_warned = True
                            self.events.emit("warning", step=self.step, message="CUDA graphs are off for this "
                                             f"run (capture failed: {self._graphed.failed}); training goes on "
                                             "with ordinary steps")
                    else:
                        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=amp):
                            loss, n_units = self.task.train_loss()
                        self.opt.zero_grad(set_to_none=True)
                        loss.backward()
                        shared = []
                        if dist is not None:   # the global batch's gradient and loss, stop flags, rank 0's clock
                            loss, red = dist.reduce_step(self.model.parameters(), loss, n_units,
                                                         stop=self.control.stop.is_set(),
                                                         elapsed=self.elapsed_before + time.monotonic() - self._t0)
                            shared = [red.float()]
                        total, per_layer = grad_norms_and_clip(self.groups, clip_to)
                        # the one host sync of a step: loss, pre-clip global norm and per-layer norms together
                        vals = torch.cat([loss.detach().float().reshape(1), total.reshape(1).float().to(loss.device),
                                          per_layer.float().to(loss.device), *shared]).tolist()
                except torch.cuda.OutOfMemoryError:
                    raise TrainingError("the GPU ran out of memory: lower the batch size or sequence length, "
                                        "or train on the CPU (--device cpu)") from None
                stop_all = False
                if dist is not None:
                    n_global, stops, self._shared_elapsed = vals[-3:]
                    vals = vals[:-3]
                    n_units, stop_all = int(round(n_global)), stops > 0
                loss_v, total_v = vals[0], vals[1]
                if not (math.isfinite(loss_v) and math.isfinite(total_v)):
                    if self._graphed is not None:
                        self._graphed.zero_grad()   # the graphs own the gradient tensors: keep them
                    else:
                        self.opt.zero_grad(set_to_none=True)
                    self.task.reset_state()
                    self.bad_steps += 1
                    self.skipped_steps += 1
                    what = "loss" if not math.isfinite(loss_v) else "gradient norm"
                    self.events.emit("warning", step=self.step, message=f"non-finite {what} at step {self.step}; "
                                     f"step skipped ({self.bad_steps} in a row)", skipped_steps=self.skipped_steps)
                    if self.bad_steps >= cfg.max_bad_steps:
                        exc = TrainingError(
                            f"{self.bad_steps} steps in a row had a non-finite {what}; stopped at step "
                            f"{self.step}. The last good checkpoint is kept. Try a lower learning rate (now "
                            f"{cfg.lr:g}) or a lower clip threshold (now {cfg.clip:g}).")
                        exc.shared = True   # several processes: every rank saw the same summed loss and norm
                        raise exc
                    if stop_all:
                        status = "stopped"
                        break
                    continue
                self.bad_steps = 0
                self.opt.step()
                self.step += 1
                units_since += n_units
                if self.step % cfg.log_every == 0 or self.step == 1:
                    now = time.monotonic()
                    rate = units_since / max(now - t_since, 1e-9)
                    units_since, t_since = 0, now
                    self.events.emit("step", step=self.step, loss=loss_v, grad_norm=total_v,
                                     clipped=bool(total_v > clip_to), clip=cfg.clip, lr=lr,
                                     rate=rate, unit=self.task.unit, step_time=now - t_step,
                                     layer_grad_norms=dict(zip(names, vals[2:])), eta_s=self._eta(),
                                     total_steps=cfg.steps, skipped_steps=self.skipped_steps)
                at_end = self._finished()
                busy = False
                if self.step % cfg.eval_every == 0 or at_end:
                    last_metrics = self._eval_and_save()
                    busy = True
                    if cfg.patience and self.evals_since_best >= cfg.patience:
                        status = "early-stopped"
                        break
                sample_every = cfg.sample_every or cfg.eval_every
                if sample_every > 0 and self.step % sample_every == 0 and self.is_main:
                    self._sample()
                    busy = True
                if busy:  # evaluation time is not training throughput
                    units_since, t_since = 0, time.monotonic()
                if stop_all:
                    status = "stopped"
                    break
        except TrainingError as exc:
            self.events.emit("error", step=self.step, message=str(exc))
            raise
        except Exception as exc:
            self.events.emit("error", step=self.step, message=f"{type(exc).__name__}: {exc}")
            raise
        if self.step > self._session_start_step and last_metrics.get("step") != self.step:
            last_metrics = self._eval_and_save()  # stopped between evaluations
        if self.step > self._session_start_step and self.sampled_at != self.step and self.is_main and \
                (status != "stopped" or self.sampled_at is None):
            self._sample()   # a run shorter than the sampling interval still shows what it learned
        summary = {"status": status, "step": self.step, "best_val_loss": self.best if math.isfinite(self.best) else None,
                   "metrics": last_metrics, "skipped_steps": self.skipped_steps, "out": str(self.out),
                   "elapsed_s": time.monotonic() - self._t0}
        self.events.emit("done", **summary)
        return summary

    def _eval_and_save(self) -> dict:
        if self.dist is None:
            metrics = self._evaluate()
        else:   # rank 0 evaluates on the whole validation set; every rank takes its figures (best, patience)
            metrics = self.dist.broadcast_object(self._evaluate() if self.dist.is_main else None)
        metrics["step"] = self.step
        val = metrics.get("val_loss", math.inf)
        is_best = val < self.best
        if is_best:
            self.best = val
            self.evals_since_best = 0
        else:
            self.evals_since_best += 1
        self.events.emit("eval", **metrics, best=is_best, best_val_loss=self.best)
        self.history.append(metrics)
        if math.isfinite(val):
            self.save(metrics, is_best)
        else:
            self.events.emit("warning", step=self.step, message=f"validation loss is not finite at step "
                             f"{self.step}; no checkpoint written")
        return metrics

    def _sample(self) -> None:
        self.sampled_at = self.step
        self.model.eval()
        try:
            with torch.no_grad():
                payload = self.task.sample(seed=self.cfg.seed + self.step)
        except Exception as exc:  # noqa: BLE001 - a failed sample must not stop training
            self.events.emit("warning", step=self.step, message=f"sampling failed: {exc}")
            return
        finally:
            self.model.train()
        self.events.emit("sample", step=self.step, **payload)
