"""The Train view's parts without a training process: plot buffers, settings -> CLI argv, messages, data
summaries, the child-side event conversion and style priming, and no torch in the GUI process."""

from __future__ import annotations

import math
import signal
import subprocess
import sys

import numpy as np
import pytest


def test_series_keeps_the_whole_run_within_its_cap():
    from studio.train.plots import Series

    s = Series(cap=64)
    for chunk in np.array_split(np.arange(100_000), 37):   # arriving in batches of any size
        s.extend(chunk, chunk * 2.0)
    x, y = s.data()
    assert len(s) == 100_000 and s.n <= 64 and len(x) <= 65
    assert x[0] == 0 and x[-1] == 99_999          # the start and the latest point are shown
    steps = np.diff(x[:-1])
    assert np.all(steps == steps[0])               # the whole run at one resolution, not just the end
    assert len(x) >= 32                            # and the buffer is used
    np.testing.assert_array_equal(y, 2 * x)        # pairs stay together
    s.extend([100_000], [5.0])
    assert s.data()[0][-1] == 100_000 and s.last() == 5.0


def test_live_plots_take_step_and_eval_events(qtbot):
    from studio.train.plots import LivePlots

    p = LivePlots(cap=1000)
    qtbot.addWidget(p)
    steps = [{"type": "step", "step": i + 1, "loss": 3.0 - 0.01 * i, "grad_norm": 2.0 if i % 2 else 0.5,
              "clipped": bool(i % 2), "clip": 1.0, "lr": 1e-3, "rate": 1000.0 + i} for i in range(40)]
    steps[5]["loss"] = float("nan")               # a skipped step's loss is not plotted
    p.add_steps(steps)
    p.add_eval({"type": "eval", "step": 40, "val_loss": 2.5})
    qtbot.waitUntil(lambda: not p.dirty, timeout=5000)  # redrawn by its timer, one plot per tick
    assert len(p.loss) == 39 and len(p.loss_smooth) == 39
    assert len(p.clipped) == 20 and np.all(p.clipped.data()[1] == 2.0)
    assert p.clip_threshold == 1.0
    cx, cy = p.c_clip.getOriginalDataset()  # the axis is logarithmic: getData() is log10
    assert list(cy) == [1.0, 1.0] and cx[0] == 1 and cx[-1] >= 40
    assert list(p.c_val.getData()[1]) == [2.5]
    # the smoothed curve lags the raw one on a falling loss
    assert p.loss_smooth.last() > p.loss.last()


def test_gradient_health_flags_exploding_gradients_once():
    from studio.train.view import GradientHealth

    h = GradientHealth(window=20)
    assert all(h.add(0.5, False, 1.0) is None for _ in range(40))
    msgs = [h.add(50.0, True, 1.0) for _ in range(40)]
    flagged = [m for m in msgs if m]
    assert len(flagged) == 1 and "exploding" in flagged[0] and "learning rate" in flagged[0]


@pytest.mark.parametrize("task,preset", [("text", None), ("text", "cpu"), ("text", "quick (a minute on a CPU)"),
                                         ("ink-synthesis", "tiny"), ("ink-prediction", None)])
def test_view_settings_become_the_cli_command_that_means_the_same(task, preset):
    import studio.train.spec as train_spec
    from engine.cli.main import build_parser
    vals = train_spec.preset_values(task, preset)
    vals.update(hidden=48, lr=0.0025, clip=2.5, layers=1)
    argv = train_spec.build_argv(task, vals, data="/data/x", out="/runs/r", device="cpu", steps=77, preset=preset)
    args = build_parser().parse_args(argv)
    if task == "text":
        from engine.cli.text import resolve_text_settings

        got = resolve_text_settings(args)
    else:
        from engine.cli.ink import resolve_settings

        got = resolve_settings(args)
        assert got.kind == task.split("-")[1]
    for k in ("hidden", "lr", "clip", "layers"):
        assert getattr(got, k) == pytest.approx(vals[k]), k
    assert got.steps == 77 and not got.minutes and got.device == "cpu" and got.out == "/runs/r"
    if preset and train_spec.is_cli_preset(task, preset):
        assert argv[argv.index("--preset") + 1] == preset
    # everything the preset/defaults decide arrives unchanged
    for k in ("batch", "weight_decay", "warmup"):
        if k in vals and hasattr(got, k):
            assert getattr(got, k) == pytest.approx(vals[k]), k


def test_crash_messages_say_what_happened_and_what_to_try():
    from studio.train.job import crash_message

    m = crash_message(-signal.SIGKILL)
    assert "SIGKILL" in m and "memory" in m and "checkpoint" in m
    m = crash_message(-signal.SIGSEGV)
    assert "SIGSEGV" in m and "CPU" in m
    assert "exited with code 3" in crash_message(3)


def test_explain_turns_exceptions_into_advice():
    from engine.core.errors import DataError, TrainingError
    from studio.train.worker import explain

    msg, hint = explain(DataError("corpus.txt is not valid UTF-8"))
    assert "UTF-8" in msg and hint
    msg, hint = explain(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert "GPU ran out of memory" in msg and "batch" in hint and "CPU" in hint
    msg, hint = explain(MemoryError())
    assert "out of memory" in msg and "batch" in hint
    msg, _ = explain(TrainingError("5 steps in a row had a non-finite loss; lower the learning rate"))
    assert "learning rate" in msg


def test_events_are_made_plain_for_a_torch_free_gui():
    import torch

    from studio.train.worker import plain

    ev = plain({"type": "sample", "points": torch.ones(3, 3), "n": np.int64(4), "f": np.float32(0.5),
                "nested": [{"t": torch.tensor(2.0)}]})
    assert isinstance(ev["points"], np.ndarray) and ev["points"].shape == (3, 3)
    assert ev["n"] == 4 and type(ev["n"]) is int and ev["f"] == 0.5
    assert float(ev["nested"][0]["t"]) == 2.0 and "torch" not in type(ev["nested"][0]["t"]).__module__


def test_text_summary_lists_what_was_skipped_and_why(tmp_path):
    from engine.core.errors import DataError
    from studio.train.data import summarize_text, summary_html

    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("hello world\nsecond line\n", encoding="utf-8")
    (folder / "b.txt").write_bytes(b"\x00\x01\x02 not text")
    s = summarize_text(folder)
    assert s["characters"] == len("hello world\nsecond line\n") and s["files"] == 1 and s["lines"] == 3
    assert len(s["skipped"]) == 1 and "binary" in s["skipped"][0][1]
    html = summary_html(s)
    assert "skipped 1" in html and "b.txt" in html
    with pytest.raises(DataError):
        summarize_text(tmp_path / "missing.txt")


def test_checkpoints_are_listed_from_their_cards_without_torch(tmp_path):
    import json

    from studio.train.data import list_checkpoints, list_runs, model_card

    run = tmp_path / "runs" / "r1"
    for step, val in ((10, 2.0), (20, 1.5)):
        d = run / "checkpoints" / f"step-{step:07d}-val{val:.4f}"
        d.mkdir(parents=True)
        (d / "model.safetensors").write_bytes(b"x")
        (d / "card.json").write_text(json.dumps({"format": "scribe-checkpoint", "format_version": 1, "kind": "text",
                                                 "vocab": list("ab"), "step": step, "metrics": {"val_loss": val},
                                                 "model_config": {"vocab_size": 2, "hidden": 4, "embed": 2}}))
    (run / "checkpoints" / ".step-0000030.tmp").mkdir()  # a killed save: ignored
    (run / "last.json").write_text(json.dumps({"path": "checkpoints/step-0000020-val1.5000"}))
    (run / "best.json").write_text(json.dumps({"path": "checkpoints/step-0000020-val1.5000"}))
    cks = list_checkpoints(run)
    assert [c["step"] for c in cks] == [10, 20] and cks[1]["best"] and cks[1]["last"] and not cks[0]["last"]
    assert model_card(run)["step"] == 20
    runs = list_runs(tmp_path / "runs")
    assert runs[0]["name"] == "r1" and runs[0]["step"] == 20 and runs[0]["val_loss"] == 1.5


def test_the_gui_process_never_imports_torch(tmp_path):
    code = (
        "import os, sys; os.environ['QT_QPA_PLATFORM']='offscreen'\n"
        f"os.environ['SCRIBE_STUDIO_HOME']={str(tmp_path)!r}\n"
        "from PySide6.QtWidgets import QApplication; app = QApplication([])\n"
        "from studio.train.view import TrainView\n"
        "v = TrainView(); v.settings.set_task('ink-synthesis'); v.settings.set_task('text'); v.settings.build_argv()\n"
        "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_training_samples_can_be_primed_with_a_drawn_style():
    """The child applies the user's style to handwriting samples (natively, or via an adapter)."""
    from hw_data import toy_dataset, toy_texts

    from engine.training.ink_task import InkTask
    from studio.train.worker import _set_sample_options

    ds = toy_dataset(toy_texts(12, words=2))
    task = InkTask(ds, "synthesis", dict(layers=1, hidden=8, mixtures=2, window_k=2), batch=2, buckets=1,
                   sample_text="a dog")
    plain_sample = task.sample(seed=1)["points"]
    prime = ds.line(0).points
    _set_sample_options(task, {"sample_prime_stroke3": prime, "sample_prime_text": ds.line(0).text})
    out = task.sample(seed=1)
    assert len(out["points"]) > 0 and all(math.isfinite(v) for row in out["points"] for v in row)
    # same seed, different state after the prime: a different line
    n = min(len(out["points"]), len(plain_sample))
    assert not np.allclose(np.asarray(out["points"])[:n], np.asarray(plain_sample)[:n])


def _fake_run(run, step=30, **model):
    import json

    ck = run / "checkpoints" / f"step-{step:07d}"
    ck.mkdir(parents=True)
    (ck / "model.safetensors").write_bytes(b"x")
    mc = dict(cell="gru", layers=1, hidden=40, embed=12, dropout=0.0, skip=False, orthogonal_init=False,
              gate_bias=1.0, vocab_size=20, **model)
    (ck / "card.json").write_text(json.dumps({"format": "scribe-checkpoint", "format_version": 1, "kind": "text",
                                              "step": step, "metrics": {"val_loss": 2.0},
                                              "model_config": mc, "train_config": {"lr": 0.004, "steps": 50},
                                              "vocab": list("abcdefghij klmnopqr\n")}))
    (run / "last.json").write_text(json.dumps({"path": f"checkpoints/{ck.name}"}))


def test_resume_and_fine_tune_take_the_models_settings(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("SCRIBE_STUDIO_HOME", str(tmp_path / "home"))
    from engine.core.paths import runs_dir
    from studio.train.view import TrainView

    run = runs_dir() / "20250101-000000-text-gru"
    _fake_run(run)
    v = TrainView()
    qtbot.addWidget(v)
    v.settings.set_data(str(tmp_path / "c.txt"))
    v.settings.set_source("resume", str(run))
    assert v.settings.source_combo.findData(str(run)) >= 0        # the run is offered in the list
    vals = v.settings.knob_values()
    assert vals["cell"] == "gru" and vals["hidden"] == 40 and vals["no_orthogonal"] is True
    argv = v.settings.build_argv()
    assert "--resume" in argv and argv[argv.index("--out") + 1] == str(run)
    assert v.settings.steps_spin.value() > 30                      # on past the run's last step
    assert v.checkpoints.count() == 1           # the run's checkpoints are listed
    v.settings.set_source("finetune", str(run))
    argv = v.settings.build_argv(tmp_path / "new")
    assert argv[argv.index("--init-from") + 1] == str(run) and "--resume" not in argv


def test_the_handwriting_tabs_drawing_primes_training_samples(qtbot, tmp_path, monkeypatch):
    """Coordination with the main window: its Handwriting tab's canvas and 'what you wrote' field."""
    monkeypatch.setenv("SCRIBE_STUDIO_HOME", str(tmp_path / "home"))
    from studio.handwriting.canvas import X_HEIGHT, DrawnStroke
    from studio.main_window import MainWindow
    from studio.train.view import TrainView, user_style

    win = MainWindow()
    qtbot.addWidget(win)
    assert isinstance(win.train_view, TrainView)          # the Train tab holds this view
    summary = {"x_height": 20.0, "spacing": None, "charset": list("abc ")}
    assert user_style(win, summary) is None               # nothing drawn yet
    xs = [10.0, 20.0, 30.0, 40.0]
    win.handwriting_view.canvas.set_strokes([DrawnStroke(xs, [100.0, 64.0, 100.0, 64.0], [0, .01, .02, .03]),
                                             DrawnStroke([50.0, 60.0], [100.0, 100.0], [.1, .11])])
    win.handwriting_view.wrote_edit.setText("ab")
    stroke3, text = user_style(win, summary)
    assert text == "ab" and stroke3.shape == (6, 3) and stroke3[3, 2] == 1 and stroke3[-1, 2] == 1
    scale = 20.0 / X_HEIGHT                                # canvas units -> the data's units
    np.testing.assert_allclose(stroke3[1, :2], [10 * scale, -36 * scale], rtol=1e-5)
    # the Train view saves that drawing as a recording (InkML) for training on one's own hand
    path = win.train_view.settings.add_drawing_to_recordings()
    from engine.data.inkml import read_inkml

    inks = read_inkml(path)
    assert inks[0].text == "ab" and len(inks[0].strokes) == 2
    win.close()


def test_without_pytorch_the_view_says_so_and_does_not_start(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("SCRIBE_STUDIO_HOME", str(tmp_path / "home"))
    import studio.train.view as train_view
    from studio.train.worker import explain

    monkeypatch.setattr(train_view, "_torch_installed", lambda: False)
    v = train_view.TrainView()
    qtbot.addWidget(v)
    assert "PyTorch" in v.message() and not v.start_btn.isEnabled()
    msg, hint = explain(ModuleNotFoundError("No module named 'torch'", name="torch"))
    assert "torch" in msg and "install" in hint.lower()


def test_gradient_flow_can_follow_the_checkpoints(qtbot, monkeypatch):
    from studio.train.flow import FlowPanel

    warnings = []
    flow = FlowPanel(lambda: None, lambda: None)
    qtbot.addWidget(flow)
    flow.message.connect(lambda level, text: warnings.append(text))
    flow.run_probe()                                   # nothing to probe: says so
    assert warnings and "No checkpoint" in warnings[0]
    calls = []
    monkeypatch.setattr(flow, "run_probe", lambda quiet=False: calls.append(quiet))
    flow.checkpoint_saved()
    assert calls == []                                 # off by default: no extra process per checkpoint
    flow.auto_check.setChecked(True)
    flow.checkpoint_saved()
    assert calls == [True]


@pytest.mark.parametrize("task", ["text", "ink-prediction", "ink-synthesis"])
def test_a_fresh_form_gives_no_more_options_flags(qtbot, tmp_path, monkeypatch, task):
    """The form as it opens (and at each CLI preset) leaves every "More options" knob to the CLI: a combo
    whose CLI default is unset must not send its first choice (it once sent ``--join pen``, which the CLI
    refuses without ``--pairs``)."""
    monkeypatch.setenv("SCRIBE_STUDIO_HOME", str(tmp_path / "home"))
    import studio.train.spec as train_spec
    from studio.train.view import TrainView

    v = TrainView()
    qtbot.addWidget(v)
    v.settings.set_task(task)
    more = {train_spec.options(task)[d].flag for d, _ in train_spec.more_knobs(task)}
    for preset in [None] + [p for p in train_spec.preset_names(task) if train_spec.is_cli_preset(task, p)]:
        if preset is not None:
            v.settings.preset_combo.setCurrentText(preset)
        argv = v.settings.build_argv()
        assert not more & set(argv), (preset, more & set(argv))
