"""Helpers for the app tests (fixtures: tests/studio/conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

__all__ = ["tiny_packages", "studio_home", "window", "wait_until", "select_model", "ink_pixels", "drag",
           "PRIME_S3"]

_rng = np.random.default_rng(0)
_CACHE: dict[str, Path] = {}
PRIME_S3 = np.c_[_rng.normal(1.5, 1.0, (80, 2)), (np.arange(80) % 20 == 19)].astype(np.float32)


@pytest.fixture(scope="session")
def tiny_packages(tmp_path_factory) -> dict[str, Path]:
    """One tiny text and one tiny ink-synthesis package (real ONNX, random weights), built once."""
    from engine.export.fixtures import make_tiny_package

    if _CACHE:  # several test modules import this fixture: export once per session
        return _CACHE
    root = tmp_path_factory.mktemp("tiny-packages")
    _CACHE.update({
        "text": make_tiny_package("text", root / "tiny-text", seed=0),
        "ink-synthesis": make_tiny_package("ink-synthesis", root / "tiny-ink", seed=0,
                                           styles=[{"name": "sample", "text": "hello", "stroke3": PRIME_S3}]),
    })
    return _CACHE


@pytest.fixture
def studio_home(tmp_path, monkeypatch, tiny_packages) -> Path:
    """SCRIBE_STUDIO_HOME in a temp dir (settings, drawing, models) with the tiny packages as user models."""
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    for p in tiny_packages.values():
        shutil.copytree(p, home / "models" / p.name)
    monkeypatch.setenv("SCRIBE_STUDIO_HOME", str(home))
    return home


@pytest.fixture
def window(qtbot, studio_home):
    from studio.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1100, 720)
    win.show()
    qtbot.waitExposed(win)
    yield win
    for v in (win.handwriting, win.text):
        v.stop()
        if v.job is not None:
            v.job.wait(5)
    win.close()


def wait_until(qtbot, cond, timeout=20000):
    qtbot.waitUntil(cond, timeout=timeout)


def select_model(win, kind: str, home: Path) -> None:
    """Pick the tiny package of ``kind`` (bundled models may also be listed)."""
    name = {"text": "tiny-text", "ink-synthesis": "tiny-ink"}[kind]
    key = str((home / "models" / name).resolve())
    view = win.text if kind == "text" else win.handwriting
    assert view.model_picker.select_key(key), f"{name} not listed"
    assert view.entry is not None and view.entry.key == key


def ink_pixels(img, color, tol: int = 60) -> int:
    """How many pixels of ``img`` (QImage) are close to ``color`` (QColor)."""
    from PySide6.QtGui import QImage

    img = img.convertToFormat(QImage.Format.Format_RGB32)
    w, h = img.width(), img.height()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.sizeInBytes()).reshape(h, img.bytesPerLine())
    px = buf[:, : w * 4].reshape(h, w, 4)[..., :3].astype(int)  # BGRA in memory
    target = np.array([color.blue(), color.green(), color.red()])
    return int((np.abs(px - target).sum(axis=2) < tol).sum())


def drag(widget, points, button=None, t0: int = 1000, dt: int = 8) -> None:
    """Send a press / moves / release sequence of QMouseEvents (timestamps dt ms apart)."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    button = button or Qt.MouseButton.LeftButton
    for i, (x, y) in enumerate(points):
        pos = QPointF(x, y)
        gpos = QPointF(widget.mapToGlobal(pos.toPoint()))
        if i == 0:
            ev = QMouseEvent(QEvent.Type.MouseButtonPress, pos, gpos, button, button, Qt.KeyboardModifier.NoModifier)
        elif i == len(points) - 1:
            ev = QMouseEvent(QEvent.Type.MouseButtonRelease, pos, gpos, button, Qt.MouseButton.NoButton,
                             Qt.KeyboardModifier.NoModifier)
        else:
            ev = QMouseEvent(QEvent.Type.MouseMove, pos, gpos, Qt.MouseButton.NoButton, button,
                             Qt.KeyboardModifier.NoModifier)
        ev.setTimestamp(t0 + i * dt)
        QApplication.sendEvent(widget, ev)
