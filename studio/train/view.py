"""The Train tab: pick data and a model, train in a child process, watch it learn, export the result.

Layout: a settings column (data + summary, start mode, model, training, device) and a run area (controls,
progress, live plots, and tabs for samples, checkpoints, gradient flow and the log). Training runs in a
child process (``studio.train.job``; see docs/train-worker.md); this module never imports torch.
"""

from __future__ import annotations

import json
import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import studio.train.data as train_data
import studio.train.spec as train_spec
from engine.core.events import format_duration
from studio.train.checkpoints import CheckpointsPanel
from studio.train.flow import FlowPanel
from studio.train.job import ChildJob, ChildJobs, TrainingJob, default_threads
from studio.train.plots import LivePlots
from studio.train.samples import SamplePanel
from studio.train.settings import TrainSettings

BANNER_STYLE = {
    "info": "background:#e8f0fd; color:#1f3b73; border:1px solid #b9cdf3;",
    "warn": "background:#fff4e0; color:#6b4300; border:1px solid #f0c877;",
    "error": "background:#fdecea; color:#7a1c12; border:1px solid #f0b4ad;",
}


class GradientHealth:
    """Notices exploding gradients: most recent steps clipped, by a large factor."""

    def __init__(self, window: int = 100):
        self.window = window
        self.recent: deque = deque(maxlen=window)
        self.warned = False

    def reset(self) -> None:
        self.recent.clear()
        self.warned = False

    def add(self, grad_norm, clipped: bool, clip) -> str | None:
        if grad_norm is None or not clip:
            return None
        self.recent.append((float(grad_norm), bool(clipped)))
        if len(self.recent) < self.window:
            return None
        frac = sum(c for _, c in self.recent) / len(self.recent)
        norms = sorted(g for g, _ in self.recent)
        median = norms[len(norms) // 2]
        exploding = frac >= 0.8 and median >= 10 * clip
        if exploding and not self.warned:
            self.warned = True
            return (f"Gradients are exploding: {frac:.0%} of the last {self.window} steps were clipped, with a "
                    f"median norm of {median:.3g} against the threshold {clip:g}. Clipping keeps training stable, "
                    f"but if the loss stops falling, lower the learning rate or shorten the sequence length.")
        if not exploding and frac < 0.3:
            self.warned = False
        return None


class TrainView(QWidget):
    """The Train tab. ``main_window`` may be None (standalone use, tests)."""

    model_exported = Signal(str)
    training_state = Signal(bool)   # running or not (for the window's status bar / close prompt)
    status = Signal(str)            # one-line news for the window's status bar

    def __init__(self, main_window: QWidget | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.main_window = main_window
        self.job: TrainingJob | None = None
        self.side_jobs = ChildJobs()     # the device query
        self.run_dir: Path | None = None
        self._health = GradientHealth()
        self._start_time = 0.0
        self._minutes: float | None = None
        self._device_queried = False
        self._shut_down = False
        self._device_text = ""
        self._processes = 1              # training processes of the current run (GPUs, --nproc)
        self._build()
        self.settings.restore_settings()
        self._task_changed()
        self.torch_available = _torch_installed()
        if not self.torch_available:
            self.show_message("warn", "Training needs PyTorch, which this installation does not include. "
                                      "Install the full Scribe Studio (or 'pip install torch') to train models; "
                                      "generating with models works without it.")
        self._update_buttons()
        if main_window is not None:
            main_window.installEventFilter(self)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # ================================================================== layout
    def _build(self) -> None:
        # ---- run area ----------------------------------------------------------------------------
        self.start_btn = QPushButton("Start training")
        self.start_btn.setDefault(True)
        self.start_btn.setToolTip("Train in a separate process (Ctrl+Return)")
        self.start_btn.setShortcut("Ctrl+Return")
        self.start_btn.clicked.connect(self.start)
        self.pause_btn = QPushButton("Pause")
        self.pause_btn.setCheckable(True)
        self.pause_btn.toggled.connect(self._pause_toggled)
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setToolTip("Stop after the current step; a checkpoint is saved")
        self.stop_btn.clicked.connect(self.stop)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.eta_label = QLabel("")
        self.eta_label.setMinimumWidth(150)
        self.status_label = QLabel("Choose data and a model, then start training.")
        self.status_label.setWordWrap(True)
        bar = QHBoxLayout()
        bar.addWidget(self.start_btn)
        bar.addWidget(self.pause_btn)
        bar.addWidget(self.stop_btn)
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.eta_label)

        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner_close = QToolButton()
        self.banner_close.setText("✕")
        self.banner_close.setAutoRaise(True)
        self.banner_close.clicked.connect(self.clear_message)
        self.banner_box = QFrame()
        bb = QHBoxLayout(self.banner_box)
        bb.setContentsMargins(8, 4, 4, 4)
        bb.addWidget(self.banner, 1)
        bb.addWidget(self.banner_close, 0, Qt.AlignmentFlag.AlignTop)
        self.banner_box.setVisible(False)
        self.banner_level = ""

        self.plots = LivePlots()
        self.samples = SamplePanel()
        self.checkpoints = CheckpointsPanel()
        self.checkpoints.exported.connect(self._exported)
        self.checkpoints.message.connect(self.show_message)
        self.checkpoints.log.connect(self._log)
        self.checkpoints.status.connect(self.status_label.setText)
        self.settings = TrainSettings(self.main_window)
        self.settings.message.connect(self.show_message)
        self.settings.log.connect(self._log)
        self.settings.status.connect(self.status_label.setText)
        self.settings.run_chosen.connect(self.checkpoints.set_run)
        self.settings.busy_changed.connect(self._update_buttons)
        self.settings.summary_changed.connect(self._update_buttons)
        self.settings.task_combo.currentIndexChanged.connect(self._task_changed)
        self.flow = FlowPanel(self._probe_source, self._corpus_source)
        self.flow.message.connect(self.show_message)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.samples, "Sample")
        self.tabs.addTab(self.checkpoints, "Checkpoints")
        self.tabs.addTab(self.flow, "Gradient flow")
        self.tabs.addTab(self.log, "Log")
        self.tabs.currentChanged.connect(self._tab_changed)

        split = QSplitter(Qt.Orientation.Vertical)
        self.run_split = split
        split.addWidget(self.plots)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        run = QWidget()
        rl = QVBoxLayout(run)
        rl.setContentsMargins(6, 6, 6, 6)
        rl.addLayout(bar)
        rl.addWidget(self.status_label)
        rl.addWidget(self.banner_box)
        rl.addWidget(split, 1)

        outer = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(self.settings)
        outer.addWidget(run)
        outer.setStretchFactor(1, 1)
        outer.setChildrenCollapsible(False)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(outer)
        self._update_buttons()

    # ================================================================== run control
    def is_training(self) -> bool:
        return self.job is not None and self.job.is_running()

    def start(self) -> bool:
        if self.is_training() or not self.torch_available:
            return False
        self.clear_message()
        st = self.settings
        data = st.data_path()
        if not data:
            self.show_message("warn", "Choose the data to train on first.")
            return False
        if st.summary_error:
            self.show_message("error", f"The data cannot be used: {st.summary_error}")
            return False
        if st.summary and st.summary.get("needs_import"):
            self.show_message("warn", "This folder holds raw handwriting files: import it into a dataset first "
                                      "(scribe import), then choose the dataset folder.")
            return False
        mode = st.mode()
        src = st.source_path()
        if mode != "scratch" and not src:
            self.show_message("warn", "Choose the run to resume or the model to fine-tune.")
            return False
        bad = st.invalid_values()
        if bad:
            self.show_message("error", "These settings cannot be used: " + "; ".join(bad))
            return False
        if mode == "resume":
            out = Path(src)
        else:
            out = train_data.new_run_dir(st.task, str(st.knob_values().get("cell") or st.preset() or ""))
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.show_message("error", f"Cannot create the run folder {out}: {exc.strerror or exc}")
            return False
        argv = st.build_argv(out) + ["--events", str(out / "events.jsonl")]
        self._processes = st.gpus()   # several (--nproc): no pause (the processes step together)
        self.run_dir = out
        self._minutes = st.minutes()
        self.plots.clear()
        self.samples.clear()
        self.samples.set_task(st.task)
        self._health.reset()
        if mode == "resume":
            self._load_history(out)
        self.checkpoints.set_run(out)
        self.log.appendPlainText(f"$ {train_spec.command_line(argv)}")
        job = TrainingJob(argv, sample=self._sample_settings(), threads=default_threads(), parent=self)
        job.batch.connect(self._on_batch)
        job.finished.connect(self._on_finished)
        job.failed.connect(self._on_failed)
        self.job = job
        self._start_time = time.time()
        job.start()
        self.status_label.setText("Starting the training process…")
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        self.pause_btn.blockSignals(True)
        self.pause_btn.setChecked(False)
        self.pause_btn.setText("Pause")
        self.pause_btn.blockSignals(False)
        self._update_buttons()
        self.training_state.emit(True)
        self.status.emit(f"Training started: {out.name}")
        st.save_settings()
        return True

    def pause(self) -> None:
        self.pause_btn.setChecked(True)

    def resume(self) -> None:
        self.pause_btn.setChecked(False)

    def _pause_toggled(self, on: bool) -> None:
        if not self.is_training():
            return
        if on:
            self.job.pause()
            self.pause_btn.setText("Resume")
            self.status_label.setText("Pausing after the current step…")
        else:
            self.job.resume()
            self.pause_btn.setText("Pause")
            self.status_label.setText("Resuming…")

    def stop(self) -> None:
        if self.is_training():
            self.job.stop()
            self.status_label.setText("Stopping: evaluating and saving a checkpoint…")
            self.stop_btn.setEnabled(False)
            self.pause_btn.setEnabled(False)

    def _update_buttons(self) -> None:
        running = self.is_training()
        self.start_btn.setEnabled(not running and getattr(self, "torch_available", True))
        self.pause_btn.setEnabled(running and self._processes <= 1)
        self.stop_btn.setEnabled(running and not (self.job and self.job._stop_requested))  # noqa: SLF001
        self.settings.panel.setEnabled(not running)

    # ================================================================== events from the child
    def _on_batch(self, events: list) -> None:
        steps = []
        for ev in events:
            t = ev.get("type")
            if t == "step":
                steps.append(ev)
                msg = self._health.add(ev.get("grad_norm"), ev.get("clipped", False), ev.get("clip"))
                if msg:
                    self.show_message("warn", msg)
            elif t == "start":
                self.plots.set_unit(ev.get("unit", "tokens"))
                self.plots.set_clip(ev.get("clip"))
                self._log(f"training on {ev.get('device')} · {ev.get('params', 0):,} parameters · "
                          f"{ev.get('total_steps') or ''} steps {ev.get('minutes') or ''}")
                self._device_text = ev.get("device", "")
            elif t == "eval":
                self.plots.add_eval(ev)  # the training process logs the figures itself
            elif t == "sample":
                self.samples.add(ev)
            elif t == "checkpoint":
                self.checkpoints.refresh()
                self.flow.checkpoint_saved()
            elif t == "warning":
                self._log("warning: " + ev.get("message", ""))
                self.show_message("warn", ev.get("message", "") + _warning_hint(ev.get("message", "")))
            elif t == "paused":
                self.status_label.setText(f"Paused at step {ev.get('step')}.")
                self._log(f"paused at step {ev.get('step')}")
            elif t == "resumed":
                self._log(f"resumed at step {ev.get('step')}")
            elif t == "resume":
                self._log(f"resumed the run from {ev.get('path')} at step {ev.get('step')}")
            elif t in ("log", "status"):
                self._log(ev.get("text", ""))
                if t == "status":
                    self.status_label.setText(ev.get("text", "").capitalize() + "…")
        if steps:
            self.plots.add_steps(steps)  # the plots redraw themselves (one per 50 ms tick)
            self._show_progress(steps[-1])

    def _show_progress(self, ev: dict) -> None:
        step, total = ev.get("step", 0), ev.get("total_steps")
        minutes = self._minutes
        if total:
            self.progress.setValue(int(1000 * min(step / total, 1.0)))
            self.progress.setFormat(f"step {step:,} / {total:,}")
        elif minutes:
            frac = (time.time() - self._start_time) / (minutes * 60)
            self.progress.setValue(int(1000 * min(frac, 1.0)))
            self.progress.setFormat(f"step {step:,}")
        eta = ev.get("eta_s")
        self.eta_label.setText(f"ETA {format_duration(eta)}" if eta is not None else "")
        if self.job and self.job.is_paused():
            return
        loss = ev.get("loss")
        rate = ev.get("rate")
        self.status_label.setText(
            f"Training on {self._device_text} · step {step:,} · loss "
            f"{loss:.4f} · {rate:,.0f} {ev.get('unit', 'tokens')}/s" if isinstance(loss, float) and rate else
            f"Training · step {step}")

    def _on_finished(self, summary: dict) -> None:
        self.plots.refresh(everything=True)
        status = summary.get("status", "finished")
        best = summary.get("best_val_loss")
        text = f"Training {status} at step {summary.get('step', '?')}"
        if isinstance(best, (int, float)):
            text += f"; best validation loss {best:.4f}"
        self.status_label.setText(text + ". Export a checkpoint to use the model.")
        self.eta_label.setText("")
        if status == "finished":
            self.progress.setValue(1000)
        self._log(text)
        self.status.emit(text + ".")
        self._job_ended()

    def _on_failed(self, message: str) -> None:
        self.plots.refresh(everything=True)
        cks = train_data.list_checkpoints(self.run_dir) if self.run_dir else []
        keep = ""
        if cks:
            last = next((c for c in cks if c["last"]), cks[-1])
            keep = f" The last good checkpoint (step {last['step']}) is kept: choose “Resume run” to continue from it."
        self.show_message("error", message + keep)
        self.status_label.setText("Training stopped with an error.")
        self.eta_label.setText("")
        self._log("error: " + message)
        self.status.emit("Training stopped with an error (see the Train tab).")
        self._job_ended()

    def _job_ended(self) -> None:
        job = self.job
        self.checkpoints.refresh()
        self._update_buttons()
        self.pause_btn.blockSignals(True)
        self.pause_btn.setChecked(False)
        self.pause_btn.setText("Pause")
        self.pause_btn.blockSignals(False)
        self.training_state.emit(False)
        if job is not None:
            job.wait(5.0)
        self._update_buttons()

    def _log(self, text: str) -> None:
        if text:
            self.log.appendPlainText(text)

    def _load_history(self, run: Path) -> None:
        """Show a resumed run's earlier curves (from its events.jsonl), thinned by the plot buffers."""
        path = run / "events.jsonl"
        if not path.exists():
            return
        steps = []
        try:
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    if '"step"' not in line[:40] and '"eval"' not in line[:40]:
                        continue
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        continue
                    if ev.get("type") == "step":
                        steps.append(ev)
                        if len(steps) >= 5000:
                            self.plots.add_steps(steps)
                            steps = []
                    elif ev.get("type") == "eval":
                        self.plots.add_eval(ev)
        except OSError:
            return
        self.plots.add_steps(steps)
        self.plots.refresh(everything=True)

    def _sample_settings(self) -> dict | None:
        """Prime handwriting samples with the style the user drew on the Handwriting tab, if any."""
        summary = self.settings.summary
        if not self.settings.task.startswith("ink-") or summary is None:
            return None
        style = user_style(self.main_window, summary)
        if style is None:
            return None
        stroke3, text = style
        unknown = sorted(set(text) - set(summary.get("charset") or text))
        if unknown:
            self._log(f"not priming samples with your drawing: the data has no {''.join(unknown)!r}")
            return None
        self._log(f"handwriting samples are primed with your drawing (“{text}”)")
        return {"sample_prime_stroke3": stroke3, "sample_prime_text": text}

    # ================================================================== gradient flow sources
    def _probe_source(self) -> tuple[str, str] | None:
        st = self.settings
        run = self.checkpoints.run_dir
        if st.task != "text" or run is None or not st.data_path() or not train_data.list_checkpoints(run):
            return None
        return str(run), st.data_path()

    def _corpus_source(self) -> str | None:
        st = self.settings
        return st.data_path() if st.task == "text" and st.summary is not None else None

    # ================================================================== device
    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if not self._device_queried:
            self._device_queried = True
            QTimer.singleShot(300, self.query_device)

    def query_device(self) -> None:
        """Ask a short child process what PyTorch sees (never import torch here)."""
        job = ChildJob("studio.train.worker:device_info", what="device query", threads=1, parent=self)
        job.finished.connect(lambda info, j=job: (self._forget(j), self._device_ready(info)))
        job.failed.connect(lambda m, j=job: (self._forget(j), self._log(f"device query failed: {m}")))
        self.side_jobs.add(job)
        try:
            job.start()
        except Exception as exc:  # noqa: BLE001 - the device list is a nicety; training still works
            self._forget(job)
            self._log(f"could not ask PyTorch about devices: {exc}")

    def _task_changed(self, _index: int = 0) -> None:
        """The Sample tab's placeholder follows the task chosen (text or handwriting) until a run starts."""
        if not self.is_training():
            self.samples.set_task(self.settings.task)

    def _tab_changed(self, _index: int) -> None:
        """The gradient-flow tab holds two plots and a toolbar: give it room when it is opened."""
        if self.tabs.currentWidget() is self.flow:
            sizes = self.run_split.sizes()
            total = sum(sizes)
            if total and sizes[1] < 0.45 * total:
                self.run_split.setSizes([int(0.45 * total), total - int(0.45 * total)])

    def _forget(self, job: ChildJob) -> None:
        self.side_jobs.forget(job)

    def _exported(self, path: str) -> None:
        self.status.emit(f"Exported {Path(path).name}")
        self.model_exported.emit(path)

    def _device_ready(self, info: dict) -> None:
        self.settings.set_device_info(info)

    def apply_palette(self) -> None:
        """Follow the app's theme (the main window calls this after a theme change)."""
        self.plots.apply_palette()
        self.flow.apply_palette()

    # ================================================================== messages
    def show_message(self, level: str, text: str) -> None:
        if not self.banner_box.isHidden() and self.banner_level == "error" and level != "error":
            self._log(text)
            return
        self.banner_level = level
        self.banner.setText(text)
        self.banner_box.setStyleSheet(f"QFrame {{{BANNER_STYLE.get(level, BANNER_STYLE['info'])} border-radius:4px;}}"
                                      f" QLabel {{border:none; background:transparent;}}")
        self.banner_box.setVisible(True)

    def clear_message(self) -> None:
        self.banner_level = ""
        self.banner.clear()
        self.banner_box.setVisible(False)

    def message(self) -> str:
        return self.banner.text() if not self.banner_box.isHidden() else ""

    # ================================================================== shutdown
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if obj is self.main_window and event.type() == QEvent.Type.Close:
            # decide after the window has handled the close (it may refuse it)
            QTimer.singleShot(0, self._after_window_close)
        return False

    def _after_window_close(self) -> None:
        if self.main_window is not None and not self.main_window.isVisible():
            self.shutdown()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if self.main_window is None:
            self.shutdown()
        super().closeEvent(event)

    def shutdown(self, timeout: float = 15.0) -> None:
        """Stop every child process cleanly (training saves a checkpoint); kill what does not stop."""
        if self.job is not None and self.job.process is not None:
            if self.job.is_running():
                self._log("closing: stopping the training and saving a checkpoint")
            self.job.shutdown(timeout)
        self.side_jobs.shutdown(0.5)   # the device query: nothing to save, no need to wait
        self.checkpoints.shutdown(10.0)   # an export in flight may finish (it writes atomically anyway)
        self.settings.shutdown(3.0)
        self.flow.shutdown(3.0)
        if not self._shut_down:
            self._shut_down = True
            self.training_state.emit(False)


def _torch_installed() -> bool:
    """Whether the training process could import torch (looked up, not imported)."""
    import importlib.util

    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def _warning_hint(message: str) -> str:
    if "non-finite" in message:
        return (" If this repeats, lower the learning rate or the clip threshold; training stops after a few bad "
                "steps in a row and keeps the last good checkpoint.")
    return ""


def user_style(main_window, summary: dict):
    """(stroke3 in the dataset's units, text) from the Handwriting tab's drawing, or None.

    Uses ``main_window.handwriting_view`` (its ``canvas`` and ``wrote_edit``) when the window has them.
    """
    hv = getattr(main_window, "handwriting_view", None) if main_window is not None else None
    canvas = getattr(hv, "canvas", None)
    wrote = getattr(hv, "wrote_edit", None)
    if canvas is None or wrote is None or canvas.is_empty() or not wrote.text().strip():
        return None
    from engine.core.errors import DataError
    from engine.data.prime import InkScale, prepare_prime
    from studio.handwriting.canvas import X_HEIGHT

    scale = InkScale(summary.get("x_height") or 25.0, summary.get("spacing"))
    try:
        stroke3 = prepare_prime(canvas.to_ink(wrote.text().strip()), scale, guide_x_height=X_HEIGHT)
    except DataError:
        return None
    return stroke3, wrote.text().strip()
