"""Pieces shared by the training commands: trainer flags, progress bar, events, Ctrl-C."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from engine.core.events import JsonlSink, format_duration


def add_trainer_flags(p, *, lr: float = 2e-3, clip: float = 1.0, batch: int = 64, seq_len: int = 128,
                      dropout: float = 0.0) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--out", required=True, help="run folder (checkpoints, events)")
    g.add_argument("--steps", type=int, default=None, help="optimizer steps (default 1000 unless --minutes)")
    g.add_argument("--minutes", type=float, default=None, help="train for this long instead of --steps")
    g.add_argument("--batch", type=int, default=batch)
    g.add_argument("--seq-len", type=int, default=seq_len, help="BPTT chunk length T")
    g.add_argument("--lr", type=float, default=lr, help="peak learning rate (after warmup)")
    g.add_argument("--min-lr", type=float, default=None, help="final learning rate of the cosine schedule "
                   "(default: lr / 10)")
    g.add_argument("--optimizer", choices=["adamw", "rmsprop"], default="adamw")
    g.add_argument("--weight-decay", type=float, default=0.01)
    g.add_argument("--warmup", type=int, default=50)
    g.add_argument("--schedule", choices=["cosine", "constant"], default="cosine")
    g.add_argument("--clip", type=float, default=clip, help="global gradient-norm threshold (0: off)")
    g.add_argument("--dropout", type=float, default=dropout)
    g.add_argument("--eval-every", type=int, default=200)
    g.add_argument("--sample-every", type=int, default=0, help="0: with every evaluation")
    g.add_argument("--patience", type=int, default=0, help="stop after this many evals without improvement")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda")
    g.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA")
    g.add_argument("--cuda-graphs", choices=["auto", "on", "off"], default="auto", dest="cuda_graphs",
                   help="replay training steps from CUDA graphs (handwriting models on CUDA; auto: on there)")
    g.add_argument("--threads", type=int, default=None, help="CPU threads (default: one per core; 1 is "
                   "faster on a machine other jobs keep busy)")
    g.add_argument("--seed", type=int, default=1337)
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    g.add_argument("--init-from", default=None, help="start from this model's weights (fine-tune)")
    g.add_argument("--events", default=None, metavar="FILE|-", help="write events as JSON lines")
    g.add_argument("--quiet", action="store_true", help="no progress bar")


def trainer_config(args):
    from engine.training.trainer import TrainConfig

    steps = args.steps if args.steps is not None else (None if args.minutes else 1000)
    return TrainConfig(steps=steps, minutes=args.minutes, lr=args.lr, optimizer=args.optimizer,
                       weight_decay=args.weight_decay, warmup=args.warmup, schedule=args.schedule,
                       clip=args.clip, eval_every=args.eval_every, sample_every=args.sample_every,
                       patience=args.patience, device=args.device, seed=args.seed, amp=bool(args.amp),
                       min_lr=getattr(args, "min_lr", None), threads=getattr(args, "threads", None),
                       cuda_graphs=getattr(args, "cuda_graphs", None) or "auto")


class ProgressBar:
    """A tqdm bar on a terminal: steps, loss, throughput, ETA (by steps or by --minutes); silent when
    stderr is not a terminal (evaluations, warnings and errors are printed either way)."""

    def __init__(self, enabled: bool, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.bar = None
        self._last_draw = 0.0

    def _print(self, msg: str) -> None:
        if self.bar is not None:
            self.bar.write(msg, file=self.stream)
        else:
            print(msg, file=self.stream)

    def __call__(self, ev: dict) -> None:
        t = ev["type"]
        if t == "eval":
            extra = "".join(f" | {k} {ev[k]:.4f}" for k in ("val_loss_stateful", "bpc") if isinstance(ev.get(k), float))
            self._print(f"step {ev['step']}: val_loss {ev.get('val_loss', float('nan')):.4f}{extra}"
                        + (" (best)" if ev.get("best") else ""))
        elif t in ("warning", "error"):
            self._print(f"{t}: {ev['message']}")
        elif t == "resume":
            self._print(f"resumed from {ev['path']} at step {ev['step']}")
        if not self.enabled:
            return
        if t == "start":
            from tqdm import tqdm

            total = ev.get("total_steps")
            fmt = ("{l_bar}{bar}| {n_fmt}/{total_fmt} steps [{elapsed}]{postfix}" if total
                   else "step {n_fmt} [{elapsed}]{postfix}")
            try:
                cols = os.get_terminal_size(self.stream.fileno()).columns
            except (OSError, AttributeError, ValueError):
                cols = 0
            self.bar = tqdm(total=total, initial=ev.get("step", 0), unit="step", file=self.stream,
                            bar_format=fmt, mininterval=0.2,
                            **({"dynamic_ncols": True} if cols > 0 else {"ncols": 100, "nrows": 40}))
        elif t == "step" and self.bar is not None:
            self.bar.n = ev["step"]
            self.bar.set_postfix_str(f"loss {ev['loss']:.4f} | {ev['rate']:,.0f} {ev['unit']}/s | "
                                     f"ETA {format_duration(ev.get('eta_s'))}"
                                     + (" | clipped" if ev.get("clipped") else ""), refresh=False)
            now = time.monotonic()
            if now - self._last_draw >= 0.2:  # redraw at most 5 times a second
                self._last_draw = now
                self.bar.refresh()
        elif t in ("done", "error") and self.bar is not None:
            self.bar.close()
            self.bar = None


def run_training(trainer, args) -> dict:
    """Attach sinks, handle Ctrl-C as a clean stop (checkpoint kept), run."""
    sink = JsonlSink(args.events) if args.events else None
    if sink:
        trainer.events.add(sink)
    trainer.events.add(ProgressBar(not args.quiet and args.events != "-"))
    old = {}
    if threading.current_thread() is threading.main_thread():
        def _stop(signum, frame):
            trainer.control.stop.set()
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, _stop)
    try:
        if getattr(args, "resume", False):
            trainer.resume()
        summary = trainer.run()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if sink:
            sink.close()
    if args.events != "-":
        best = summary.get("best_val_loss")
        print(f"{summary['status']} at step {summary['step']}; best val_loss "
              f"{best:.4f}" if best is not None else f"{summary['status']} at step {summary['step']}",
              file=sys.stderr)
        print(f"checkpoints in {summary['out']}", file=sys.stderr)
    return summary
