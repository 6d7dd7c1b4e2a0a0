"""The drawing canvas: mouse and tablet input, undo/clear, rendering, autosave (pytest-qt, offscreen)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from app_support import drag, ink_pixels
from PySide6.QtCore import QCoreApplication, QEvent, QPointF, Qt
from PySide6.QtGui import QInputDevice, QMouseEvent, QPointingDevice, QTabletEvent
from PySide6.QtWidgets import QApplication

from studio.handwriting.canvas import LOGICAL_HEIGHT, DrawingCanvas, load_drawing


@pytest.fixture
def canvas(qtbot):
    c = DrawingCanvas()
    qtbot.addWidget(c)
    c.resize(600, 300)
    c.show()
    qtbot.waitExposed(c)
    return c


def _line(n, x0=60.0, x1=400.0, y0=150.0, y1=190.0):
    return [(x0 + (x1 - x0) * i / (n - 1), y0 + (y1 - y0) * i / (n - 1)) for i in range(n)]


def test_event_compression_is_off(canvas):
    assert not QCoreApplication.testAttribute(Qt.ApplicationAttribute.AA_CompressHighFrequencyEvents)
    assert not QCoreApplication.testAttribute(Qt.ApplicationAttribute.AA_CompressTabletEvents)


def test_mouse_drag_becomes_a_stroke_with_its_points_drawn(canvas):
    blank = ink_pixels(canvas.grab().toImage(), canvas._ink_color)
    pts = _line(25)
    drag(canvas, pts, t0=5000, dt=8)
    assert canvas.stroke_count() == 1
    s = canvas.strokes[0]
    scale = canvas.height() / LOGICAL_HEIGHT  # 1.5: points are stored in canvas units
    assert len(s) == 25
    np.testing.assert_allclose(s.xs, [p[0] / scale for p in pts], atol=1e-6)
    np.testing.assert_allclose(s.ys, [p[1] / scale for p in pts], atol=1e-6)
    np.testing.assert_allclose(s.ts, [5.0 + 0.008 * i for i in range(25)], atol=1e-9)
    assert s.ps is None  # a mouse has no pressure
    drawn = ink_pixels(canvas.grab().toImage(), canvas._ink_color)
    assert drawn > blank + 200  # the stroke is painted along its length
    # the painted ink lies along the dragged line: the middle of the line is inked
    img = canvas.grab().toImage()
    mx, my = pts[12]
    near = [img.pixelColor(int(mx) + dx, int(my) + dy) for dx in range(-2, 3) for dy in range(-2, 3)]
    assert any(c.lightness() < 120 for c in near)

    drag(canvas, _line(10, y0=60, y1=60), t0=6000)
    assert canvas.stroke_count() == 2
    assert canvas.point_count() == 35


def test_right_button_and_bare_moves_do_not_draw(canvas):
    drag(canvas, _line(5), button=Qt.MouseButton.RightButton)
    ev = QMouseEvent(QEvent.Type.MouseMove, QPointF(100, 100), QPointF(100, 100), Qt.MouseButton.NoButton,
                     Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(canvas, ev)
    assert canvas.stroke_count() == 0


def _stylus():
    return QPointingDevice("test stylus", 4242, QInputDevice.DeviceType.Stylus, QPointingDevice.PointerType.Pen,
                           QInputDevice.Capability.Position | QInputDevice.Capability.Pressure, 1, 2)


def _tablet(canvas, dev, kind, x, y, pressure, ts):
    buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.TabletRelease else Qt.MouseButton.LeftButton
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.TabletMove else Qt.MouseButton.LeftButton
    ev = QTabletEvent(kind, dev, QPointF(x, y), QPointF(canvas.mapToGlobal(QPointF(x, y))), pressure, 0.0, 0.0,
                      0.0, 0.0, 0.0, Qt.KeyboardModifier.NoModifier, button, buttons)
    ev.setTimestamp(ts)
    ev.setAccepted(False)
    QApplication.sendEvent(canvas, ev)
    return ev


def test_tablet_events_keep_pressure_and_are_accepted(canvas):
    dev = _stylus()
    pressures = [0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 0.95]
    xs = [80 + 30 * i for i in range(len(pressures))]
    events = []
    for i, (x, p) in enumerate(zip(xs, pressures)):
        kind = (QEvent.Type.TabletPress if i == 0 else
                QEvent.Type.TabletRelease if i == len(xs) - 1 else QEvent.Type.TabletMove)
        events.append(_tablet(canvas, dev, kind, x, 150 + 2 * i, p, 100 + 5 * i))
    # accepted, so Qt synthesises no mouse events from them (no duplicate points)
    assert all(e.isAccepted() for e in events)
    assert canvas.stroke_count() == 1
    s = canvas.strokes[0]
    np.testing.assert_allclose(s.ps, pressures, atol=1e-6)
    np.testing.assert_allclose(s.ts, [0.1 + 0.005 * i for i in range(len(xs))], atol=1e-9)
    # a mouse event that comes from the pen (what Qt sends for an ignored tablet event) adds nothing
    ev = QMouseEvent(QEvent.Type.MouseButtonPress, QPointF(50, 50), QPointF(50, 50), QPointF(50, 50),
                     Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, dev)
    QApplication.sendEvent(canvas, ev)
    assert canvas.stroke_count() == 1 and canvas._current is None
    # pressure reaches the exported ink
    ink = canvas.to_ink("hi")
    np.testing.assert_allclose(ink.strokes[0].p, pressures, atol=1e-6)
    assert ink.strokes[0].t[0] == 0.0 and ink.text == "hi"


def test_undo_and_clear(canvas):
    changes = []
    canvas.changed.connect(lambda: changes.append(1))
    for k in range(3):
        drag(canvas, _line(6, y0=40 + 60 * k, y1=40 + 60 * k))
    assert canvas.stroke_count() == 3
    first_ys = [s.ys[0] for s in canvas.strokes]
    assert canvas.undo()
    assert canvas.stroke_count() == 2
    assert [s.ys[0] for s in canvas.strokes] == first_ys[:2]  # the last stroke went
    before = ink_pixels(canvas.grab().toImage(), canvas._ink_color)
    canvas.clear()
    assert canvas.stroke_count() == 0 and canvas.is_empty()
    assert ink_pixels(canvas.grab().toImage(), canvas._ink_color) < before
    assert not canvas.undo()
    assert len(changes) == 5  # 3 strokes, 1 undo, 1 clear


def test_drawing_is_autosaved_until_cleared(qtbot, studio_home):
    from studio.handwriting.view import HandwritingView

    v = HandwritingView()
    qtbot.addWidget(v)
    v.resize(1000, 650)
    v.show()
    drag(v.canvas, _line(12))
    drag(v.canvas, _line(8, y0=80, y1=80))
    v.wrote_edit.setText("hello")
    qtbot.waitUntil(lambda: v.drawing_path().exists(), timeout=3000)  # debounced autosave
    qtbot.waitUntil(lambda: json.loads(v.drawing_path().read_text()).get("text") == "hello", timeout=3000)
    strokes, text = load_drawing(v.drawing_path())
    assert text == "hello" and [len(s) for s in strokes] == [12, 8]

    v2 = HandwritingView()  # a restart: the drawing is back
    qtbot.addWidget(v2)
    assert v2.canvas.stroke_count() == 2 and v2.wrote_edit.text() == "hello"
    np.testing.assert_allclose(v2.canvas.strokes[0].xs, v.canvas.strokes[0].xs)

    v2.clear()
    v2.autosave()
    assert not v2.drawing_path().exists()
    v3 = HandwritingView()
    qtbot.addWidget(v3)
    assert v3.canvas.is_empty()


def test_damaged_autosave_gives_an_empty_canvas(qtbot, studio_home):
    from studio.handwriting.view import HandwritingView

    (studio_home / "drawing.json").write_text("{not json", encoding="utf-8")
    v = HandwritingView()
    qtbot.addWidget(v)
    assert v.canvas.is_empty()
