"""The Text tab: prompt a character language model and watch it write."""

from __future__ import annotations

import random
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QFileDialog, QFormLayout, QGroupBox, QPlainTextEdit, QVBoxLayout, QWidget

from engine.core.translit import fit_text
from studio.common.generation_view import GenerationView
from studio.common.model_picker import ModelPicker
from studio.common.registry import PACKAGES, ModelEntry
from studio.common.settings import read
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

TEMP_TIP = ("Temperature: low picks the likeliest next character (safe, repetitive), high takes more "
            "chances (surprising, more mistakes)")
TOPK_TIP = "Top-k: sample only among the k likeliest characters (off = all of them)"
SEED_TIP = "Seed: the same seed, prompt and settings give the same text again (random = new each time)"
LENGTH_TIP = "How many characters to write after the prompt"
DEFAULT_PROMPT = "ROMEO:\n"


class TextView(GenerationView):
    NO_MODEL = "No text model: open one in the Models tab."

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._written = 0
        self._seed_used: int | None = None
        self._build()
        self._update_buttons()

    def _build(self) -> None:
        root, sl = side_panel(self)
        sl.addWidget(caption("Model"))
        self.model_picker = ModelPicker(("text",))
        self.model_picker.setToolTip("The text model that writes (Models tab: details, open more)")
        self.model_picker.entry_changed.connect(self.set_entry)
        sl.addWidget(self.model_picker)
        sl.addWidget(caption("Prompt"))
        self.prompt_edit = input_box("The text the model continues (may be empty)", DEFAULT_PROMPT, 160)
        self.prompt_edit.textChanged.connect(self._check_prompt)
        sl.addWidget(self.prompt_edit)
        self.unknown_label = warning()
        sl.addWidget(self.unknown_label)

        box = QGroupBox("Sampling")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.temp_spin = spin_box(0.0, 3.0, 0.8, step=0.05, special="0 (greedy)", tip=TEMP_TIP, double=True)
        form.addRow(tipped("Temperature", TEMP_TIP), self.temp_spin)
        self.length_spin = spin_box(1, 100_000, 600, step=100, suffix=" characters", tip=LENGTH_TIP)
        form.addRow(tipped("Length", LENGTH_TIP), self.length_spin)
        self.topk_spin = spin_box(0, 1000, special="off", tip=TOPK_TIP)
        form.addRow(tipped("Top-k", TOPK_TIP), self.topk_spin)
        self.seed_spin = spin_box(-1, 2 ** 31 - 1, -1, special="random", tip=SEED_TIP)
        form.addRow(tipped("Seed", SEED_TIP), self.seed_spin)
        sl.addWidget(box)

        buttons, self.generate_button, self.stop_button = run_stop_row(
            "Generate", "Continue the prompt (Ctrl+Enter)", self.generate, "Stop now (Esc)", self.stop)
        sl.addLayout(buttons)
        sl.addStretch(1)
        sl.addWidget(muted("<b>Temperature</b> trades safety for surprise: try 0.5 for careful text, 1.0 for the "
                           "model's own voice.<br><b>Keys:</b> Ctrl+Enter generate · Esc stop · Ctrl+Shift+C copy · "
                           "Ctrl+S save", wrap=True))

        right = QVBoxLayout()
        right.setSpacing(4)
        self.copy_button = tool_button("Copy", "Copy the output (Ctrl+Shift+C)", self.copy)
        self.save_button = tool_button("Save…", "Save the output as a text file (Ctrl+S)", self.save_dialog)
        head, self.info = header_row("Output", self.copy_button, self.save_button)
        right.addLayout(head)
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setPlaceholderText("Generated text appears here as it is written.")
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSizeF(max(10.5, font.pointSizeF()))
        self.output.setFont(font)
        right.addWidget(self.output, 1)
        root.addLayout(right, 1)

    # ------------------------------------------------------------------------------------ model
    def set_entry(self, entry: ModelEntry | None) -> None:
        self.entry = entry
        self._check_prompt()
        self._update_buttons()

    def fitted_prompt(self):
        """The prompt as this model reads it (engine.core.translit, as the CLI: é -> e, curly quotes ->
        straight ...; what has no stand-in is left out), or None when the model's characters are unknown."""
        vocab = self.entry.card.get("vocab") if self.entry else None
        if not isinstance(vocab, list):
            return None
        return fit_text(self.prompt_edit.toPlainText(), set(vocab))

    def unknown_chars(self) -> list[str]:
        """Characters of the prompt the model does not know, even transliterated (left out)."""
        fitted = self.fitted_prompt()
        return fitted.dropped if fitted is not None else []

    def _check_prompt(self) -> None:
        fitted = self.fitted_prompt()
        notes = []
        if fitted is not None and fitted.replaced:
            notes.append("The prompt is read with " + ", ".join(
                f"“{new}” for “{old}”" if new else f"“{old}” without its accent"
                for old, new in list(fitted.replaced.items())[:8]) + ".")
        bad = fitted.dropped if fitted is not None else []
        if bad:
            names = " ".join({"\n": "newline", " ": "space", "\t": "tab"}.get(c, f"“{c}”") for c in bad[:12])
            notes.append(f"This model does not know {names}; the prompt leaves them out.")
        if notes:
            self.unknown_label.setText(" ".join(notes))
            self.unknown_label.show()
        else:
            self.unknown_label.hide()

    # ------------------------------------------------------------------------------------ generation
    def _update_buttons(self) -> None:
        self._update_run_controls(self.generate_button)
        has = bool(self.output.toPlainText())
        self.copy_button.setEnabled(has)
        self.save_button.setEnabled(has)

    def generate(self) -> bool:
        if not self._ready_to_generate():
            return False
        fitted = self.fitted_prompt()
        prompt = fitted.text if fitted is not None else self.prompt_edit.toPlainText()
        length = self.length_spin.value()
        temperature = self.temp_spin.value()
        top_k = self.topk_spin.value() or None
        seed = self.seed_spin.value()
        seed = random.randrange(2 ** 31) if seed < 0 else seed
        self._seed_used = seed
        path = self.entry.path

        def produce():
            pkg = PACKAGES.load(path)
            return pkg.generate_text(prompt, length, temperature=temperature, top_k=top_k, seed=seed)

        self.output.clear()
        cur = self.output.textCursor()
        fmt = QTextCharFormat()
        fmt.setFontWeight(QFont.Weight.Bold)
        fmt.setForeground(self.palette().color(self.palette().ColorRole.Link))
        cur.insertText(prompt, fmt)
        self._written = 0
        self._start_job(produce, "text")
        self.status.emit(f"Writing {length} characters (temperature {temperature:.2f}, seed {seed})…")
        return True

    def _on_items(self, ev: dict) -> None:
        if not self._from_current_job():
            return
        chunk = "".join(ev["items"])
        self._written += len(ev["items"])
        bar = self.output.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 4
        cur = QTextCursor(self.output.document())
        cur.movePosition(QTextCursor.MoveOperation.End)
        cur.insertText(chunk, QTextCharFormat())
        if at_end:
            bar.setValue(bar.maximum())
        self.info.setText(f"{self._written} characters")

    def _on_finished(self, summary: dict) -> None:
        if not self._from_current_job():
            return
        secs = max(summary.get("seconds", 0.0), 1e-6)
        if summary.get("stopped"):
            self.status.emit(f"Stopped after {self._written} characters.")
        else:
            self.status.emit(f"Wrote {self._written} characters in {secs:.1f} s "
                             f"({self._written / secs:.0f} chars/s, seed {self._seed_used}).")
        self._set_busy(False)

    # ------------------------------------------------------------------------------------ copy / save
    def text(self) -> str:
        return self.output.toPlainText()

    def copy(self) -> bool:
        if not self.text():
            self.status.emit("Nothing to copy yet.")
            return False
        QGuiApplication.clipboard().setText(self.text())
        self.status.emit("Copied the text.")
        return True

    def save_to(self, path) -> Path | None:
        path = Path(path)
        try:
            path.write_text(self.text(), encoding="utf-8")
        except OSError as exc:
            self.status.emit(f"Could not write {path}: {exc.strerror or exc}")
            return None
        self.status.emit(f"Saved {path}")
        return path

    def save_dialog(self, *_):
        if not self.text():
            self.status.emit("Nothing to save yet.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save text", str(Path.home() / "generated.txt"),
                                              "Text (*.txt);;All files (*)")
        if path:
            self.save_to(path)

    # ------------------------------------------------------------------------------------ settings
    def save_settings(self, s: QSettings) -> None:
        s.setValue("text/prompt", self.prompt_edit.toPlainText())
        s.setValue("text/temperature", self.temp_spin.value())
        s.setValue("text/length", self.length_spin.value())
        s.setValue("text/top_k", self.topk_spin.value())
        s.setValue("text/seed", self.seed_spin.value())

    def load_settings(self, s: QSettings) -> None:
        self.prompt_edit.setPlainText(read(s, "text/prompt", DEFAULT_PROMPT))
        self.temp_spin.setValue(read(s, "text/temperature", 0.8))
        self.length_spin.setValue(read(s, "text/length", 600))
        self.topk_spin.setValue(read(s, "text/top_k", 0))
        self.seed_spin.setValue(read(s, "text/seed", -1))
