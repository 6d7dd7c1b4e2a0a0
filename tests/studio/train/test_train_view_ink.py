"""Handwriting training and the gradient-flow tools from the Train view (pytest-qt, offscreen)."""

from __future__ import annotations

import numpy as np
from train_view_support import WAIT, prepare


def test_handwriting_training_on_a_synthetic_dataset_renders_samples(qtbot, window, home):
    win, view = window
    view.settings.set_task("ink-prediction")
    assert view.settings.ink_tools.isVisibleTo(view) and not view.settings.file_btn.isVisibleTo(view)
    view.settings.make_synthetic(24, min_chars=8, max_chars=14, writers=3)  # the "Synthetic…" button's job, without its dialog
    qtbot.waitUntil(lambda: not view.settings.jobs and view.settings.summary is not None, timeout=WAIT)
    assert view.settings.summary["lines"] == 24 and view.settings.summary["points"] > 0
    assert "writers" in view.settings.summary_label.text()
    ds = view.settings.data_path()
    assert (home / "datasets") in __import__("pathlib").Path(ds).parents
    prepare(qtbot, view, ds, layers=1, hidden=8, mixtures=2, batch=2, steps=100_000, eval_every=3,
            device="cpu", compile="off", max_points=2000)
    argv = view.settings.build_argv()
    assert argv[:2] == ["train", "ink"] and argv[argv.index("--kind") + 1] == "prediction"
    assert view.start()
    qtbot.waitUntil(lambda: len(view.samples.samples) >= 1, timeout=WAIT)
    ev = view.samples.samples[-1]
    pts = np.asarray(ev["points"])
    assert pts.ndim == 2 and pts.shape[1] == 3 and len(pts) > 10
    assert view.samples.stack.currentWidget() is view.samples.ink
    assert view.samples.ink._paths and view.samples.ink.strokes  # rendered as paths
    assert view.plots.unit == "points" and "points/s" in view.plots.rate_plot.getPlotItem().getAxis("left").labelText
    view.stop()
    qtbot.waitUntil(lambda: not view.is_training(), timeout=WAIT)


def test_gradient_flow_probe_and_quick_experiment(qtbot, window, corpus, home):
    win, view = window
    prepare(qtbot, view, corpus)
    # a finished run of this view (trained here, in the test process, to save a process start)
    from engine.cli.common import run_training
    from engine.cli.main import build_parser

    run = home / "runs" / "probe-me"
    args = build_parser().parse_args(view.settings.build_argv(run) + ["--steps", "12", "--quiet"])
    run_training(args.build_trainer(args), args)
    view.checkpoints.set_run(run)
    flow = view.flow
    flow.k_spin.setValue(12)
    flow.run_probe()
    qtbot.waitUntil(lambda: not flow.busy(), timeout=WAIT)
    x, y = flow.curves["current"].getOriginalDataset()
    assert len(y) == 13 and np.all(y > 0)
    assert "LSTM at step 12" in flow.status.text()

    flow.exp_steps.setValue(20)
    flow.run_experiment()
    qtbot.waitUntil(lambda: not flow.busy(), timeout=2 * WAIT)
    assert {"rnn-tanh", "gru", "lstm"} <= set(flow.curves) and set(flow.loss_curves) == {"rnn-tanh", "gru", "lstm"}
    for cell in ("rnn-tanh", "gru", "lstm"):
        assert len(flow.curves[cell].getOriginalDataset()[1]) >= 10
        assert len(flow.loss_curves[cell].getOriginalDataset()[1]) == 20
    assert "Quick experiment done" in flow.status.text()
