""""Make my model" on the "My handwriting" page (pytest-qt, offscreen): the personal fine-tune runs in the training
child process, its package lands in the user's models folder and the Handwriting tab selects it; what it needs
and what goes wrong is said on the page; the collection is never changed."""

from __future__ import annotations

import json

import pytest
from app_support import select_model
from PySide6.QtCore import QObject, Signal

from engine.data.ink import Ink, Stroke
from engine.data.synth import make_writers, render_line

TEXTS = ["hello there", "a quick fox", "write like me", "one more line", "the last one"]


def _fill(page, texts=TEXTS):
    w = make_writers(1, seed=5)[0]
    for i, t in enumerate(texts):
        ink = render_line(t, w, seed=i, hz=30)
        page.collection.add(Ink(ink.strokes, t), t)
    page.refresh()


def _snapshot(page):
    return {p.name: p.read_bytes() for p in page.collection.files()}


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    """A tiny synthesis package whose ink scale (measured from its style) is that of synthetic lines."""
    from engine.export.fixtures import make_tiny_package

    s3 = render_line("hello there", seed=0, hz=30).to_stroke3()
    s3[0, :2] = 0
    return make_tiny_package("ink-synthesis", tmp_path_factory.mktemp("base") / "tiny-base", seed=1,
                             styles=[{"name": "synthetic", "text": "hello there", "stroke3": s3}])


def _use(window, studio_home, package) -> str:
    """Add ``package`` to the user's models and select it in the Handwriting tab; returns its key."""
    import shutil

    shutil.copytree(package, studio_home / "models" / package.name)
    window.refresh_models()
    key = str((studio_home / "models" / package.name).resolve())
    assert window.handwriting.model_picker.select_key(key)
    return key


@pytest.mark.slow
def test_make_my_model_gives_a_package_the_handwriting_tab_selects(qtbot, window, studio_home, tiny_base):
    key = _use(window, studio_home, tiny_base)                 # the model to start from: the tab's
    page = window.handwriting.open_collection()
    _fill(page)
    before = _snapshot(page)
    assert page.base_model().key == key
    page.make_steps = 2
    assert page.make_model()
    assert page.make_running() and page.make_button.text() == "Stop" and page.make_progress.isVisible()
    qtbot.waitUntil(lambda: page.make_job is None, timeout=600_000)   # a busy 2-core machine: minutes
    assert "is ready" in page.make_label.text(), page.message.text()
    entry = window.handwriting.entry
    assert entry is not None and entry.path.resolve().parent == (studio_home / "models").resolve()
    card = json.loads((entry.path / "card.json").read_text(encoding="utf-8"))
    assert card["name"].startswith("My handwriting — ") and card["kind"] == "ink-synthesis"
    assert [s["text"] for s in card["styles"]] == TEXTS and card["personal"]["base"] == "tiny-base"
    assert window.handwriting.model_picker.current().key == entry.key
    hv = window.handwriting
    qtbot.waitUntil(lambda: hv.package is not None, timeout=60_000)
    # it writes in the learnt hand by default (unprimed); the person's lines are there as styles
    assert hv.style_combo.currentText() == "Learnt hand" and hv.style_combo.currentData() == "random"
    assert hv.style_combo.findData(f"style:{len(TEXTS) - 1}") >= 0
    assert _snapshot(page) == before                          # the lines were only read
    assert page.make_button.text() == "Make my model" and not page.make_progress.isVisible()


class _FakeJob(QObject):
    batch = Signal(list)
    finished = Signal(dict)
    failed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.running = False
        self.stopped = False

    def start(self):
        self.running = True

    def stop(self):
        self.stopped = True

    def is_running(self):
        return self.running


def test_progress_failure_and_stop_are_shown_and_the_lines_kept(qtbot, window, studio_home, tiny_base):
    _use(window, studio_home, tiny_base)
    page = window.handwriting.open_collection()
    _fill(page)
    before = _snapshot(page)
    jobs = []

    def factory(argv, out_dir, name, parent):
        assert argv[:2] == ["train", "ink"] and "--preset" in argv and argv[argv.index("--preset") + 1] == "personal"
        assert argv[argv.index("--data") + 1] == str(page.collection.folder)
        assert name.startswith("My handwriting — ") and out_dir.startswith(str(studio_home / "models"))
        jobs.append(_FakeJob(parent))
        return jobs[-1]

    page.job_factory = factory
    assert page.base_model().path.name == "tiny-base"        # the Handwriting tab's model
    assert page.make_model()
    job = jobs[-1]
    job.batch.emit([{"type": "start", "total_steps": 10},
                    {"type": "step", "step": 3, "loss": -1.25, "eta_s": 40.0, "total_steps": 10}])
    assert "step 3 of 10" in page.make_label.text() and "-1.250" in page.make_label.text()
    assert 250 <= page.make_progress.value() <= 350
    page.make_button.click()                                   # Stop
    assert job.stopped
    job.running = False
    job.failed.emit("the training process was killed")
    assert "failed" in page.message.text() and "kept" in page.make_label.text()
    assert page.make_job is None and _snapshot(page) == before
    # a stopped run makes nothing and says so
    assert page.make_model()
    jobs[-1].running = False
    jobs[-1].finished.emit({"status": "stopped"})
    assert "no model was made" in page.make_label.text() and _snapshot(page) == before


def test_what_a_model_of_your_hand_needs(qtbot, window, studio_home, tiny_base, monkeypatch):
    import studio.handwriting.collect as collect

    _use(window, studio_home, tiny_base)
    page = window.handwriting.open_collection()
    page.job_factory = lambda *a: pytest.fail("no job may start")
    _fill(page, TEXTS[:3])
    assert "Write 2 more lines" in page.make_label.text()
    assert not page.make_model() and "at least 5 lines" in page.message.text()
    # lines the model cannot write, or without usable ink, do not count
    page.collection.add(Ink(render_line("abc", seed=1).strokes, "漢字 abc"), "漢字 abc")
    page.collection.add(Ink([Stroke([0.0, 1.0], [0.0, 1.0])], "x"), "x")
    page.refresh()
    assert not page.make_model()
    msg = page.message.text()
    assert "Only 3 of your 5 lines" in msg and "cannot write: '漢' '字'" in msg and "too short" in msg
    # the model to start from follows the Handwriting tab, when it can be trained further
    select_model(window, "ink-synthesis", studio_home)
    assert page.base_model().path.name == "tiny-ink"
    from studio.common.registry import ModelEntry

    card = dict(window.handwriting.entry.card)
    assert collect._trainable(ModelEntry(window.handwriting.entry.path, "user", card))
    assert not collect._trainable(ModelEntry(window.handwriting.entry.path, "user", {**card, "quantization": {"x": 1}}))
    assert not collect._trainable(ModelEntry(window.handwriting.entry.path, "user", {**card, "kind": "text"}))
    # the slim build (no PyTorch) says what it needs
    monkeypatch.setattr(collect, "torch_available", lambda: False)
    _fill(page, TEXTS[3:])
    assert not page.make_model() and "full build" in page.message.text()
    assert "full build" in page.make_label.text()
