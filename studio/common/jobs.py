"""Background jobs for the GUI: a common Job interface and a generation job that runs a runtime generator.

Threading model: the worker thread only iterates the generator and appends items to a locked buffer. A
QTimer in the GUI thread drains the buffer at most 20 times a second and emits ``event``; so no signal is
ever emitted from the worker thread, the GUI gets batched updates, and Stop takes effect at once (the
job stops emitting immediately; the worker notices the cancel flag after the current step and closes the
generator).
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from typing import Any, Callable, Iterable

from PySide6.QtCore import QObject, QTimer, Signal

DRAIN_INTERVAL_MS = 50  # <= 20 GUI updates per second

_WORKERS: set[threading.Thread] = set()
_WORKERS_LOCK = threading.Lock()


def join_workers(timeout: float = 10.0) -> bool:
    """Wait for every generation worker thread to end (at exit: a thread still inside onnxruntime while
    the interpreter shuts down can abort the process). True if all ended in time."""
    deadline = time.monotonic() + timeout
    with _WORKERS_LOCK:
        threads = list(_WORKERS)
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return not any(t.is_alive() for t in threads)


class Job(QObject):
    """Something that runs off the GUI thread and reports plain dict events.

    Subclasses implement ``start``/``stop``/``is_running``. ``event`` carries dicts with a ``type``;
    ``finished`` carries a summary dict (``stopped`` True when the user stopped it); ``failed`` a message
    meant for the user. Exactly one of ``finished``/``failed`` is emitted per run.
    """

    event = Signal(dict)
    finished = Signal(dict)
    failed = Signal(str)

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def is_running(self) -> bool:
        raise NotImplementedError


def user_message(exc: BaseException) -> str:
    """A one-line message for the user; ScribeError messages are already meant for people."""
    from engine.core.errors import ScribeError

    if isinstance(exc, ScribeError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "Out of memory while generating. Try a shorter text or a smaller model."
    return f"Generation failed: {type(exc).__name__}: {exc}"


class GenerationJob(Job):
    """Runs ``produce()`` (returning an iterable, e.g. a runtime generator) in a worker thread.

    Items are delivered in order as ``{"type": "items", "items": [...]}`` events, batched by a GUI-thread
    timer. ``produce`` itself runs in the worker, so slow set-up (loading a model) never blocks the GUI.
    """

    def __init__(self, produce: Callable[[], Iterable[Any]], *, name: str = "generation",
                 interval_ms: int = DRAIN_INTERVAL_MS, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self._produce = produce
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._buffer: list[Any] = []
        self._error: str | None = None
        self._thread: threading.Thread | None = None
        self._running = False
        self._count = 0
        self._t0 = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._drain)

    # --- public API -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._running or self._thread is not None:
            raise RuntimeError("a GenerationJob runs once; make a new one")
        self._running = True
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._work, name=f"scribe-{self.name}", daemon=True)
        with _WORKERS_LOCK:
            _WORKERS.add(self._thread)
        self._thread.start()
        self._timer.start()

    def stop(self) -> None:
        """Stop now: no further events are emitted; the worker winds down after its current step."""
        if not self._running:
            return
        self._cancel.set()
        self._timer.stop()
        self._running = False
        with self._lock:
            self._buffer.clear()
        self.finished.emit(self._summary(stopped=True))

    def is_running(self) -> bool:
        return self._running

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker thread has ended (for shutdown and tests). True if it ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def count(self) -> int:
        return self._count

    # --- internals --------------------------------------------------------------------------------
    def _summary(self, stopped: bool) -> dict:
        return {"type": "done", "name": self.name, "stopped": stopped, "items": self._count,
                "seconds": time.perf_counter() - self._t0}

    def _work(self) -> None:
        it = None
        try:
            it = iter(self._produce())
            for item in it:
                if self._cancel.is_set():
                    break
                with self._lock:
                    self._buffer.append(item)
        except BaseException as exc:  # noqa: BLE001 - reported to the user, never raised in a thread
            if not self._cancel.is_set():
                self._error = user_message(exc)
                from engine.core.errors import ScribeError

                if not isinstance(exc, ScribeError):
                    traceback.print_exc(file=sys.stderr)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001
                    pass
            self._done.set()
            with _WORKERS_LOCK:
                _WORKERS.discard(threading.current_thread())

    def _drain(self) -> None:
        if not self._running:
            return
        done = self._done.is_set()  # read before taking the buffer so nothing is lost
        with self._lock:
            items, self._buffer = self._buffer, []
        if items:
            self._count += len(items)
            self.event.emit({"type": "items", "items": items})
            if not self._running:  # a handler stopped the job
                return
        if done:
            self._timer.stop()
            self._running = False
            if self._error is not None:
                self.failed.emit(self._error)
            else:
                self.finished.emit(self._summary(stopped=False))
