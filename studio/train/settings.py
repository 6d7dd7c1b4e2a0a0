"""The Train view's settings column: data (with its summary and the ink data tools), how to start (new,
resume, fine-tune), the model and training knobs (the CLI's own options), the device, and the equivalent
``scribe`` command. Torch-free: summaries run in a thread, data import/synthesis in a child process.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import studio.train.data as train_data
import studio.train.spec as train_spec
from engine.core.paths import runs_dir
from studio.common.jobs import GenerationJob
from studio.train.data_tools import InkDataTools
from studio.train.form import KnobForm
from studio.train.job import ChildJobs


class TrainSettings(InkDataTools, QScrollArea):
    """``main_window`` (optional) gives access to the Handwriting tab's drawing for "Add my drawing"."""

    message = Signal(str, str)     # level ("info" | "warn" | "error"), text: for the view's banner
    log = Signal(str)              # a line for the view's log
    status = Signal(str)           # a line for the view's status label
    run_chosen = Signal(str)       # a run folder picked for resuming (the view lists its checkpoints)
    busy_changed = Signal()        # a data job started or ended
    summary_changed = Signal()

    def __init__(self, main_window: QWidget | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.main_window = main_window
        self.summary: dict | None = None
        self.summary_error: str | None = None
        self.jobs = ChildJobs()
        self._summary_job: GenerationJob | None = None
        self._summary_serial = 0
        self._build()
        self._task_changed()

    def _build(self) -> None:
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
        self.data_edit.textChanged.connect(self._update_command)   # the command preview names the data
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
        # data-parallel training (--nproc): offered when the training process reports more than one GPU
        self.gpus_label = QLabel("GPUs")
        self.gpus_spin = QSpinBox()
        self.gpus_spin.setRange(1, 1)
        self.gpus_spin.setToolTip("Train on this many GPUs at once (data parallel, 'scribe train ... --nproc N'): "
                                  "each GPU takes an equal share of every batch, so the batch must divide evenly")
        self.gpus_spin.valueChanged.connect(self._update_command)
        self.device_combo.currentIndexChanged.connect(self._update_gpus)
        device_row = QHBoxLayout()
        device_row.addWidget(self.device_combo, 1)
        device_row.addWidget(self.gpus_label)
        device_row.addWidget(self.gpus_spin)
        self._gpu_count = 0
        self._update_gpus()
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
        tl.addRow("Device", device_row)
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
        self.panel = settings
        self.setWidget(settings)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._update_data_buttons()

    # ---- task, presets, knobs -----------------------------------------------------------------------
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
        w = self.panel.sizeHint().width()
        sb = self.verticalScrollBar().sizeHint().width()
        self.setMinimumWidth(w + sb + 4)
        self.setMaximumWidth(w + sb + 160)

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
            self.run_chosen.emit(str(src))
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
        start = str(runs_dir())
        path = QFileDialog.getExistingDirectory(self, "Run folder or checkpoint", start)
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
            self.summary_changed.emit()
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
        self.summary_changed.emit()

    def _summary_ready(self, serial: int, summary: dict) -> None:
        if serial != self._summary_serial:
            return
        self.summary = summary
        self.summary_label.setText(train_data.summary_html(summary))
        self._update_data_buttons()
        self.summary_changed.emit()

    def _summary_failed(self, serial: int, message: str) -> None:
        if serial != self._summary_serial:
            return
        self.summary_error = message
        self.summary_label.setText(f"<span style='color:#c0392b'>{html.escape(message)}</span>")
        self.summary_changed.emit()

    def summary_pending(self) -> bool:
        return bool(self.data_path()) and self.summary is None and self.summary_error is None

    def shutdown(self, timeout: float = 3.0) -> None:
        self.jobs.shutdown(timeout)

    # ---- the command ------------------------------------------------------------------------------
    def build_argv(self, out: Path | None = None) -> list[str]:
        mode = self.mode()
        src = self.source_path() if mode != "scratch" else None
        out = out or (Path(src) if mode == "resume" and src else Path("<run folder>"))
        minutes = self.minutes_spin.value() or None
        return train_spec.build_argv(self.task, self.knob_values(), data=self.data_path() or "<data>",
                                     out=str(out), device=self.device_combo.currentData(),
                                     steps=self.steps_spin.value(), minutes=minutes, resume=mode == "resume",
                                     init_from=src if mode == "finetune" else None, preset=self.preset(),
                                     nproc=self.gpus())

    def _update_command(self) -> None:
        try:
            self.command_label.setText(train_spec.command_line(self.build_argv()))
        except Exception as exc:  # noqa: BLE001 - never let a preview break the form
            self.command_label.setText(f"({exc})")


    def invalid_values(self) -> list[str]:
        """The knob values the CLI would refuse (its own checks), one message each."""
        opts = train_spec.options(self.task)
        return [msg for dest, value in self.knob_values().items() if dest in opts
                for msg in [train_spec.check_value(opts[dest], value)] if msg]

    def minutes(self) -> float | None:
        return self.minutes_spin.value() or None

    def device(self) -> str:
        return self.device_combo.currentData()

    def gpus(self) -> int:
        """GPUs to train on (1 unless the machine has several and the spin box asks for more)."""
        return self.gpus_spin.value() if self._gpus_offered() else 1

    def _gpus_offered(self) -> bool:
        return self._gpu_count > 1 and self.device_combo.currentData() != "cpu"

    def _update_gpus(self) -> None:
        """The GPUs box: shown only with more than one GPU, and not for a CPU run."""
        offered = self._gpus_offered()
        self.gpus_label.setVisible(offered)
        self.gpus_spin.setVisible(offered)
        if not offered:
            self.gpus_spin.setValue(1)

    def set_device_info(self, info: dict) -> None:
        """Name the GPU (or its absence) in the device list; ``info`` from ``train_worker.device_info``."""
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
        self._gpu_count = len(gpus)
        self.gpus_spin.setRange(1, max(1, len(gpus)))
        self._update_gpus()

    # ---- persistence ------------------------------------------------------------------------------
    def save_settings(self) -> None:
        try:
            from studio.common.settings import open_settings

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
            from studio.common.settings import open_settings

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
