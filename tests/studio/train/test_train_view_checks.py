"""The Train view's settings: the command preview follows the data, the CLI's value checks apply before a
run starts, the Synthetic… data is at the presets' point rate, the sample placeholder fits the task."""

from __future__ import annotations

import studio.train.spec as train_spec
from studio.train.form import FloatEdit


def test_command_preview_follows_the_data_path(qtbot, window, corpus, tmp_path):
    _, view = window
    st = view.settings
    st.set_data(str(corpus))
    assert str(corpus) in st.command_label.text()
    other = tmp_path / "other.txt"
    st.data_edit.setText(str(other))   # typing: no editingFinished yet, the preview is already current
    assert str(other) in st.command_label.text() and str(corpus) not in st.command_label.text()
    st.data_edit.clear()
    assert "<data>" in st.command_label.text()


def test_the_forms_use_the_clis_own_bounds(qtbot, window):
    _, view = window
    opts = train_spec.options("text")
    assert opts["eval_every"].type is int and opts["eval_every"].check.lo == 1
    assert opts["lr"].type is float and opts["lr"].check.lo == 0 and opts["lr"].check.lo_open
    assert train_spec.check_value(opts["lr"], 0.0) and train_spec.check_value(opts["lr"], 3e-3) is None
    assert "--dropout" in train_spec.check_value(opts["dropout"], 1.5)
    st = view.settings
    st.set_task("text")
    assert st.train_form.widgets["eval_every"].minimum() >= 1
    lr = st.train_form.widgets["lr"]
    assert isinstance(lr, FloatEdit) and lr.validator().bottom() == 0.0


def test_values_the_cli_would_refuse_stop_the_start(qtbot, window, corpus):
    from train_view_support import prepare

    _, view = window
    prepare(qtbot, view, corpus, steps=5)
    view.settings.set_knobs(lr=0.0)
    assert view.settings.invalid_values() and not view.start()
    assert "--lr" in view.message() and view.job is None
    view.settings.set_knobs(lr=3e-3, dropout=0.0)
    assert view.settings.invalid_values() == []


def test_synthetic_data_is_written_at_the_presets_point_rate(qtbot, window, monkeypatch):
    _, view = window
    st = view.settings
    calls = []
    monkeypatch.setattr(st, "_data_job", lambda argv, out, status: calls.append(argv))
    st.make_synthetic(40)
    st.make_synthetic(40, hz=70)
    assert calls[0][:3] == ["synth", "--lines", "40"] and calls[0][calls[0].index("--hz") + 1] == "30"
    assert calls[1][calls[1].index("--hz") + 1] == "70" and calls[1].count("--hz") == 1


def test_the_sample_placeholder_matches_the_task(qtbot, window):
    _, view = window
    st, samples = view.settings, view.samples
    st.set_task("ink-synthesis")
    assert samples.stack.currentWidget() is samples.ink
    st.set_task("text")
    assert samples.stack.currentWidget() is samples.text
    st.set_task("ink-prediction")
    assert samples.stack.currentWidget() is samples.ink
    samples.add({"type": "sample", "step": 3, "text": "abc", "prime": ""})   # a sample shown stays shown
    st.set_task("ink-synthesis")
    assert samples.stack.currentWidget() is samples.text
