"""Start-up without torch, the --self-test, and the page helpers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def _env(home: Path) -> dict:
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", SCRIBE_STUDIO_HOME=str(home), SCRIBE_STUDIO_EXIT_AFTER_SHOW="1")
    return env


def test_window_comes_up_without_torch(studio_home):
    """The app (with models listed) shows its window and torch is not in sys.modules."""
    r = subprocess.run([sys.executable, "-m", "studio.app"], cwd=REPO, env=_env(studio_home),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["shown"] is True and report["torch"] is False
    # (onnxruntime may already be loading in the background: the handwriting model is preloaded;
    # the self-test below checks that generating text and handwriting never imports torch either)


def test_self_test_passes_with_models_and_fails_clearly_without(tiny_packages, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    for p in tiny_packages.values():
        shutil.copytree(p, models / p.name)
    code = ("import sys; from studio.self_test import run_self_test; "
            f"sys.exit(run_self_test({str(tmp_path / 'out')!r}, models_dir={str(models)!r}))")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "self-test: OK" in r.stdout
    svg = (tmp_path / "out" / "self-test.svg").read_text()
    assert svg.lstrip().startswith("<svg") and "<path" in svg

    empty = tmp_path / "empty"
    empty.mkdir()
    code = code.replace(repr(str(models)), repr(str(empty)))
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "self-test failed: no bundled models" in r.stderr
    assert "Traceback" not in r.stderr

    shutil.rmtree(models / tiny_packages["ink-synthesis"].name)
    code = code.replace(repr(str(empty)), repr(str(models)))
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "no bundled handwriting" in r.stderr


def test_cli_parses_self_test_and_version(capsys):
    from studio.app import build_parser, main

    a = build_parser().parse_args(["--self-test", "--out", "x"])
    assert a.self_test and a.out == "x"
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("scribe-studio ")


# ---------------------------------------------------------------------------------------------- helpers
def test_wrap_lines_keeps_newlines_and_wraps_long_paragraphs():
    from studio.handwriting.page import wrap_lines

    text = "Short line\n\nA rather long paragraph that must wrap onto several lines of the page\n\n"
    lines = wrap_lines(text, 20)
    assert lines[0] == "Short line" and lines[1] == ""
    assert all(len(ln) <= 20 for ln in lines)
    assert " ".join(ln for ln in lines[2:]) == "A rather long paragraph that must wrap onto several lines of the page"
    assert wrap_lines("  \n \n", 20) == []


def test_page_lines_follow_stroke3_semantics():
    from studio.handwriting.page import InkPage

    page = InkPage(["ab"], x_height=20)
    for p in [(1, 0, 0), (1, 0, 1), (5, 0, 0), (0, 2, 1)]:
        page.add_point(0, p)
    ln = page.lines[0]
    assert ln.strokes == [[(1.0, 0.0), (2.0, 0.0)], [(7.0, 0.0), (7.0, 2.0)]]
    (ink,) = page.line_inks()
    ox, oy = page.line_origin(0)
    assert ink.text == "ab" and ink.strokes[1].x[0] == 7 + ox and ink.strokes[1].y[1] == 2 + oy


def test_page_lines_are_aligned_by_their_letters_not_their_first_point():
    from studio.handwriting.page import InkPage

    page = InkPage(["one", "two"], x_height=20)
    rng = np.random.default_rng(0)
    for i, start_dy in enumerate((-30.0, 25.0)):  # line 1 starts high (a capital), line 2 low
        page.add_point(i, (3.0 * i, start_dy, 0))
        for _ in range(60):
            page.add_point(i, (1.0, rng.normal(0, 1), 0))
        page.lines[i].done = True
    mids = []
    for i, ink in enumerate(page.line_inks()):
        y = np.concatenate([s.y for s in ink.strokes])
        x = np.concatenate([s.x for s in ink.strokes])
        mids.append(np.median(y) - i * page.line_height)
        assert abs(x.min() - page.margin) < 1e-6  # left edges on the margin
    assert abs(mids[0] - mids[1]) < 1e-6      # letters on the same guide, whatever the first point


def test_training_self_test_trains_in_a_child_process(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TMPDIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "studio.app", "--self-test-train"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "self-test-train: OK" in r.stdout
    runs = list(tmp_path.glob("scribe-self-test-train-*/run/checkpoints/step-0000020-*"))
    assert runs and (runs[0] / "model.safetensors").is_file()
