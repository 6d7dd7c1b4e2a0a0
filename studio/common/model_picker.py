"""A combo box of the models of some kinds; the choice is kept in QSettings by the main window."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QSizePolicy

from studio.common.registry import ModelEntry, human_size

SOURCE_TAG = {"bundled": "bundled", "user": "yours", "opened": "opened"}


class ModelPicker(QComboBox):
    entry_changed = Signal(object)  # ModelEntry | None

    def __init__(self, kinds: tuple[str, ...], parent=None):
        super().__init__(parent)
        self.kinds = kinds
        self._entries: list[ModelEntry] = []
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(16)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.currentIndexChanged.connect(self._changed)

    def set_entries(self, entries: list[ModelEntry], select_key: str | None = None) -> None:
        keep = select_key or (self.current().key if self.current() else None)
        self.blockSignals(True)
        self.clear()
        self._entries = [e for e in entries if e.kind in self.kinds and e.usable]
        for e in self._entries:
            self.addItem(f"{e.name}  ({SOURCE_TAG.get(e.source, e.source)}, {human_size(e.size_bytes)})", e.key)
            self.setItemData(self.count() - 1, str(e.path), 3)  # tooltip role
        if not self._entries:
            self.addItem("No model yet: open or train one in Models", None)
        self.setEnabled(bool(self._entries))
        idx = self.findData(keep) if keep else -1
        self.setCurrentIndex(idx if idx >= 0 else 0)
        self.blockSignals(False)
        self.entry_changed.emit(self.current())

    def current(self) -> ModelEntry | None:
        i = self.currentIndex()
        return self._entries[i] if 0 <= i < len(self._entries) else None

    def select_key(self, key: str) -> bool:
        idx = self.findData(key)
        if idx >= 0:
            self.setCurrentIndex(idx)
            return True
        return False

    def _changed(self, _i: int) -> None:
        self.entry_changed.emit(self.current())
