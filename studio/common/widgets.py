"""Small widget builders shared by the Handwriting and Text views (same look, same object names for the theme)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)


def side_panel(view: QWidget) -> tuple[QHBoxLayout, QVBoxLayout]:
    """The view's root row with a fixed-width control column on its left: (root row, column layout)."""
    root = QHBoxLayout(view)
    root.setContentsMargins(10, 10, 10, 6)
    root.setSpacing(10)
    side = QWidget()
    side.setFixedWidth(300)
    column = QVBoxLayout(side)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(8)
    root.addWidget(side)
    return root, column


def caption(text: str) -> QLabel:
    """A section heading (upper case, themed as "heading")."""
    lab = QLabel(text.upper())
    lab.setObjectName("heading")
    return lab


def tipped(text: str, tip: str) -> QLabel:
    """A form label that shows the field's tooltip too."""
    lab = QLabel(text)
    lab.setToolTip(tip)
    return lab


def muted(text: str = "", wrap: bool = False) -> QLabel:
    """A quiet label: an info line beside a heading, or the key tips under the controls."""
    lab = QLabel(text)
    lab.setObjectName("muted")
    if wrap:
        lab.setWordWrap(True)
    return lab


def warning(wrap: bool = True) -> QLabel:
    """A warning line, hidden until there is something to warn about."""
    lab = QLabel()
    lab.setObjectName("warning")
    if wrap:
        lab.setWordWrap(True)
    lab.hide()
    return lab


def input_box(placeholder: str, text: str, max_height: int) -> QPlainTextEdit:
    """The multi-line box the user types into (Tab moves on to the next control)."""
    edit = QPlainTextEdit()
    edit.setPlaceholderText(placeholder)
    edit.setPlainText(text)
    edit.setTabChangesFocus(True)
    edit.setMinimumHeight(90)
    edit.setMaximumHeight(max_height)
    return edit


def spin_box(lo, hi, value=None, *, step=None, special: str = "", suffix: str = "", tip: str = "",
             double: bool = False) -> QSpinBox | QDoubleSpinBox:
    """A QSpinBox (QDoubleSpinBox with double=True) with its range and, where given, the other settings."""
    box = QDoubleSpinBox() if double else QSpinBox()
    box.setRange(lo, hi)
    if step is not None:
        box.setSingleStep(step)
    if value is not None:
        box.setValue(value)
    if special:
        box.setSpecialValueText(special)
    if suffix:
        box.setSuffix(suffix)
    if tip:
        box.setToolTip(tip)
    return box


def run_stop_row(run_text: str, run_tip: str, on_run, stop_tip: str, on_stop) -> tuple[QHBoxLayout, QPushButton,
                                                                                          QPushButton]:
    """The primary run button (two thirds) beside Stop (one third): (row, run button, stop button)."""
    row = QHBoxLayout()
    run = QPushButton(run_text)
    run.setObjectName("primary")
    run.setToolTip(run_tip)
    run.clicked.connect(on_run)
    stop = QPushButton("Stop")
    stop.setToolTip(stop_tip)
    stop.clicked.connect(on_stop)
    row.addWidget(run, 2)
    row.addWidget(stop, 1)
    return row, run, stop


def tool_button(text: str, tip: str, on_click=None) -> QToolButton:
    """A flat text button for a header row."""
    b = QToolButton()
    b.setText(text)
    b.setToolTip(tip)
    if on_click is not None:
        b.clicked.connect(on_click)
    return b


def header_row(title: str, *buttons: QToolButton) -> tuple[QHBoxLayout, QLabel]:
    """A heading, a muted info label, then the buttons flat at the right: (row, info label)."""
    row = QHBoxLayout()
    row.addWidget(caption(title))
    info = muted()
    row.addWidget(info)
    row.addStretch(1)
    for b in buttons:
        b.setAutoRaise(True)
        row.addWidget(b)
    return row, info
