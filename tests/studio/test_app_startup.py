"""Start-up without torch, the --self-test, and the page/prime helpers."""

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


def test_prime_scaling_and_resampling():
    from studio.handwriting.prime import estimate_x_height, resample, strokes_to_stroke3, typical_spacing

    strokes = [(np.array([10.0, 20.0, 30.0]), np.array([5.0, 5.0, 15.0])), (np.array([40.0, 41.0]), np.array([0.0, 0.0]))]
    s3 = strokes_to_stroke3(strokes, scale=0.5)
    pts = np.cumsum(s3[:, :2], axis=0)
    want = (np.array([[10, 5], [20, 5], [30, 15], [40, 0], [41, 0]]) - [10, 5]) * 0.5
    np.testing.assert_allclose(pts, want)
    assert s3[:, 2].tolist() == [0, 0, 1, 0, 1]
    x, y = resample(np.array([0.0, 10.0]), np.array([0.0, 0.0]), 2.5)
    np.testing.assert_allclose(x, [0, 2.5, 5, 7.5, 10])
    s3r = strokes_to_stroke3(strokes[:1], scale=1.0, spacing=1.0)
    steps = np.hypot(s3r[1:, 0], s3r[1:, 1])
    assert steps.max() <= 1.0 + 1e-5 and len(s3r) > 20
    assert estimate_x_height({"x_height": 31}, None) == 31.0
    assert estimate_x_height({}, None) == 25.0
    style = {"stroke3": np.c_[np.tile([[1.0, 1.0], [1.0, -1.0]], (20, 1)), np.zeros(40)]}
    assert typical_spacing([style]) == np.hypot(1, 1)


def test_drawing_scale_matches_the_styles_size():
    from studio.handwriting.prime import drawing_scale, estimate_x_height, style_band

    rng = np.random.default_rng(1)
    ys = rng.uniform(0, 10, 400)               # style: y spread over 10 units
    s3 = np.c_[np.diff(np.r_[0, np.arange(400.0)]), np.diff(np.r_[0, ys]), np.zeros(400)]
    styles = [{"stroke3": s3}]
    band = style_band(styles)
    assert 5.5 < band < 6.5                    # central 60% of a uniform 0..10
    assert abs(estimate_x_height({}, styles) - band / 0.9) < 1e-9
    drawn = rng.uniform(0, 30, 400)            # drawn 3x bigger than the style
    k = drawing_scale(drawn, guide_x_height=36.0, model_x_height=10.0, styles=styles)
    assert abs(k - 1 / 3) < 0.03
    # far off the guide: clamped to within 2x of the guide's scale; no styles: the guide decides
    assert drawing_scale(drawn * 100, 36.0, 10.0, styles) == 10.0 / 36.0 / 2
    assert drawing_scale(drawn, 36.0, 10.0, None) == 10.0 / 36.0


def test_training_self_test_trains_in_a_child_process(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TMPDIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "studio.app", "--self-test-train"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "self-test-train: OK" in r.stdout
    runs = list(tmp_path.glob("scribe-self-test-train-*/run/checkpoints/step-0000020-*"))
    assert runs and (runs[0] / "model.safetensors").is_file()
