"""The "My handwriting" page: write the prompt lines one at a time to build a collection of your own hand.

A window of its own (opened from the Handwriting tab): the prompt to write, the drawing strip
(:class:`~studio.handwriting.canvas.DrawingCanvas`: mouse or pen, pressure kept), progress, a coverage
grid of the characters that still have too few samples, and the list of written lines. Every accepted
line is saved at once as InkML (:class:`engine.data.collection.Collection`), so closing loses nothing;
reopening resumes at the next prompt not yet written.

Keys: Enter accept · Ctrl+Z undo stroke · Esc or Ctrl+Backspace clear · Ctrl+Right skip · Delete (in the
list) delete the line.
"""

from __future__ import annotations

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
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.core.errors import ScribeError
from engine.data.collection import Collection
from engine.data.prompts import TARGET_CHARS
from studio.common.widgets import caption, muted, tool_button
from studio.handwriting.canvas import DrawingCanvas

MIN_SAMPLES = 2          # a character is covered once it has been written this many times
GRID_COLUMNS = 13
SHOW_NEEDED = 24         # list the characters still needed by name once there are this few
KEYS_TIP = "Enter accept · Ctrl+Z undo stroke · Esc clear · Ctrl+→ skip · Delete removes the selected line"
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

    def __init__(self, parent: QWidget | None = None, collection: Collection | None = None):
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.setWindowTitle("My handwriting — Scribe Studio")
        self.collection = collection if collection is not None else Collection()
        self.index: int | None = None      # the prompt being written (None: every prompt is written)
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

