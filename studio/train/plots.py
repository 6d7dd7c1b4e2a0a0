"""Live training plots (pyqtgraph): loss, gradient norm vs the clip threshold, learning rate, throughput.

Built to stay smooth over long runs: data lives in capped numpy buffers (when one fills, its older half is
thinned 2:1, so a whole run is always shown at a resolution that fits), curves use clip-to-view and
automatic peak downsampling, and a 50 ms timer redraws one stale plot per tick (each plot <= 5 times a
second, never four repaints in one go).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QGridLayout, QWidget

MAX_POINTS = 4096
GRID = False

RAW = "#9db4e3"
SMOOTH = "#2f5fc4"
VAL = "#e07b1a"
CLIP = "#c0392b"
THRESHOLD = "#d4a017"
LR = "#3c8d5a"
RATE = "#7d4cc2"


class Series:
    """A growing (x, y) series kept at uniform resolution within a fixed size.

    Points are kept at a stride (1 at first). When the buffer fills, every other point is dropped and the
    stride doubles, so a run of any length is held as at most ``cap`` evenly spaced samples of its raw
    values; the latest point is always shown.
    """

    def __init__(self, cap: int = MAX_POINTS):
        self.cap = max(16, int(cap)) & ~1
        self.x = np.empty(self.cap, dtype=np.float64)
        self.y = np.empty(self.cap, dtype=np.float64)
        self.n = 0
        self.stride = 1
        self.seen = 0
        self.tail: tuple[float, float] | None = None

    def __len__(self) -> int:
        """How many points were offered (the run's length in points, not what is stored)."""
        return self.seen

    def clear(self) -> None:
        self.n, self.stride, self.seen, self.tail = 0, 1, 0, None

    def extend(self, xs, ys) -> None:
        xs = np.asarray(xs, dtype=np.float64).ravel()
        ys = np.asarray(ys, dtype=np.float64).ravel()
        if not len(xs):
            return
        i = 0
        while i < len(xs):
            if self.n == self.cap:
                keep = self.n // 2
                self.x[:keep] = self.x[0:self.n:2]
                self.y[:keep] = self.y[0:self.n:2]
                self.n = keep
                self.stride *= 2
            j0 = i + (-(self.seen + i)) % self.stride      # next point on the stride
            if j0 >= len(xs):
                break
            idx = np.arange(j0, len(xs), self.stride)[:self.cap - self.n]
            self.x[self.n:self.n + len(idx)] = xs[idx]
            self.y[self.n:self.n + len(idx)] = ys[idx]
            self.n += len(idx)
            i = int(idx[-1]) + 1
        self.seen += len(xs)
        self.tail = (float(xs[-1]), float(ys[-1]))

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.x[:self.n], self.y[:self.n]
        if self.tail is not None and (self.n == 0 or self.tail[0] > x[-1]):
            return np.append(x, self.tail[0]), np.append(y, self.tail[1])
        return x, y

    def last(self) -> float | None:
        return self.tail[1] if self.tail is not None else None


class Ema:
    """TensorBoard-style debiased exponential moving average."""

    def __init__(self, weight: float = 0.9):
        self.weight = weight
        self.value = 0.0
        self.count = 0

    def reset(self) -> None:
        self.value, self.count = 0.0, 0

    def update(self, x: float) -> float:
        self.count += 1
        self.value = self.weight * self.value + (1 - self.weight) * x
        return self.value / (1 - self.weight ** self.count)


def _finite(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def style_legend(item, bg: QColor, fg: QColor) -> None:
    """A legend that reads on the plot's background, light or dark."""
    legend = getattr(item, "legend", None)
    if legend is None:
        return
    fill = QColor(bg)
    fill.setAlpha(200)
    legend.setBrush(pg.mkBrush(fill))
    legend.setPen(pg.mkPen(QColor(fg.red(), fg.green(), fg.blue(), 60)))
    legend.setLabelTextColor(fg)


def _plot(title: str, left: str, log_y: bool = False) -> pg.PlotWidget:
    w = pg.PlotWidget()
    w.setMinimumHeight(140)
    item = w.getPlotItem()
    item.setTitle(title, size="9pt")
    item.setLabel("left", left)
    item.setLabel("bottom", "step")
    item.showGrid(x=GRID, y=GRID, alpha=0.15)
    item.setClipToView(True)
    item.setDownsampling(auto=True, mode="peak")
    item.setLogMode(False, log_y)
    item.setMenuEnabled(True)
    for name in ("left", "bottom"):
        item.getAxis(name).enableAutoSIPrefix(False)
    return w


class LivePlots(QWidget):
    """Four plots fed by trainer ``step``/``eval`` events."""

    def __init__(self, parent: QWidget | None = None, cap: int = MAX_POINTS, smoothing: float = 0.9):
        super().__init__(parent)
        pg.setConfigOptions(antialias=False)
        self.cap = cap
        self.loss = Series(cap)
        self.loss_smooth = Series(cap)
        self.val = Series(4096)
        self.gnorm = Series(cap)
        self.clipped = Series(min(cap, 2048))
        self.lr = Series(cap)
        self.rate = Series(cap)
        self.rate_smooth = Series(cap)
        self._ema = Ema(smoothing)
        self._rate_ema = Ema(0.9)
        self.clip_threshold: float | None = None
        self.unit = "tokens"
        self.dirty = False
        self._stale: set[int] = set()
        self._next = 0
        self._timer = QTimer(self)          # pushes stale plots, one per tick, <= 20 ticks a second
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._tick)

        self.loss_plot = _plot("Loss", "nats / unit")
        self.grad_plot = _plot(f"Gradient norm before clipping · <span style='color:{THRESHOLD}'>– – threshold</span>"
                               f" · <span style='color:{CLIP}'>| clipped step</span>", "‖g‖", log_y=True)
        self.lr_plot = _plot("Learning rate", "lr")
        self.rate_plot = _plot("Throughput", "tokens/s")

        li = self.loss_plot.getPlotItem()
        li.addLegend(offset=(-10, 10), labelTextSize="8pt", brush=pg.mkBrush(255, 255, 255, 170))
        self.c_loss = li.plot(pen=pg.mkPen(RAW, width=1), name="train")
        self.c_loss_smooth = li.plot(pen=pg.mkPen(SMOOTH, width=2), name="train (smoothed)")
        self.c_val = li.plot(pen=pg.mkPen(VAL, width=2), symbol="o", symbolSize=6, symbolBrush=VAL,
                             symbolPen=None, name="validation")
        gi = self.grad_plot.getPlotItem()
        self.c_gnorm = gi.plot(pen=pg.mkPen(RAW, width=1))
        # clipped steps: a short red tick at each one's norm (one path of segments: cheap for any count,
        # unlike thousands of scatter symbols); no downsampling or clipping, which would break the pairs
        self.c_clipped = gi.plot(pen=pg.mkPen(CLIP, width=1), connect="pairs")
        self.c_clipped.setDownsampling(ds=1, auto=False)
        self.c_clipped.setClipToView(False)
        # the threshold as a 2-point curve (not an InfiniteLine) so auto-range always keeps it in view
        self.c_clip = gi.plot(pen=pg.mkPen(THRESHOLD, width=2, style=Qt.PenStyle.DashLine))
        self.c_lr = self.lr_plot.getPlotItem().plot(pen=pg.mkPen(LR, width=2))
        ri = self.rate_plot.getPlotItem()
        self.c_rate = ri.plot(pen=pg.mkPen("#c9b6e8", width=1))
        self.c_rate_smooth = ri.plot(pen=pg.mkPen(RATE, width=2))

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(4)
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(self.grad_plot, 0, 1)
        grid.addWidget(self.lr_plot, 1, 0)
        grid.addWidget(self.rate_plot, 1, 1)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)
        self.apply_palette()

    # ---- data ---------------------------------------------------------------------------------------
    def clear(self) -> None:
        for s in (self.loss, self.loss_smooth, self.val, self.gnorm, self.clipped, self.lr, self.rate,
                  self.rate_smooth):
            s.clear()
        self._ema.reset()
        self._rate_ema.reset()
        self.dirty = True
        self._stale = set(range(4))
        self._kick()
        self.refresh(everything=True)

    def set_clip(self, clip: float | None) -> None:
        self.clip_threshold = clip if clip and clip > 0 else None
        self.dirty = True
        self._stale.add(1)
        self._kick()

    def set_unit(self, unit: str) -> None:
        self.unit = unit or "tokens"
        self.rate_plot.getPlotItem().setLabel("left", f"{self.unit}/s")

    def add_steps(self, steps: list[dict]) -> None:
        if not steps:
            return
        n = len(steps)
        x = np.empty(n)
        loss = np.full(n, np.nan)
        sm = np.full(n, np.nan)
        g = np.full(n, np.nan)
        lr = np.full(n, np.nan)
        rate = np.full(n, np.nan)
        rsm = np.full(n, np.nan)
        cx, cy = [], []
        for i, ev in enumerate(steps):
            x[i] = ev.get("step", 0)
            v = _finite(ev.get("loss"))
            if v is not None:
                loss[i] = v
                sm[i] = self._ema.update(v)
            gv = _finite(ev.get("grad_norm"))
            if gv is not None and gv > 0:
                g[i] = gv
                if ev.get("clipped"):
                    cx.append(x[i])
                    cy.append(gv)
            lv = _finite(ev.get("lr"))
            if lv is not None:
                lr[i] = lv
            rv = _finite(ev.get("rate"))
            if rv is not None:
                rate[i] = rv
                rsm[i] = self._rate_ema.update(rv)
        for series, ys in ((self.loss, loss), (self.loss_smooth, sm), (self.gnorm, g), (self.lr, lr),
                           (self.rate, rate), (self.rate_smooth, rsm)):
            ok = np.isfinite(ys)
            series.extend(x[ok], ys[ok])
        if cx:
            self.clipped.extend(cx, cy)
        clip = _finite(steps[-1].get("clip"))
        if clip is not None and clip != self.clip_threshold:
            self.set_clip(clip)
        self.dirty = True
        self._stale = set(range(4))
        self._kick()

    def add_eval(self, ev: dict) -> None:
        v = _finite(ev.get("val_loss"))
        if v is not None:
            self.val.extend([ev.get("step", 0)], [v])
            self.dirty = True
            self._stale.add(0)
            self._kick()

    def _kick(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _tick(self) -> None:
        self.refresh()
        if not self.dirty:
            self._timer.stop()

    def refresh(self, everything: bool = False) -> None:
        """Push the buffers to the curves of ONE plot (round robin; all four with ``everything``).

        Called at <= 20 Hz, each plot redraws at <= 5 Hz and one call costs one plot's repaint, so the
        event loop never stalls on four repaints at once."""
        if not self.dirty:
            return
        plots = [self._push_loss, self._push_grad, self._push_lr, self._push_rate]
        if everything:
            for push in plots:
                push()
            self._stale = set()
            self.dirty = False
            return
        if not self._stale:
            self._stale = set(range(4))
        i = self._next
        while i not in self._stale:
            i = (i + 1) % 4
        plots[i]()
        self._stale.discard(i)
        self._next = (i + 1) % 4
        if not self._stale:
            self.dirty = False

    def _push_loss(self) -> None:
        self.c_loss.setData(*self.loss.data())
        self.c_loss_smooth.setData(*self.loss_smooth.data())
        self.c_val.setData(*self.val.data())

    def _push_grad(self) -> None:
        self.c_gnorm.setData(*self.gnorm.data())
        cx, cy = self.clipped.data()
        self.c_clipped.setData(np.repeat(cx, 2), np.column_stack([cy / 1.12, cy * 1.12]).ravel())
        gx, _ = self.gnorm.data()
        if self.clip_threshold is not None and len(gx):
            self.c_clip.setData([gx[0], max(gx[-1], gx[0] + 1)], [self.clip_threshold] * 2)
        else:
            self.c_clip.setData([], [])

    def _push_lr(self) -> None:
        self.c_lr.setData(*self.lr.data())

    def _push_rate(self) -> None:
        self.c_rate.setData(*self.rate.data())
        self.c_rate_smooth.setData(*self.rate_smooth.data())

    # ---- looks --------------------------------------------------------------------------------------
    def apply_palette(self) -> None:
        pal = self.palette()
        bg = pal.color(QPalette.ColorRole.Base)
        fg = pal.color(QPalette.ColorRole.Text)
        for w in (self.loss_plot, self.grad_plot, self.lr_plot, self.rate_plot):
            w.setBackground(bg)
            item = w.getPlotItem()
            for name in ("left", "bottom"):
                ax = item.getAxis(name)
                ax.setPen(pg.mkPen(QColor(fg).darker(100) if bg.lightness() > 128 else fg))
                ax.setTextPen(pg.mkPen(fg))
            item.titleLabel.setText(item.titleLabel.text, color=fg.name())
            style_legend(item, bg, fg)

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        from PySide6.QtCore import QEvent

        if event.type() == QEvent.Type.PaletteChange:
            self.apply_palette()
        super().changeEvent(event)
