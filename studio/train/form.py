"""Form widgets for the CLI's training options (types, defaults and choices come from the CLI parser)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLineEdit, QSpinBox, QWidget

from studio.train.spec import INVERTED, TIPS, Option

INT_RANGES = {"layers": (1, 16), "hidden": (4, 8192), "embed": (2, 4096), "batch": (1, 4096),
              "seq_len": (2, 100_000), "eval_every": (1, 10_000_000), "mixtures": (1, 100), "window_k": (1, 100),
              "buckets": (1, 64), "max_points": (10, 100_000), "warmup": (0, 10_000_000),
              "sample_every": (0, 10_000_000), "patience": (0, 100_000), "seed": (0, 2**31 - 1)}


class FloatEdit(QLineEdit):
    """A float field that accepts 2e-3 as well as 0.002."""

    def __init__(self, value: float | None = None, bottom: float | None = None):
        super().__init__()
        v = QDoubleValidator()
        v.setNotation(QDoubleValidator.Notation.ScientificNotation)
        if bottom is not None:   # the CLI's lower bound (a negative learning rate cannot be typed)
            v.setBottom(float(bottom))
        self.setValidator(v)
        self.setValue(value)

    def value(self) -> float | None:
        try:
            return float(self.text().strip())
        except ValueError:
            return None

    def setValue(self, value) -> None:  # noqa: N802 (Qt style)
        self.setText("" if value is None else f"{float(value):g}")


def _known(default):
    return None if isinstance(default, str) and default == "==SUPPRESS==" else default


class KnobForm(QWidget):
    """One row per option: combo (choices), check box (flags), spin box (int), float field, or text."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.widgets: dict[str, QWidget] = {}
        self.options: dict[str, Option] = {}

    def rebuild(self, rows: list[tuple[str, str]], options: dict[str, Option], defaults: dict) -> None:
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.widgets.clear()
        self.options = {d: options[d] for d, _ in rows if d in options}
        for dest, label in rows:
            o = options.get(dest)
            if o is None:
                continue
            w = self._make(o, defaults.get(dest, _known(o.default)))
            tip = TIPS.get(dest) or o.help
            if tip:
                w.setToolTip(tip)
            self.widgets[dest] = w
            if isinstance(w, QCheckBox):
                w.setText(label)
                self.layout_.addRow("", w)
            else:
                self.layout_.addRow(label, w)

    def _make(self, o: Option, value) -> QWidget:
        if o.choices:
            w = QComboBox()
            w.addItems([str(c) for c in o.choices])
            if value is not None and str(value) in [str(c) for c in o.choices]:
                w.setCurrentText(str(value))
            w.currentIndexChanged.connect(self.changed)
            return w
        if o.flag_only:
            w = QCheckBox()
            on = bool(value)
            w.setChecked(not on if o.dest in INVERTED else on)
            w.toggled.connect(self.changed)
            return w
        if o.type is int:
            w = QSpinBox()
            lo, hi = INT_RANGES.get(o.dest, (0, 10_000_000))
            if getattr(o.check, "lo", None) is not None:   # never below what the CLI accepts
                lo = max(lo, int(o.check.lo))
            if getattr(o.check, "hi", None) is not None:
                hi = min(hi, int(o.check.hi))
            if _known(o.default) is None and value is None:   # "not given": the CLI decides
                lo -= 1
                w.setSpecialValueText("default")
                w.setProperty("unset_value", lo)
            w.setRange(lo, hi)
            w.setValue(int(value) if value is not None else lo)
            w.setKeyboardTracking(False)
            w.valueChanged.connect(self.changed)
            return w
        if o.type is float:
            w = FloatEdit(value, getattr(o.check, "lo", None))
            w.editingFinished.connect(self.changed)
            return w
        w = QLineEdit("" if value is None else str(value))
        w.editingFinished.connect(self.changed)
        return w

    def values(self) -> dict:
        out = {}
        for dest, w in self.widgets.items():
            if isinstance(w, QComboBox):
                out[dest] = w.currentText()
            elif isinstance(w, QCheckBox):
                out[dest] = (not w.isChecked()) if dest in INVERTED else w.isChecked()
            elif isinstance(w, QSpinBox):
                unset = w.property("unset_value")
                out[dest] = None if unset is not None and w.value() == unset else w.value()
            elif isinstance(w, FloatEdit):
                out[dest] = w.value()
            elif isinstance(w, QLineEdit):
                out[dest] = w.text().strip() or None
        return out

    def set_values(self, values: dict) -> None:
        for dest, v in values.items():
            w = self.widgets.get(dest)
            if w is None:
                continue
            if v is None and isinstance(w, QSpinBox) and w.property("unset_value") is not None:
                v = w.property("unset_value")
            elif v is None and not isinstance(w, QLineEdit):
                continue
            w.blockSignals(True)
            try:
                if isinstance(w, QComboBox):
                    if w.findText(str(v)) >= 0:
                        w.setCurrentText(str(v))
                elif isinstance(w, QCheckBox):
                    w.setChecked((not bool(v)) if dest in INVERTED else bool(v))
                elif isinstance(w, QSpinBox):
                    w.setValue(int(v))
                elif isinstance(w, FloatEdit):
                    w.setValue(v)
                elif isinstance(w, QLineEdit):
                    w.setText("" if v is None else str(v))
            finally:
                w.blockSignals(False)
        self.changed.emit()
