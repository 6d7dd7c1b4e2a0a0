"""The child-process side of training from the app (see docs/train-worker.md).

Everything here runs in a *spawned* child process: this module imports neither Qt nor (at module level)
torch, so the GUI process can reference its functions as process targets without loading either.

A job is ``entry(target, kwargs, queue, stop, pause, threads)``: it imports ``target`` ("module:function"),
calls ``function(ctx, **kwargs)`` and reports over ``queue``:

- every event the function emits (``ctx.emit``; for training: every trainer event dict, unchanged apart
  from tensors/arrays made plain so the GUI process can unpickle them without torch),
- ``{"type": "log", "text": ...}`` for what the child writes to stderr (the CLI's notes and warnings),
- exactly one final ``{"type": "finished", "result": ...}`` or ``{"type": "error", "message": ...}``.

If the child dies without either (a segfault in a native library, the OOM killer), the GUI notices the
exit code; see ``studio.train.job``.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
import threading
import traceback
from typing import Any, Callable

# Trainer event types that are forwarded as they are (the final "error" is built by ``entry``).
_SUPPRESS = {"error"}


class WorkerContext:
    """What a job function gets: an ``emit`` for events and the pause/stop flags set by the GUI."""

    def __init__(self, queue, stop, pause):
        self.queue = queue
        self.stop = stop        # multiprocessing.Event: set by the GUI (Stop, window closed) or on parent death
        self.pause = pause      # multiprocessing.Event: set while paused
        self._lock = threading.Lock()

    def emit(self, type_: str, **fields: Any) -> None:
        import time

        self.send({"type": type_, "time": time.time(), **fields})

    def send(self, event: dict) -> None:
        with self._lock:
            self.queue.put(plain(event))

    def forward(self, event: dict) -> None:
        """A trainer callback: send the event to the GUI."""
        if event.get("type") not in _SUPPRESS:
            self.send(event)

    def stopped(self) -> bool:
        return self.stop.is_set()


def plain(obj: Any) -> Any:
    """Make an event picklable *without torch*: tensors become numpy arrays, numpy scalars Python ones."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    mod = type(obj).__module__
    if mod.startswith("torch"):
        try:
            obj = obj.detach().cpu().numpy()
        except Exception:  # noqa: BLE001 - devices, dtypes, ... anything odd becomes its text
            return str(obj)
        mod = "numpy"
    if mod.startswith("numpy"):
        import numpy as np

        if isinstance(obj, np.ndarray):
            return obj if obj.dtype != object else [plain(v) for v in obj.tolist()]
        if isinstance(obj, np.generic):
            return obj.item()
    if hasattr(obj, "__fspath__"):
        return os.fspath(obj)
    return str(obj)


# ---- error messages ---------------------------------------------------------------------------------
def explain(exc: BaseException) -> tuple[str, str]:
    """(message, what to try) for an exception raised while training or running a job."""
    from engine.core.errors import CheckpointError, DataError, ScribeError, TrainingError

    name = type(exc).__name__
    text = str(exc)
    low = text.lower()
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in ("torch", "safetensors", "onnx"):
        return (f"Training needs {exc.name.split('.')[0]}, which this installation does not have.",
                "Install the full Scribe Studio (with PyTorch), or run 'pip install torch'.")
    if name == "OutOfMemoryError" or "out of memory" in low or isinstance(exc, MemoryError) \
            or "can't allocate memory" in low or "cannot allocate memory" in low:
        where = "GPU" if ("cuda" in low or name == "OutOfMemoryError" or "gpu" in low) else "computer"
        if isinstance(exc, TrainingError):
            return text, ""
        return (f"The {where} ran out of memory.",
                "Lower the batch size or the sequence length, or use a smaller model"
                + (", or train on the CPU." if where == "GPU" else "."))
    if isinstance(exc, DataError):
        return text, "Check the data: pick another file or folder, or save the text as UTF-8."
    if isinstance(exc, CheckpointError):
        return text, "Pick another run or model, or start from scratch."
    if isinstance(exc, TrainingError):
        return text, ""
    if isinstance(exc, ScribeError):
        return text, ""
    if isinstance(exc, OSError):
        return (f"A file could not be read or written: {exc.strerror or text}"
                + (f" ({exc.filename})" if getattr(exc, "filename", None) else ""),
                "Check that the folder exists, is writable and that the disk has space.")
    if "cuda" in low or "cudnn" in low or "cublas" in low:
        return (f"The GPU failed: {name}: {text}",
                "Try the CPU (Device: CPU), or update the GPU driver / the CUDA build of PyTorch.")
    return f"Training failed: {name}: {text}", "The log has the details. Resume from the last checkpoint, " \
                                                 "or lower the learning rate."


# ---- the entry point ------------------------------------------------------------------------------
class _StderrToEvents(io.TextIOBase):
    """Forward lines written to stderr (CLI notes, warnings) as ``log`` events; keep the real stderr too."""

    def __init__(self, ctx: WorkerContext, real):
        self.ctx, self.real, self.buf = ctx, real, ""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if self.real is not None:
            with contextlib.suppress(Exception):
                self.real.write(s)
        self.buf += s
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            if line.strip():
                with contextlib.suppress(Exception):
                    self.ctx.emit("log", text=line.rstrip())
        return len(s)

    def flush(self) -> None:
        if self.real is not None:
            with contextlib.suppress(Exception):
                self.real.flush()


def _watch_parent(stop) -> None:
    """Stop cleanly (checkpoint kept) when the GUI process disappears without telling us."""
    import multiprocessing
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch():
        try:
            wait([parent.sentinel])
        except Exception:  # noqa: BLE001
            return
        stop.set()

    threading.Thread(target=watch, name="scribe-parent-watch", daemon=True).start()


def _lower_priority() -> None:
    """Run below normal priority: the GUI process wins the CPU when both want it (a responsive app),
    and training still gets every cycle the GUI does not use."""
    try:
        if hasattr(os, "nice"):
            os.nice(10)
        elif sys.platform == "win32":
            import ctypes

            k32 = ctypes.windll.kernel32
            k32.SetPriorityClass(k32.GetCurrentProcess(), 0x00004000)  # BELOW_NORMAL_PRIORITY_CLASS
    except (OSError, AttributeError):
        pass


def resolve(target: str) -> Callable:
    mod, _, attr = target.partition(":")
    obj: Any = importlib.import_module(mod)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def entry(target: str, kwargs: dict, queue, stop, pause, threads: int | None = None) -> None:
    """The child's main function (a spawn target)."""
    ctx = WorkerContext(queue, stop, pause)
    _lower_priority()
    _watch_parent(stop)
    real_stderr = sys.stderr
    sys.stderr = _StderrToEvents(ctx, real_stderr)
    if threads:
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        if threads:
            import torch

            torch.set_num_threads(int(threads))
        fn = resolve(target)
        result = fn(ctx, **kwargs)
        ctx.send({"type": "finished", "result": result if result is not None else {}})
    except BaseException as exc:  # noqa: BLE001 - everything becomes one message for the user
        try:
            message, hint = explain(exc)
        except Exception:  # noqa: BLE001
            message, hint = f"{type(exc).__name__}: {exc}", ""
        from engine.core.errors import ScribeError

        if not isinstance(exc, ScribeError):
            traceback.print_exc()
        ctx.send({"type": "error", "message": message, "hint": hint, "exception": type(exc).__name__})
    finally:
        sys.stderr = real_stderr
        if stop.is_set() and _parent_gone():
            queue.cancel_join_thread()  # nobody reads any more: do not block exit on a full pipe
        queue.close()
        queue.join_thread()


def _parent_gone() -> bool:
    import multiprocessing

    parent = multiprocessing.parent_process()
    return parent is not None and not parent.is_alive()


# ---- jobs ------------------------------------------------------------------------------------------
def _parse_cli(argv: list[str]):
    """Parse ``argv`` with the ``scribe`` CLI's own parser, so the app trains exactly like the CLI."""
    from engine.cli.main import build_parser
    from engine.core.errors import ScribeError

    parser = build_parser()
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return parser.parse_args(argv)
    except SystemExit:
        msg = err.getvalue().strip().splitlines()
        raise ScribeError("invalid training settings: " + (msg[-1] if msg else " ".join(argv))) from None


def train(ctx: WorkerContext, argv: list[str], sample: dict | None = None) -> dict:
    """Train as ``scribe <argv>`` would, reporting every trainer event to the GUI.

    ``sample`` optionally adjusts the task's training samples (e.g. ``prime_stroke3``/``prime_text``
    for a handwriting style), where the task has those attributes.
    """
    from engine.cli.common import run_training

    args = _parse_cli(argv)
    build = getattr(args, "build_trainer", None)
    if build is None:
        from engine.core.errors import ScribeError

        raise ScribeError(f"'scribe {' '.join(argv[:2])}' cannot be run from the app (no trainer builder)")
    if (getattr(args, "nproc", None) or 1) > 1:
        return _train_processes(ctx, [str(a) for a in argv], args)
    ctx.emit("status", text="loading data and building the model")
    trainer = build(args)
    _set_sample_options(trainer.task, sample or {})
    # The bridge: the trainer polls control.stop / control.pause (``is_set``); the GUI sets these
    # multiprocessing Events from the other process.
    trainer.control.stop = ctx.stop
    trainer.control.pause = ctx.pause
    trainer.events.add(ctx.forward)
    if ctx.stopped():
        return {"status": "stopped", "step": 0, "out": str(args.out)}
    args.quiet = True   # no progress bar; ``--events FILE`` (if given) still keeps the run's history
    return run_training(trainer, args)


def _train_processes(ctx: WorkerContext, argv: list[str], args) -> dict:
    """``--nproc N`` (several GPUs): ``scribe <argv>`` as a command, which starts N training processes through
    torch's launcher (engine.training.distributed). Their rank 0 writes the run's events file, read here and
    forwarded as they come; their stderr becomes ``log`` events; Stop is Ctrl-C for the launcher (every
    process stops after the same step and rank 0 saves a checkpoint). Pause and training-sample styles are
    not offered for such a run."""
    import json
    import signal
    import subprocess
    import tempfile
    import time

    from engine.core.errors import ScribeError
    from engine.training.distributed import check_launchable, without_flag

    check_launchable()
    events = getattr(args, "events", None)
    tmp = None
    if not events or events == "-":
        tmp = tempfile.TemporaryDirectory(prefix="scribe-events-")
        events = os.path.join(tmp.name, "events.jsonl")
        argv = without_flag(argv, "--events") + ["--events", events]
    offset = os.path.getsize(events) if os.path.exists(events) else 0   # a resumed run appends to its file
    cmd = [sys.executable, "-m", "engine.cli", *argv, "--quiet"]
    ctx.emit("status", text=f"starting {args.nproc} training processes")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, errors="replace",
                            preexec_fn=_ctrl_c_when_parent_dies if os.name == "posix" else None)
    errors: list[str] = []

    def relay():
        for line in proc.stderr:
            if line.startswith("scribe: error:"):
                errors.append(line.strip().removeprefix("scribe: error: "))
            sys.stderr.write(line)

    reader = threading.Thread(target=relay, name="scribe-nproc-stderr", daemon=True)
    reader.start()
    done: dict = {}
    buf = ""

    def drain():
        nonlocal offset, buf
        try:
            with open(events, encoding="utf-8", errors="replace") as fh:
                fh.seek(offset)
                chunk = fh.read()
                offset = fh.tell()
        except OSError:
            return
        buf += chunk
        *lines, buf = buf.split("\n")
        for line in lines:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("type") == "done":
                done.update(ev)
            ctx.forward(ev)

    stopping = False
    try:
        while proc.poll() is None:
            if ctx.stopped() and not stopping:
                stopping = True
                proc.send_signal(signal.SIGINT if hasattr(signal, "SIGINT") and os.name != "nt" else signal.SIGTERM)
            drain()
            time.sleep(0.2)
        reader.join(5)
        drain()
    finally:
        if proc.poll() is None:
            proc.kill()
        if tmp is not None:
            tmp.cleanup()
    if errors and proc.returncode not in (0, 130):
        raise ScribeError(errors[-1])
    if done:
        return {k: v for k, v in done.items() if k not in ("type", "time")}
    if stopping:
        return {"status": "stopped", "step": 0, "out": str(args.out)}
    raise ScribeError(f"the {args.nproc} training processes ended without finishing (exit code {proc.returncode})")


def _ctrl_c_when_parent_dies() -> None:
    """(In the launcher, before exec; Linux) Ctrl-C for it when this process dies, so the training processes
    stop cleanly instead of outliving the app."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGINT))   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _set_sample_options(task, sample: dict) -> None:
    """Apply sample settings the GUI asked for (attributes the task has), e.g. a handwriting style.

    A handwriting task without native priming support gets it through an adapter that passes the style
    to the same sampling loop (``engine.core.ink_stream.ink_sample``)."""
    for key, value in sample.items():
        if value is not None and hasattr(task, key):
            setattr(task, key, value)
    prime, prime_text = sample.get("sample_prime_stroke3"), sample.get("sample_prime_text")
    if prime is None or not prime_text or hasattr(task, "sample_prime_stroke3"):
        return
    if not getattr(task, "synthesis", False) or not hasattr(task, "stepper"):
        return
    import numpy as np

    from engine.core.ink_stream import ink_sample

    prime = np.asarray(prime, dtype=np.float32).reshape(-1, 3)

    def sample_primed(seed: int) -> dict:
        cap = min(40 * len(task.sample_text), 1500)
        pts = ink_sample(task.stepper(), text=task.sample_text, vocab=task.vocab, norm=task.norm,
                         bias=task.sample_bias, prime_stroke3=prime, prime_text=prime_text, seed=seed,
                         max_steps=cap)
        return {"kind": task.kind, "text": task.sample_text, "bias": task.sample_bias, "primed": True,
                "points": np.round(pts.astype(np.float64), 3).tolist()}

    task.sample = sample_primed


def cli(ctx: WorkerContext, argv: list[str]) -> dict:
    """Run ``scribe <argv>`` (data import, synthetic data, ...) with its output as ``log`` events."""
    from engine.cli.main import main
    from engine.core.errors import ScribeError

    class _Lines(io.TextIOBase):
        def __init__(self):
            self.buf, self.lines = "", []

        def writable(self) -> bool:
            return True

        def write(self, s: str) -> int:
            self.buf += s
            while "\n" in self.buf or "\r" in self.buf:
                cut = min(i for i in (self.buf.find("\n"), self.buf.find("\r")) if i >= 0)
                line, self.buf = self.buf[:cut], self.buf[cut + 1:]
                if line.strip():
                    self.lines.append(line.rstrip())
                    ctx.emit("log", text=line.rstrip())
            return len(s)

    out = _Lines()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        rc = main([str(a) for a in argv])
    if rc:
        errors = [line for line in out.lines if "error" in line.lower()]
        raise ScribeError(errors[-1].removeprefix("scribe: error: ") if errors else
                          f"'scribe {' '.join(map(str, argv[:2]))}' failed (exit code {rc})")
    return {"rc": rc, "output": out.lines[-20:]}


def device_info(ctx: WorkerContext) -> dict:
    """What ``--device auto`` would pick, and the GPU names (queried here, never in the GUI process)."""
    import torch

    info = {"torch": torch.__version__, "cuda": bool(torch.cuda.is_available()), "gpus": [],
            "threads": torch.get_num_threads(), "mps": False}
    if info["cuda"]:
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            info["gpus"].append({"index": i, "name": p.name, "memory_gb": round(p.total_memory / 2**30, 1)})
    return info


def train_and_export(ctx: WorkerContext, argv: list[str], out_dir: str, name: str) -> dict:
    """Train as ``scribe <argv>`` would (:func:`train`), then export the run's best checkpoint as the package
    ``out_dir`` named ``name`` (the "My handwriting" page's "Make my model"). A stopped run exports nothing.
    The result adds ``path`` (the package) and ``best`` (the best checkpoint's metrics)."""
    import engine.training.checkpoint as ckpt
    from engine.export.exporter import export_package

    summary = train(ctx, argv)
    if ctx.stopped() or summary.get("status") == "stopped":
        return {**summary, "status": "stopped"}
    best = ckpt.read_card(ckpt.resolve(summary["out"], prefer="best"))
    ctx.emit("status", text="exporting the model")
    path = export_package(summary["out"], out_dir, name=name)
    return {**summary, "path": str(path), "best": best.get("metrics") or {}}


def export(ctx: WorkerContext, checkpoint: str, out_dir: str) -> dict:
    from engine.export.exporter import export_package

    ctx.emit("status", text=f"exporting {checkpoint}")
    path = export_package(checkpoint, out_dir)
    return {"path": str(path)}


class _Tagged:
    """A context whose events carry ``series`` (one model of an experiment)."""

    def __init__(self, ctx: WorkerContext, series: str):
        self._ctx, self.series = ctx, series
        self.stop, self.pause = ctx.stop, ctx.pause

    def emit(self, type_: str, **fields: Any) -> None:
        self._ctx.emit(type_, series=self.series, **fields)

    def send(self, event: dict) -> None:
        self._ctx.send({**event, "series": self.series})

    def forward(self, event: dict) -> None:
        if event.get("type") in ("step", "eval", "checkpoint", "warning"):
            self.send(event)

    def stopped(self) -> bool:
        return self._ctx.stopped()


def probe(ctx, model: str, corpus: str, K: int = 50, batch: int = 16, seed: int = 0) -> dict:
    """||dL_t/dh_{t-k}|| for k = 0..K of a character model (run or checkpoint folder) on ``corpus``."""
    import engine.training.checkpoint as ckpt
    from engine.core.errors import ScribeError
    from engine.core.vocab import Vocab
    from engine.data.corpus import load_corpus
    from engine.training.probe import decay_summary, gradient_flow, probe_batch

    m, card = ckpt.load_model(model, prefer="last")
    if card.get("kind") != "text":
        raise ScribeError("the gradient-flow probe measures character models (its recurrence reads characters)")
    data = load_corpus(corpus, vocab=Vocab.from_json(card["vocab"])).data
    curve = gradient_flow(m, probe_batch(data, K, batch=batch, seed=seed), K)
    return {"curve": [float(v) for v in curve], "cell": card.get("model_config", {}).get("cell", "?"),
            "step": card.get("step"), "summary": decay_summary(curve), "model": str(model)}


def quick_experiment(ctx: WorkerContext, corpus: str, cells=("rnn-tanh", "gru", "lstm"), steps: int = 300,
                     hidden: int = 64, layers: int = 1, seq_len: int = 64, batch: int = 16, lr: float = 3e-3,
                     K: int = 40, extra_argv: list[str] | None = None) -> dict:
    """Train one small model per cell on the same data (same settings, same seed) and probe each.

    Events carry ``series`` = the cell; after each model a ``flow`` event holds its curve."""
    import tempfile

    results = {}
    with tempfile.TemporaryDirectory(prefix="scribe-quick-") as tmp:
        for cell in cells:
            if ctx.stopped():
                break
            sub = _Tagged(ctx, cell)
            out = os.path.join(tmp, cell)
            argv = ["train", "text", "--corpus", str(corpus), "--out", out, "--cell", cell, "--layers", str(layers),
                    "--hidden", str(hidden), "--embed", "32", "--seq-len", str(seq_len), "--batch", str(batch),
                    "--lr", f"{lr:g}", "--steps", str(steps), "--eval-every", str(steps), "--sample-every", "1000000000",
                    "--warmup", str(min(50, steps // 10)), *(extra_argv or [])]
            ctx.emit("status", text=f"quick experiment: training {cell}", series=cell)
            summary = train(sub, argv)
            if not os.path.exists(os.path.join(out, "last.json")):
                break  # stopped before the first checkpoint
            res = probe(sub, out, corpus, K=K)
            res["val_loss"] = summary.get("best_val_loss")
            results[cell] = res
            ctx.emit("flow", series=cell, **res)
    return {"cells": results}
