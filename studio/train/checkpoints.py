"""The run's checkpoints (read from their JSON cards, no torch) and "Export as model" (in a child process)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

import studio.train.data as train_data
from studio.train.job import ChildJob, ChildJobs


class CheckpointsPanel(QWidget):
    exported = Signal(str)         # the new package's folder
    message = Signal(str, str)     # level, text
    log = Signal(str)
    status = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.run_dir: Path | None = None
        self.jobs = ChildJobs()
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Step", "Validation loss", "", "Folder"])
        self.tree.setRootIsDecorated(False)
        self.tree.header().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.export_btn = QPushButton("Export as model…")
        self.export_btn.setToolTip("Turn the selected checkpoint into a model package in your models list")
        self.export_btn.clicked.connect(self.export_selected)
        self.open_run_btn = QPushButton("Open run folder")
        self.open_run_btn.clicked.connect(self._open_run_folder)
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_btn)
        buttons.addWidget(self.open_run_btn)
        buttons.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.tree, 1)
        lay.addLayout(buttons)
        self._update_buttons()

    def set_run(self, run_dir: str | Path | None) -> None:
        self.run_dir = Path(run_dir) if run_dir else None
        self.refresh()

    def count(self) -> int:
        return self.tree.topLevelItemCount()

    def exporting(self) -> bool:
        return self.jobs.running()

    def _update_buttons(self) -> None:
        self.export_btn.setEnabled(bool(self.count()) and not self.exporting())
        self.open_run_btn.setEnabled(self.run_dir is not None and self.run_dir.exists())

    def shutdown(self, timeout: float = 3.0) -> None:
        self.jobs.shutdown(timeout)

    def refresh(self) -> None:
        self.tree.clear()
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
            self.tree.addTopLevelItem(item)
            if c["best"] or select is None:
                select = item if c["best"] or select is None else select
        if select is not None:
            self.tree.setCurrentItem(select)
        for i in range(3):
            self.tree.resizeColumnToContents(i)
        self._update_buttons()

    def selected(self) -> dict | None:
        item = self.tree.currentItem() or self.tree.topLevelItem(0)
        return item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None

    def export_selected(self) -> ChildJob | None:
        from engine.core.paths import user_models_dir

        c = self.selected()
        if c is None or self.run_dir is None:
            self.message.emit("warn", "No checkpoint to export yet.")
            return None
        base = f"{self.run_dir.name}-step{c.get('step')}"
        out = user_models_dir() / base
        i = 1
        while out.exists():
            i += 1
            out = user_models_dir() / f"{base}-{i}"
        job = ChildJob("studio.train.worker:export", {"checkpoint": c["path"], "out_dir": str(out)},
                       what="export", threads=1, parent=self)
        job.finished.connect(lambda r, j=job: self._exported(j, r))
        job.failed.connect(lambda m, j=job: self._export_failed(j, m))
        self.jobs.add(job)
        job.start()
        self.status.emit(f"Exporting step {c.get('step')} to {out.name}…")
        self._update_buttons()
        return job

    def _exported(self, job: ChildJob, result: dict) -> None:
        path = result.get("path", "")
        self._forget(job)
        self.message.emit("info", f"Exported to {path}. It is in the models list and can generate now.")
        self.status.emit(f"Exported {Path(path).name}.")
        self.log.emit(f"exported {path}")
        self.exported.emit(path)

    def _export_failed(self, job: ChildJob, message: str) -> None:
        self._forget(job)
        self.message.emit("error", f"Export failed: {message}")

    def _forget(self, job: ChildJob) -> None:
        self.jobs.forget(job)
        self._update_buttons()

    def _open_run_folder(self) -> None:
        if self.run_dir is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.run_dir)))
