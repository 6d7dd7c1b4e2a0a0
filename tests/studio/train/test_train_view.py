"""Training from the app (pytest-qt, offscreen): a tiny run in a child process driven through the Train view.

Each test starts a few processes (about 2 s each: spawn + torch import), with a tiny corpus and a tiny
model; one training is shared by many checks.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from train_view_support import WAIT, corpus_text, curve_len, prepare


def test_training_from_the_gui_plots_samples_pause_stop_export_resume_close(qtbot, window, corpus, home):
    """Every wait is for an event or a condition, with a timeout far beyond any machine's need (a loaded
    2-core machine took over 30 s to start the child and reach 20 steps): nothing depends on speed."""
    win, view = window
    prepare(qtbot, view, corpus, steps=100_000)
    assert view.settings.summary is not None and view.settings.summary["characters"] == len(corpus_text())
    assert "characters" in view.settings.summary_label.text()
    assert view.start()
    job = view.job
    assert job.process.is_alive() and job.process.pid != os.getpid()

    # plots receive points: raw and smoothed loss, gradient norm, learning rate, throughput
    qtbot.waitUntil(lambda: curve_len(view.plots.c_loss) >= 5, timeout=WAIT)
    x, y = view.plots.c_loss.getOriginalDataset()
    assert np.all(np.isfinite(y)) and np.all(np.diff(x) > 0)
    assert len(view.plots.loss_smooth) == len(view.plots.loss)
    assert len(view.plots.gnorm) > 0 and len(view.plots.lr) > 0 and len(view.plots.rate) > 0
    assert view.plots.clip_threshold == pytest.approx(1.0)
    assert "step" in view.progress.format()

    # a sample appears (every evaluation) and a validation point and a checkpoint with it
    qtbot.waitUntil(lambda: len(view.samples.samples) >= 1, timeout=WAIT)
    assert view.samples.latest_text().strip()
    qtbot.waitUntil(lambda: len(view.plots.val) >= 1 and view.checkpoints.count() >= 1, timeout=WAIT)

    # pause: the child stops stepping; resume: it goes on
    view.pause()
    qtbot.waitUntil(lambda: "paused at step" in view.log.toPlainText(), timeout=WAIT)
    n_paused = len(view.plots.loss)   # the "paused" event comes after the child's last step event
    qtbot.wait(500)
    assert len(view.plots.loss) == n_paused
    assert view.is_training() and job.process.is_alive()
    view.resume()
    qtbot.waitUntil(lambda: len(view.plots.loss) > n_paused + 2, timeout=WAIT)

    # stop: a clean end with a checkpoint at the last step
    with qtbot.waitSignal(job.finished, timeout=WAIT) as sig:
        view.stop()
    assert sig.args[0]["status"] == "stopped"
    qtbot.waitUntil(lambda: not job.process.is_alive(), timeout=WAIT)
    assert job.process.exitcode == 0
    assert "stopped" in view.status_label.text()
    assert view.start_btn.isEnabled() and not view.stop_btn.isEnabled()
    from studio.train.data import list_checkpoints

    run = view.run_dir
    cks = list_checkpoints(run)
    assert any(c["last"] for c in cks)
    stopped_at = max(c["step"] for c in cks)
    assert (run / "events.jsonl").exists()

    # export the selected checkpoint: a package in the user's models folder that generates at once
    with qtbot.waitSignal(view.model_exported, timeout=2 * WAIT) as sig:
        assert view.checkpoints.export_selected() is not None
    path = Path(sig.args[0])
    assert path.parent == home / "models" and (path / "model.onnx").exists()
    from engine.runtime import load_package

    pkg = load_package(path)
    assert pkg.kind == "text"
    out = "".join(pkg.generate_text("the ", 40, seed=3))
    assert len(out) == 40 and set(out) <= set(corpus_text())

    # resume the run: the earlier curve is shown again and training continues from the checkpoint
    view.settings.set_source("resume", str(run))
    qtbot.waitUntil(lambda: not view.settings.summary_pending(), timeout=WAIT)
    assert "--resume" in view.settings.build_argv()
    assert view.start()
    assert view.run_dir == run and len(view.plots.loss) >= stopped_at  # history from events.jsonl
    proc = view.job.process
    qtbot.waitUntil(lambda: "resumed the run" in view.log.toPlainText(), timeout=WAIT)
    qtbot.waitUntil(lambda: view.plots.loss.tail[0] > stopped_at, timeout=WAIT)

    # closing the window mid-training stops the child cleanly: no stray process, a checkpoint saved
    win.close()
    qtbot.waitUntil(lambda: not proc.is_alive(), timeout=WAIT)
    assert proc.exitcode == 0  # it stopped itself (stop flag), it was not killed
    assert proc not in multiprocessing.active_children()
    assert max(c["step"] for c in list_checkpoints(run)) > stopped_at  # the stop saved a checkpoint
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]  # nothing half-written


def test_bad_data_and_a_crashed_process_show_errors_and_the_view_stays_usable(qtbot, window, corpus, tmp_path):
    win, view = window
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine text\n" * 50 + b"\xff\xfe broken \x81 bytes\n")
    prepare(qtbot, view, bad)
    assert view.settings.summary is None and "UTF-8" in view.settings.summary_error
    assert "UTF-8" in view.settings.summary_label.text()
    assert view.start() is False
    assert "UTF-8" in view.message()

    # the file goes bad after the summary: the training process reports it, the app carries on
    prepare(qtbot, view, corpus, steps=100_000, eval_every=5)
    corpus_bytes = corpus.read_bytes()
    corpus.write_bytes(b"\x00\x01binary" * 100)
    assert view.start()  # the failure arrives through the event loop, inside waitSignal
    with qtbot.waitSignal(view.job.failed, timeout=WAIT) as sig:
        pass
    assert "binary" in sig.args[0]
    assert "binary" in view.message()
    assert not view.is_training() and view.start_btn.isEnabled()

    # the view still trains; a crash of the process (OOM killer, segfault) is reported, checkpoint kept
    corpus.write_bytes(corpus_bytes)
    assert view.start()
    job = view.job
    qtbot.waitUntil(lambda: view.checkpoints.count() >= 1, timeout=WAIT)
    with qtbot.waitSignal(job.failed, timeout=WAIT) as sig:
        os.kill(job.process.pid, signal.SIGKILL)
    assert "SIGKILL" in sig.args[0] and "checkpoint" in sig.args[0]
    assert "last good checkpoint" in view.message()
    assert not view.is_training() and view.start_btn.isEnabled()
    from studio.train.data import list_checkpoints

    assert list_checkpoints(view.run_dir)

    # a learning rate that blows the model up: non-finite losses are warned about, then a clear stop
    view.clear_message()
    view.settings.set_knobs(lr=1e30, warmup=0)
    assert view.start()
    with qtbot.waitSignal(view.job.failed, timeout=WAIT) as sig:
        pass
    assert "non-finite" in sig.args[0] and "learning rate" in sig.args[0]
    assert "non-finite loss" in view.log.toPlainText()            # the warnings came first
    assert "learning rate" in view.message() and view.start_btn.isEnabled()
