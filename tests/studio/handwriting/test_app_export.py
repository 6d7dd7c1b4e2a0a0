"""Saving generated handwriting (SVG, PNG, InkML), the drawing as InkML, clipboard (pytest-qt, offscreen)."""

from __future__ import annotations

import defusedxml.ElementTree as ET
import numpy as np
import pytest
from app_support import drag, ink_pixels, select_model
from PySide6.QtGui import QColor, QGuiApplication, QImage

from engine.core.errors import ScribeError


@pytest.fixture
def written(window, qtbot, studio_home):
    hv = window.handwriting
    select_model(window, "ink-synthesis", studio_home)
    qtbot.waitUntil(lambda: hv.package is not None, timeout=10000)
    hv.text_edit.setPlainText("first line\nsecond")
    hv.speed_slider.setValue(10)
    hv._set_colour(QColor("#2a4fb8"))
    assert hv.generate()
    qtbot.waitUntil(lambda: not hv.is_busy(), timeout=20000)
    return hv


def test_svg_is_valid_and_has_one_path_per_stroke(written, tmp_path):
    page = written.page_view.page
    out = written.save_to(tmp_path / "page.svg")
    assert out == tmp_path / "page.svg"
    root = ET.parse(str(out)).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    paths = [el for el in root.iter() if el.tag.endswith("path")]
    n_strokes = sum(len(ln.strokes) for ln in page.lines)
    assert len(paths) == n_strokes
    group = next(el for el in root.iter() if el.tag.endswith("}g"))
    assert group.get("stroke").lower() == "#2a4fb8"
    from PySide6.QtSvg import QSvgRenderer

    assert QSvgRenderer(str(out)).isValid()


def test_inkml_reimports_with_lines_and_points(written, tmp_path):
    from engine.data.inkml import read_inkml

    page = written.page_view.page
    out = written.save_to(tmp_path / "page.inkml")
    inks = read_inkml(out)
    assert [i.text for i in inks] == ["first line", "second"]
    for ink, ln, i in zip(inks, page.lines, range(2)):
        assert len(ink.strokes) == len(ln.strokes)
        ox, oy = page.line_origin(i)
        got = np.concatenate([s.xy() for s in ink.strokes])
        want = np.array([(x + ox, y + oy) for s in ln.strokes for (x, y) in s])
        np.testing.assert_allclose(got, want, atol=2e-3)


def test_png_has_the_ink(written, tmp_path):
    out = written.save_to(tmp_path / "page.png")
    img = QImage(str(out))
    assert not img.isNull() and img.width() > 100 and img.height() > 50
    assert ink_pixels(img, QColor("#2a4fb8")) > 50


def test_copy_puts_image_svg_and_text_on_the_clipboard(written):
    assert written.copy()
    mime = QGuiApplication.clipboard().mimeData()
    assert mime.hasImage()
    assert b"<svg" in bytes(mime.data("image/svg+xml"))
    assert mime.text() == "first line\nsecond"
    # the offscreen platform crashes at exit if the clipboard still owns our mime data
    QGuiApplication.clipboard().clear()


def test_bad_save_targets_give_messages(written, tmp_path, window):
    assert written.save_to(tmp_path / "page.docx") is None
    assert "use .svg, .png or .inkml" in window.statusBar().currentMessage()
    assert written.save_to(tmp_path / "missing-dir" / "x" / "page.svg") is None
    assert "could not write" in window.statusBar().currentMessage()


def test_nothing_to_save_before_writing(window):
    from studio.handwriting.exporting import save_page

    with pytest.raises(ScribeError, match="nothing to save"):
        save_page(window.handwriting.page_view.page, "x.svg", QColor("black"), 1.5)


def test_drawing_saves_as_inkml_with_pressure_time_and_text(window, qtbot, tmp_path):
    from engine.data.inkml import read_inkml

    hv = window.handwriting
    drag(hv.canvas, [(50 + 9 * i, 120 + (i % 4)) for i in range(15)], t0=2000, dt=10)
    hv.wrote_edit.setText("my line")
    out = hv.save_drawing(tmp_path / "mine")
    assert out.suffix == ".inkml"
    (ink,) = read_inkml(out)
    assert ink.text == "my line" and len(ink.strokes) == 1
    s = ink.strokes[0]
    np.testing.assert_allclose(s.x, hv.canvas.strokes[0].xs, atol=1e-3)
    np.testing.assert_allclose(s.t, [0.01 * i for i in range(15)], atol=1e-4)
