"""Jobs that run in a child process: training, export, probes, device queries (design: docs/train-worker.md).

The child (``studio.train.worker.entry``, multiprocessing *spawn* context) imports torch; this process
never does. A reader thread moves the child's events from a multiprocessing queue into a locked buffer;
a GUI-thread timer drains that buffer at most 20 times a second and emits ``batch`` (all events, in
order) and ``event`` (each event except the frequent ``step`` ones). No signal is emitted from the reader
thread. Pause/resume/stop are multiprocessing Events the child's trainer polls.

If the child dies without a final ``finished``/``error`` event (a crash in native code, the OOM killer),
``failed`` says so with what to try. ``shutdown()`` stops the child cleanly (stop flag, then SIGTERM, then
SIGKILL, each after a timeout); checkpoints are written atomically, so none is ever half-written.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_mod
import signal
import threading

from PySide6.QtCore import QObject, QTimer, Signal

import studio.train.worker as train_worker
from studio.common.jobs import DRAIN_INTERVAL_MS, Job

_FREQUENT = {"step", "log"}


def crash_message(exitcode: int | None, what: str = "training") -> str:
    """A user-facing message for a child that ended without reporting a result."""
    if exitcode is None:
        how = "stopped responding"
    elif exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        how = f"was killed by {name}"
    else:
        how = f"exited with code {exitcode}" + (f" (0x{exitcode & 0xFFFFFFFF:08X})" if exitcode > 255 else "")
    hint = ("This usually means the system ran out of memory or a native library (PyTorch, the GPU driver) "
            "crashed. Try a smaller batch, sequence length or model, or train on the CPU; the last good "
            "checkpoint is kept, so you can resume from it.")
    if exitcode is not None and exitcode < 0 and -exitcode == getattr(signal, "SIGKILL", 9):
        hint = ("Usually the operating system ends a process like this when memory runs out. Try a smaller "
                "batch, sequence length or model; the last good checkpoint is kept, so you can resume from it.")
    return f"The {what} process {how} before it finished. {hint}"


class ChildJob(Job):
    """Runs ``studio.train.worker.entry(target, kwargs, ...)`` in a spawned child process.

    ``batch`` carries lists of event dicts (<= 20 per second). ``finished`` carries the job function's
    result dict; ``failed`` a message (with a hint) for the user. Exactly one of them per run.
    """

    batch = Signal(list)

    def __init__(self, target: str, kwargs: dict | None = None, *, what: str = "job", threads: int | None = None,
                 interval_ms: int = DRAIN_INTERVAL_MS, daemon: bool = True, parent: QObject | None = None):
        super().__init__(parent)
        self.daemon = daemon  # False for jobs that start processes of their own (parallel data import)
        self.target = target
        self.kwargs = dict(kwargs or {})
        self.what = what
        self.threads = threads
        self.process: multiprocessing.process.BaseProcess | None = None
        self._ctx = multiprocessing.get_context("spawn")
        self._queue = None
        self._stop_ev = None
        self._pause_ev = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()
        self._buffer: list[dict] = []
        self._final: dict | None = None      # the child's finished/error event, or a synthesised crash
        self._reader_done = threading.Event()
        self._running = False
        self._stop_requested = False
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._drain)

    # ---- public API ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self.process is not None:
            raise RuntimeError("a ChildJob runs once; make a new one")
        self._queue = self._ctx.Queue()
        self._stop_ev = self._ctx.Event()
        self._pause_ev = self._ctx.Event()
        self.process = self._ctx.Process(
            target=train_worker.entry, name=f"scribe-{self.what}",
            args=(self.target, self.kwargs, self._queue, self._stop_ev, self._pause_ev, self.threads),
            daemon=self.daemon)  # daemon: multiprocessing ends it if this process exits without shutdown()
        self.process.start()
        self._running = True
        self._reader = threading.Thread(target=self._read, name=f"scribe-{self.what}-reader", daemon=True)
        self._reader.start()
        self._timer.start()

    def stop(self) -> None:
        """Ask the child to stop (training saves a checkpoint and ends with ``finished``)."""
        if self._stop_ev is not None:
            self._stop_requested = True
            self._stop_ev.set()
            self._pause_ev.clear()

    def pause(self) -> None:
        if self._pause_ev is not None and self.is_running():
            self._pause_ev.set()

    def resume(self) -> None:
        if self._pause_ev is not None:
            self._pause_ev.clear()

    def is_paused(self) -> bool:
        return self._pause_ev is not None and self._pause_ev.is_set()

    def is_running(self) -> bool:
        return self._running

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop the child and wait: stop flag, ``timeout`` s; SIGTERM, 3 s; SIGKILL. True if it was clean.

        Blocks the calling thread; for closing the app. The reader thread keeps draining the queue
        meanwhile, so the child never blocks on a full pipe.
        """
        p = self.process
        if p is None:
            return True
        clean = True
        if p.is_alive():
            self.stop()
            p.join(timeout)
            if p.is_alive():
                clean = False
                p.terminate()   # SIGTERM: the child's handler turns it into a stop too
                p.join(3.0)
            if p.is_alive():
                p.kill()
                p.join(3.0)
        if self._reader is not None:
            self._reader.join(2.0)
        self._timer.stop()
        if self._running:
            self._running = False
            self._finish_now(emit=False)
        return clean and p.exitcode == 0

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the child and the reader thread are done (tests, shutdown)."""
        if self.process is None:
            return True
        self.process.join(timeout)
        if self._reader is not None:
            self._reader.join(2.0 if timeout is None else max(timeout, 0.1))
        return not self.process.is_alive()

    # ---- reader thread: queue -> buffer -------------------------------------------------------------
    def _read(self) -> None:
        q, p = self._queue, self.process
        final = None
        while True:
            try:
                ev = q.get(timeout=0.1)
            except (EOFError, OSError):
                break
            except queue_mod.Empty:
                if not p.is_alive():
                    # drain what the child's feeder thread flushed just before it ended
                    try:
                        while True:
                            ev = q.get(timeout=0.2)
                            final = self._take(ev) or final
                    except Exception:  # noqa: BLE001 - Empty, a closed pipe, a torn last message
                        pass
                    break
                continue
            except Exception as exc:  # noqa: BLE001 - an event we cannot read must not stop the reader
                ev = {"type": "log", "text": f"(an unreadable event from the {self.what} process: {exc!r})"}
            final = self._take(ev) or final
        p.join(5.0)
        if final is None:
            code = p.exitcode
            if self._stop_requested and code in (0, -signal.SIGTERM, -getattr(signal, "SIGKILL", 9)):
                final = {"type": "finished", "result": {"status": "stopped", "forced": code != 0}}
            else:
                final = {"type": "error", "message": crash_message(code, self.what), "hint": "",
                         "exitcode": code, "crashed": True}
        with self._lock:
            self._final = final
        self._reader_done.set()
        try:
            q.close()
        except (OSError, ValueError):
            pass

    def _take(self, ev) -> dict | None:
        if not isinstance(ev, dict):
            return None
        if ev.get("type") in ("finished", "error"):
            return ev
        with self._lock:
            self._buffer.append(ev)
        return None

    # ---- GUI thread: buffer -> signals --------------------------------------------------------------
    def _drain(self) -> None:
        if not self._running:
            return
        done = self._reader_done.is_set()  # read before taking the buffer so nothing is lost
        with self._lock:
            events, self._buffer = self._buffer, []
        if events:
            self.batch.emit(events)
            for ev in events:
                if ev.get("type") not in _FREQUENT:
                    self.event.emit(ev)
        if done and self._running:
            self._running = False
            self._timer.stop()
            self._finish_now(emit=True)

    def _finish_now(self, emit: bool) -> None:
        with self._lock:
            final, rest = self._final, self._buffer
            self._buffer = []
        if final is None:
            final = {"type": "finished", "result": {"status": "stopped"}}
        if not emit:
            return
        if rest:
            self.batch.emit(rest)
        if final["type"] == "finished":
            self.finished.emit(dict(final.get("result") or {}))
        else:
            msg = final.get("message", "failed")
            hint = final.get("hint")
            self.failed.emit(f"{msg} {hint}".strip() if hint else msg)


class ChildJobs:
    """The side jobs a widget owns (exports, data preparation, probes): kept while they run, dropped and
    deleted when they end, stopped or shut down with the widget."""

    def __init__(self):
        self._jobs: list[ChildJob] = []

    def __len__(self) -> int:
        return len(self._jobs)

    def __iter__(self):
        return iter(list(self._jobs))

    def add(self, job: ChildJob) -> ChildJob:
        self._jobs.append(job)
        return job

    def forget(self, job: ChildJob) -> None:
        if job in self._jobs:
            self._jobs.remove(job)
        job.deleteLater()

    def running(self) -> bool:
        return any(j.is_running() for j in self._jobs)

    def stop(self) -> None:
        for j in self:
            j.stop()

    def shutdown(self, timeout: float) -> None:
        for j in self:
            j.shutdown(timeout)
        self._jobs.clear()


class TrainingJob(ChildJob):
    """A training run: ``argv`` as for ``scribe`` (e.g. ``["train", "text", "--corpus", ...]``)."""

    def __init__(self, argv: list[str], *, sample: dict | None = None, threads: int | None = None,
                 parent: QObject | None = None):
        super().__init__("studio.train.worker:train", {"argv": list(argv), "sample": sample},
                         what="training", threads=threads, parent=parent)
        self.argv = list(argv)


def make_model_job(argv: list[str], out_dir: str, name: str, parent: QObject | None = None) -> ChildJob:
    """Fine-tune (``scribe <argv>``) and export the result as the package ``out_dir`` named ``name``, in the
    training child process (``studio.train.worker.train_and_export``): the "My handwriting" page's "Make my
    model". ``finished`` carries the package's ``path``."""
    target = f"{train_worker.__name__}:{train_worker.train_and_export.__name__}"
    return ChildJob(target, {"argv": list(argv), "out_dir": str(out_dir), "name": name}, what="training",
                    threads=default_threads(), parent=parent)


def default_threads() -> int:
    """Torch threads for a training child: all cores but one, so the GUI stays responsive."""
    return max(1, (os.cpu_count() or 2) - 1)

