"""The Handwriting tab: draw a line, use it as a style, and have the model write text in that hand."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QIcon, QPixmap, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSplitter,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import studio.handwriting.canvas as canvas_mod
from engine.core.errors import ScribeError
from engine.core.hand import describe, prime_slant
from engine.core.translit import fit_text
from engine.data.prime import InkScale, prepare_prime
from studio.common.generation_view import GenerationView
from studio.common.jobs import GenerationJob
from studio.common.model_picker import ModelPicker
from studio.common.registry import INK_KINDS, PACKAGES, ModelEntry
from studio.common.settings import read
from studio.common.theme import DEFAULT_INK, WARN
from studio.common.widgets import (
    caption,
    header_row,
    input_box,
    muted,
    run_stop_row,
    side_panel,
    spin_box,
    tipped,
    tool_button,
    warning,
)
from studio.handwriting.canvas import X_HEIGHT, DrawingCanvas
from studio.handwriting.page import InkPage, wrap_lines
from studio.handwriting.page_view import InkPageView

BIAS_TIP = ("Legibility (sampling bias): higher writes neater and more uniform, lower more varied and "
            "natural, with more slips")
SPEED_TIP = "How fast the pen moves on the page (Instant shows each batch as soon as it is written)"
WIDTH_TIP = "Pen width, relative to the size of the writing"
STYLE_TIP = ("Whose hand to write in: a style bundled with the model, your own drawing "
             "(draw a line above and press Use as style), or Random")
SLANT_TIP = ("How far the writing leans like the style's line: half-way from the model's own lean to the "
             "style's (the default: the nearer, the harder the lines are to read by machine), all the way, or "
             "the model's own. Without a style, the lean of your lines for a model of your hand, else the "
             "model's own.")
TAKES_TIP = ("Write each line this many times and keep the one the model finds likeliest when it reads it back: "
             "fewer garbled words, in that many times the time (1: the first take)")
DEFAULT_TAKES = 3     # bench/RESULTS-handwriting.md 2p
MAX_APP_TAKES = 8
SLANTS = [("Half-way to the style's", "auto"), ("The style's", "style"), ("The model's own", "off")]
INK_PRESETS = [("Blue-black", "#1d2b4f"), ("Black", "#141414"), ("Royal blue", "#2a4fb8"),
               ("Sepia", "#6b4423"), ("Crimson", "#a3202f"), ("Forest", "#1f5f3a"), ("Violet", "#5b2f8a")]

DEFAULT_TEXT = "The quick brown fox\njumps over the lazy dog."


def _swatch(color: QColor, size: int = 14) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(color)
    return QIcon(pm)


class HandwritingView(GenerationView):
    NO_MODEL = "No handwriting model: open one in the Models tab."

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.package = None
        self._load_job: GenerationJob | None = None
        self._vocab: set[str] | None = None
        self._unknown: list[str] = []
        self._styles: list[dict] = []
        self._scale = InkScale()      # the ink the current model was trained on (engine.data.prime)
        self._gen_done = True
        self._color = QColor(DEFAULT_INK)
        self._t_summary = ""
        self._seed = 0
        self._wanted_style: str | None = None
        self._collect_page = None     # the "My handwriting" page, built on first use
        self._build()
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.setInterval(400)
        self._autosave_timer.timeout.connect(self.autosave)
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(150)
        self._check_timer.timeout.connect(self._check_text)
        self._restore_drawing()
        self.canvas.changed.connect(self._drawing_changed)
        self.wrote_edit.textChanged.connect(self._wrote_changed)
        self.text_edit.textChanged.connect(self._check_timer.start)
        self._update_buttons()

    # ------------------------------------------------------------------------------------ layout
    def _build(self) -> None:
        # left: controls
        root, sl = side_panel(self)

        self.model_picker = ModelPicker(INK_KINDS)
        self.model_picker.setToolTip("The handwriting model that writes (Models tab: details, open more)")
        self.model_picker.entry_changed.connect(self.set_entry)
        sl.addWidget(caption("Model"))
        sl.addWidget(self.model_picker)

        sl.addWidget(caption("Text to write"))
        self.text_edit = input_box("Type what the pen should write. New lines start new lines on the page.",
                                   DEFAULT_TEXT, 150)
        sl.addWidget(self.text_edit)
        self.unknown_label = warning()
        sl.addWidget(self.unknown_label)

        box = QGroupBox("Pen")
        form = QFormLayout(box)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.style_combo = QComboBox()
        self.style_combo.setToolTip(STYLE_TIP)
        self.style_combo.currentIndexChanged.connect(self._style_picked)
        form.addRow(tipped("Style", STYLE_TIP), self.style_combo)
        self.slant_combo = QComboBox()
        self.slant_combo.setToolTip(SLANT_TIP)
        for label, data in SLANTS:
            self.slant_combo.addItem(label, data)
        form.addRow(tipped("Slant", SLANT_TIP), self.slant_combo)
        self.takes_spin = spin_box(1, MAX_APP_TAKES, DEFAULT_TAKES, special="1 (first take)", tip=TAKES_TIP)
        form.addRow(tipped("Takes", TAKES_TIP), self.takes_spin)

        self.bias_slider, self.bias_value = self._slider(0, 300, 75, BIAS_TIP, lambda v: f"{v / 100:.2f}")
        form.addRow(tipped("Legibility", BIAS_TIP), self._with_value(self.bias_slider, self.bias_value))
        self.speed_slider, self.speed_value = self._slider(
            1, 10, 7, SPEED_TIP, lambda v: "Instant" if v >= 10 else f"{v}")
        self.speed_slider.valueChanged.connect(lambda v: self.page_view.set_speed(v))  # same thread (GUI)
        form.addRow(tipped("Speed", SPEED_TIP), self._with_value(self.speed_slider, self.speed_value))
        self.width_slider, self.width_value = self._slider(2, 24, 6, WIDTH_TIP, lambda v: f"{v / 4:.2f}")
        self.width_slider.valueChanged.connect(self._ink_changed)
        form.addRow(tipped("Width", WIDTH_TIP), self._with_value(self.width_slider, self.width_value))

        self.color_button = QToolButton()
        self.color_button.setToolTip("Ink colour")
        self.color_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.color_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.color_button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        menu = QMenu(self.color_button)
        for name, hexcol in INK_PRESETS:
            act = menu.addAction(_swatch(QColor(hexcol)), name)
            act.setData(hexcol)
            act.triggered.connect(self._preset_colour)
        menu.addSeparator()
        menu.addAction("Custom…").triggered.connect(self.choose_colour)
        self.color_button.setMenu(menu)
        self.color_button.setObjectName("menuButton")
        form.addRow("Colour", self.color_button)

        self.cpl_spin = spin_box(8, 120, 40, suffix=" characters",
                                 tip="Longer paragraphs wrap onto new lines of the page at about this length")
        form.addRow("Line length", self.cpl_spin)
        sl.addWidget(box)

        buttons, self.write_button, self.stop_button = run_stop_row(
            "Write", "Write the text in the chosen style (Ctrl+Enter)", self.generate,
            "Stop writing now (Esc)", self.stop)
        sl.addLayout(buttons)
        sl.addStretch(1)
        sl.addWidget(muted("<b>Your own hand:</b> write a line in the strip on the right, type what you wrote "
                           "below it and press <i>Use as style</i>.<br><b>Keys:</b> Ctrl+Enter write · Esc stop · "
                           "Ctrl+Z undo stroke · Ctrl+S save", wrap=True))

        # right: drawing strip above the page
        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        top = QFrame()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.setSpacing(4)
        self.undo_button = tool_button("Undo stroke", "Remove the last stroke (Ctrl+Z)", self.undo)
        self.clear_button = tool_button("Clear", "Clear the drawing (Ctrl+Shift+Backspace)", self.clear)
        self.save_drawing_button = tool_button(
            "Save drawing…", "Save what you drew as InkML (with what you wrote as its text)", self.save_drawing_dialog)
        self.collect_button = tool_button(
            "My handwriting…", "Collect your handwriting: write a set of prompted lines, saved as you go "
            "(Ctrl+Shift+H)", self.open_collection)
        head, self.drawing_info = header_row("Your handwriting", self.undo_button, self.clear_button,
                                             self.save_drawing_button, self.collect_button)
        tl.addLayout(head)
        self.canvas = DrawingCanvas()
        self.canvas.setMinimumHeight(130)
        frame = QFrame()
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        fl = QVBoxLayout(frame)
        fl.setContentsMargins(1, 1, 1, 1)
        fl.addWidget(self.canvas)
        tl.addWidget(frame, 1)
        wrote = QHBoxLayout()
        wrote.addWidget(QLabel("You wrote:"))
        self.wrote_edit = QLineEdit()
        self.wrote_edit.setPlaceholderText("type exactly what you drew, e.g. hello world")
        self.wrote_edit.setToolTip("The text of your drawing: the model learns your style by reading it")
        self.wrote_edit.returnPressed.connect(self.use_as_style)
        wrote.addWidget(self.wrote_edit, 1)
        self.use_style_button = QPushButton("Use as style")
        self.use_style_button.setToolTip("Write the text in the hand you drew")
        self.use_style_button.clicked.connect(self.use_as_style)
        wrote.addWidget(self.use_style_button)
        tl.addLayout(wrote)
        self.prime_label = warning(wrap=False)
        tl.addWidget(self.prime_label)
        split.addWidget(top)

        bottom = QFrame()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 4, 0, 0)
        bl.setSpacing(4)
        self.save_button = tool_button("Save ▾", "Save the page as SVG, PNG or InkML (Ctrl+S)")
        self.save_button.setObjectName("menuButton")
        self.save_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        smenu = QMenu(self.save_button)
        for suffix, label in ((".svg", "SVG (vector)…"), (".png", "PNG (image)…"), (".inkml", "InkML (ink)…")):
            a = smenu.addAction(label)
            a.setData(suffix)
            a.triggered.connect(self._save_menu)
        self.save_button.setMenu(smenu)
        self.copy_button = tool_button(
            "Copy", "Copy the page to the clipboard as an image and SVG (Ctrl+Shift+C)", self.copy)
        ph, self.page_info = header_row("Page", self.save_button, self.copy_button)
        bl.addLayout(ph)
        self.page_view = InkPageView()
        self.page_view.caught_up.connect(self._caught_up)
        self.page_view.progress.connect(self._progress)
        bl.addWidget(self.page_view, 1)
        split.addWidget(bottom)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([230, 480])
        root.addWidget(split, 1)
        self._set_colour(self._color)

    def _slider(self, lo: int, hi: int, value: int, tip: str, fmt):
        s = QSlider(Qt.Orientation.Horizontal)
        s.setRange(lo, hi)
        s.setValue(value)
        s.setToolTip(tip)
        lab = QLabel(fmt(value))
        lab.setMinimumWidth(44)
        lab.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        s.valueChanged.connect(lambda v: lab.setText(fmt(v)))
        return s, lab

    @staticmethod
    def _with_value(slider: QSlider, label: QLabel) -> QWidget:
        w = QWidget()
        h = QHBoxLayout(w)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(slider, 1)
        h.addWidget(label)
        return w

    # ------------------------------------------------------------------------------------ values
    @property
    def bias(self) -> float:
        return self.bias_slider.value() / 100.0

    @property
    def width_setting(self) -> float:
        return self.width_slider.value() / 4.0

    @property
    def color(self) -> QColor:
        return QColor(self._color)

    def _set_colour(self, color: QColor) -> None:
        self._color = QColor(color)
        self.color_button.setIcon(_swatch(self._color))
        name = next((n for n, h in INK_PRESETS if QColor(h) == self._color), self._color.name())
        self.color_button.setText(f"{name}  ▾")
        self._ink_changed()

    def _preset_colour(self) -> None:
        act = self.sender()
        if isinstance(act, QAction):
            self._set_colour(QColor(act.data()))

    def choose_colour(self) -> None:
        c = QColorDialog.getColor(self._color, self, "Ink colour")
        if c.isValid():
            self._set_colour(c)

    def _ink_changed(self, *_):
        self.page_view.set_ink(self._color, self.width_setting)
        self.canvas.set_ink(self._color, self.width_setting * X_HEIGHT / 18.0)

    # ------------------------------------------------------------------------------------ model
    def set_entry(self, entry: ModelEntry | None) -> None:
        """Switch model: its vocabulary is read from the card now, the package is loaded in the background."""
        self.entry = entry
        self.package = None
        self._styles = []
        self._scale = InkScale()
        vocab = (entry.card.get("vocab") if entry else None) or None
        self._vocab = set(vocab) if isinstance(vocab, list) else None
        self._refresh_styles()
        self._check_text()
        if entry is None:
            self._update_buttons()
            return
        path = entry.path

        def load():
            yield PACKAGES.load(path)

        job = GenerationJob(load, name="load", parent=self)
        job.event.connect(self._loaded)
        job.failed.connect(self._load_failed)
        self._load_job = job
        job.start()
        self._update_buttons()

    def _loaded(self, ev: dict) -> None:
        if self.sender() is not self._load_job:
            return
        pkg = ev["items"][-1]
        if self.entry is None or Path(pkg.path).resolve() != self.entry.path.resolve():
            return
        self.package = pkg
        try:
            self._styles = list(pkg.styles)
        except ScribeError as exc:
            self._styles = []
            self.status.emit(str(exc))
        self._scale = InkScale.from_card(pkg.card, self._styles)
        self._refresh_styles()
        if self._personal():
            self.style_combo.setCurrentIndex(0)   # its learnt hand: priming it with a line of it reads worse
        if self._wanted_style:
            self.select_style(self._wanted_style)
            self._wanted_style = None
        self._check_text()
        self._update_buttons()

    def _load_failed(self, msg: str) -> None:
        if self.sender() is self._load_job:
            self.package = None
            self.status.emit(f"Cannot use this model: {msg}")
            self._update_buttons()

    def _personal(self) -> bool:
        """Whether the model is a personal one ("Make my model"): it writes in the person's hand unprimed."""
        return bool(self.entry is not None and self.entry.card.get("personal"))

    def _refresh_styles(self) -> None:
        keep = self.style_combo.currentData()
        self.style_combo.blockSignals(True)
        self.style_combo.clear()
        if self._personal():
            self.style_combo.addItem("Learnt hand", "random")
            self.style_combo.setItemData(0, "The hand this model learnt from your lines, without priming: it "
                                            "writes most legibly this way", Qt.ItemDataRole.ToolTipRole)
        else:
            self.style_combo.addItem("Random", "random")
        self.style_combo.addItem("My handwriting", "mine")
        mine_ok = self.prime_ready()
        item = self.style_combo.model().item(1)
        item.setEnabled(mine_ok)
        item.setToolTip("" if mine_ok else "Draw a line above, type what you wrote and press Use as style")
        for i, st in enumerate(self._styles):
            label = st["name"] + (f" — “{st['text'][:24]}”" if st.get("text") else "")
            self.style_combo.addItem(label, f"style:{i}")
        idx = self.style_combo.findData(keep) if keep else -1
        if keep == "mine" and not mine_ok:
            idx = -1
        self.style_combo.setCurrentIndex(idx if idx >= 0 else 0)
        self.style_combo.blockSignals(False)

    def _style_picked(self, _i: int) -> None:
        if self.style_combo.currentData() == "mine" and not self.prime_ready():
            self.style_combo.setCurrentIndex(0)

    def select_style(self, data: str) -> bool:
        idx = self.style_combo.findData(data)
        if idx < 0 or not self.style_combo.model().item(idx).isEnabled():
            return False
        self.style_combo.setCurrentIndex(idx)
        return True

    # ------------------------------------------------------------------------------------ text checks
    def _known(self):
        """The characters the model writes (None: it writes no text, a prediction model)."""
        if self.package is not None:
            return self.package.vocab
        return self._vocab

    def fit(self, text: str):
        """``text`` as this model writes it (engine.core.translit: é -> e, curly quotes -> straight ...; what
        has no stand-in is left out), or None for a model that writes no text."""
        known = self._known()
        return fit_text(text, known, keep="\n\r") if known is not None else None

    def unknown_in(self, text: str) -> list[str]:
        """Characters of ``text`` the model cannot write, even transliterated (they are left out)."""
        fitted = self.fit(text)
        return fitted.dropped if fitted is not None else []

    def _check_text(self) -> None:
        text = self.text_edit.toPlainText()
        fitted = self.fit(text)
        self._unknown = fitted.dropped if fitted is not None else []
        swaps = fitted.replaced if fitted is not None else {}
        sels = []
        notes = []
        if swaps:
            notes.append("Writes " + ", ".join(f"“{new}” for “{old}”" if new else f"“{old}” without its accent"
                                               for old, new in list(swaps.items())[:8])
                         + ("…" if len(swaps) > 8 else "") + ".")
        if self._unknown:
            fmt = QTextCharFormat()
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            fmt.setUnderlineColor(WARN)
            fmt.setBackground(QColor(WARN.red(), WARN.green(), WARN.blue(), 40))
            bad = set(self._unknown)
            doc = self.text_edit.document()
            for pos, ch in enumerate(text):
                if ch in bad:
                    sel = QTextEdit.ExtraSelection()
                    cur = QTextCursor(doc)
                    cur.setPosition(pos)
                    cur.setPosition(pos + 1, QTextCursor.MoveMode.KeepAnchor)
                    sel.cursor = cur
                    sel.format = fmt
                    sels.append(sel)
                    if len(sels) > 500:
                        break
            shown = " ".join(self._describe(c) for c in self._unknown[:12])
            more = "…" if len(self._unknown) > 12 else ""
            notes.append(f"This model cannot write {shown}{more}; they will be left out.")
        if notes:
            self.unknown_label.setText(" ".join(notes))
            self.unknown_label.show()
        else:
            self.unknown_label.hide()
        self.text_edit.setExtraSelections(sels)
        self._check_prime_text()

    @staticmethod
    def _describe(c: str) -> str:
        names = {" ": "space", "\t": "tab"}
        return names.get(c, f"“{c}”")

    def unknown_chars(self) -> list[str]:
        return list(self._unknown)

    def _check_prime_text(self) -> None:
        bad = self.unknown_in(self.wrote_edit.text())
        if bad and self.wrote_edit.text():
            self.prime_label.setText("This model does not know " + " ".join(self._describe(c) for c in bad)
                                     + " in what you wrote; priming leaves them out.")
            self.prime_label.show()
        else:
            self.prime_label.hide()

    # ------------------------------------------------------------------------------------ drawing
    def prime_ready(self) -> bool:
        return not self.canvas.is_empty() and bool(self.wrote_edit.text().strip())

    def _drawing_changed(self) -> None:
        n, pts = self.canvas.stroke_count(), self.canvas.point_count()
        self.drawing_info.setText(f"{n} stroke{'s' if n != 1 else ''}, {pts} points" if n else "")
        if self.canvas.is_empty() and self.style_combo.currentData() == "mine":
            self.style_combo.setCurrentIndex(0)
        self._refresh_styles()
        self._autosave_timer.start()
        self._update_buttons()

    def _wrote_changed(self, _t: str) -> None:
        self._refresh_styles()
        self._check_prime_text()
        self._autosave_timer.start()
        self._update_buttons()

    def use_as_style(self) -> bool:
        if self.canvas.is_empty():
            self.status.emit("Draw a line of handwriting first, then type what you wrote.")
            return False
        if not self.wrote_edit.text().strip():
            self.status.emit("Type what you wrote, so the model can read your handwriting.")
            self.wrote_edit.setFocus()
            return False
        self._refresh_styles()
        self.select_style("mine")
        pr = self.prime()
        hand = describe(pr[0], pr[1], self._scale.x_height) if pr is not None else ""
        self.status.emit(f"Your handwriting is the style now{f': {hand}.' if hand else '.'} Press Write (Ctrl+Enter).")
        return True

    def undo(self) -> bool:
        return self.canvas.undo()

    def clear(self) -> None:
        self.canvas.clear()

    def drawing_path(self) -> Path:
        from engine.core.paths import user_dir

        return user_dir() / "drawing.json"

    def autosave(self) -> None:
        path = self.drawing_path()
        try:
            if self.canvas.is_empty():
                path.unlink(missing_ok=True)
            else:
                canvas_mod.save_drawing(path, self.canvas, self.wrote_edit.text())
        except OSError as exc:
            self.status.emit(f"Could not keep your drawing: {exc.strerror or exc}")

    def _restore_drawing(self) -> None:
        strokes, text = canvas_mod.load_drawing(self.drawing_path())
        if strokes:
            self.canvas.set_strokes(strokes)
            self.wrote_edit.setText(text)
        n = self.canvas.stroke_count()
        self.drawing_info.setText(f"{n} strokes, {self.canvas.point_count()} points" if n else "")

    def prime(self) -> tuple[np.ndarray, str] | None:
        """The drawing as (stroke3 in model units, its text), or None without a usable drawing."""
        if not self.prime_ready():
            return None
        text = " ".join(self.wrote_edit.text().split())
        fitted = self.fit(text)
        text = fitted.text if fitted is not None else text
        try:  # the same preparation as a tablet file or an IAM line (engine.data.prime)
            s3 = prepare_prime(self.canvas.to_ink(text), self._scale, guide_x_height=X_HEIGHT)
        except ScribeError as exc:
            self.status.emit(f"Your drawing cannot be used as a style: {exc}")
            return None
        return s3, text

    def open_collection(self):
        """Show the "My handwriting" page (built on first use) and return it."""
        if self._collect_page is None:
            from studio.handwriting.collect import CollectPage

            self._collect_page = CollectPage(self)
            self._collect_page.status.connect(self.status)
        else:
            self._collect_page.refresh()
        page = self._collect_page
        page.show()
        page.raise_()
        page.activateWindow()
        page.canvas.setFocus()
        return page

    def save_drawing_dialog(self) -> None:
        if self.canvas.is_empty():
            self.status.emit("Nothing drawn yet.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save drawing", str(Path.home() / "my-handwriting.inkml"),
                                              "InkML ink (*.inkml)")
        if path:
            self.save_drawing(path)

    def save_drawing(self, path) -> Path | None:
        from engine.data.inkml import write_inkml

        path = Path(path)
        if path.suffix.lower() != ".inkml":
            path = path.with_suffix(".inkml")
        try:
            write_inkml(path, [self.canvas.to_ink(self.wrote_edit.text().strip())])
        except (OSError, ScribeError) as exc:
            self.status.emit(f"Could not save the drawing: {exc}")
            return None
        self.status.emit(f"Saved your drawing to {path}")
        return path

    # ------------------------------------------------------------------------------------ generation
    def _update_buttons(self) -> None:
        self._update_run_controls(self.write_button)
        self.use_style_button.setEnabled(not self.canvas.is_empty())
        has_page = self.page_view.page is not None and not self.page_view.page.is_empty()
        self.save_button.setEnabled(has_page)
        self.copy_button.setEnabled(has_page)
        self.undo_button.setEnabled(not self.canvas.is_empty())
        self.clear_button.setEnabled(not self.canvas.is_empty())
        self.save_drawing_button.setEnabled(not self.canvas.is_empty())

    def slant_for(self, prime_s3) -> float | str | None:
        """The ``slant`` to write with (``engine.data.ink_writer.InkWriter.generate``): None (half-way to the
        prime's lean, or without one to the lean the model records for its writer), that lean in degrees (all the
        way) or "off"."""
        choice = self.slant_combo.currentData() or "auto"
        if choice == "off":
            return "off"
        if choice == "style":
            return prime_slant(prime_s3, self._scale.x_height) if prime_s3 is not None else self._scale.slant
        return None

    def generate(self) -> bool:
        """Start writing the text; False (with a status message) when there is nothing to do."""
        if not self._ready_to_generate():
            return False
        self._check_text()
        bad = set(self._unknown)
        lines = wrap_lines(self.text_edit.toPlainText(), self.cpl_spin.value())
        lines = [f.text if (f := self.fit(ln)) is not None else ln for ln in lines]   # é -> e, ... (as the CLI)
        if not any(ln.strip() for ln in lines):
            self.status.emit("Type some text to write first.")
            self.text_edit.setFocus()
            return False
        style = self.style_combo.currentData() or "random"
        prime_s3, prime_text, style_name = None, None, "a random style"
        if style == "mine":
            pr = self.prime()
            if pr is not None:
                prime_s3, prime_text = pr
                style_name = "your handwriting"
        elif style.startswith("style:"):
            st = self._styles[int(style.split(":")[1])]
            prime_s3, prime_text, style_name = st["stroke3"], st.get("text") or "", f"style {st['name']}"
        page = InkPage(lines, x_height=self._scale.x_height)
        self.page_view.set_page(page, writing=True)
        self.page_view.set_speed(self.speed_slider.value())
        self.page_view.set_ink(self._color, self.width_setting)
        bias = self.bias
        slant = self.slant_for(prime_s3)
        takes = self.takes_spin.value()
        seed = random.randrange(2 ** 31)
        path = self.entry.path
        self._seed = seed

        def produce():
            pkg = PACKAGES.load(path)
            for i, line in enumerate(lines):
                if line.strip():
                    for pt in pkg.generate_ink(line, bias=bias, prime_stroke3=prime_s3, prime_text=prime_text,
                                               seed=seed + i, slant=slant, takes=takes):
                        yield (i, pt)
                yield ("end", i)

        self._gen_done = False
        self._t_summary = ""
        self._start_job(produce, "handwriting")
        self.status.emit(f"Writing {len([ln for ln in lines if ln.strip()])} line(s) in {style_name} "
                         f"(legibility {bias:.2f}" + (f", the likeliest of {takes} takes" if takes > 1 else "") + ")…")
        if bad:
            self.status.emit("Writing without " + " ".join(self._describe(c) for c in self._unknown)
                             + " (the model does not know them)…")
        return True

    def _on_items(self, ev: dict) -> None:
        if not self._from_current_job():
            return
        run_line, run = None, []
        for item in ev["items"]:
            if item[0] == "end":
                if run:
                    self.page_view.append(run_line, run)
                    run_line, run = None, []
                self.page_view.finish_line(item[1])
                continue
            li, pt = item
            if li != run_line and run:
                self.page_view.append(run_line, run)
                run = []
            run_line = li
            run.append(pt)
        if run:
            self.page_view.append(run_line, run)

    def _on_finished(self, summary: dict) -> None:
        if not self._from_current_job():
            return
        self._gen_done = True
        page = self.page_view.page
        if summary.get("stopped"):
            self._truncate_to_revealed()
            self.status.emit("Stopped.")
            self._set_busy(False)
            return
        self.page_view.writing_done()
        pts = page.total_points if page else 0
        self._t_summary = (f"Wrote {sum(1 for ln in page.lines if ln.points)} line(s), {pts} points "
                           f"in {summary['seconds']:.1f} s (seed {self._seed}).")
        if not self.page_view.is_animating():
            self._caught_up()

    def _on_failed(self, msg: str) -> None:
        if not self._from_current_job():
            return
        self._gen_done = True
        self.page_view.stop_animation()
        super()._on_failed(msg)

    def _caught_up(self) -> None:
        page = self.page_view.page
        if self._gen_done and self._busy and (page is None or self.page_view.revealed >= page.total_points):
            self.status.emit(self._t_summary or "Done.")
            self._set_busy(False)

    def _progress(self, revealed: int, received: int) -> None:
        page = self.page_view.page
        if page is not None:
            self.page_info.setText(f"{received} points")

    def _truncate_to_revealed(self) -> None:
        """After Stop: the page keeps exactly what the pen had written."""
        view = self.page_view
        page = view.page
        if page is None:
            return
        budget = view.revealed
        for ln in page.lines:
            keep = []
            for s in ln.strokes:
                if budget <= 0:
                    break
                keep.append(s[:budget])
                budget -= min(budget, len(s))
            ln.strokes = keep
            ln.points = sum(len(s) for s in keep)
            ln.done = True
            ln.lifted = True
        view.stop_animation()
        self.page_info.setText(f"{page.total_points} points")

    def stop(self) -> None:
        if not self._busy:
            return
        if self.job is not None and self.job.is_running():
            self.job.stop()  # emits finished(stopped) -> truncates and goes idle
        else:
            self._gen_done = True
            self._truncate_to_revealed()
            self.status.emit("Stopped.")
            self._set_busy(False)

    # ------------------------------------------------------------------------------------ save / copy
    def save_to(self, path) -> Path | None:
        from studio.handwriting.exporting import save_page

        try:
            out = save_page(self.page_view.page, path, self._color, self.width_setting)
        except ScribeError as exc:
            self.status.emit(str(exc))
            return None
        self.status.emit(f"Saved {out}")
        return out

    def _save_menu(self) -> None:
        act = self.sender()
        self.save_dialog(act.data() if isinstance(act, QAction) else ".svg")

    def save_dialog(self, suffix: str = ".svg") -> None:
        from studio.handwriting.exporting import FORMATS

        if self.page_view.page is None or self.page_view.page.is_empty():
            self.status.emit("Nothing to save yet: press Write first.")
            return
        first = next((ln.text for ln in self.page_view.page.lines if ln.text), "handwriting")
        stem = "-".join(first.lower().split()[:4]) or "handwriting"
        stem = "".join(c for c in stem if c.isalnum() or c == "-") or "handwriting"
        filters = ";;".join([FORMATS[suffix]] + [v for k, v in FORMATS.items() if k != suffix])
        path, chosen = QFileDialog.getSaveFileName(self, "Save page", str(Path.home() / f"{stem}{suffix}"), filters)
        if not path:
            return
        if not Path(path).suffix:
            ext = next((k for k, v in FORMATS.items() if v == chosen), suffix)
            path += ext
        self.save_to(path)

    def copy(self) -> bool:
        from studio.handwriting.exporting import copy_page

        try:
            copy_page(self.page_view.page, self._color, self.width_setting)
        except ScribeError as exc:
            self.status.emit(str(exc))
            return False
        self.status.emit("Copied the page (image and SVG).")
        return True

    # ------------------------------------------------------------------------------------ settings
    def save_settings(self, s: QSettings) -> None:
        s.setValue("handwriting/text", self.text_edit.toPlainText())
        s.setValue("handwriting/bias", self.bias_slider.value())
        s.setValue("handwriting/speed", self.speed_slider.value())
        s.setValue("handwriting/width", self.width_slider.value())
        s.setValue("handwriting/colour", self._color.name())
        s.setValue("handwriting/line_length", self.cpl_spin.value())
        s.setValue("handwriting/style", self.style_combo.currentData() or "random")
        s.setValue("handwriting/slant", self.slant_combo.currentData() or "auto")
        s.setValue("handwriting/takes", self.takes_spin.value())

    def load_settings(self, s: QSettings) -> None:
        self.text_edit.setPlainText(read(s, "handwriting/text", DEFAULT_TEXT))
        self.bias_slider.setValue(read(s, "handwriting/bias", 75))
        self.speed_slider.setValue(read(s, "handwriting/speed", 7))
        self.width_slider.setValue(read(s, "handwriting/width", 6))
        c = QColor(read(s, "handwriting/colour", DEFAULT_INK.name()))
        self._set_colour(c if c.isValid() else QColor(DEFAULT_INK))
        self.cpl_spin.setValue(read(s, "handwriting/line_length", 40))
        self.slant_combo.setCurrentIndex(max(self.slant_combo.findData(read(s, "handwriting/slant", "auto")), 0))
        self.takes_spin.setValue(read(s, "handwriting/takes", DEFAULT_TAKES))
        self._wanted_style = read(s, "handwriting/style", "random")
        if not self.select_style(self._wanted_style):
            self.style_combo.setCurrentIndex(0)

    def shutdown(self) -> None:
        """Window closing: stop work and keep the drawing."""
        super().shutdown()
        if self._load_job is not None:
            self._load_job.stop()
        self._autosave_timer.stop()
        self.autosave()
