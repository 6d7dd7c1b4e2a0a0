"""What the Handwriting and Text views share about generating: the busy state and the generation job.

A view runs at most one GenerationJob at a time (``self.job``); it is busy from the start of a job until
the view says it is done (the Handwriting view stays busy while the pen catches up with the page). The job's
signals go to bound methods of the view, never to lambdas, so they run in the GUI thread.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QAbstractButton, QWidget

from studio.common.jobs import GenerationJob
from studio.common.registry import ModelEntry


class GenerationView(QWidget):
    """Base of a view that generates with the model picked in ``model_picker``.

    A subclass builds ``model_picker`` and ``stop_button``, sets ``NO_MODEL`` and implements
    ``_update_buttons``, ``_on_items`` and ``_on_finished`` (each of the last two first checks
    ``_from_current_job()``).
    """

    status = Signal(str)
    busy_changed = Signal(bool)
    NO_MODEL = "No model: open one in the Models tab."  # the status line when asked to generate without one

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.entry: ModelEntry | None = None
        self.job: GenerationJob | None = None
        self._busy = False

    # ------------------------------------------------------------------------------------ busy state
    def is_busy(self) -> bool:
        return self._busy

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)
        self._update_buttons()

    def _update_buttons(self) -> None:
        raise NotImplementedError

    def _update_run_controls(self, run_button: QAbstractButton) -> None:
        """The model picker and the run button are idle-only, Stop is busy-only."""
        self.model_picker.setEnabled(not self._busy and self.model_picker.current() is not None)
        run_button.setEnabled(self.entry is not None and not self._busy)
        self.stop_button.setEnabled(self._busy)

    # ------------------------------------------------------------------------------------ the job
    def _ready_to_generate(self) -> bool:
        """False while busy, and (saying so) without a model."""
        if self._busy:
            return False
        if self.entry is None:
            self.status.emit(self.NO_MODEL)
            return False
        return True

    def _start_job(self, produce: Callable[[], Iterable[Any]], name: str) -> None:
        """Run ``produce()`` in a new GenerationJob, which becomes ``self.job``; the view is busy from now."""
        job = GenerationJob(produce, name=name, parent=self)
        job.event.connect(self._on_items)
        job.finished.connect(self._on_finished)
        job.failed.connect(self._on_failed)
        self.job = job
        self._set_busy(True)
        job.start()

    def _from_current_job(self) -> bool:
        """In a job slot: True unless the signal comes from a job this view has already replaced."""
        return self.sender() is self.job

    def _on_items(self, ev: dict) -> None:
        raise NotImplementedError

    def _on_finished(self, summary: dict) -> None:
        raise NotImplementedError

    def _on_failed(self, msg: str) -> None:
        if not self._from_current_job():
            return
        self.status.emit(msg)
        self._set_busy(False)

    def stop(self) -> None:
        if self.job is not None and self.job.is_running():
            self.job.stop()

    def shutdown(self) -> None:
        if self.job is not None:
            self.job.stop()
