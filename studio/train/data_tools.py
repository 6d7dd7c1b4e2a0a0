"""The Train view's ink data tools: import an IAM-OnDB/InkML folder, write a synthetic corpus, keep the
user's drawn lines as recordings. Each runs the ``scribe`` CLI in a child process (``ChildJob``)."""

from __future__ import annotations

import time
from pathlib import Path

import studio.train.spec as train_spec
from engine.core.paths import datasets_dir, recordings_dir
from studio.train.job import ChildJob

SYNTH_HZ = 30   # points per second of the app's synthetic data (engine/training/presets.py: 'scribe synth --hz 30')


class InkDataTools:
    """Mixed into ``TrainSettings``, which provides the signals (message, log, status, busy_changed), the
    ``jobs`` (ChildJobs), the data buttons, ``summary``, ``data_path()``, ``set_data()`` and ``main_window``."""

    def import_data(self) -> ChildJob | None:
        s = self.summary or {}
        kind = s.get("needs_import")
        if not kind:
            self.message.emit("info", "Choose an IAM-OnDB folder or a folder of InkML files to import.")
            return None
        src = Path(self.data_path())
        out = datasets_dir() / f"{src.name or kind}-{time.strftime('%Y%m%d-%H%M%S')}"
        argv = ["import", kind, str(src), "--out", str(out)]
        return self._data_job(argv, out, f"Importing {src.name}…")

    def _ask_synthetic(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        n, ok = QInputDialog.getInt(self, "Synthetic handwriting", "Lines of handwriting to generate:", 2000, 10,
                                    1_000_000, 500)
        if ok:
            self.make_synthetic(n)

    def make_synthetic(self, lines: int, **options) -> ChildJob:
        """``scribe synth`` at 30 points a second unless ``hz`` is given: the rate the handwriting presets
        were tuned on (at the CLI's default 70 Hz most lines are over the ``tiny`` preset's length limit)."""
        options = {"hz": SYNTH_HZ, **options}
        out = datasets_dir() / f"synthetic-{lines}-{time.strftime('%Y%m%d-%H%M%S')}"
        argv = ["synth", "--lines", str(int(lines)), "--out", str(out)]
        for k, v in options.items():
            argv += [f"--{k.replace('_', '-')}", str(v)]
        return self._data_job(argv, out, f"Writing {lines:,} lines of synthetic handwriting…")

    def add_drawing_to_recordings(self) -> Path | None:
        hv = getattr(self.main_window, "handwriting_view", None)
        canvas, wrote = getattr(hv, "canvas", None), getattr(hv, "wrote_edit", None)
        if canvas is None or canvas.is_empty():
            self.message.emit("info", "Draw a line on the Handwriting tab first, and type what you wrote.")
            return None
        text = wrote.text().strip() if wrote is not None else ""
        if not text:
            self.message.emit("info", "Type what you wrote (under the drawing on the Handwriting tab): the "
                                      "model learns from the drawing and its text together.")
            return None
        from engine.data.inkml import write_inkml

        path = recordings_dir() / f"line-{time.strftime('%Y%m%d-%H%M%S')}-{int(time.time() * 1000) % 1000:03d}.inkml"
        write_inkml(path, canvas.to_ink(text))
        n = len(list(recordings_dir().glob("*.inkml")))
        self.message.emit("info", f"Saved to your recordings ({n} line{'s' if n != 1 else ''}). Draw and add more "
                                  f"lines, then press “My recordings” to train on them.")
        return path

    def use_recordings(self) -> ChildJob | None:
        rec = recordings_dir()
        if not any(rec.glob("*.inkml")):
            self.message.emit("info", "No recordings yet: draw a line on the Handwriting tab, type its text, and "
                                      "press “Add my drawing”.")
            return None
        out = datasets_dir() / "my-recordings"
        return self._data_job(["import", "inkml", str(rec), "--out", str(out)], out, "Importing your recordings…")

    def _data_job(self, argv: list[str], out: Path, status: str) -> ChildJob:
        job = ChildJob("studio.train.worker:cli", {"argv": argv}, what="data", daemon=False, parent=self)
        job.batch.connect(lambda evs: [self.log.emit(e.get("text", "")) for e in evs if e.get("type") == "log"])
        job.finished.connect(lambda r, j=job: (self._forget(j), self._data_ready(out)))
        job.failed.connect(lambda m, j=job: (self._forget(j), self.message.emit("error", m)))
        self.jobs.add(job)
        self.log.emit("$ " + train_spec.command_line(argv))
        job.start()
        self.status.emit(status)
        self._update_data_buttons()
        return job

    def _data_ready(self, out: Path) -> None:
        self.status.emit(f"Dataset ready: {out}")
        self.set_data(str(out))

    def _forget(self, job: ChildJob) -> None:
        self.jobs.forget(job)
        self._update_data_buttons()

    def preparing_data(self) -> bool:
        return self.jobs.running()

    def _update_data_buttons(self) -> None:
        busy = self.preparing_data()
        for b in (self.synth_btn, self.recordings_btn, self.record_btn):
            b.setEnabled(not busy)
        self.import_btn.setEnabled(not busy and bool((self.summary or {}).get("needs_import")))
        self.busy_changed.emit()
