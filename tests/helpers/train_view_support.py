"""Helpers for the Train view tests (fixtures: tests/studio/train/conftest.py)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest

__all__ = ["WAIT", "TINY", "corpus_text", "curve_len", "home", "corpus", "window", "prepare"]

WAIT = 240_000   # ms: generous timeouts for what a child process does (spawn, torch import, steps, export)

TINY = dict(cell="lstm", layers=1, hidden=24, embed=8, batch=4, seq_len=16, lr=3e-3, eval_every=15,
            device="cpu", dropout=0.0, eval_blocks=4)


def corpus_text(n_lines: int = 400) -> str:
    rng = np.random.default_rng(0)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "and", "runs", "far", "away"]
    return "\n".join(" ".join(rng.choice(words, size=6)) + "." for _ in range(n_lines)) + "\n"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("SCRIBE_STUDIO_HOME", str(h))
    return h


@pytest.fixture
def corpus(tmp_path) -> Path:
    p = tmp_path / "corpus.txt"
    p.write_text(corpus_text(), encoding="utf-8")
    return p


@pytest.fixture
def window(qtbot, home):
    """A stand-in main window holding the Train view (the view watches it close)."""
    from PySide6.QtWidgets import QMainWindow

    from studio.train.view import TrainView

    win = QMainWindow()
    qtbot.addWidget(win)
    view = TrainView(win)
    win.setCentralWidget(view)
    win.resize(1300, 850)
    win.show()
    yield win, view
    view.shutdown(timeout=10)
    assert not any(p.name == "scribe-training" for p in multiprocessing.active_children())


def prepare(qtbot, view, corpus, **knobs):
    view.settings.set_data(str(corpus))
    view.settings.preset_combo.setCurrentText("Custom (CLI defaults)")
    view.settings.set_knobs(**{**TINY, **knobs})
    qtbot.waitUntil(lambda: not view.settings.summary_pending(), timeout=10_000)




def curve_len(item) -> int:
    """Points a pyqtgraph curve holds (its data, not the downsampled display)."""
    x = item.getOriginalDataset()[0]
    return 0 if x is None else len(x)
