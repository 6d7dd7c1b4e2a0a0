"""``scribe-studio --self-test``: prove an install works, offscreen, through the app's own code paths.

Loads every bundled model, generates text and a line of handwriting in the real main window (offscreen),
writes an SVG and checks it, and confirms torch was never imported. Exit 0 on success; otherwise 1 with
one clear message per failure on stderr.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

SELF_TEST_TEXT = "Scribe Studio works"


class SelfTestError(Exception):
    pass


def _wait(app, cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise SelfTestError(f"{what} did not finish within {timeout:.0f} s")
        app.processEvents()
        time.sleep(0.005)


def run_self_test(out_dir: str | None = None, models_dir: str | None = None, timeout: float = 120.0) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    log = lambda msg: print(f"self-test: {msg}", flush=True)  # noqa: E731
    out = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="scribe-self-test-"))
    home = tempfile.mkdtemp(prefix="scribe-self-test-home-")
    os.environ["SCRIBE_STUDIO_HOME"] = home  # never touch the user's settings or models
    try:
        _run(out, Path(models_dir) if models_dir else None, timeout, log)
    except SelfTestError as exc:
        print(f"scribe-studio: self-test failed: {exc}", file=sys.stderr, flush=True)
        return 1
    except Exception as exc:  # noqa: BLE001 - a self-test reports, it does not crash
        import traceback

        traceback.print_exc()
        print(f"scribe-studio: self-test failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    log("OK")
    return 0


def _run(out: Path, models_dir: Path | None, timeout: float, log) -> None:
    from engine.core.paths import bundled_models_dir
    from studio.common.application import make_app

    app = make_app(["scribe-studio", "--self-test"])
    from engine.core.errors import ScribeError
    from engine.runtime import load_package
    from studio.common.registry import read_entry
    from studio.common.settings import open_settings
    from studio.main_window import MainWindow

    folder = models_dir or bundled_models_dir()
    pkgs = sorted(p for p in folder.iterdir() if (p / "card.json").is_file()) if folder.is_dir() else []
    if not pkgs:
        raise SelfTestError(f"no bundled models in {folder} (expected a text model and a handwriting model)")
    entries = []
    for p in pkgs:
        try:
            t0 = time.perf_counter()
            pkg = load_package(p)
        except ScribeError as exc:
            raise SelfTestError(f"bundled model {p.name} cannot be loaded: {exc}") from None
        log(f"loaded {p.name} ({pkg.kind}) in {time.perf_counter() - t0:.2f} s")
        entries.append(read_entry(p, "bundled"))
    text_entry = next((e for e in entries if e.kind == "text"), None)
    ink_entry = next((e for e in entries if e.kind == "ink-synthesis"), None)
    if text_entry is None:
        raise SelfTestError(f"no bundled text model in {folder}")
    if ink_entry is None:
        raise SelfTestError(f"no bundled handwriting (ink-synthesis) model in {folder}")

    win = MainWindow(open_settings())
    if models_dir is not None:  # a folder given for testing: list it like opened packages
        for e in (text_entry, ink_entry):
            win.open_package(str(e.path))
    win.resize(1200, 760)
    win.show()
    app.processEvents()

    # text
    tv = win.text
    if not tv.model_picker.select_key(text_entry.key):
        raise SelfTestError(f"the app did not list {text_entry.name}")
    tv.prompt_edit.setPlainText("".join(c for c in "The " if c in set(text_entry.card.get("vocab", []))))
    tv.length_spin.setValue(120)
    tv.seed_spin.setValue(1)
    messages: list[str] = []
    win.statusBar().messageChanged.connect(messages.append)
    if not tv.generate():
        raise SelfTestError(f"text generation did not start: {win.statusBar().currentMessage()}")
    _wait(app, lambda: not tv.is_busy(), timeout, "text generation")
    written = len(tv.text()) - len(tv.prompt_edit.toPlainText())
    if written < 120:
        raise SelfTestError(f"text generation wrote {written} of 120 characters ({win.statusBar().currentMessage()})")
    log(f"text: {tv.text()[:60]!r}…")

    # handwriting
    hv = win.handwriting
    if not hv.model_picker.select_key(ink_entry.key):
        raise SelfTestError(f"the app did not list {ink_entry.name}")
    _wait(app, lambda: hv.package is not None, timeout, "loading the handwriting model")
    vocab = set(ink_entry.card.get("vocab", []))
    line = "".join(c for c in SELF_TEST_TEXT if c in vocab) or "".join(sorted(vocab - {" ", "\n"})[:8])
    hv.text_edit.setPlainText(line)
    hv.speed_slider.setValue(10)
    if hv.style_combo.count() > 2:
        hv.style_combo.setCurrentIndex(2)  # the first bundled style
    if not hv.generate():
        raise SelfTestError(f"handwriting generation did not start: {win.statusBar().currentMessage()}")
    _wait(app, lambda: not hv.is_busy(), timeout, "handwriting generation")
    page = hv.page_view.page
    if page is None or page.total_points < 10:
        raise SelfTestError(f"handwriting generation produced no ink ({win.statusBar().currentMessage()})")
    out.mkdir(parents=True, exist_ok=True)
    svg_path = hv.save_to(out / "self-test.svg")
    if svg_path is None:
        raise SelfTestError(f"could not write the SVG: {win.statusBar().currentMessage()}")
    _check_svg(svg_path)
    log(f"handwriting: {page.total_points} points for {line!r} -> {svg_path}")
    win.close()
    if "torch" in sys.modules:
        raise SelfTestError("torch was imported during generation (the app must run on onnxruntime alone)")


def _check_svg(path: Path) -> None:
    import defusedxml.ElementTree as ET

    try:
        root = ET.parse(str(path)).getroot()
    except Exception as exc:  # noqa: BLE001
        raise SelfTestError(f"the SVG written is not valid XML: {exc}") from None
    if not root.tag.endswith("svg"):
        raise SelfTestError(f"the SVG written has root <{root.tag}>")
    if not any(el.tag.endswith("path") for el in root.iter()):
        raise SelfTestError("the SVG written has no paths")


class _TrainResult:
    """Collects a training job's outcome (bound-method slots: they run in the GUI thread)."""

    def __init__(self):
        self.done: dict | None = None
        self.error: str | None = None
        self.steps = 0

    def on_batch(self, events: list) -> None:
        self.steps += sum(1 for e in events if e.get("type") == "step")

    def on_finished(self, summary: dict) -> None:
        self.done = summary or {}

    def on_failed(self, message: str) -> None:
        self.error = message


def run_training_self_test(timeout: float = 300.0) -> int:
    """``scribe-studio --self-test-train``: train a tiny char model for a few steps in the app's training
    child process (spawn; in a frozen full bundle this exercises freeze_support) and check it wrote a
    checkpoint. Needs torch: the full bundle or a source install."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    log = lambda msg: print(f"self-test-train: {msg}", flush=True)  # noqa: E731
    work = Path(tempfile.mkdtemp(prefix="scribe-self-test-train-"))
    os.environ["SCRIBE_STUDIO_HOME"] = str(work / "home")
    try:
        from engine.core.paths import assets_dir
        from studio.common.application import make_app
        from studio.train.job import TrainingJob

        app = make_app(["scribe-studio", "--self-test-train"])
        corpus = work / "corpus.txt"
        text = (assets_dir() / "corpora" / "tinyshakespeare.txt").read_text(encoding="utf-8")[:60_000]
        corpus.write_text(text, encoding="utf-8")
        run = work / "run"
        argv = ["train", "text", "--corpus", str(corpus), "--out", str(run), "--layers", "1", "--hidden", "32",
                "--embed", "16", "--batch", "8", "--seq-len", "32", "--steps", "20", "--eval-every", "10",
                "--device", "cpu", "--quiet"]
        job = TrainingJob(argv, threads=1)
        result = _TrainResult()
        job.batch.connect(result.on_batch)
        job.finished.connect(result.on_finished)
        job.failed.connect(result.on_failed)
        t0 = time.perf_counter()
        job.start()
        _wait(app, lambda: result.done is not None or result.error is not None, timeout, "training")
        if result.error:
            raise SelfTestError(f"training failed: {result.error}")
        ckpts = sorted((run / "checkpoints").glob("step-*")) if (run / "checkpoints").is_dir() else []
        if not ckpts or not (run / "last.json").is_file():
            raise SelfTestError(f"training finished but wrote no checkpoint in {run}")
        log(f"trained {result.steps} steps in a child process in {time.perf_counter() - t0:.1f} s; "
            f"checkpoint {ckpts[-1].name}")
        if "torch" in sys.modules:
            raise SelfTestError("torch was imported in the GUI process (training must stay in the child)")
    except SelfTestError as exc:
        print(f"scribe-studio: self-test failed: {exc}", file=sys.stderr, flush=True)
        return 1
    except Exception as exc:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        print(f"scribe-studio: self-test failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    log("OK")
    return 0
