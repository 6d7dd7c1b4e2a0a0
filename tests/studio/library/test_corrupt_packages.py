"""Damaged and hostile packages in the user's models folder: the app starts, lists the good models, and says
which packages it skipped and why (never an exception in a slot, never exit 1 at start)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

REPO = Path(__file__).resolve().parents[3]

# folder name -> a phrase of the reason the app must give
BAD = {
    "bad-json": "is damaged: Expecting",
    "deep-nesting": "nested deeper than 64 levels",
    "wrong-types": "Input should be a valid string",
    "huge-hidden": "model_config.hidden: Input should be less than or equal to 8192",
    "external-data": "keeps tensors in external data files",
    "swapped-onnx": "model.onnx does not match its card",
    "not-an-object": "not a JSON object",
}


def _card(p: Path) -> dict:
    return json.loads((p / "card.json").read_text())


@pytest.fixture
def corrupt_packages(studio_home, tiny_packages) -> dict[str, Path]:
    """The tiny good packages plus one damaged package per entry of BAD in the user's models folder."""
    models = studio_home / "models"
    text = tiny_packages["text"]
    out = {}
    for name in BAD:
        out[name] = shutil.copytree(text, models / name)
    (out["bad-json"] / "card.json").write_text("{not json")
    (out["deep-nesting"] / "card.json").write_text('{"format": "scribe-package", "x": '
                                                    + "[" * 100_000 + "]" * 100_000 + "}")
    (out["wrong-types"] / "card.json").write_text(json.dumps(dict(_card(text), vocab=[1, 2, 3], name={"a": 1})))
    card = _card(text)
    card["model_config"]["hidden"] = 20000
    (out["huge-hidden"] / "card.json").write_text(json.dumps(card))
    model = onnx.load(str(text / "model.onnx"))
    big = max(model.graph.initializer, key=lambda t: len(t.raw_data))
    (out["external-data"] / "weights.bin").write_bytes(big.raw_data)
    onnx.external_data_helper.set_external_data(big, location="weights.bin")
    big.ClearField("raw_data")
    big.data_location = onnx.TensorProto.EXTERNAL
    (out["external-data"] / "model.onnx").write_bytes(model.SerializeToString())
    shutil.copyfile(tiny_packages["ink-synthesis"] / "model.onnx", out["swapped-onnx"] / "model.onnx")
    (out["not-an-object"] / "card.json").write_text("[1, 2, 3]")
    return out


def test_the_window_lists_the_good_models_and_names_each_skipped_one(corrupt_packages, window, qtbot):
    view = window.models_view
    good = {e.path.name for e in view.entries if e.usable}
    assert {"tiny-text", "tiny-ink"} <= good
    assert not good & set(BAD)
    for picker in (window.text.model_picker, window.handwriting.model_picker):
        assert picker.current() is None or (picker.current().usable and picker.current().path.name not in BAD)
    window.tabs.setCurrentWidget(view)
    note = view.skipped_note
    assert note.isVisible()
    text = note.text()
    assert f"Skipped {len(BAD)} model packages" in text
    import html

    plain = html.unescape(text)
    for name, reason in BAD.items():
        assert name in plain, name
        assert reason in plain, (name, reason, plain)
    # every listed package, good or bad, shows its card without an exception (pytest-qt fails on one in a slot)
    for e in view.entries:
        assert view.select_key(e.key)
        assert view.card_view.toPlainText()
        if not e.usable:
            assert "Cannot be used" in view.card_view.toPlainText()
            assert not view.use_button.isEnabled()
    # a refresh rereads the folder: still no exception, still named
    view.refresh_button.click()
    qtbot.wait(50)
    assert all(name in html.unescape(view.skipped_note.text()) for name in BAD)
    # once repaired, a package is no longer skipped
    shutil.rmtree(corrupt_packages["bad-json"])
    window.refresh_models()
    assert "bad-json" not in view.skipped_note.text() and f"Skipped {len(BAD) - 1}" in view.skipped_note.text()


def test_the_app_starts_with_them(corrupt_packages, studio_home):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", SCRIBE_STUDIO_HOME=str(studio_home),
               SCRIBE_STUDIO_EXIT_AFTER_SHOW="1")
    r = subprocess.run([sys.executable, "-m", "studio.app"], cwd=REPO, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["shown"] is True
