"""Pieces shared by the training commands: trainer flags, progress bar, events, Ctrl-C."""

from __future__ import annotations

import argparse
import errno
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

from engine.core.errors import ScribeError
from engine.core.events import JsonlSink, format_duration

# ---- value checks (argparse ``type=``): every command checks its numbers the same way, and the app's Train
# form reads the same bounds from the parser (``Number.base``, ``.lo``, ``.hi``) -------------------------------

class Number:
    """An argparse type: an ``int`` or a finite ``float`` in [lo, hi] (``lo_open``: lo itself excluded).
    A bad value is one line naming the flag and the value, and exit status 2 (argparse's usage error)."""

    def __init__(self, base: type, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
                 hi_open: bool = False):
        self.base, self.lo, self.hi, self.lo_open, self.hi_open = base, lo, hi, lo_open, hi_open
        self.__name__ = "whole number" if base is int else "number"   # argparse names the type by this

    def __repr__(self) -> str:
        return f"Number({self.base.__name__}, {self.lo}, {self.hi})"

    def describe(self) -> str:
        what = "a whole number" if self.base is int else "a number"
        bounds = []
        num = lambda v: str(int(v)) if float(v).is_integer() else f"{v:g}"  # noqa: E731
        if self.lo is not None:
            bounds.append(f"{'>' if self.lo_open else '>='} {num(self.lo)}")
        if self.hi is not None:
            bounds.append(f"{'<' if self.hi_open else '<='} {num(self.hi)}")
        return what + (" " + " and ".join(bounds) if bounds else "")

    def __call__(self, text: str):
        s = str(text).strip()
        try:
            v = self.base(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {self.describe()}") from None
        if self.base is float and not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number (give {self.describe()})")
        lo_bad = self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo))
        hi_bad = self.hi is not None and (v > self.hi or (self.hi_open and v == self.hi))
        if lo_bad or hi_bad:
            raise argparse.ArgumentTypeError(f"{s} is out of range: give {self.describe()}")
        return v


POSITIVE_INT = Number(int, 1)
COUNT = Number(int, 0)                  # 0 allowed (0: off / none)
SEED = Number(int, 0, 2**32 - 1)
POSITIVE = Number(float, 0, lo_open=True)
NON_NEGATIVE = Number(float, 0)
FINITE = Number(float)
FRACTION = Number(float, 0, 1, hi_open=True)                   # dropout: 0 <= p < 1
BATCH = Number(int, 1, 2**20)           # sequences per batch (and characters per BPTT chunk): far above any machine
THREADS = Number(int, 1, 1024)
OPEN_FRACTION = Number(float, 0, 1, lo_open=True, hi_open=True)  # a held-out share: 0 < f < 1
WORD_SPACE = Number(float, 0.25, 4)     # a factor on word spaces (scribe synth)


class AutoOr(Number):
    """A :class:`Number` that also takes ``auto`` (any case; the value None)."""

    def __call__(self, text: str):
        if str(text).strip().lower() == "auto":
            return None
        try:
            return super().__call__(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"{str(text).strip()!r} is neither 'auto' nor {self.describe()}") from None


AUTO_WORD_SPACE = AutoOr(float, WORD_SPACE.lo, WORD_SPACE.hi)   # scribe sample ink --word-space auto|F


class AutoOffOr(AutoOr):
    """An :class:`AutoOr` that also takes ``off`` (any case; the value "off")."""

    def __call__(self, text: str):
        if str(text).strip().lower() == "off":
            return "off"
        try:
            return super().__call__(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"{str(text).strip()!r} is neither 'auto', 'off' nor "
                                             f"{self.describe()}") from None


SLANT = AutoOffOr(float, -45, 45)   # scribe sample ink --slant auto|off|DEGREES


# What a setting saved in a run's card must be to be reused by --resume: the check of its flag. (model_config
# values were checked by the card schema; train_config / settings are free-form there.)
SAVED_RULES = {"steps": POSITIVE_INT, "minutes": POSITIVE, "lr": POSITIVE, "min_lr": NON_NEGATIVE,
               "optimizer": ("adamw", "rmsprop"), "weight_decay": NON_NEGATIVE, "warmup": COUNT,
               "schedule": ("cosine", "constant"), "clip": NON_NEGATIVE, "eval_every": POSITIVE_INT,
               "sample_every": COUNT, "patience": COUNT, "seed": SEED, "amp": bool, "batch": BATCH,
               "seq_len": BATCH, "val_fraction": OPEN_FRACTION, "eval_blocks": POSITIVE_INT,
               "stateful_streams": POSITIVE_INT, "corpus": str, "buckets": POSITIVE_INT,
               "max_points": Number(int, 2), "sample_text": str, "kind": ("synthesis", "prediction")}


def saved_value_ok(key: str, value) -> bool:
    """Whether ``value``, saved in a run's card for setting ``key``, passes that setting's check (None: unset;
    keys without a rule pass)."""
    rule = SAVED_RULES.get(key)
    if rule is None or value is None:
        return True
    if rule in (bool, str):
        return isinstance(value, rule)
    if isinstance(rule, tuple):
        return isinstance(value, str) and value in rule
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (rule.base is int and
                                                                           not isinstance(value, int)):
        return False
    try:
        rule(str(value))
    except argparse.ArgumentTypeError:
        return False
    return True


def refuse_damaged_settings(damaged: dict, args, out) -> None:
    """ScribeError for the first damaged saved setting (see :func:`saved_value_ok`) the flags do not replace."""
    for k, v in damaged.items():
        if getattr(args, k, None) is None:
            raise ScribeError(f"the card of {out}'s last checkpoint holds a damaged setting {k}={str(v)[:60]!r}; "
                              f"give --{k.replace('_', '-')} to continue the run")


def add_trainer_flags(p, *, lr: float = 2e-3, clip: float = 1.0, batch: int = 64, seq_len: int = 128,
                      dropout: float = 0.0) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--out", required=True, help="run folder (checkpoints, events)")
    g.add_argument("--steps", type=POSITIVE_INT, default=None,
                   help="optimizer steps (default 1000 unless --minutes)")
    g.add_argument("--minutes", type=POSITIVE, default=None, help="train for this long instead of --steps")
    g.add_argument("--batch", type=BATCH, default=batch)
    g.add_argument("--seq-len", type=BATCH, default=seq_len, help="BPTT chunk length T")
    g.add_argument("--lr", type=POSITIVE, default=lr, help="peak learning rate (after warmup)")
    g.add_argument("--min-lr", type=NON_NEGATIVE, default=None, help="final learning rate of the cosine schedule "
                   "(default: lr / 10)")
    g.add_argument("--optimizer", choices=["adamw", "rmsprop"], default="adamw")
    g.add_argument("--weight-decay", type=NON_NEGATIVE, default=0.01)
    g.add_argument("--warmup", type=COUNT, default=50)
    g.add_argument("--schedule", choices=["cosine", "constant"], default="cosine")
    g.add_argument("--clip", type=NON_NEGATIVE, default=clip, help="global gradient-norm threshold (0: off)")
    g.add_argument("--dropout", type=FRACTION, default=dropout)
    g.add_argument("--eval-every", type=POSITIVE_INT, default=200)
    g.add_argument("--sample-every", type=COUNT, default=0, help="0: with every evaluation")
    g.add_argument("--patience", type=COUNT, default=0, help="stop after this many evals without improvement")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda")
    g.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA")
    g.add_argument("--cuda-graphs", choices=["auto", "on", "off"], default="auto", dest="cuda_graphs",
                   help="replay training steps from CUDA graphs (handwriting models on CUDA; auto: on there)")
    g.add_argument("--threads", type=THREADS, default=None, help="CPU threads (default: 1 on a machine "
                   "with 2 cores or one other jobs keep busy, else up to 4)")
    g.add_argument("--seed", type=SEED, default=1337)
    g.add_argument("--nproc", type=Number(int, 1, 1024), default=None,
                   help="data-parallel training in N processes on this machine, one per GPU (or CPU processes "
                        "with --device cpu); starts torchrun itself. --batch is the total over all of them")
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


# ---- CPU threads ------------------------------------------------------------------------------------------

def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_threads(cores: int | None = None, load: float | None = None) -> tuple[int, str]:
    """(CPU threads, why) for a training run that did not give --threads. On a small or busy machine one
    thread is much faster per step than one per core (threads wait on each other and on the other jobs:
    measured ~15x slower per step with 2 threads on a loaded 2-core machine); else up to 4."""
    cores = cores or _cores()
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = None
    busy = f", load {load:.1f}" if load is not None else ""
    if cores <= 2:
        return 1, f"{cores} core{'s' if cores != 1 else ''}{busy}"
    if load is not None and load >= cores / 2:
        return 1, f"{cores} cores, busy: load {load:.1f}"
    return min(4, cores), f"{cores} cores{busy}"


def choose_threads(args, device: str | None = None) -> str | None:
    """Fill in ``args.threads`` when not given (CLI training only: the app chooses its own); returns the line
    that says what was chosen and why (printed once the run is set up, so a bad input still gets one line),
    or None. ``device``: the run's device setting, where a preset sets it (nothing to say for a CUDA run)."""
    if getattr(args, "threads", None) or (device or getattr(args, "device", None)) == "cuda":
        return None
    n, why = default_threads()
    procs = int(os.environ.get("LOCAL_WORLD_SIZE", 1) or 1)   # processes of a data-parallel run on this machine
    if procs > 1:
        n, why = max(1, min(n, _cores() // procs)), f"{why}; {procs} processes"
    args.threads = n
    return f"CPU threads: {n} ({why}; --threads N to choose)"


# ---- model size -------------------------------------------------------------------------------------------

def _lstm_params(cell: str, inp: int, hidden: int) -> int:
    gates = {"lstm": 4, "gru": 3}.get(cell, 1)
    return gates * (inp * hidden + hidden * hidden + 2 * hidden)


def estimate_params(kind: str, s, vocab: int = 100) -> int:
    """About how many parameters the model of ``s`` (a settings namespace) has, without building it."""
    layers, h = int(s.layers), int(s.hidden)
    # closed forms (layer 1, then layers - 1 alike): an absurd --layers is estimated at once, not counted out
    if kind == "text":
        cell, e, skip = s.cell, int(s.embed), bool(getattr(s, "skip", False))
        rnn = _lstm_params(cell, e, h) + (layers - 1) * _lstm_params(cell, e + h if skip else h, h)
        return vocab * e + rnn + h * (layers if skip else 1) * vocab + vocab
    mdn = 6 * int(s.mixtures) + 1
    if kind == "ink-prediction":
        return _lstm_params("lstm", 3, h) + (layers - 1) * _lstm_params("lstm", 3 + h, h) + layers * h * mdn + mdn
    k = int(getattr(s, "window_k", 10) or 10)
    return (_lstm_params("lstm", 3 + vocab, h) + (h + 1) * 3 * k
            + (layers - 1) * _lstm_params("lstm", 3 + h + vocab, h) + (layers * h + vocab + 1) * mdn)


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (psutil if installed, else /proc/meminfo or sysconf)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


BYTES_PER_PARAM = 16   # float32 weights + gradients + the optimizer's two running averages


def _size(n: float) -> str:
    if n >= 1e15:
        return f"{n:.2g} bytes"
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 1e3:.0f} kB"


def check_model_size(kind: str, s, vocab: int = 100, available: int | None = None) -> None:
    """Refuse a model whose weights and optimizer state alone would not fit in the memory available (a clear
    message with the estimate instead of an allocation error after a long wait)."""
    n = estimate_params(kind, s, vocab)
    need = n * BYTES_PER_PARAM
    free = available if available is not None else available_memory()
    if free is not None and need > free:
        count = f"{n:.2g}" if n >= 1e12 else f"{n / 1e9:,.1f} billion" if n >= 1e9 else f"{n / 1e6:,.1f} million"
        raise ScribeError(f"a model of {s.layers} x {s.hidden} (--layers {s.layers} --hidden {s.hidden}) has about "
                          f"{count} parameters: about {_size(need)} for its weights and optimizer "
                          f"state, more than the {_size(free)} of memory available; choose a smaller "
                          f"--hidden or --layers")


# ---- output files -------------------------------------------------------------------------------------------

def check_output(path, flag: str) -> Path:
    """The path ``flag`` names, checked before any work is done: not a folder, in a folder that exists."""
    p = Path(path)
    if p.is_dir():
        raise ScribeError(f"{flag} {path} is a folder; give a file name")
    if not p.parent.is_dir():
        raise ScribeError(f"{flag} {path}: the folder {p.parent} does not exist")
    return p


def _write_file(path: Path, data: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_output(path, data: str, flag: str = "") -> None:
    """Write a text file completely or not at all (a temporary file renamed into place): a full disk leaves
    no half-written file and any earlier file untouched. Errors are one line naming the file."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.part")
    try:
        _write_file(tmp, data)
        os.replace(tmp, p)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        why = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:
            why = "the disk is full"
        raise ScribeError(f"cannot write {(flag + ' ') if flag else ''}{path}: {why}") from None


def quiet_broken_pipe() -> int:
    """After a BrokenPipeError on stdout (``scribe ... | head``): point stdout at /dev/null so nothing more
    is written or reported at exit, and return the shell's status for a command ended by SIGPIPE."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):   # a stand-in stdout (tests) has no file descriptor
        pass
    return 128 + getattr(signal, "SIGPIPE", 13)


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
        elif t == "warning":   # (an error is raised too: the command prints it once, as it ends)
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


def _resume(trainer) -> None:
    """``trainer.resume()``: the saved state is read from files nothing vouches for, so a value of the wrong type
    or range in them (state.json's trainer / task / optimizer entries) is one line naming the run, not a
    traceback."""
    try:
        trainer.resume()
    except ScribeError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RuntimeError) as exc:
        why = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ScribeError(f"cannot resume the run in {trainer.out}: its saved training state is damaged "
                          f"({type(exc).__name__}: {why})") from None


def train_command(args, kind: str, build) -> int:
    """``scribe train text|ink``: one process, or one of a data-parallel job (started by torchrun, or by
    ``--nproc N``, which starts torch's launcher here: ``engine.training.distributed``)."""
    from engine.training import distributed
    from engine.training.presets import merge_settings

    device = merge_settings(kind, args).get("device")
    nproc = getattr(args, "nproc", None) or 1
    if nproc > 1:
        if distributed.launched():
            raise ScribeError("--nproc starts the processes itself; under torchrun leave it out")
        argv = getattr(args, "argv", None)
        if argv is None:
            raise ScribeError("--nproc works from the command line ('scribe train ... --nproc N')")
        return distributed.launch(nproc, distributed.strip_nproc(argv), args.out, device)
    dist = distributed.init(device)
    finished = False
    try:
        note = choose_threads(args, device)
        with distributed.one_report(dist, "build"):
            trainer = build(args)
        if note and trainer.is_main:
            print(note, file=sys.stderr)
        with distributed.one_report(dist, "train"):
            run_training(trainer, args)
        finished = True
    finally:
        distributed.shutdown(finished)
    if dist is not None:
        distributed.exit_process(0)
    return 0


def run_training(trainer, args) -> dict:
    """Attach sinks, handle Ctrl-C as a clean stop (checkpoint kept), run. In a data-parallel job only rank 0
    writes events, the progress bar and the summary lines; every rank stops together on Ctrl-C."""
    main = getattr(trainer, "is_main", True)
    sink = JsonlSink(args.events) if args.events and main else None
    if sink:
        trainer.events.add(sink)
    if main:
        trainer.events.add(ProgressBar(not args.quiet and args.events != "-"))
    old = {}
    if threading.current_thread() is threading.main_thread():
        def _stop(signum, frame):
            trainer.control.stop.set()
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, _stop)
    out = Path(trainer.out)
    if out.exists() and not out.is_dir():
        raise ScribeError(f"--out {out} exists and is not a folder")
    try:
        if getattr(args, "resume", False):
            try:
                _resume(trainer)
            except ScribeError as exc:
                exc.shared = True   # every process of a multi-process run reads the same checkpoint: rank 0 says it
                raise
        try:
            summary = trainer.run()
        except OSError as exc:   # the run folder itself cannot be made or locked (checkpoint writes are the trainer's)
            raise ScribeError(f"cannot train into {out}: {exc.strerror or exc}") from None
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if sink:
            sink.close()
    if not main:
        return summary
    best = summary.get("best_val_loss")
    if args.events != "-":
        print(f"{summary['status']} at step {summary['step']}; best val_loss "
              f"{best:.4f}" if best is not None else f"{summary['status']} at step {summary['step']}",
              file=sys.stderr)
    from engine.training.checkpoint import list_checkpoints

    if not list_checkpoints(summary["out"]):   # e.g. every validation loss was NaN: nothing to load or resume
        why = "no validation loss was finite (a --lr or --weight-decay too high?)" if best is None else \
            "none was written"
        raise ScribeError(f"the run ended at step {summary['step']} without a checkpoint in {summary['out']}: {why}")
    if args.events != "-":
        print(f"checkpoints in {summary['out']}", file=sys.stderr)
    return summary
