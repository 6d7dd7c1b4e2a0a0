"""Offscreen screenshots of each view for the docs: ``python -m studio.screenshots --out docs``.

Uses the bundled models when there are both a text and a handwriting model in assets/models; otherwise it
exports tiny randomly initialised packages (needs torch; they write gibberish, which shows the app, not a
model). The "drawn" prime is a line of synthetic handwriting fed to the canvas as a user's pen would.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

WINDOW_SIZE = (1240, 780)
PRIME_TEXT = "my own hand"
WRITE_TEXT = "Scribe Studio writes what you type,\nin the hand you drew."


def _wait(app, cond, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    app.processEvents()


def _models(home: Path) -> list[Path]:
    """Bundled packages if both kinds exist, else tiny packages exported into the temp home."""
    from studio.common.registry import scan

    entries = [e for e in scan() if e.source == "bundled" and e.usable]
    if any(e.kind == "text" for e in entries) and any(e.kind == "ink-synthesis" for e in entries):
        return [e.path for e in entries]
    from engine.data.synth import make_writers, render_line
    from engine.export.fixtures import make_tiny_package

    models = home / "models"
    styles = []
    for i, w in enumerate(make_writers(3, seed=4)):
        ink = render_line("a quick style", w, seed=i)
        styles.append({"name": f"writer {i + 1}", "text": ink.text, "stroke3": ink.at_origin().to_stroke3()})
    return [make_tiny_package("text", models / "tiny-shakespeare-demo", seed=1),
            make_tiny_package("ink-synthesis", models / "tiny-handwriting-demo", seed=2, styles=styles)]


def drawn_prime(text: str = PRIME_TEXT, seed: int = 7):
    """A line of synthetic handwriting placed on the canvas guide like a user's drawing."""
    from engine.data.synth import make_writers, render_line
    from studio.handwriting.canvas import BASELINE_Y, LEFT_MARGIN, X_HEIGHT, DrawnStroke

    w = make_writers(1, seed=seed)[0]
    ink = render_line(text, w, seed=seed)
    k = X_HEIGHT / w.x_height
    x0 = min(float(s.x.min()) for s in ink.strokes)
    out = []
    for s in ink.strokes:
        xs = [(float(x) - x0) * k + LEFT_MARGIN + 8 for x in s.x]
        ys = [float(y) * k + BASELINE_Y for y in s.y]
        ts = [float(t) for t in s.t] if s.t is not None else [0.0] * len(xs)
        out.append(DrawnStroke(xs, ys, ts, [0.55 + 0.3 * (j % 7) / 7 for j in range(len(xs))]))
    return out


def take(out: Path, theme: str = "light", suffix: str = "") -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="scribe-shots-"))
    os.environ["SCRIBE_STUDIO_HOME"] = str(home)
    from studio.common.application import make_app

    app = make_app(["scribe-studio"])
    from studio.common.registry import read_entry
    from studio.common.theme import apply_theme
    from studio.main_window import MainWindow

    apply_theme(app, theme)
    paths = _models(home)
    win = MainWindow()
    win.resize(*WINDOW_SIZE)
    win.show()
    entries = {read_entry(p).kind: read_entry(p) for p in paths}
    saved = []

    hv = win.handwriting
    hv.model_picker.select_key(entries["ink-synthesis"].key)
    _wait(app, lambda: hv.package is not None)
    hv.canvas.set_strokes(drawn_prime())
    hv.wrote_edit.setText(PRIME_TEXT)
    hv.use_as_style()
    hv.text_edit.setPlainText(WRITE_TEXT)
    hv.speed_slider.setValue(10)
    win.tabs.setCurrentWidget(hv)
    hv.generate()
    _wait(app, lambda: not hv.is_busy())
    hv.speed_slider.setValue(6)
    out.mkdir(parents=True, exist_ok=True)
    p = out / f"screenshot-handwriting{suffix}.png"
    win.grab().save(str(p))
    saved.append(p)

    tv = win.text
    tv.model_picker.select_key(entries["text"].key)
    win.tabs.setCurrentWidget(tv)
    vocab = set(entries["text"].card.get("vocab", []))
    tv.prompt_edit.setPlainText("".join(c for c in "ROMEO:\nBut soft, what light" if c in vocab))
    tv.length_spin.setValue(700)
    tv.seed_spin.setValue(3)
    tv.generate()
    _wait(app, lambda: not tv.is_busy())
    p = out / f"screenshot-text{suffix}.png"
    win.grab().save(str(p))
    saved.append(p)

    win.tabs.setCurrentWidget(win.models_view)
    win.models_view.select_key(entries["ink-synthesis"].key)
    app.processEvents()
    p = out / f"screenshot-models{suffix}.png"
    win.grab().save(str(p))
    saved.append(p)

    # "My handwriting": six prompts written (synthetic ink on the canvas, as a pen would), the seventh under way
    win.tabs.setCurrentWidget(hv)
    page = hv.open_collection()
    page.resize(*WINDOW_SIZE)
    for k in range(6):
        page.canvas.set_strokes(drawn_prime(page.prompt, seed=7))
        page.accept_line()
    page.canvas.set_strokes(drawn_prime(page.prompt.split(" ")[0], seed=7))
    app.processEvents()
    p = out / f"screenshot-collect{suffix}.png"
    page.grab().save(str(p))
    saved.append(p)
    page.close()
    win.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="docs")
    ap.add_argument("--theme", default="light", choices=("light", "dark"))
    ap.add_argument("--suffix", default="", help="appended to the file names, e.g. -dark")
    a = ap.parse_args(argv)
    for p in take(Path(a.out), a.theme, a.suffix):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
