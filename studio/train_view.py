"""The Train tab: pick data and a model, train in a child process, watch it learn, export the result.

Layout: a settings column (data + summary, start mode, model, training, device) and a run area (controls,
progress, live plots, and tabs for samples, checkpoints, gradient flow and the log). Training runs in a
child process (``studio.training_job``; see docs/train-worker.md); this module never imports torch.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QApplication, QButtonGroup, QComboBox, QFileDialog, QFormLayout, QFrame,
                               QGroupBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPlainTextEdit,
                               QProgressBar, QPushButton, QRadioButton, QScrollArea, QSizePolicy, QSpinBox,
                               QSplitter, QTabWidget, QToolButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
                               QWidget, QDoubleSpinBox)

from . import train_data, train_spec
from .jobs import GenerationJob
from .train_flow import FlowPanel
from .train_form import KnobForm
from .train_plots import LivePlots
from .train_samples import SamplePanel
from .training_job import ChildJob, TrainingJob, default_threads

BANNER_STYLE = {
    "info": "background:#e8f0fd; color:#1f3b73; border:1px solid #b9cdf3;",
    "warn": "background:#fff4e0; color:#6b4300; border:1px solid #f0c877;",
    "error": "background:#fdecea; color:#7a1c12; border:1px solid #f0b4ad;",
}


def _fmt_duration(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "–"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


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
        self.side_jobs: list[ChildJob] = []
        self.run_dir: Path | None = None
        self.summary: dict | None = None
        self.summary_error: str | None = None
        self.device_info: dict | None = None
        self._summary_job: GenerationJob | None = None
        self._summary_serial = 0
        self._health = GradientHealth()
        self._last_step: dict | None = None
        self._start_time = 0.0
        self._device_queried = False
        self._shut_down = False
        self._device_text = ""
        self._build()
        self._task_changed()
        self.restore_settings()
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
        # ---- settings column ---------------------------------------------------------------------
        self.task_combo = QComboBox()
        for task, label in train_spec.TASK_LABELS.items():
            self.task_combo.addItem(label, task)
            if not train_spec.available(task):
                i = self.task_combo.count() - 1
                self.task_combo.model().item(i).setEnabled(False)
        self.task_combo.currentIndexChanged.connect(self._task_changed)

        self.data_edit = QLineEdit()
        self.data_edit.setPlaceholderText("a UTF-8 text file or a folder of them")
        self.data_edit.editingFinished.connect(self.refresh_summary)
        self.file_btn = QToolButton()
        self.file_btn.setText("File…")
        self.file_btn.clicked.connect(self._browse_file)
        self.folder_btn = QToolButton()
        self.folder_btn.setText("Folder…")
        self.folder_btn.clicked.connect(self._browse_folder)
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary_label.setMinimumHeight(40)
        self.summary_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_edit, 1)
        data_row.addWidget(self.file_btn)
        data_row.addWidget(self.folder_btn)
        self.import_btn = QPushButton("Import")
        self.import_btn.setToolTip("Turn this IAM-OnDB folder or these InkML files into a dataset")
        self.import_btn.clicked.connect(self.import_data)
        self.synth_btn = QPushButton("Synthetic…")
        self.synth_btn.setToolTip("Generate a synthetic handwriting dataset (Hershey script font, many "
                                  "simulated writers)")
        self.synth_btn.clicked.connect(self._ask_synthetic)
        self.record_btn = QPushButton("Add my drawing")
        self.record_btn.setToolTip("Save the line drawn on the Handwriting tab (with its text) to your recordings")
        self.record_btn.clicked.connect(self.add_drawing_to_recordings)
        self.recordings_btn = QPushButton("My recordings")
        self.recordings_btn.setToolTip("Train on your own recorded handwriting (imports your recordings)")
        self.recordings_btn.clicked.connect(self.use_recordings)
        self.ink_tools = QWidget()
        it = QHBoxLayout(self.ink_tools)
        it.setContentsMargins(0, 0, 0, 0)
        for b in (self.import_btn, self.synth_btn, self.record_btn, self.recordings_btn):
            it.addWidget(b)
        data_box = QGroupBox("Data")
        dl = QVBoxLayout(data_box)
        dl.addWidget(self.task_combo)
        dl.addLayout(data_row)
        dl.addWidget(self.ink_tools)
        dl.addWidget(self.summary_label)

        self.mode_scratch = QRadioButton("New model")
        self.mode_resume = QRadioButton("Resume run")
        self.mode_finetune = QRadioButton("Fine-tune")
        self.mode_scratch.setToolTip("Train a new model from random weights")
        self.mode_resume.setToolTip("Continue a run from its last checkpoint (same model, optimizer state and data position)")
        self.mode_finetune.setToolTip("Start from a trained model's weights and train it on this data")
        self.mode_scratch.setChecked(True)
        self.mode_group = QButtonGroup(self)
        for i, b in enumerate((self.mode_scratch, self.mode_resume, self.mode_finetune)):
            self.mode_group.addButton(b, i)
        self.mode_group.idToggled.connect(lambda *_: self._mode_changed())
        self.source_combo = QComboBox()
        self.source_combo.setEditable(True)
        self.source_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.source_combo.lineEdit().setPlaceholderText("run folder or model")
        self.source_combo.currentTextChanged.connect(lambda *_: self._source_changed())
        self.source_btn = QToolButton()
        self.source_btn.setText("…")
        self.source_btn.clicked.connect(self._browse_source)
        modes = QHBoxLayout()
        for b in (self.mode_scratch, self.mode_resume, self.mode_finetune):
            modes.addWidget(b)
        src_row = QHBoxLayout()
        src_row.addWidget(self.source_combo, 1)
        src_row.addWidget(self.source_btn)
        start_box = QGroupBox("Start")
        sl = QVBoxLayout(start_box)
        sl.addLayout(modes)
        sl.addLayout(src_row)

        self.preset_combo = QComboBox()
        self.preset_combo.currentIndexChanged.connect(self._preset_changed)
        self.model_form = KnobForm()
        self.model_form.changed.connect(self._update_command)
        model_box = QGroupBox("Model")
        ml = QFormLayout(model_box)
        ml.addRow("Preset", self.preset_combo)
        ml.addRow(self.model_form)

        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 100_000_000)
        self.steps_spin.setValue(1000)
        self.steps_spin.setSuffix(" steps")
        self.steps_spin.setKeyboardTracking(False)
        self.steps_spin.valueChanged.connect(self._update_command)
        self.minutes_spin = QDoubleSpinBox()
        self.minutes_spin.setRange(0, 100_000)
        self.minutes_spin.setDecimals(1)
        self.minutes_spin.setSpecialValueText("no time limit")
        self.minutes_spin.setSuffix(" min")
        self.minutes_spin.setToolTip("Train for this long instead of a number of steps (0: use steps)")
        self.minutes_spin.valueChanged.connect(self._update_command)
        self.minutes_spin.valueChanged.connect(lambda m: self.steps_spin.setEnabled(not m))
        dur = QHBoxLayout()
        dur.addWidget(self.steps_spin, 1)
        dur.addWidget(QLabel("or"))
        dur.addWidget(self.minutes_spin, 1)
        self.train_form = KnobForm()
        self.train_form.changed.connect(self._update_command)
        self.device_combo = QComboBox()
        self.device_combo.addItem("Auto", "auto")
        self.device_combo.addItem("CPU", "cpu")
        self.device_combo.addItem("CUDA GPU", "cuda")
        self.device_combo.setToolTip("Auto uses the GPU when PyTorch sees one")
        self.device_combo.currentIndexChanged.connect(self._update_command)
        self.more_btn = QToolButton()
        self.more_btn.setText("More options")
        self.more_btn.setCheckable(True)
        self.more_btn.setArrowType(Qt.ArrowType.RightArrow)
        self.more_btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.more_btn.setAutoRaise(True)
        self.more_form = KnobForm()
        self.more_form.changed.connect(self._update_command)
        self.more_form.setVisible(False)
        self.more_btn.toggled.connect(self._toggle_more)
        train_box = QGroupBox("Training")
        tl = QFormLayout(train_box)
        tl.addRow("Duration", dur)
        tl.addRow(self.train_form)
        tl.addRow("Device", self.device_combo)
        tl.addRow(self.more_btn)
        tl.addRow(self.more_form)

        self.command_label = QLabel()
        self.command_label.setWordWrap(True)
        self.command_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.command_label.setStyleSheet("color: palette(mid); font-size: 8pt;")
        self.command_label.setToolTip("The same training from a terminal")

        settings = QWidget()
        col = QVBoxLayout(settings)
        col.setContentsMargins(6, 6, 6, 6)
        for w in (data_box, start_box, model_box, train_box, self.command_label):
            col.addWidget(w)
        col.addStretch(1)
        self.settings_panel = settings
        scroll = QScrollArea()
        scroll.setWidget(settings)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.settings_scroll = scroll

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
        self.ckpt_tree = QTreeWidget()
        self.ckpt_tree.setHeaderLabels(["Step", "Validation loss", "", "Folder"])
        self.ckpt_tree.setRootIsDecorated(False)
        self.ckpt_tree.header().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.ckpt_tree.itemSelectionChanged.connect(self._update_buttons)
        self.export_btn = QPushButton("Export as model…")
        self.export_btn.setToolTip("Turn the selected checkpoint into a model package in your models list")
        self.export_btn.clicked.connect(self.export_selected)
        self.open_run_btn = QPushButton("Open run folder")
        self.open_run_btn.clicked.connect(self._open_run_folder)
        ck_btns = QHBoxLayout()
        ck_btns.addWidget(self.export_btn)
        ck_btns.addWidget(self.open_run_btn)
        ck_btns.addStretch(1)
        ck_page = QWidget()
        cl = QVBoxLayout(ck_page)
        cl.setContentsMargins(4, 4, 4, 4)
        cl.addWidget(self.ckpt_tree, 1)
        cl.addLayout(ck_btns)
        self.flow = FlowPanel(self._probe_source, self._corpus_source)
        self.flow.message.connect(self.show_message)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.samples, "Sample")
        self.tabs.addTab(ck_page, "Checkpoints")
        self.tabs.addTab(self.flow, "Gradient flow")
        self.tabs.addTab(self.log, "Log")

        split = QSplitter(Qt.Orientation.Vertical)
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
        outer.addWidget(scroll)
        outer.addWidget(run)
        outer.setStretchFactor(1, 1)
        outer.setChildrenCollapsible(False)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(outer)
        self._update_buttons()

    # ================================================================== settings
    @property
    def task(self) -> str:
        return self.task_combo.currentData()

    def set_task(self, task: str) -> None:
        i = self.task_combo.findData(task)
        if i >= 0:
            self.task_combo.setCurrentIndex(i)

    def _task_changed(self) -> None:
        task = self.task
        text = task == "text"
        self.data_edit.setPlaceholderText("a UTF-8 text file or a folder of them" if text else
                                          "an ink dataset folder (scribe import / scribe synth)")
        self.file_btn.setVisible(text)
        self.ink_tools.setVisible(not text)
        opts = train_spec.options(task)
        defaults = train_spec.defaults(task)
        self.model_form.rebuild(train_spec.model_knobs(task), opts, defaults)
        self.train_form.rebuild(train_spec.train_knobs(task), opts, defaults)
        self.more_form.rebuild(train_spec.more_knobs(task), opts, defaults)
        self.preset_combo.blockSignals(True)
        self.preset_combo.clear()
        for name in train_spec.preset_names(task):
            self.preset_combo.addItem(name)
        self.preset_combo.addItem("Custom (CLI defaults)")
        first = {"text": "cpu", "ink-synthesis": "default-ink", "ink-prediction": "tiny"}.get(task)
        if first and self.preset_combo.findText(first) >= 0:
            self.preset_combo.setCurrentText(first)
        self.preset_combo.blockSignals(False)
        self._preset_changed()
        self._refresh_sources()
        self.refresh_summary()
        self._fit_settings()

    def _fit_settings(self) -> None:
        """The settings column is as wide as its widest row (never clipped), plus room to breathe."""
        w = self.settings_panel.sizeHint().width()
        sb = self.settings_scroll.verticalScrollBar().sizeHint().width()
        self.settings_scroll.setMinimumWidth(w + sb + 4)
        self.settings_scroll.setMaximumWidth(w + sb + 160)

    def _preset_changed(self) -> None:
        name = self.preset_combo.currentText()
        custom = name.startswith("Custom")
        vals = train_spec.defaults(self.task) if custom else train_spec.preset_values(self.task, name)
        for form in (self.model_form, self.train_form, self.more_form):
            form.set_values(vals)
        if vals.get("minutes"):
            self.minutes_spin.setValue(float(vals["minutes"]))
        else:
            self.minutes_spin.setValue(0)
            self.steps_spin.setValue(int(vals.get("steps") or 1000))
        if vals.get("device") in ("cpu", "cuda"):
            self.device_combo.setCurrentIndex(self.device_combo.findData(vals["device"]))
        self._update_command()

    def preset(self) -> str | None:
        name = self.preset_combo.currentText()
        return None if not name or name.startswith("Custom") else name

    def knob_values(self) -> dict:
        vals = {}
        for form in (self.model_form, self.train_form, self.more_form):
            vals.update(form.values())
        return vals

    def set_knobs(self, **values) -> None:
        """Set option values by their CLI names (``hidden=32``, ``steps=50``, ``device="cpu"`` ...)."""
        if "steps" in values:
            self.steps_spin.setValue(int(values.pop("steps")))
            self.minutes_spin.setValue(0)
        if "minutes" in values:
            self.minutes_spin.setValue(float(values.pop("minutes") or 0))
        if "device" in values:
            self.device_combo.setCurrentIndex(self.device_combo.findData(values.pop("device")))
        for form in (self.model_form, self.train_form, self.more_form):
            form.set_values({k: v for k, v in values.items() if k in form.widgets})

    def mode(self) -> str:
        return {0: "scratch", 1: "resume", 2: "finetune"}[max(self.mode_group.checkedId(), 0)]

    def _mode_changed(self) -> None:
        self._refresh_sources()
        self._source_changed()

    def _refresh_sources(self) -> None:
        mode = self.mode()
        self.source_combo.setEnabled(mode != "scratch")
        self.source_btn.setEnabled(mode != "scratch")
        current = self.source_combo.currentText()
        self.source_combo.blockSignals(True)
        self.source_combo.clear()
        if mode != "scratch":
            for r in train_data.list_runs():
                if r["kind"] == self.task:
                    vl = r.get("val_loss")
                    self.source_combo.addItem(f"{r['name']}  (step {r['step']}"
                                              + (f", val {vl:.3f})" if vl is not None else ")"), r["path"])
        self.source_combo.blockSignals(False)
        if current and mode != "scratch":
            self.source_combo.setEditText(current)

    def source_path(self) -> str | None:
        i = self.source_combo.currentIndex()
        text = self.source_combo.currentText().strip()
        if i >= 0 and self.source_combo.itemText(i) == text:
            return self.source_combo.itemData(i)
        return text or None

    def set_source(self, mode: str, path: str) -> None:
        {"scratch": self.mode_scratch, "resume": self.mode_resume, "finetune": self.mode_finetune}[mode].setChecked(True)
        self._refresh_sources()
        i = self.source_combo.findData(str(path))
        if i >= 0:
            self.source_combo.setCurrentIndex(i)
        else:
            self.source_combo.setEditText(str(path))
        self._source_changed()

    def _source_changed(self) -> None:
        """Resuming or fine-tuning: take the model's settings from its card and show its checkpoints."""
        src = self.source_path()
        if self.mode() == "scratch" or not src:
            self._update_command()
            return
        try:
            card = train_data.model_card(src)
        except Exception:  # noqa: BLE001 - a half-typed path: nothing to show yet
            self._update_command()
            return
        mc = dict(card.get("model_config") or {})
        if "orthogonal_init" in mc:
            mc["no_orthogonal"] = not mc.pop("orthogonal_init")
        tc = card.get("train_config") or {}
        self.model_form.set_values(mc)
        self.train_form.set_values({**tc, **{k: card[k] for k in ("seq_len", "batch") if k in card}})
        if self.mode() == "resume" and Path(src).is_dir() and (Path(src) / "checkpoints").is_dir():
            self.run_dir = Path(src)
            self.refresh_checkpoints()
            if tc.get("steps"):
                self.steps_spin.setValue(max(int(tc["steps"]), int(card.get("step") or 0) + 1))
        self.refresh_summary()
        self._update_command()

    def _toggle_more(self, on: bool) -> None:
        self.more_form.setVisible(on)
        self.more_btn.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self._fit_settings()

    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Text corpus", self.data_edit.text(),
                                              "Text (*.txt *.md *.text *.csv *.json *.py *.html *.xml);;All files (*)")
        if path:
            self.set_data(path)

    def _browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Data folder", self.data_edit.text())
        if path:
            self.set_data(path)

    def _browse_source(self) -> None:
        start = str(train_data.runs_dir())
        path = QFileDialog.getExistingDirectory(self, "Run folder, checkpoint or model package", start)
        if path:
            self.source_combo.setEditText(path)
            self._source_changed()

    def set_data(self, path: str) -> None:
        self.data_edit.setText(str(path))
        self.refresh_summary()

    def data_path(self) -> str:
        return self.data_edit.text().strip()

    # ================================================================== data summary (off the GUI thread)
    def refresh_summary(self) -> None:
        path = self.data_path()
        self._summary_serial += 1
        serial = self._summary_serial
        self.summary, self.summary_error = None, None
        if not path:
            self.summary_label.setText("<span style='color:gray'>No data chosen yet.</span>")
            self._update_buttons()
            return
        self.summary_label.setText("<span style='color:gray'>Reading the data…</span>")
        task = self.task
        vocab = None
        if self.mode() == "finetune" and task == "text" and self.source_path():
            try:
                vocab = train_data.model_card(self.source_path()).get("vocab")
            except Exception:  # noqa: BLE001
                vocab = None
        val_fraction = self.knob_values().get("val_fraction") or 0.1

        def produce():
            if task == "text":
                return [train_data.summarize_text(path, vocab_chars=vocab, val_fraction=val_fraction)]
            return [train_data.summarize_ink(path)]

        job = GenerationJob(produce, name="data-summary", parent=self)
        job.event.connect(lambda ev, s=serial: self._summary_ready(s, ev["items"][0]))
        job.failed.connect(lambda msg, s=serial: self._summary_failed(s, msg))
        self._summary_job = job
        job.start()
        self._update_buttons()

    def _summary_ready(self, serial: int, summary: dict) -> None:
        if serial != self._summary_serial:
            return
        self.summary = summary
        self.summary_label.setText(train_data.summary_html(summary))
        self._update_buttons()

    def _summary_failed(self, serial: int, message: str) -> None:
        if serial != self._summary_serial:
            return
        self.summary_error = message
        self.summary_label.setText(f"<span style='color:#c0392b'>{_html(message)}</span>")
        self._update_buttons()

    def summary_pending(self) -> bool:
        return bool(self.data_path()) and self.summary is None and self.summary_error is None

    # ================================================================== ink data: import, synthesize, record
    def import_data(self) -> ChildJob | None:
        s = self.summary or {}
        kind = s.get("needs_import")
        if not kind:
            self.show_message("info", "Choose an IAM-OnDB folder or a folder of InkML files to import.")
            return None
        src = Path(self.data_path())
        out = train_data.datasets_dir() / f"{src.name or kind}-{time.strftime('%Y%m%d-%H%M%S')}"
        argv = ["import", kind, str(src), "--out", str(out)]
        return self._data_job(argv, out, f"Importing {src.name}…")

    def _ask_synthetic(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        n, ok = QInputDialog.getInt(self, "Synthetic handwriting", "Lines of handwriting to generate:", 2000, 10,
                                    1_000_000, 500)
        if ok:
            self.make_synthetic(n)

    def make_synthetic(self, lines: int, **options) -> ChildJob:
        out = train_data.datasets_dir() / f"synthetic-{lines}-{time.strftime('%Y%m%d-%H%M%S')}"
        argv = ["synth", "--lines", str(int(lines)), "--out", str(out)]
        for k, v in options.items():
            argv += [f"--{k.replace('_', '-')}", str(v)]
        return self._data_job(argv, out, f"Writing {lines:,} lines of synthetic handwriting…")

    def add_drawing_to_recordings(self) -> Path | None:
        hv = getattr(self.main_window, "handwriting_view", None)
        canvas, wrote = getattr(hv, "canvas", None), getattr(hv, "wrote_edit", None)
        if canvas is None or canvas.is_empty():
            self.show_message("info", "Draw a line on the Handwriting tab first, and type what you wrote.")
            return None
        text = wrote.text().strip() if wrote is not None else ""
        if not text:
            self.show_message("info", "Type what you wrote (under the drawing on the Handwriting tab): the "
                                      "model learns from the drawing and its text together.")
            return None
        from engine.ink.inkml import write_inkml

        path = train_data.recordings_dir() / f"line-{time.strftime('%Y%m%d-%H%M%S')}-{int(time.time() * 1000) % 1000:03d}.inkml"
        write_inkml(path, canvas.to_ink(text))
        n = len(list(train_data.recordings_dir().glob("*.inkml")))
        self.show_message("info", f"Saved to your recordings ({n} line{'s' if n != 1 else ''}). Draw and add more "
                                  f"lines, then press “My recordings” to train on them.")
        return path

    def use_recordings(self) -> ChildJob | None:
        rec = train_data.recordings_dir()
        if not any(rec.glob("*.inkml")):
            self.show_message("info", "No recordings yet: draw a line on the Handwriting tab, type its text, and "
                                      "press “Add my drawing”.")
            return None
        out = train_data.datasets_dir() / "my-recordings"
        return self._data_job(["import", "inkml", str(rec), "--out", str(out)], out, "Importing your recordings…")

    def _data_job(self, argv: list[str], out: Path, status: str) -> ChildJob:
        job = ChildJob("studio.train_worker:cli", {"argv": argv}, what="data", daemon=False, parent=self)
        job.batch.connect(lambda evs: [self._log(e.get("text", "")) for e in evs if e.get("type") == "log"])
        job.finished.connect(lambda r, j=job: (self._forget(j), self._data_ready(out)))
        job.failed.connect(lambda m, j=job: (self._forget(j), self.show_message("error", m)))
        self.side_jobs.append(job)
        self._log("$ " + train_spec.command_line(argv))
        job.start()
        self.status_label.setText(status)
        self._update_buttons()
        return job

    def _data_ready(self, out: Path) -> None:
        self.status_label.setText(f"Dataset ready: {out}")
        self.set_data(str(out))

    # ================================================================== command
    def build_argv(self, out: Path | None = None) -> list[str]:
        mode = self.mode()
        src = self.source_path() if mode != "scratch" else None
        out = out or (Path(src) if mode == "resume" and src else Path("<run folder>"))
        minutes = self.minutes_spin.value() or None
        return train_spec.build_argv(self.task, self.knob_values(), data=self.data_path() or "<data>",
                                     out=str(out), device=self.device_combo.currentData(),
                                     steps=self.steps_spin.value(), minutes=minutes, resume=mode == "resume",
                                     init_from=src if mode == "finetune" else None, preset=self.preset())

    def _update_command(self) -> None:
        try:
            self.command_label.setText(train_spec.command_line(self.build_argv()))
        except Exception as exc:  # noqa: BLE001 - never let a preview break the form
            self.command_label.setText(f"({exc})")

    # ================================================================== run control
    def is_training(self) -> bool:
        return self.job is not None and self.job.is_running()

    def start(self) -> bool:
        if self.is_training() or not self.torch_available:
            return False
        self.clear_message()
        data = self.data_path()
        if not data:
            self.show_message("warn", "Choose the data to train on first.")
            return False
        if self.summary_error:
            self.show_message("error", f"The data cannot be used: {self.summary_error}")
            return False
        if self.summary and self.summary.get("needs_import"):
            self.show_message("warn", "This folder holds raw handwriting files: import it into a dataset first "
                                      "(scribe import), then choose the dataset folder.")
            return False
        mode = self.mode()
        src = self.source_path()
        if mode != "scratch" and not src:
            self.show_message("warn", "Choose the run to resume or the model to fine-tune.")
            return False
        if mode == "resume":
            out = Path(src)
        else:
            out = train_data.new_run_dir(self.task, str(self.knob_values().get("cell") or self.preset() or ""))
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.show_message("error", f"Cannot create the run folder {out}: {exc.strerror or exc}")
            return False
        argv = self.build_argv(out) + ["--events", str(out / "events.jsonl")]
        self.run_dir = out
        self.plots.clear()
        self.samples.clear()
        self._health.reset()
        self._last_step = None
        if mode == "resume":
            self._load_history(out)
        self.refresh_checkpoints()
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
        self._save_settings()
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
        self.pause_btn.setEnabled(running)
        self.stop_btn.setEnabled(running and not (self.job and self.job._stop_requested))  # noqa: SLF001
        self.settings_panel.setEnabled(not running)
        exporting = any(j.is_running() for j in self.side_jobs if j.what == "export")
        preparing = any(j.is_running() for j in self.side_jobs if j.what == "data")
        for b in (self.import_btn, self.synth_btn, self.recordings_btn):
            b.setEnabled(not preparing)
        self.import_btn.setEnabled(not preparing and bool((self.summary or {}).get("needs_import")))
        self.export_btn.setEnabled(bool(self.ckpt_tree.topLevelItemCount()) and not exporting)
        self.open_run_btn.setEnabled(self.run_dir is not None and self.run_dir.exists())

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
                self.refresh_checkpoints()
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
        self._last_step = ev
        step, total = ev.get("step", 0), ev.get("total_steps")
        minutes = self.minutes_spin.value()
        if total:
            self.progress.setValue(int(1000 * min(step / total, 1.0)))
            self.progress.setFormat(f"step {step:,} / {total:,}")
        elif minutes:
            frac = (time.time() - self._start_time) / (minutes * 60)
            self.progress.setValue(int(1000 * min(frac, 1.0)))
            self.progress.setFormat(f"step {step:,}")
        eta = ev.get("eta_s")
        self.eta_label.setText(f"ETA {_fmt_duration(eta)}" if eta is not None else "")
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
            keep = f" The last good checkpoint (step {last['step']}) is kept: choose “Resume a run” to continue from it."
        self.show_message("error", message + keep)
        self.status_label.setText("Training stopped with an error.")
        self.eta_label.setText("")
        self._log("error: " + message)
        self.status.emit("Training stopped with an error (see the Train tab).")
        self._job_ended()

    def _job_ended(self) -> None:
        job = self.job
        self.refresh_checkpoints()
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
        if not self.task.startswith("ink-") or self.summary is None:
            return None
        style = user_style(self.main_window, self.summary)
        if style is None:
            return None
        stroke3, text = style
        unknown = sorted(set(text) - set(self.summary.get("charset") or text))
        if unknown:
            self._log(f"not priming samples with your drawing: the data has no {''.join(unknown)!r}")
            return None
        self._log(f"handwriting samples are primed with your drawing (“{text}”)")
        return {"sample_prime_stroke3": stroke3, "sample_prime_text": text}

    # ================================================================== checkpoints + export
    def refresh_checkpoints(self) -> None:
        self.ckpt_tree.clear()
        if self.run_dir is None:
            self._update_buttons()
            return
        cks = train_data.list_checkpoints(self.run_dir)
        select = None
        for c in reversed(cks):
            vl = (c.get("metrics") or {}).get("val_loss")
            tags = " ".join(t for t, on in (("best", c["best"]), ("last", c["last"])) if on)
            item = QTreeWidgetItem([f"{c.get('step', '?'):,}" if isinstance(c.get("step"), int) else "?",
                                    f"{vl:.4f}" if isinstance(vl, (int, float)) else "–", tags,
                                    Path(c["path"]).name])
            item.setData(0, Qt.ItemDataRole.UserRole, c)
            self.ckpt_tree.addTopLevelItem(item)
            if c["best"] or select is None:
                select = item if c["best"] or select is None else select
        if select is not None:
            self.ckpt_tree.setCurrentItem(select)
        for i in range(3):
            self.ckpt_tree.resizeColumnToContents(i)
        self._update_buttons()

    def selected_checkpoint(self) -> dict | None:
        item = self.ckpt_tree.currentItem() or self.ckpt_tree.topLevelItem(0)
        return item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None

    def export_selected(self) -> ChildJob | None:
        from engine.paths import user_models_dir

        c = self.selected_checkpoint()
        if c is None or self.run_dir is None:
            self.show_message("warn", "No checkpoint to export yet.")
            return None
        base = f"{self.run_dir.name}-step{c.get('step')}"
        out = user_models_dir() / base
        i = 1
        while out.exists():
            i += 1
            out = user_models_dir() / f"{base}-{i}"
        job = ChildJob("studio.train_worker:export", {"checkpoint": c["path"], "out_dir": str(out)},
                       what="export", threads=1, parent=self)
        job.finished.connect(lambda r, j=job: self._exported(j, r))
        job.failed.connect(lambda m, j=job: self._export_failed(j, m))
        self.side_jobs.append(job)
        job.start()
        self.status_label.setText(f"Exporting step {c.get('step')} to {out.name}…")
        self._update_buttons()
        return job

    def _exported(self, job: ChildJob, result: dict) -> None:
        path = result.get("path", "")
        self._forget(job)
        self.show_message("info", f"Exported to {path}. It is in the models list and can generate now.")
        self.status_label.setText(f"Exported {Path(path).name}.")
        self._log(f"exported {path}")
        self.status.emit(f"Exported {Path(path).name}")
        self.model_exported.emit(path)

    def _export_failed(self, job: ChildJob, message: str) -> None:
        self._forget(job)
        self.show_message("error", f"Export failed: {message}")

    def _forget(self, job: ChildJob) -> None:
        if job in self.side_jobs:
            self.side_jobs.remove(job)
        job.deleteLater()
        self._update_buttons()

    def _open_run_folder(self) -> None:
        if self.run_dir is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.run_dir)))

    # ================================================================== gradient flow sources
    def _probe_source(self) -> tuple[str, str] | None:
        if self.task != "text" or self.run_dir is None or not self.data_path():
            return None
        if not train_data.list_checkpoints(self.run_dir):
            return None
        return str(self.run_dir), self.data_path()

    def _corpus_source(self) -> str | None:
        return self.data_path() if self.task == "text" and self.summary is not None else None

    # ================================================================== device
    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if not self._device_queried:
            self._device_queried = True
            QTimer.singleShot(300, self.query_device)

    def query_device(self) -> None:
        """Ask a short child process what PyTorch sees (never import torch here)."""
        job = ChildJob("studio.train_worker:device_info", what="device query", threads=1, parent=self)
        job.finished.connect(lambda info, j=job: (self._forget(j), self._device_ready(info)))
        job.failed.connect(lambda m, j=job: (self._forget(j), self._log(f"device query failed: {m}")))
        self.side_jobs.append(job)
        try:
            job.start()
        except Exception as exc:  # noqa: BLE001 - the device list is a nicety; training still works
            self._forget(job)
            self._log(f"could not ask PyTorch about devices: {exc}")

    def _device_ready(self, info: dict) -> None:
        self.device_info = info
        gpus = info.get("gpus") or []
        if gpus:
            g = gpus[0]
            name = f"{g['name']} ({g.get('memory_gb', '?')} GB)"
            self.device_combo.setItemText(0, f"Auto: GPU, {name}")
            self.device_combo.setItemText(2, f"CUDA GPU: {name}")
        else:
            self.device_combo.setItemText(0, "Auto: CPU (no GPU found)")
            self.device_combo.setItemText(2, "CUDA GPU (none found)")
            self.device_combo.model().item(2).setEnabled(False)
            if self.device_combo.currentData() == "cuda":
                self.device_combo.setCurrentIndex(0)
        self.device_combo.setToolTip(f"PyTorch {info.get('torch')}; " + (
            ", ".join(f"cuda:{g['index']} {g['name']}" for g in gpus) if gpus else "no CUDA device"))

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

    # ================================================================== settings persistence
    def _save_settings(self) -> None:
        try:
            from .settings import open_settings

            s = open_settings()
            s.setValue("train/task", self.task)
            s.setValue("train/data", self.data_path())
            s.setValue(f"train/preset/{self.task}", self.preset_combo.currentText())
            s.setValue(f"train/knobs/{self.task}", json.dumps(self.knob_values()))
            s.sync()
        except Exception:  # noqa: BLE001 - settings are a convenience
            pass

    def restore_settings(self) -> None:
        try:
            from .settings import open_settings

            s = open_settings()
            task = s.value("train/task", None)
            if task:
                self.set_task(str(task))
            preset = s.value(f"train/preset/{self.task}", None)
            if preset and self.preset_combo.findText(str(preset)) >= 0:
                self.preset_combo.setCurrentText(str(preset))
            knobs = s.value(f"train/knobs/{self.task}", None)
            if knobs:
                for form in (self.model_form, self.train_form, self.more_form):
                    form.set_values(json.loads(knobs))
            data = s.value("train/data", None)
            if data:
                self.set_data(str(data))
        except Exception:  # noqa: BLE001
            pass

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
        for j in list(self.side_jobs):
            j.shutdown(3.0)
        self.side_jobs.clear()
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


def _html(s: str) -> str:
    import html

    return html.escape(s)


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
    from .canvas import X_HEIGHT
    from .prime import strokes_to_stroke3

    x_height = summary.get("x_height") or 25.0
    spacing = summary.get("spacing")
    strokes = [(s.xs, s.ys) for s in canvas.strokes]
    stroke3 = strokes_to_stroke3(strokes, scale=x_height / X_HEIGHT, spacing=spacing)
    if len(stroke3) < 2:
        return None
    return stroke3, wrote.text().strip()
