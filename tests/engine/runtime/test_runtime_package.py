"""The torch-free runtime: import guard, package validation, streaming, session options."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.core.errors import ScribeError
from engine.export.fixtures import make_tiny_package
from engine.runtime import PackageError, load_package

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def text_pkg(tmp_path_factory):
    return make_tiny_package("text", tmp_path_factory.mktemp("pk") / "text", seed=0)


@pytest.fixture(scope="module")
def synth_pkg(tmp_path_factory):
    return make_tiny_package("ink-synthesis", tmp_path_factory.mktemp("pk") / "synth", seed=0)


@pytest.mark.parametrize("block", [False, True], ids=["plain", "torch-blocked"])
def test_runtime_never_imports_torch(text_pkg, synth_pkg, block):
    """Loading packages and generating text and ink must work where torch is not installed."""
    code = (
        "import sys\n"
        + ("sys.modules['torch'] = None  # any import of torch now fails\n" if block else "")
        + "import engine.runtime\n"
        "from engine.runtime import load_package\n"
        f"pkg = load_package({str(text_pkg)!r})\n"
        "out = ''.join(pkg.generate_text('ab', 40, seed=1))\n"
        "assert len(out) == 40, out\n"
        f"ink = load_package({str(synth_pkg)!r})\n"
        "pts = list(ink.generate_ink('hello', bias=0.5, seed=1, max_steps=30))\n"
        "assert 0 < len(pts) <= 30 and pts[0].shape == (3,)\n"
        "assert ink.styles == []\n"
        + ("" if block else "assert 'torch' not in sys.modules, 'torch was imported'\n")
        + "print('ok')\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_package_api(text_pkg):
    pkg = load_package(text_pkg)
    assert pkg.kind == "text" and pkg.name == "text" and pkg.path == text_pkg
    assert pkg.card["format"] == "scribe-package"
    assert pkg.unknown_chars("abc~é~") == ["~", "é"]
    assert pkg.styles == []
    with pytest.raises(ScribeError, match="does not know"):
        list(pkg.generate_text("a~", 5))
    with pytest.raises(PackageError, match="text model"):
        pkg.generate_ink("hello")
    # streaming: one character per item, stop whenever
    gen = pkg.generate_text("a", 10_000, seed=3)
    first = [next(gen) for _ in range(5)]
    gen.close()
    assert all(isinstance(c, str) and len(c) == 1 for c in first)
    assert "".join(first) == "".join(pkg.generate_text("a", 5, seed=3))
    # temperature 0 is greedy: no randomness at all
    assert "".join(pkg.generate_text("a", 30, temperature=0, seed=1)) == \
        "".join(pkg.generate_text("a", 30, temperature=0, seed=2))
    # top-k 1 is greedy too
    assert "".join(pkg.generate_text("a", 30, temperature=1.0, top_k=1, seed=5)) == \
        "".join(pkg.generate_text("a", 30, temperature=0))


def copy_pkg(src, dst):
    shutil.copytree(src, dst)
    return dst


def edit_card(path, **changes):
    card = json.loads((path / "card.json").read_text())
    card.update(changes)
    (path / "card.json").write_text(json.dumps(card))


def test_bad_packages(text_pkg, tmp_path):
    with pytest.raises(PackageError, match="not found"):
        load_package(tmp_path / "missing")

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PackageError, match="not a Scribe model package"):
        load_package(empty)

    no_card = copy_pkg(text_pkg, tmp_path / "no_card")
    (no_card / "card.json").unlink()
    with pytest.raises(PackageError, match="no card.json"):
        load_package(no_card)

    bad_json = copy_pkg(text_pkg, tmp_path / "bad_json")
    (bad_json / "card.json").write_text("{not json")
    with pytest.raises(PackageError, match="damaged"):
        load_package(bad_json)

    garbage = copy_pkg(text_pkg, tmp_path / "garbage")
    (garbage / "model.onnx").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(PackageError, match="model.onnx is damaged"):
        load_package(garbage)

    no_onnx = copy_pkg(text_pkg, tmp_path / "no_onnx")
    (no_onnx / "model.onnx").unlink()
    with pytest.raises(PackageError, match="model.onnx is missing"):
        load_package(no_onnx)

    newer = copy_pkg(text_pkg, tmp_path / "newer")
    edit_card(newer, format_version=99)
    with pytest.raises(PackageError, match="newer Scribe Studio"):
        load_package(newer)

    other = copy_pkg(text_pkg, tmp_path / "other")
    edit_card(other, format="something-else")
    with pytest.raises(PackageError, match="not a Scribe model package"):
        load_package(other)

    unknown_kind = copy_pkg(text_pkg, tmp_path / "unknown_kind")
    edit_card(unknown_kind, kind="music")
    with pytest.raises(PackageError, match="unknown kind"):
        load_package(unknown_kind)

    with pytest.raises(PackageError, match="is a text model, not ink-synthesis"):
        load_package(text_pkg, kind="ink-synthesis")
    assert load_package(text_pkg, kind=("text", "ink-synthesis")).kind == "text"

    mismatch = copy_pkg(text_pkg, tmp_path / "mismatch")
    card = json.loads((mismatch / "card.json").read_text())
    card["io"]["state"]["z"] = [1, 4]
    (mismatch / "card.json").write_text(json.dumps(card))
    with pytest.raises(PackageError, match="state 'z'"):
        load_package(mismatch)

    a_file = tmp_path / "file.txt"
    a_file.write_text("hi")
    with pytest.raises(PackageError, match="a package is a folder"):
        load_package(a_file)
    # pointing at the package's own files is accepted
    assert load_package(text_pkg / "model.onnx").kind == "text"


def test_a_checkpoint_is_not_a_package(tmp_path):
    import torch

    import engine.training.checkpoint as ckpt
    from engine.models.charlm import CharLM, CharLMConfig

    model = CharLM(CharLMConfig(vocab_size=3, hidden=4, layers=1, embed=2))
    card = {"kind": "text", "model_config": model.config_dict(), "vocab": ["a", "b", " "]}
    ck = ckpt.save_checkpoint(tmp_path / "run", model=model, card=card)
    for path in (tmp_path / "run", ck):
        with pytest.raises(PackageError, match="training checkpoint.*scribe export"):
            load_package(path)
    del torch


def test_cli_sample_reports_a_damaged_package(text_pkg, tmp_path, run_cli, capsys):
    bad = copy_pkg(text_pkg, tmp_path / "bad")
    (bad / "model.onnx").write_bytes(b"nope")
    assert run_cli("sample", "text", "--model", bad, "--length", "5") == 2
    err = capsys.readouterr().err
    assert err.startswith("scribe: error:") and "Traceback" not in err


def test_session_options_are_overridable(text_pkg, monkeypatch):
    def opts(pkg):
        return pkg.stepper.session.get_session_options()

    default = opts(load_package(text_pkg))
    assert default.intra_op_num_threads == 1 and default.inter_op_num_threads == 1
    monkeypatch.setenv("SCRIBE_ORT_THREADS", "2")
    monkeypatch.setenv("SCRIBE_ORT_OPT", "basic")
    env = opts(load_package(text_pkg))
    assert env.intra_op_num_threads == 2
    assert str(env.graph_optimization_level).endswith("ENABLE_BASIC")
    kw = opts(load_package(text_pkg, threads=3, optimization="disable"))
    assert kw.intra_op_num_threads == 3 and str(kw.graph_optimization_level).endswith("DISABLE_ALL")
    # automatic threads: 2 for large models where there are 2 cores, 1 for small ones or on 1 core
    from engine.runtime.session import session_options

    monkeypatch.delenv("SCRIBE_ORT_THREADS")
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert session_options(model_bytes=20_000_000).intra_op_num_threads == 2
    assert session_options(model_bytes=50_000).intra_op_num_threads == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert session_options(model_bytes=20_000_000).intra_op_num_threads == 1
    assert session_options(model_bytes=20_000_000).get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert session_options(spin=True).get_session_config_entry("session.intra_op.allow_spinning") == "1"
    monkeypatch.setenv("SCRIBE_ORT_OPT", "fastest")
    with pytest.raises(PackageError, match="optimisation level"):
        load_package(text_pkg)


def test_styles_from_card_and_npz(text_pkg, tmp_path):
    from engine.runtime.package import save_styles_npz

    p = copy_pkg(text_pkg, tmp_path / "styled")
    edit_card(p, styles=[{"name": "neat", "text": "ab", "stroke3": [[0, 0, 0], [1.5, -2, 1]]}])
    s2 = np.array([[0.5, 0.5, 0], [1, 1, 1], [2, 0, 1]], dtype=np.float32)
    save_styles_npz(p / "styles.npz", [{"name": "loopy", "text": "a b", "stroke3": s2}])
    styles = load_package(p).styles
    assert [s["name"] for s in styles] == ["neat", "loopy"]
    assert styles[0]["text"] == "ab" and styles[0]["stroke3"].dtype == np.float32
    np.testing.assert_array_equal(styles[0]["stroke3"], [[0, 0, 0], [1.5, -2, 1]])
    np.testing.assert_array_equal(styles[1]["stroke3"], s2)
    (p / "styles.npz").write_bytes(b"junk")
    with pytest.raises(PackageError, match="styles.npz is damaged"):
        load_package(p).styles


def test_card_context_warms_the_state_once_and_matches_torch(tmp_path):
    """A text card's "context" is fed before the prime: the package computes that state once and
    still draws what the torch loop draws (which feeds the context every time)."""
    import torch

    from engine.core.vocab import Vocab
    from engine.export.exporter import export_model
    from engine.models.charlm import CharLM, CharLMConfig
    from engine.training.text_task import generate_text

    vocab = Vocab("\n abcdefgh:")
    torch.manual_seed(0)
    model = CharLM(CharLMConfig(vocab_size=len(vocab), hidden=12, layers=2, embed=4)).eval()
    card = {"kind": "text", "model_config": model.config_dict(), "vocab": vocab.to_json(),
            "context": "abc: cab\nbad\n\n"}
    pkg = load_package(export_model(model, card, tmp_path / "ctx"))
    kw = dict(temperature=1.0, seed=4)
    want = "".join(generate_text(model, vocab, "ab", 40, context=card["context"], **kw))
    calls = []
    real = pkg.stepper.step
    pkg.stepper.step = lambda feeds: calls.append(1) or real(feeds)
    assert "".join(pkg.generate_text("ab", 40, **kw)) == want
    first = len(calls)
    assert "".join(pkg.generate_text("ab", 40, **kw)) == want
    assert len(calls) - first == 2 + 39  # prime + sampled characters: the context is not fed again
    assert all(np.abs(v).max() > 0.01 for v in pkg._warm.values())  # sampling starts from the warmed state
