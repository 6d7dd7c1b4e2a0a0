"""The "My handwriting" collection page (pytest-qt, offscreen): write, accept, redo, skip, resume, delete,
export and import, coverage."""

from __future__ import annotations

from app_support import drag
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from engine.data.ink import Ink, Stroke
from engine.data.inkml import read_inkml
from engine.data.prompts import PROMPTS


def _scribble(canvas, strokes: int = 2) -> None:
    """A few synthetic mouse strokes across the strip (the drawing itself does not matter here)."""
    h = canvas.height()
    for k in range(strokes):
        x0 = 30 + 120 * k
        drag(canvas, [(x0 + 6 * i, h * 0.6 + (i % 4) * 3) for i in range(15)], t0=1000 + 500 * k)


def _ink_line():
    return Ink([Stroke([0.0, 5.0, 9.0], [120.0, 110.0, 121.0])])


def _open(qtbot, win):
    page = win.handwriting.open_collection()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is page, timeout=5000)   # its shortcuts are live
    return page


def _key(qtbot, page, key, mod=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(page.canvas, key, mod)


def _files(home):
    return sorted((home / "my-handwriting").glob("*.inkml"))


def test_write_accept_redo_skip_and_keys(qtbot, window, studio_home):
    # reachable from the Handwriting tab (the button) and the menu
    assert window.handwriting.collect_button.text() == "My handwriting…"
    assert any(a.text().startswith("Collect my handwriting") for a in window.actions())
    page = _open(qtbot, window)
    assert page.isVisible() and page.isWindow()
    assert page.index == 0 and page.prompt_label.text() == PROMPTS[0]
    assert page.progress_label.text() == f"LINE 1 OF {len(PROMPTS)}"

    # Enter on an empty strip saves nothing and says so
    _key(qtbot, page, Qt.Key.Key_Return)
    assert "Write the line first" in page.message.text()
    assert _files(studio_home) == [] and page.index == 0

    # write, Enter -> an InkML file with the prompt's text, and the next prompt
    _scribble(page.canvas)
    assert page.canvas.stroke_count() == 2
    _key(qtbot, page, Qt.Key.Key_Return)
    files = _files(studio_home)
    assert len(files) == 1
    (ink,) = read_inkml(files[0])
    assert ink.text == PROMPTS[0] and len(ink.strokes) == 2
    assert page.canvas.is_empty() and page.index == 1 and page.prompt_label.text() == PROMPTS[1]
    assert page.lines_list.count() == 1 and page.lines_list.item(0).text() == PROMPTS[0]
    assert "1 line collected" in page.count_label.text()

    # Ctrl+Z undoes a stroke; Esc and Ctrl+Backspace clear (redo); the Redo button too
    _scribble(page.canvas, 3)
    _key(qtbot, page, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert page.canvas.stroke_count() == 2
    _key(qtbot, page, Qt.Key.Key_Escape)
    assert page.canvas.is_empty() and page.isVisible()        # Esc clears, it does not close the page
    _scribble(page.canvas, 1)
    _key(qtbot, page, Qt.Key.Key_Backspace, Qt.KeyboardModifier.ControlModifier)
    assert page.canvas.is_empty()
    _scribble(page.canvas, 1)
    qtbot.mouseClick(page.redo_button, Qt.MouseButton.LeftButton)
    assert page.canvas.is_empty() and page.index == 1

    # skip (Ctrl+Right) moves on and saves nothing
    _scribble(page.canvas, 1)
    _key(qtbot, page, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert page.index == 2 and page.prompt_label.text() == PROMPTS[2] and page.canvas.is_empty()
    assert len(_files(studio_home)) == 1
    qtbot.mouseClick(page.skip_button, Qt.MouseButton.LeftButton)
    assert page.index == 3


def test_restart_resumes_and_shows_saved_lines_then_delete(qtbot, window, studio_home):
    from studio.main_window import MainWindow

    page = _open(qtbot, window)
    for _ in range(2):
        _scribble(page.canvas)
        assert page.accept_line()
    assert page.index == 2
    window.close()

    win2 = MainWindow()   # a restart on the same user folder
    qtbot.addWidget(win2)
    win2.show()
    page2 = _open(qtbot, win2)
    assert page2.index == 2 and page2.prompt_label.text() == PROMPTS[2]
    assert [page2.lines_list.item(i).text() for i in range(page2.lines_list.count())] == list(PROMPTS[:2])

    # delete the first line: its file goes, and its prompt comes round again later
    assert not page2.delete_button.isEnabled()
    page2.lines_list.setCurrentRow(0)
    assert page2.delete_button.isEnabled()
    qtbot.mouseClick(page2.delete_button, Qt.MouseButton.LeftButton)
    texts = [read_inkml(p)[0].text for p in _files(studio_home)]
    assert texts == [PROMPTS[1]]
    assert page2.lines_list.count() == 1 and "Deleted" in page2.message.text()
    assert page2.index == 2
    assert page2.collection.next_prompt(3) == 3
    # the Delete key in the list does the same
    page2.lines_list.setFocus()
    page2.lines_list.setCurrentRow(0)
    qtbot.keyClick(page2.lines_list, Qt.Key.Key_Delete)
    assert _files(studio_home) == [] and page2.lines_list.count() == 0
    win2.close()


def test_export_zip_then_import_into_a_fresh_home(qtbot, window, studio_home, tmp_path, monkeypatch):
    page = _open(qtbot, window)
    for _ in range(3):
        _scribble(page.canvas)
        page.accept_line()
    zpath = tmp_path / "export" / "mine.zip"
    assert page.export_to(zpath) == 3 and zpath.exists()
    assert "Exported 3 lines" in page.message.text()
    window.close()

    from engine.data.collection import Collection
    from studio.handwriting.collect import CollectPage

    fresh = tmp_path / "fresh-home"
    monkeypatch.setenv("SCRIBE_STUDIO_HOME", str(fresh))
    page2 = CollectPage()
    qtbot.addWidget(page2)
    assert page2.collection.folder == fresh / "my-handwriting" and page2.lines_list.count() == 0
    report = page2.import_from(zpath)
    assert len(report.added) == 3
    assert [page2.lines_list.item(i).text() for i in range(3)] == list(PROMPTS[:3])
    assert page2.index == 3 and "Imported 3 lines" in page2.message.text()
    assert Collection(fresh / "my-handwriting").texts() == list(PROMPTS[:3])

    # a file that is not InkML is skipped and named
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "shopping-list.txt").write_text("eggs", encoding="utf-8")
    report = page2.import_from(folder)
    assert report.added == [] and "shopping-list.txt" in page2.message.text()
    assert page2.message.objectName() == "warning"
    assert page2.import_from(tmp_path / "nowhere.zip") is None and "Import failed" in page2.message.text()


def test_coverage_meter_counts(qtbot, window):
    page = _open(qtbot, window)
    grid = page.coverage
    assert all(n == 0 for n in grid.counts.values()) and len(grid.needed()) == len(grid.chars)
    assert page.coverage_label.text().startswith(f"0 of {len(grid.chars)} characters")
    _scribble(page.canvas)
    page.accept_line()                      # "Call Jo at 6:45 tonight."
    assert grid.counts["C"] == 1 and grid.counts["a"] == 2 and grid.counts["t"] == 3 and grid.counts["z"] == 0
    assert "a" not in grid.needed() and "C" in grid.needed()
    assert "1 time" in grid.cells["C"].toolTip() and "2 wanted" in grid.cells["C"].toolTip()
    covered = len(grid.chars) - len(grid.needed())
    assert page.coverage_label.text().startswith(f"{covered} of {len(grid.chars)}")
    # once only a few characters are missing, they are named
    for path in page.collection.files():
        page.collection.delete(path)
    page.collection.add(_ink_line(), "".join(c for c in " ".join(PROMPTS) if c not in "qZ&"))
    page.refresh()
    assert grid.needed() == ["q", "Z", "&"]
    assert page.coverage_label.text().endswith("Still needed: q Z &")
    page.collection.add(_ink_line(), "q q Z Z & &")
    page.refresh()
    assert grid.needed() == [] and page.coverage_label.text().startswith(f"All {len(grid.chars)} characters")


def test_skip_wraps_round_and_a_finished_collection_says_so(qtbot, tmp_path):
    from engine.data.collection import Collection
    from studio.handwriting.collect import CollectPage

    page = CollectPage(collection=Collection(tmp_path / "col", ["aa bb", "cc dd"]))
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    assert page.skip() and page.index == 1
    assert page.skip() and page.index == 0                   # the skipped line comes round again
    _scribble(page.canvas)
    assert page.accept_line() and page.index == 1
    assert page.skip() and page.index == 1 and "only line left" in page.message.text()
    _scribble(page.canvas)
    assert page.accept_line() and page.index is None
    assert page.progress_label.text() == "ALL 2 LINES WRITTEN" and not page.accept_button.isEnabled()
    assert not page.skip() and not page.accept_line()
    assert len(list((tmp_path / "col").glob("*.inkml"))) == 2
