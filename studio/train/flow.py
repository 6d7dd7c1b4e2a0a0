"""The gradient-flow panel: ‖∂L_t/∂h_{t−k}‖ against k, and the tanh-RNN vs GRU vs LSTM quick experiment.

Both run in child processes (they need torch): the probe loads the latest checkpoint of the current run;
the experiment trains one small model per cell on the same data with the same settings, then probes each.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from studio.train.job import ChildJob, ChildJobs, default_threads
from studio.train.plots import style_legend

CELL_COLORS = {"rnn-tanh": "#c0392b", "rnn-relu": "#e67e22", "gru": "#3c8d5a", "lstm": "#2f5fc4"}
CELL_NAMES = {"rnn-tanh": "tanh RNN", "rnn-relu": "ReLU RNN", "gru": "GRU", "lstm": "LSTM"}


def _plot(title: str, bottom: str, left: str, log_y: bool, legend_at=(-10, 10)) -> pg.PlotWidget:
    w = pg.PlotWidget()
    item = w.getPlotItem()
    item.setTitle(title, size="9pt")
    item.setLabel("bottom", bottom)
    item.setLabel("left", left)
    item.setLogMode(False, log_y)
    item.showGrid(x=True, y=True, alpha=0.15)
    item.addLegend(offset=legend_at, labelTextSize="8pt", brush=pg.mkBrush(255, 255, 255, 170))
    for name in ("left", "bottom"):
        item.getAxis(name).enableAutoSIPrefix(False)
    item.setClipToView(True)
    item.setDownsampling(auto=True, mode="peak")
    return w


class FlowPanel(QWidget):
    """``model_source()`` -> (checkpoint or run folder, corpus) for the probe, or None;
    ``corpus_source()`` -> corpus path for the experiment, or None."""

    message = Signal(str, str)  # level ("info" | "warn" | "error"), text

    def __init__(self, model_source: Callable[[], tuple[str, str] | None],
                 corpus_source: Callable[[], str | None], parent: QWidget | None = None):
        super().__init__(parent)
        self.model_source = model_source
        self.corpus_source = corpus_source
        self.jobs = ChildJobs()
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.loss_curves: dict[str, pg.PlotDataItem] = {}
        self._loss_data: dict[str, tuple[list, list]] = {}

        self.probe_btn = QPushButton("Probe the current model")
        self.probe_btn.setToolTip("Measure ‖∂L_t/∂h_(t−k)‖ for k = 0..K on the latest checkpoint of this run")
        self.probe_btn.clicked.connect(self.run_probe)
        self.k_spin = QSpinBox()
        self.k_spin.setRange(2, 400)
        self.k_spin.setValue(50)
        self.k_spin.setPrefix("K = ")
        self.k_spin.setToolTip("How many steps back to measure")
        self.exp_btn = QPushButton("Quick experiment: tanh RNN vs GRU vs LSTM")
        self.exp_btn.setToolTip("Train three small models with the same data and settings, then overlay their "
                                "gradient-flow and loss curves")
        self.exp_btn.clicked.connect(self.run_experiment)
        self.exp_steps = QSpinBox()
        self.exp_steps.setRange(20, 100_000)
        self.exp_steps.setValue(300)
        self.exp_steps.setSuffix(" steps each")
        self.auto_check = QCheckBox("at every checkpoint")
        self.auto_check.setToolTip("Probe again whenever the training saves a checkpoint (a short extra process "
                                   "each time), to watch the curve change as the model learns")
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setEnabled(False)
        self.stop_btn.clicked.connect(self.stop)
        self.status = QLabel("The vanishing-gradient picture: a tanh RNN's curve falls off exponentially with k; "
                             "LSTM and GRU keep the gradient alive much longer.")
        self.status.setWordWrap(True)

        self.flow_plot = _plot("Gradient flow ‖∂L_t/∂h_(t−k)‖", "k (steps back)", "norm", log_y=True,
                               legend_at=(10, -10))
        self.loss_plot = _plot("Quick experiment: training loss", "step", "loss (smoothed)", log_y=False)

        bar = QHBoxLayout()
        for w in (self.probe_btn, self.k_spin, self.auto_check, self.exp_btn, self.exp_steps, self.stop_btn):
            bar.addWidget(w)
        bar.addStretch(1)
        plots = QHBoxLayout()
        plots.addWidget(self.flow_plot, 3)
        plots.addWidget(self.loss_plot, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.status)
        lay.addLayout(plots, 1)
        self.apply_palette()

    # ---- actions ------------------------------------------------------------------------------------
    def busy(self) -> bool:
        return self.jobs.running()

    def checkpoint_saved(self) -> None:
        """The training saved a checkpoint: probe it if asked to (and nothing else is running here)."""
        if self.auto_check.isChecked() and not self.busy():
            self.run_probe(quiet=True)

    def run_probe(self, quiet: bool = False) -> None:
        src = self.model_source()
        if not src:
            if not quiet:
                self.message.emit("warn", "No checkpoint to probe yet: train a character model first "
                                          "(a checkpoint is written at every evaluation).")
            return
        model, corpus = src
        self._start(ChildJob("studio.train.worker:probe", {"model": model, "corpus": corpus,
                                                           "K": self.k_spin.value()},
                             what="gradient probe", threads=1, parent=self))
        self.status.setText("Probing the latest checkpoint…")

    def run_experiment(self) -> None:
        corpus = self.corpus_source()
        if not corpus:
            self.message.emit("warn", "Choose a text corpus first: the experiment trains on it.")
            return
        for c in list(self.loss_curves.values()):
            self.loss_plot.getPlotItem().removeItem(c)
        self.loss_curves.clear()
        self._loss_data.clear()
        K = self.k_spin.value()
        self._start(ChildJob("studio.train.worker:quick_experiment",
                             {"corpus": corpus, "steps": self.exp_steps.value(), "K": K,
                              "seq_len": max(64, K + 8)},
                             what="quick experiment", threads=default_threads(), parent=self))
        self.status.setText("Quick experiment: starting…")

    def stop(self) -> None:
        self.jobs.stop()

    def shutdown(self, timeout: float = 5.0) -> None:
        self.jobs.shutdown(timeout)

    def _start(self, job: ChildJob) -> None:
        job.batch.connect(self._on_batch)
        job.finished.connect(lambda r, j=job: self._on_finished(j, r))
        job.failed.connect(lambda m, j=job: self._on_failed(j, m))
        self.jobs.add(job)
        job.start()
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.busy()
        self.probe_btn.setEnabled(not busy)
        self.exp_btn.setEnabled(not busy)
        self.stop_btn.setEnabled(busy)

    # ---- events -------------------------------------------------------------------------------------
    def _on_batch(self, events: list) -> None:
        touched = set()
        for ev in events:
            t, series = ev.get("type"), ev.get("series")
            if t == "step" and series:
                xs, ys = self._loss_data.setdefault(series, ([], []))
                loss = ev.get("loss")
                if loss is not None and math.isfinite(loss):
                    prev = ys[-1] if ys else loss
                    xs.append(ev["step"])
                    ys.append(0.95 * prev + 0.05 * loss if ys else loss)
                    touched.add(series)
            elif t == "status":
                self.status.setText(ev.get("text", ""))
            elif t == "flow":
                self.add_curve(ev.get("series") or ev.get("cell", "?"), ev["curve"], ev.get("summary"))
        for s in touched:
            if s not in self.loss_curves:
                self.loss_curves[s] = self.loss_plot.getPlotItem().plot(
                    pen=pg.mkPen(CELL_COLORS.get(s, "#888"), width=2), name=CELL_NAMES.get(s, s))
            self.loss_curves[s].setData(*self._loss_data[s])

    def add_curve(self, name: str, curve, summary: dict | None = None, current: bool = False) -> None:
        y = np.asarray(curve, dtype=np.float64)
        x = np.arange(len(y), dtype=np.float64)
        ok = y > 0
        key = "current" if current else name
        label = (f"current model ({CELL_NAMES.get(name, name)})" if current else CELL_NAMES.get(name, name))
        if summary and summary.get("k_100") is not None:
            label += f" · 1/100 at k={summary['k_100']}"
        item = self.flow_plot.getPlotItem()
        if key in self.curves:
            item.removeItem(self.curves[key])
        color = CELL_COLORS.get(name, "#555")
        pen = pg.mkPen(color, width=3 if current else 2, style=Qt.PenStyle.SolidLine if not current
                       else Qt.PenStyle.DashLine)
        self.curves[key] = item.plot(x[ok], y[ok], pen=pen, name=label)

    def _on_finished(self, job: ChildJob, result: dict) -> None:
        if "curve" in result:
            self.add_curve(result.get("cell", "?"), result["curve"], result.get("summary"), current=True)
            s = result.get("summary") or {}
            k100 = s.get("k_100")
            self.status.setText(
                f"{CELL_NAMES.get(result.get('cell'), result.get('cell'))} at step {result.get('step')}: the "
                f"gradient {'falls below 1/100 of its k=0 value at k=' + str(k100) if k100 is not None else 'stays above 1/100 of its k=0 value for all k'}"
                f" (mean factor {s.get('decay_per_step', float('nan')):.3f} per step).")
        elif "cells" in result:
            parts = []
            for cell, r in result["cells"].items():
                k100 = (r.get("summary") or {}).get("k_100")
                vl = r.get("val_loss")
                parts.append(f"{CELL_NAMES.get(cell, cell)}: val loss {vl:.3f}, " if vl is not None else
                             f"{CELL_NAMES.get(cell, cell)}: ")
                parts[-1] += f"1/100 at k={k100}" if k100 is not None else "never below 1/100"
            self.status.setText("Quick experiment done. " + "; ".join(parts) if parts else "Quick experiment stopped.")
        self._forget(job)

    def _on_failed(self, job: ChildJob, message: str) -> None:
        self.status.setText(message)
        self.message.emit("error", message)
        self._forget(job)

    def _forget(self, job: ChildJob) -> None:
        self.jobs.forget(job)
        self._update_buttons()

    def apply_palette(self) -> None:
        pal = self.palette()
        bg = pal.color(QPalette.ColorRole.Base)
        fg = pal.color(QPalette.ColorRole.Text)
        for w in (self.flow_plot, self.loss_plot):
            w.setBackground(bg)
            item = w.getPlotItem()
            for name in ("left", "bottom"):
                item.getAxis(name).setTextPen(pg.mkPen(fg))
            item.titleLabel.setText(item.titleLabel.text, color=fg.name())
            style_legend(item, bg, fg)
