"""Generation in the app: jobs, handwriting painted as it streams, text streaming, Stop (pytest-qt, offscreen)."""

from __future__ import annotations

import threading
import time

import numpy as np
from app_support import drag, ink_pixels, select_model
from PySide6.QtGui import QColor

from studio.handwriting.view import DEFAULT_TAKES


# ---------------------------------------------------------------------------------------------- jobs
def test_generation_job_batches_items_in_order(qtbot):
    from studio.common.jobs import GenerationJob

    def produce():
        for i in range(500):
            if i % 50 == 0:
                time.sleep(0.02)
            yield i

    job = GenerationJob(produce)
    got, batches = [], []
    job.event.connect(lambda ev: (got.extend(ev["items"]), batches.append(len(ev["items"]))))
    with qtbot.waitSignal(job.finished, timeout=10000) as blocker:
        job.start()
    assert got == list(range(500))
    assert len(batches) < 500  # batched, not one signal per item
    assert blocker.args[0]["stopped"] is False and blocker.args[0]["items"] == 500
    assert not job.is_running()


def test_generation_job_stop_is_immediate_and_closes_the_generator(qtbot):
    from studio.common.jobs import GenerationJob

    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                time.sleep(0.001)
                yield i
                i += 1
        finally:
            closed.set()

    job = GenerationJob(endless)
    seen = []
    job.event.connect(lambda ev: seen.extend(ev["items"]))
    done = []
    job.finished.connect(done.append)
    job.start()
    qtbot.waitUntil(lambda: len(seen) > 20, timeout=5000)
    job.stop()
    # finished(stopped) was emitted synchronously by stop(), nothing more arrives afterwards
    assert done and done[0]["stopped"] is True and not job.is_running()
    n = len(seen)
    qtbot.wait(200)
    assert len(seen) == n and len(done) == 1
    assert job.wait(5) and closed.is_set()


def test_generation_job_reports_errors_as_messages(qtbot):
    from engine.core.errors import ScribeError
    from studio.common.jobs import GenerationJob

    def bad():
        yield 1
        raise ScribeError("the model file is damaged")

    job = GenerationJob(bad)
    with qtbot.waitSignal(job.failed, timeout=5000) as blocker:
        job.start()
    assert blocker.args == ["the model file is damaged"]
    assert not job.is_running()


# ---------------------------------------------------------------------------------------------- handwriting
def test_handwriting_generation_paints_ink(window, qtbot, studio_home):
    hv = window.handwriting
    select_model(window, "ink-synthesis", studio_home)
    qtbot.waitUntil(lambda: hv.package is not None, timeout=10000)
    hv.text_edit.setPlainText("hello world\nsecond line")
    hv.speed_slider.setValue(10)  # instant
    hv._set_colour(QColor("#a3202f"))
    blank = ink_pixels(hv.page_view.grab().toImage(), QColor("#a3202f"))
    assert hv.generate()
    assert hv.is_busy() and hv.stop_button.isEnabled() and not hv.write_button.isEnabled()
    qtbot.waitUntil(lambda: not hv.is_busy(), timeout=20000)
    page = hv.page_view.page
    assert [ln.text for ln in page.lines] == ["hello world", "second line"]
    assert all(ln.points > 0 for ln in page.lines)
    # the page holds exactly what the runtime generated (same seeds and takes as the app used)
    pkg = hv.package
    expect = list(pkg.generate_ink("hello world", bias=hv.bias, seed=hv._seed, takes=hv.takes_spin.value()))
    assert page.lines[0].points == len(expect)
    xs = np.cumsum([p[0] for p in expect])
    assert page.lines[0].strokes[0][0][0] == np.float32(xs[0])
    assert ink_pixels(hv.page_view.grab().toImage(), QColor("#a3202f")) > blank + 50
    assert "Wrote 2 line(s)" in window.statusBar().currentMessage()
    assert hv.save_button.isEnabled() and hv.copy_button.isEnabled()


class _PenClock:
    """Replaces ``time`` in studio.handwriting.page_view: the pen only moves when the test moves this clock."""

    def __init__(self):
        self.now = 1000.0

    def perf_counter(self):
        return self.now

    monotonic = time = perf_counter


def test_handwriting_is_revealed_while_written_and_stop_interrupts(window, qtbot, studio_home, monkeypatch):
    """Deterministic regardless of machine speed: the pen's clock is fake, and the generator hands over a
    fixed number of points, then blocks (the job stays running) until the test lets it go."""
    import studio.handwriting.page_view as page_view_mod

    hv = window.handwriting
    select_model(window, "ink-synthesis", studio_home)
    qtbot.waitUntil(lambda: hv.package is not None, timeout=10000)
    pen = _PenClock()
    monkeypatch.setattr(page_view_mod, "time", pen)
    sent, at_gate, gate = [], threading.Event(), threading.Event()
    real = type(hv.package).generate_ink

    def gated(self, text, **kw):
        for pt in real(self, text, **kw):
            if len(sent) >= 40:
                break
            sent.append(pt)
            yield pt
        at_gate.set()
        gate.wait(30)

    monkeypatch.setattr(type(hv.package), "generate_ink", gated)
    hv.text_edit.setPlainText(" ".join(["the lazy dog jumps over the quick brown fox"] * 6))
    hv.speed_slider.setValue(1)  # slow pen: 30 points per second
    view = hv.page_view
    try:
        assert hv.generate()
        # everything generated so far has reached the page; the pen has not moved (its clock stands still)
        qtbot.waitUntil(lambda: at_gate.is_set() and view.page is not None
                        and view.page.total_points == len(sent), timeout=20000)
        assert len(sent) == 40
        assert view.revealed == 0 and view.is_animating() and hv.job.is_running() and hv.is_busy()
        # drawn while being written: the pen reveals 30 points per (fake) second of what has arrived
        pen.now += 0.25
        qtbot.waitUntil(lambda: view.revealed > 0, timeout=5000)
        assert view.revealed == 7 and hv.job.is_running()           # int(30 * 0.25), carry 0.5
        pen.now += 0.25
        qtbot.waitUntil(lambda: view.revealed > 7, timeout=5000)
        assert view.revealed == 15 < view.page.total_points == 40 and hv.job.is_running()
        hv.stop()
        assert not hv.is_busy() and not hv.job.is_running()
        assert hv.write_button.isEnabled() and not hv.stop_button.isEnabled()
        assert view.page.total_points == view.revealed == 15  # the page keeps exactly what the pen had written
        assert window.statusBar().currentMessage() == "Stopped."
    finally:
        gate.set()
    assert hv.job.wait(5)  # the worker has ended: nothing it produced after Stop may reach the page
    pen.now += 5.0
    qtbot.wait(300)
    assert view.page.total_points == 15 and view.revealed == 15
    assert not view.is_animating()
    assert window.statusBar().currentMessage() == "Stopped."


def test_keyboard_shortcuts_write_stop_and_undo(window, qtbot, studio_home):
    from PySide6.QtCore import Qt

    hv = window.handwriting
    select_model(window, "ink-synthesis", studio_home)
    window.tabs.setCurrentWidget(hv)
    hv.text_edit.setPlainText("hello " * 40)
    hv.speed_slider.setValue(1)
    hv.text_edit.setFocus()
    qtbot.keyClick(hv.text_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert hv.is_busy()
    assert hv.text_edit.toPlainText() == "hello " * 40  # the shortcut wrote; no newline typed
    qtbot.keyClick(hv.text_edit, Qt.Key.Key_Escape)
    assert not hv.is_busy()
    drag(hv.canvas, [(30 + 10 * i, 100) for i in range(8)])
    drag(hv.canvas, [(30 + 10 * i, 60) for i in range(8)])
    hv.canvas.setFocus()
    qtbot.keyClick(hv.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert hv.canvas.stroke_count() == 1
    qtbot.keyClick(hv.canvas, Qt.Key.Key_Backspace,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert hv.canvas.is_empty()


def test_unknown_characters_are_pointed_out_and_left_out(window, qtbot, studio_home):
    """Accented and typographic characters are written as their plain forms (as the CLI does: é -> e,
    ’ -> '), with a note; characters with no stand-in are marked and left out."""
    hv = window.handwriting
    select_model(window, "ink-synthesis", studio_home)
    qtbot.waitUntil(lambda: hv.package is not None, timeout=10000)
    hv.text_edit.setPlainText("héllo €uro it’s")
    hv._check_text()
    assert hv.unknown_chars() == ["€"]
    note = hv.unknown_label.text()
    assert hv.unknown_label.isVisibleTo(hv) and "“e” for “é”" in note and "“'” for “’”" in note and "€" in note
    assert len(hv.text_edit.extraSelections()) == 1
    hv.speed_slider.setValue(10)
    assert hv.generate()
    qtbot.waitUntil(lambda: not hv.is_busy(), timeout=20000)
    assert [ln.text for ln in hv.page_view.page.lines] == ["hello uro it's"]
    hv.text_edit.setPlainText("hello")
    hv._check_text()
    assert hv.unknown_chars() == [] and not hv.unknown_label.isVisibleTo(hv)


def test_drawn_style_primes_generation(window, qtbot, studio_home, monkeypatch):
    hv = window.handwriting
    select_model(window, "ink-synthesis", studio_home)
    qtbot.waitUntil(lambda: hv.package is not None, timeout=10000)
    assert not hv.use_as_style()  # nothing drawn yet
    drag(hv.canvas, [(40 + 12 * i, 120 + 10 * np.sin(i / 2)) for i in range(30)])
    drag(hv.canvas, [(420 + 12 * i, 120) for i in range(10)])
    assert not hv.use_as_style()  # no text typed
    hv.wrote_edit.setText("hi  you")
    assert hv.use_as_style()
    assert hv.style_combo.currentData() == "mine"
    said = window.statusBar().currentMessage()           # what is carried from the drawing (engine.core.hand)
    assert said.startswith("Your handwriting is the style now: ") and "strokes a letter" in said
    calls = []
    real = type(hv.package).generate_ink

    def spy(self, text, **kw):
        calls.append((text, kw))
        return real(self, text, **kw)

    monkeypatch.setattr(type(hv.package), "generate_ink", spy)
    hv.text_edit.setPlainText("abc")
    hv.speed_slider.setValue(10)
    assert hv.generate()
    assert f"the likeliest of {DEFAULT_TAKES} takes" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not hv.is_busy(), timeout=20000)
    (text, kw), = calls
    assert text == "abc" and kw["prime_text"] == "hi you"
    s3 = kw["prime_stroke3"]
    assert s3.shape[1] == 3 and s3[:, 2].sum() == 2  # two strokes, each ends with a pen lift
    assert np.all(s3[0, :2] == 0)
    assert kw["slant"] is None                         # half-way to the drawing's lean (engine.core.hand)
    assert kw["takes"] == hv.takes_spin.value() == DEFAULT_TAKES   # the likeliest of a few takes (engine.core.takes)
    # the Slant choice reaches the runtime: the model's own lean, or the drawing's all the way
    from engine.core.hand import prime_slant

    for choice, expected in (("off", "off"), ("style", prime_slant(s3, hv._scale.x_height))):
        hv.slant_combo.setCurrentIndex(hv.slant_combo.findData(choice))
        calls.clear()
        assert hv.generate()
        qtbot.waitUntil(lambda: not hv.is_busy(), timeout=20000)
        (_, kw), = calls
        assert kw["slant"] == expected
    # without a style, "The style's" is the lean the model records for its writer (a personal model's), if any
    from dataclasses import replace

    hv.style_combo.setCurrentIndex(hv.style_combo.findData("random"))
    for recorded in (None, -4.0):
        hv._scale = replace(hv._scale, slant=recorded)
        calls.clear()
        assert hv.generate()
        qtbot.waitUntil(lambda: not hv.is_busy(), timeout=20000)
        (_, kw), = calls
        assert kw["prime_stroke3"] is None and kw["slant"] == recorded
    # so does the number of takes, and the status line says what was asked
    hv.takes_spin.setValue(1)
    calls.clear()
    assert hv.generate()
    assert "takes" not in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not hv.is_busy(), timeout=20000)
    (_, kw), = calls
    assert kw["takes"] == 1
    # clearing the drawing drops the style back to random
    hv.clear()
    assert hv.style_combo.currentData() == "random"


def test_bundled_style_can_be_picked(window, qtbot, studio_home):
    hv = window.handwriting
    select_model(window, "ink-synthesis", studio_home)
    qtbot.waitUntil(lambda: hv.style_combo.count() == 3, timeout=10000)
    assert hv.select_style("style:0")
    assert hv.style_combo.currentText().startswith("sample")


# ---------------------------------------------------------------------------------------------- text
def test_text_streams_matches_the_runtime_and_stop_works(window, qtbot, studio_home):
    tv = window.text
    select_model(window, "text", studio_home)
    tv.prompt_edit.setPlainText("The ")
    tv.temp_spin.setValue(0.9)
    tv.length_spin.setValue(300)
    tv.topk_spin.setValue(20)
    tv.seed_spin.setValue(11)
    assert tv.generate()
    qtbot.waitUntil(lambda: not tv.is_busy(), timeout=20000)
    from engine.runtime import load_package

    pkg = load_package(tv.entry.path)
    expect = "".join(pkg.generate_text("The ", 300, temperature=0.9, top_k=20, seed=11))
    assert tv.text() == "The " + expect
    assert "Wrote 300 characters" in window.statusBar().currentMessage()

    # a long run streams in several batches, and Stop ends it at once
    batches = []
    tv.length_spin.setValue(100_000)
    tv.seed_spin.setValue(-1)
    assert tv.generate()
    tv.job.event.connect(lambda ev: batches.append(len(ev["items"])))
    qtbot.waitUntil(lambda: len(batches) >= 2, timeout=10000)
    assert tv.is_busy()
    tv.stop()
    assert not tv.is_busy() and tv.generate_button.isEnabled()
    n = len(tv.text())
    qtbot.wait(250)
    assert len(tv.text()) == n < 100_000
    assert window.statusBar().currentMessage().startswith("Stopped after")
    assert tv.job.wait(5)


def test_text_prompt_with_unknown_characters(window, qtbot, studio_home):
    tv = window.text
    select_model(window, "text", studio_home)
    tv.prompt_edit.setPlainText("Ça va: 42")
    assert tv.unknown_chars() == [":", "4", "2"]
    assert tv.unknown_label.isVisibleTo(tv) and "“C” for “Ç”" in tv.unknown_label.text()
    tv.length_spin.setValue(5)
    assert tv.generate()
    qtbot.waitUntil(lambda: not tv.is_busy(), timeout=10000)
    assert tv.text().startswith("Ca va ")


def test_no_model_gives_a_message(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("SCRIBE_STUDIO_HOME", str(tmp_path / "empty-home"))
    monkeypatch.setattr("engine.core.paths.bundled_models_dir", lambda: tmp_path / "no-bundled")
    from studio.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    assert win.handwriting.entry is None and not win.handwriting.write_button.isEnabled()
    assert not win.handwriting.generate()
    assert "No handwriting model" in win.statusBar().currentMessage()
    assert not win.text.generate()
    assert "No text model" in win.statusBar().currentMessage()
