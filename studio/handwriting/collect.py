"""The "My handwriting" page: write the prompt lines one at a time to build a collection of your own hand.

A window of its own (opened from the Handwriting tab): the prompt to write, the drawing strip
(:class:`~studio.handwriting.canvas.DrawingCanvas`: mouse or pen, pressure kept), progress, a coverage
grid of the characters that still have too few samples, and the list of written lines. Every accepted
line is saved at once as InkML (:class:`engine.data.collection.Collection`), so closing loses nothing;
reopening resumes at the next prompt not yet written.

Keys: Enter accept · Ctrl+Z undo stroke · Esc or Ctrl+Backspace clear · Ctrl+Right skip · Delete (in the
list) delete the line.

"Make my model" (with at least five lines): fine-tunes the Handwriting tab's model (else the bundled one) on
the collection with ``scribe train ink --preset personal`` in the training child process
(``studio.train.worker.train_and_export``), showing its progress and loss, exports the result into the
user's models folder as "My handwriting — <date>" (the person's lines become its priming styles) and selects
it in the Handwriting tab. The collection is only read: nothing written is ever changed or lost. The slim
build (no PyTorch) says that this needs the full build.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import ScribeError
from engine.core.events import format_duration
from engine.data.collection import Collection
from engine.data.prompts import TARGET_CHARS
from studio.common.registry import ModelEntry, read_entry
from studio.common.widgets import caption, muted, tool_button
from studio.handwriting.canvas import DrawingCanvas

MIN_SAMPLES = 2          # a character is covered once it has been written this many times
GRID_COLUMNS = 13
SHOW_NEEDED = 24         # list the characters still needed by name once there are this few
KEYS_TIP = "Enter accept · Ctrl+Z undo stroke · Esc clear · Ctrl+→ skip · Delete removes the selected line"
MIN_MODEL_LINES = 5      # lines a personal model needs ("Make my model")
DEFAULT_BASE = "handwriting-script"     # the bundled model a personal model starts from by default
MAKE_TIP = ("Teach the handwriting model your hand from the lines written here (a few minutes), then use it in "
            "the Handwriting tab. Needs at least {n} lines; your lines are only read, never changed.")
# cell colours (background, text) by how many samples a character has: none, some, enough
_CELL = {0: ("#f4d4cc", "#8a2a1c"), 1: ("#f5e6bd", "#6f520c"), 2: ("#d5ebd8", "#22603a")}


class CoverageGrid(QWidget):
    """A compact grid of the target characters, coloured by how many times each has been written."""

    def __init__(self, chars: str = TARGET_CHARS, parent: QWidget | None = None):
        super().__init__(parent)
        self.chars = chars
        self.counts: dict[str, int] = {c: 0 for c in chars}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(3)
        self.cells: dict[str, QLabel] = {}
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(10)
        for i, c in enumerate(chars):
            lab = QLabel(c)
            lab.setFont(mono)
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
            lab.setFixedSize(22, 22)
            grid.addWidget(lab, i // GRID_COLUMNS, i % GRID_COLUMNS)
            self.cells[c] = lab
        self.set_counts(self.counts)

    def set_counts(self, counts: dict[str, int]) -> None:
        self.counts = {c: int(counts.get(c, 0)) for c in self.chars}
        for c, lab in self.cells.items():
            n = self.counts[c]
            bg, fg = _CELL[0 if n == 0 else 1 if n < MIN_SAMPLES else 2]
            lab.setStyleSheet(f"QLabel {{ background: {bg}; color: {fg}; border-radius: 3px; }}")
            lab.setToolTip(f"“{c}”: written {n} time{'s' if n != 1 else ''}"
                           + ("" if n >= MIN_SAMPLES else f" ({MIN_SAMPLES} wanted)"))

    def needed(self) -> list[str]:
        """The characters with fewer than MIN_SAMPLES samples, in grid order."""
        return [c for c in self.chars if self.counts[c] < MIN_SAMPLES]


class CollectPage(QWidget):
    """The guided collection window."""

    status = Signal(str)   # also shown on the page; the Handwriting tab forwards it to the status bar
    model_made = Signal(str)   # "Make my model" exported a package (its folder)

    def __init__(self, parent: QWidget | None = None, collection: Collection | None = None):
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.setWindowTitle("My handwriting — Scribe Studio")
        self.collection = collection if collection is not None else Collection()
        self.index: int | None = None      # the prompt being written (None: every prompt is written)
        self.base: Path | None = None      # the model "Make my model" starts from (None: see base_model())
        self.make_steps: int | None = None  # a step budget instead of the personal preset's (tests)
        self.job_factory = None            # (argv, out_dir, name, parent) -> a ChildJob-like job (not started)
        self.make_job = None               # the "Make my model" job while it runs
        self._made_name = ""
        self._make_note = ""               # how the last "Make my model" ended (shown under the strip)
        self._make_total: int | None = None
        self._build()
        self._shortcuts()
        self.canvas.changed.connect(self._update_buttons)
        self.refresh()
        self.resize(1020, 660)

    # ------------------------------------------------------------------------------------ layout
    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(14, 12, 14, 10)
        root.setSpacing(6)

        head = QHBoxLayout()
        self.progress_label = caption("Line 1 of 1")
        head.addWidget(self.progress_label)
        self.count_label = muted()
        head.addWidget(self.count_label)
        head.addStretch(1)
        root.addLayout(head)

        self.prompt_label = QLabel()
        f = self.prompt_label.font()
        f.setPointSizeF(f.pointSizeF() * 1.6)
        self.prompt_label.setFont(f)
        self.prompt_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.prompt_label.setToolTip("Write this line, exactly as it is, in your usual hand")
        root.addWidget(self.prompt_label)

        self.canvas = DrawingCanvas()
        self.canvas.hint = "Write the line above here, in your usual hand, then press Enter"
        self.canvas.setMinimumHeight(150)
        self.canvas.setMaximumHeight(210)
        frame = QFrame()
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        fl = QVBoxLayout(frame)
        fl.setContentsMargins(1, 1, 1, 1)
        fl.addWidget(self.canvas)
        frame.setMaximumHeight(self.canvas.maximumHeight() + 2)
        root.addWidget(frame, 1)

        row = QHBoxLayout()
        self.undo_button = QPushButton("Undo stroke")
        self.undo_button.setToolTip("Remove the last stroke (Ctrl+Z)")
        self.undo_button.clicked.connect(self.undo)
        self.redo_button = QPushButton("Redo line")
        self.redo_button.setToolTip("Clear the strip and write the line again (Esc or Ctrl+Backspace)")
        self.redo_button.clicked.connect(self.redo)
        self.skip_button = QPushButton("Skip")
        self.skip_button.setToolTip("Leave this line for later and show the next one (Ctrl+Right)")
        self.skip_button.clicked.connect(self.skip)
        self.accept_button = QPushButton("Accept line")
        self.accept_button.setObjectName("primary")
        self.accept_button.setToolTip("Save the line and go on to the next one (Enter)")
        self.accept_button.clicked.connect(self.accept_line)
        for b in (self.undo_button, self.redo_button, self.skip_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.setMinimumWidth(96)
            row.addWidget(b)
        self.message = QLabel()
        self.message.setWordWrap(True)
        row.addWidget(self.message, 1)
        self.accept_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.accept_button.setMinimumWidth(140)
        row.addWidget(self.accept_button)
        root.addLayout(row)
        root.addWidget(muted(KEYS_TIP))

        make = QHBoxLayout()
        self.make_button = QPushButton("Make my model")
        self.make_button.setToolTip(MAKE_TIP.format(n=MIN_MODEL_LINES))
        self.make_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)   # Enter accepts a line, never starts this
        self.make_button.setMinimumWidth(140)
        self.make_button.clicked.connect(self._make_clicked)
        make.addWidget(self.make_button)
        self.make_progress = QProgressBar()
        self.make_progress.setRange(0, 1000)
        self.make_progress.setTextVisible(False)
        self.make_progress.setMaximumWidth(220)
        self.make_progress.setVisible(False)
        make.addWidget(self.make_progress)
        self.make_label = muted(wrap=True)
        make.addWidget(self.make_label, 1)
        root.addLayout(make)

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        root.addWidget(line)

        bottom = QHBoxLayout()
        bottom.setSpacing(18)
        # collected lines
        left = QVBoxLayout()
        left.setSpacing(4)
        self.delete_button = tool_button("Delete", "Delete the selected line (Delete); its prompt comes back",
                                         self.delete_selected)
        self.export_button = tool_button("Export ▾", "Save the collection as a .zip or a folder of InkML files")
        emenu = QMenu(self.export_button)
        emenu.addAction("As a .zip of InkML…").triggered.connect(self._export_zip_dialog)
        emenu.addAction("To a folder…").triggered.connect(self._export_folder_dialog)
        self.export_button.setMenu(emenu)
        self.import_button = tool_button("Import ▾", "Add lines from a .zip or a folder of InkML files")
        imenu = QMenu(self.import_button)
        imenu.addAction("From a .zip…").triggered.connect(self._import_zip_dialog)
        imenu.addAction("From a folder…").triggered.connect(self._import_folder_dialog)
        self.import_button.setMenu(imenu)
        lh = QHBoxLayout()
        lh.addWidget(caption("Written lines"))
        self.lines_info = muted()
        lh.addWidget(self.lines_info)
        lh.addStretch(1)
        for b in (self.delete_button, self.export_button, self.import_button):
            b.setAutoRaise(True)
            if b is not self.delete_button:
                b.setObjectName("menuButton")
                b.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            lh.addWidget(b)
        left.addLayout(lh)
        self.lines_list = QListWidget()
        self.lines_list.setAlternatingRowColors(True)
        self.lines_list.setStyleSheet("QListWidget::item { padding: 3px 4px; }")
        self.lines_list.currentItemChanged.connect(self._update_buttons)
        left.addWidget(self.lines_list, 1)
        bottom.addLayout(left, 1)
        # coverage
        right = QVBoxLayout()
        right.setSpacing(6)
        right.addWidget(caption("Characters"))
        self.coverage = CoverageGrid()
        right.addWidget(self.coverage)
        self.coverage_label = muted(wrap=True)
        self.coverage_label.setMaximumWidth(GRID_COLUMNS * 25)
        right.addWidget(self.coverage_label)
        right.addStretch(1)
        bottom.addLayout(right)
        root.addLayout(bottom, 1)

    def _shortcuts(self) -> None:
        def key(seq, slot, widget=None):
            sc = QShortcut(QKeySequence(seq), widget or self)
            sc.setContext(Qt.ShortcutContext.WidgetShortcut if widget else Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(slot)

        key(Qt.Key.Key_Return, self.accept_line)
        key(Qt.Key.Key_Enter, self.accept_line)
        key(QKeySequence.StandardKey.Undo, self.undo)
        key(Qt.Key.Key_Escape, self.redo)
        key("Ctrl+Backspace", self.redo)
        key("Ctrl+Right", self.skip)
        key(QKeySequence.StandardKey.Delete, self.delete_selected, self.lines_list)

    # ------------------------------------------------------------------------------------ state
    @property
    def prompt(self) -> str:
        """The line to write now ("" when every prompt is written)."""
        return self.collection.prompts[self.index] if self.index is not None else ""

    def refresh(self) -> None:
        """Re-read the collection folder: the list, the coverage and the prompt to write."""
        self.index = self.collection.next_prompt()
        lines = self.collection.list()
        self.lines_list.clear()
        for e in lines:
            item = QListWidgetItem(e.text)
            item.setData(Qt.ItemDataRole.UserRole, str(e.path))
            item.setToolTip(f"{e.path.name} · {e.strokes} strokes, {e.points} points")
            self.lines_list.addItem(item)
        if lines:
            self.lines_list.scrollToBottom()
        self._show_prompt()
        self._show_coverage()
        self._update_buttons()

    def _show_prompt(self) -> None:
        total = len(self.collection.prompts)
        done = len(self.collection.written() & {" ".join(p.split()) for p in self.collection.prompts})
        if self.index is None:
            self.progress_label.setText(f"ALL {total} LINES WRITTEN")
            self.prompt_label.setText("Every line is written: thank you! Delete a line to write it again.")
        else:
            self.progress_label.setText(f"LINE {self.index + 1} OF {total}")
            self.prompt_label.setText(self.prompt)
            self.collection.position = self.index
        n = self.lines_list.count()
        self.count_label.setText(f"{n} line{'s' if n != 1 else ''} collected · {total - done} to go")
        self.lines_info.setText(str(n) if n else "none yet")

    def _show_coverage(self) -> None:
        self.coverage.set_counts(self.collection.counts(self.coverage.chars))
        need = self.coverage.needed()
        total = len(self.coverage.chars)
        if not need:
            self.coverage_label.setText(f"All {total} characters have {MIN_SAMPLES} or more samples.")
            return
        head = f"{total - len(need)} of {total} characters have {MIN_SAMPLES} or more samples."
        if len(need) <= SHOW_NEEDED:
            self.coverage_label.setText(f"{head}\nStill needed: {' '.join(need)}")
        else:
            self.coverage_label.setText(f"{head}\nRed: none yet · yellow: fewer than {MIN_SAMPLES} · green: enough")

    def _update_buttons(self, *_) -> None:
        has_ink = not self.canvas.is_empty()
        self.undo_button.setEnabled(has_ink)
        self.redo_button.setEnabled(has_ink)
        self.accept_button.setEnabled(self.index is not None)
        self.skip_button.setEnabled(self.index is not None)
        self.delete_button.setEnabled(self.lines_list.currentItem() is not None)
        self.export_button.setEnabled(self.lines_list.count() > 0)
        running = self.make_running()
        self.make_button.setText("Stop" if running else "Make my model")
        self.make_button.setToolTip("Stop making the model (nothing is kept)" if running
                                    else MAKE_TIP.format(n=MIN_MODEL_LINES))
        if not running:
            need = MIN_MODEL_LINES - self.lines_list.count()
            hint = (f"Write {need} more line{'s' if need != 1 else ''} to make a model of your own hand."
                    if need > 0 else "")
            if not torch_available():
                hint = "Making a model of your own hand needs the full build of Scribe Studio (with PyTorch)."
            self.make_label.setText(self._make_note or hint)

    def say(self, text: str, warn: bool = False) -> None:
        self.message.setObjectName("warning" if warn else "muted")
        self.message.style().unpolish(self.message)    # re-polish: the style sheet keys on the name
        self.message.style().polish(self.message)
        self.message.setText(text)
        self.status.emit(text)

    # ------------------------------------------------------------------------------------ actions
    def accept_line(self) -> bool:
        """Save what is on the canvas as the current prompt's line and move on."""
        if self.index is None:
            self.say("Every line is written already.")
            return False
        if self.canvas.is_empty():
            self.say("Write the line first, then press Enter.", warn=True)
            self.canvas.setFocus()
            return False
        text = self.prompt
        try:
            path = self.collection.add(self.canvas.to_ink(text), text)
        except (ScribeError, OSError) as exc:
            self.say(f"Could not save the line: {exc}", warn=True)
            return False
        self.canvas.clear()
        self.collection.position = self.index + 1
        self.refresh()
        self.say(f"Saved “{text}” ({path.name}).")
        self.canvas.setFocus()
        return True

    def undo(self) -> bool:
        return self.canvas.undo()

    def redo(self) -> None:
        """Clear the strip to write the line again."""
        self.canvas.clear()
        self.canvas.setFocus()

    def skip(self) -> bool:
        """Leave the current prompt for later (nothing is saved) and show the next unwritten one."""
        if self.index is None:
            return False
        skipped = self.index
        self.canvas.clear()
        self.index = self.collection.next_prompt(skipped + 1)
        self.collection.position = self.index if self.index is not None else 0
        self.refresh()
        if self.index == skipped:
            self.say("This is the only line left to write.")
        else:
            self.say("Skipped; that line comes round again at the end.")
        return True

    def delete_selected(self) -> bool:
        item = self.lines_list.currentItem()
        if item is None:
            return False
        path, text = Path(item.data(Qt.ItemDataRole.UserRole)), item.text()
        try:
            self.collection.delete(path)
        except ScribeError as exc:
            self.say(str(exc), warn=True)
            return False
        row = self.lines_list.row(item)
        self.refresh()
        if self.lines_list.count():
            self.lines_list.setCurrentRow(min(row, self.lines_list.count() - 1))
        self.say(f"Deleted “{text}”: that line will be asked again.")
        return True

    # ------------------------------------------------------------------------------------ export / import
    def export_to(self, path) -> int:
        """Export to ``path``: a .zip file, or else a folder. Returns the number of lines (0 on failure)."""
        path = Path(path)
        try:
            n = (self.collection.export_zip(path) if path.suffix.lower() == ".zip"
                 else self.collection.export_folder(path))
        except ScribeError as exc:
            self.say(f"Export failed: {exc}", warn=True)
            return 0
        self.say(f"Exported {n} line{'s' if n != 1 else ''} to {path}.")
        return n

    def import_from(self, path):
        """Import a .zip, a folder or an InkML file; returns the ImportReport (None when it failed)."""
        try:
            report = self.collection.import_from(path)
        except ScribeError as exc:
            self.say(f"Import failed: {exc}", warn=True)
            return None
        self.refresh()
        self.say(report.summary(), warn=bool(report.skipped))
        return report

    def _export_zip_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export my handwriting",
                                              str(Path.home() / "my-handwriting.zip"), "Zip of InkML (*.zip)")
        if path:
            self.export_to(path if path.lower().endswith(".zip") else path + ".zip")

    def _export_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Export my handwriting to a folder", str(Path.home()))
        if path:
            self.export_to(path)

    def _import_zip_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import handwriting", str(Path.home()),
                                              "Zip of InkML (*.zip);;InkML (*.inkml)")
        if path:
            self.import_from(path)

    def _import_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Import handwriting from a folder", str(Path.home()))
        if path:
            self.import_from(path)


    # ------------------------------------------------------------------------------------ make my model
    def make_running(self) -> bool:
        return self.make_job is not None and self.make_job.is_running()

    def _make_clicked(self) -> None:
        if self.make_running():
            self.make_job.stop()
            self.make_label.setText("Stopping…")
        else:
            self.make_model()

    def base_model(self) -> ModelEntry | None:
        """The model a personal model starts from: :attr:`base` if set, else the Handwriting tab's model when it
        can be trained further (a float synthesis package that is not itself a personal model), else the
        bundled handwriting model. None when none is usable."""
        if self.base is not None:
            entry = read_entry(self.base)
            return entry if entry.usable else None
        picker = getattr(self.parentWidget(), "model_picker", None)
        current = picker.current() if picker is not None else None
        if current is not None and _trainable(current) and not current.card.get("personal"):
            return current
        from engine.core.paths import bundled_models_dir

        entry = read_entry(bundled_models_dir() / DEFAULT_BASE, "bundled")
        return entry if entry.usable and _trainable(entry) else None

    def usable_lines(self, base: ModelEntry) -> tuple[int, list[str]]:
        """(how many lines of the collection a personal model of ``base`` can learn from, why the others
        cannot), checked the way training reads them (``engine.data.personal_lines``), without torch."""
        from engine.data.inkml import read_inkml
        from engine.data.personal_lines import prepare_personal_line
        from engine.data.prime import InkScale
        from engine.training.presets import INK_PRESETS

        max_points = INK_PRESETS["personal"]["max_points"]
        vocab = set(base.card.get("vocab") or [])
        scale = InkScale.from_card(base.card, base.card.get("styles"))
        usable, problems = 0, []
        for e in self.collection.list():
            try:
                s3, _ = prepare_personal_line(read_inkml(e.path)[0], e.text, scale, vocab)
            except (ScribeError, OSError, ValueError, IndexError) as exc:
                problems.append(f"“{e.text}” cannot be used: {exc}")
                continue
            if len(s3) > max_points:
                problems.append(f"“{e.text}” is too long for the model ({len(s3)} points, at most {max_points})")
                continue
            usable += 1
        return usable, problems

    def make_model(self) -> bool:
        """Start fine-tuning a model on the collection (see the module docstring). False, with a message on
        the page, when it cannot start."""
        if self.make_running():
            return False
        if not torch_available():
            self.say("Making a model of your own hand needs the full build of Scribe Studio (with PyTorch); this "
                     "build writes with existing models only. Your lines are saved and can be exported for it.",
                     warn=True)
            return False
        n = len(self.collection.list())
        if n < MIN_MODEL_LINES:
            self.say(f"Write at least {MIN_MODEL_LINES} lines first: the collection has {n}.", warn=True)
            return False
        base = self.base_model()
        if base is None:
            self.say("There is no handwriting model to start from: open a float handwriting synthesis package "
                     "in the Models tab first.", warn=True)
            return False
        usable, problems = self.usable_lines(base)
        if usable < MIN_MODEL_LINES:
            self.say(f"Only {usable} of your {n} lines can be used ({'; '.join(problems[:3])}"
                     f"{'; …' if len(problems) > 3 else ''}). A model of your hand needs at least {MIN_MODEL_LINES}: "
                     f"write a few more (they are kept), or delete the ones that cannot be used.", warn=True)
            return False
        from engine.core.paths import runs_dir, user_models_dir

        stamp = time.strftime("%Y%m%d-%H%M%S")
        run = runs_dir() / f"personal-{stamp}"
        out = user_models_dir() / f"my-handwriting-{stamp}"
        self._made_name = _unique_name(f"My handwriting — {time.strftime('%Y-%m-%d')}", user_models_dir())
        argv = ["train", "ink", "--data", str(self.collection.folder), "--init-from", str(base.path),
                "--preset", "personal", "--out", str(run)]
        if self.make_steps:
            argv += ["--steps", str(int(self.make_steps))]
        factory = self.job_factory or _child_job
        try:
            job = factory(argv, str(out), self._made_name, self)
        except ImportError as exc:
            self.say(f"Cannot start training in this build: {exc}", warn=True)
            return False
        job.batch.connect(self._make_events)
        job.finished.connect(self._make_finished)
        job.failed.connect(self._make_failed)
        self.make_job = job
        self._make_note = ""
        job.start()
        self.make_progress.setValue(0)
        self.make_progress.setVisible(True)
        note = f" ({len(problems)} line{'s' if len(problems) != 1 else ''} left out)" if problems else ""
        self.make_label.setText(f"Learning your hand from {usable} lines{note}, starting from {base.name}…")
        self.say(f"Making “{self._made_name}” from {usable} of your lines; this takes a few minutes.")
        self._update_buttons()
        return True

    def _make_events(self, events: list) -> None:
        if self.sender() is not self.make_job:
            return
        for ev in events:
            t = ev.get("type")
            if t == "start":
                self._make_total = ev.get("total_steps")
            elif t == "step":
                total = ev.get("total_steps") or self._make_total
                if total:
                    self.make_progress.setValue(min(int(1000 * ev["step"] / total), 990))
                eta = ev.get("eta_s")
                self.make_label.setText(f"Learning your hand: step {ev['step']}" + (f" of {total}" if total else "")
                                        + f" · loss {ev['loss']:.3f}"
                                        + (f" · about {format_duration(eta)} left" if eta is not None else ""))
            elif t == "eval" and ev.get("legible") is not None:
                self.make_progress.setToolTip(f"step {ev.get('step')}: held-out loss {ev.get('nll', 0):.3f}, "
                                              f"check sentences written {ev.get('legible_passed')} of "
                                              f"{ev.get('legible_checked')}")
            elif t == "status" and "export" in str(ev.get("text", "")):
                self.make_progress.setValue(995)
                self.make_label.setText("Saving your model…")
            elif t == "warning":
                self.make_label.setText(str(ev.get("message", "")))

    def _make_finished(self, result: dict) -> None:
        if self.sender() is not self.make_job:
            return
        self.make_job.deleteLater()
        self.make_job = None
        self.make_progress.setVisible(False)
        path = result.get("path")
        if not path:
            self._make_note = "Stopped: no model was made. Your lines are all kept."
            self.say("Making the model was stopped; nothing was saved.")
            self._update_buttons()
            return
        best = result.get("best") or {}
        checked = best.get("legible_checked") or 0
        note = ""
        if checked and best.get("legible_passed", 0) < checked:
            note = (f" In the check it finished {best.get('legible_passed', 0)} of {checked} test sentences at your "
                    f"pace: longer texts may drift; more lines help.")
        self._make_note = f"“{self._made_name}” is ready and selected in the Handwriting tab.{note}"
        self.say(f"Your model “{self._made_name}” is ready.")
        self.model_made.emit(path)
        self._use_model(path)
        self._update_buttons()

    def _make_failed(self, message: str) -> None:
        if self.sender() is not self.make_job:
            return
        self.make_job.deleteLater()
        self.make_job = None
        self.make_progress.setVisible(False)
        self._make_note = "No model was made. Your lines are all kept."
        self.say(f"Making the model failed: {message}", warn=True)
        self._update_buttons()

    def _use_model(self, path: str) -> None:
        """List the new package in the app and select it in the Handwriting tab (through the main window, as
        the Train tab's exports are: ``model_exported`` and ``use_model``)."""
        parent = self.parentWidget()
        win = parent.window() if parent is not None else None
        if win is None or not hasattr(win, "model_exported"):
            return
        win.model_exported(path)
        key = str(Path(path).resolve())
        entry = next((e for e in getattr(win, "models", []) if e.key == key), None)
        if entry is not None and hasattr(win, "use_model"):
            win.use_model(entry)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop a model being made (the app is closing); nothing the user wrote is touched."""
        if self.make_job is not None:
            self.make_job.shutdown(timeout)


def torch_available() -> bool:
    """Whether this build can train (PyTorch installed; looked up, not imported: the app never imports it)."""
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def _trainable(entry: ModelEntry) -> bool:
    """A float handwriting synthesis package (what ``engine.training.from_package`` can train further)."""
    card = entry.card
    return (entry.usable and entry.kind == "ink-synthesis" and not card.get("quantization")
            and (card.get("parity") or {}).get("graph") in (None, "fused"))


def _unique_name(name: str, folder: Path) -> str:
    """``name``, or ``name (2)``, ``(3)``… when a package in ``folder`` already has it."""
    import json

    taken = set()
    for card in folder.glob("*/card.json"):
        try:
            taken.add(json.loads(card.read_text(encoding="utf-8")).get("name"))
        except (OSError, ValueError, AttributeError):
            continue
    k, out = 1, name
    while out in taken:
        k += 1
        out = f"{name} ({k})"
    return out


def _child_job(argv: list[str], out_dir: str, name: str, parent: QWidget):
    """Fine-tune and export in the app's training child process (``studio.train.job.make_model_job``). The
    app's layers put studio.train above this page, so it is looked up when needed (as the main window looks
    up the Train tab) rather than imported."""
    jobs = importlib.import_module("studio.train.job")
    return jobs.make_model_job(argv, out_dir, name, parent)
