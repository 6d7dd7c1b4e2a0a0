"""Packages from elsewhere: damaged or hostile cards and model files give one-line PackageErrors naming the file,
before onnxruntime (or any allocation) meets them."""

import json
import shutil
import time

import numpy as np
import onnx
import pytest

from engine.export.fixtures import TINY_TEXT_VOCAB, make_tiny_package
from engine.runtime import PackageError, load_package
from engine.runtime.package import check_package_files, read_card


@pytest.fixture(scope="module")
def text_pkg(tmp_path_factory):
    return make_tiny_package("text", tmp_path_factory.mktemp("pk") / "text", seed=0)


@pytest.fixture(scope="module")
def other_vocab_pkg(tmp_path_factory):
    return make_tiny_package("text", tmp_path_factory.mktemp("pk") / "other", seed=1, vocab=TINY_TEXT_VOCAB + "~")


def _copy(src, dst, **card_changes):
    shutil.copytree(src, dst)
    if card_changes:
        card = json.loads((dst / "card.json").read_text())
        card.update(card_changes)
        (dst / "card.json").write_text(json.dumps(card))
    return dst


def _refused(path, match):
    with pytest.raises(PackageError, match=match) as info:
        load_package(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    return msg


@pytest.fixture
def no_session(monkeypatch):
    """onnxruntime must not be reached."""
    import engine.runtime.session as session

    def boom(*a, **k):
        raise AssertionError("onnxruntime was given a package that should have been refused")

    monkeypatch.setattr(session, "make_session", boom)


def test_wrong_types_in_the_card(text_pkg, tmp_path, no_session):
    _refused(_copy(text_pkg, tmp_path / "v", vocab=[1, 2, 3]), r"card.json is damaged: vocab\[0\]")
    _refused(_copy(text_pkg, tmp_path / "d", vocab=list("abca")), "vocab lists 'a' twice")
    _refused(_copy(text_pkg, tmp_path / "n", name={"x": 1}), "name")
    _refused(_copy(text_pkg, tmp_path / "s", styles="many"), "styles")
    _refused(_copy(text_pkg, tmp_path / "c", context=["a"]), "context")
    card = json.loads((text_pkg / "card.json").read_text())
    card["io"]["state"]["h"] = [-2, 1, 16]
    (_copy(text_pkg, tmp_path / "st") / "card.json").write_text(json.dumps(card))
    _refused(tmp_path / "st", r"io.state.h\[0\]")
    card["io"]["state"]["h"] = [1 << 20, 1 << 20, 16]
    (_copy(text_pkg, tmp_path / "big") / "card.json").write_text(json.dumps(card))
    _refused(tmp_path / "big", "io.state")


def test_a_huge_model_config_is_refused_at_once(text_pkg, tmp_path, no_session):
    card = json.loads((text_pkg / "card.json").read_text())
    card["model_config"]["hidden"] = 20000
    (_copy(text_pkg, tmp_path / "h") / "card.json").write_text(json.dumps(card))
    t = time.perf_counter()
    _refused(tmp_path / "h", "model_config.hidden: Input should be less than or equal to 8192")
    assert time.perf_counter() - t < 2
    card["model_config"]["hidden"] = 16
    card["model_config"]["extra"] = 1
    (tmp_path / "h" / "card.json").write_text(json.dumps(card))
    _refused(tmp_path / "h", "model_config.extra: unknown setting")


def test_a_deeply_nested_card(text_pkg, tmp_path, no_session):
    bad = _copy(text_pkg, tmp_path / "deep")
    (bad / "card.json").write_text('{"format": "scribe-package", "x": ' + "[" * 200_000 + "]" * 200_000 + "}")
    _refused(bad, "nested deeper than 64 levels")


def test_cli_sample_with_a_bad_vocabulary_is_one_line(text_pkg, tmp_path, run_cli, capsys):
    bad = _copy(text_pkg, tmp_path / "bad", vocab=[1, 2, 3])
    assert run_cli("sample", "text", "--model", bad, "--length", "5") == 2
    err = capsys.readouterr().err
    assert err.startswith("scribe: error:") and "Traceback" not in err and str(bad) in err
    assert len(err.strip().splitlines()) == 1


def _with_external_weights(src, dst, location):
    """A copy of ``src`` whose largest initializer lives in an external file (which is really there)."""
    pkg = _copy(src, dst)
    model = onnx.load(str(pkg / "model.onnx"))
    big = max(model.graph.initializer, key=lambda t: len(t.raw_data))
    onnx.external_data_helper.set_external_data(big, location=location)
    (dst.parent / location.split("/")[-1] if location.startswith("../") else dst / location).write_bytes(big.raw_data)
    big.ClearField("raw_data")
    big.data_location = onnx.TensorProto.EXTERNAL
    (pkg / "model.onnx").write_bytes(model.SerializeToString())
    return pkg


@pytest.mark.parametrize("location", ["weights.bin", "../outside.bin"])
def test_external_data_is_refused(text_pkg, tmp_path, location, no_session):
    pkg = _with_external_weights(text_pkg, tmp_path / "ext", location)
    msg = _refused(pkg, "keeps tensors in external data files")
    assert "embed" in msg
    with pytest.raises(PackageError, match="external data"):
        check_package_files(pkg, read_card(pkg))


def test_a_model_file_from_another_model(text_pkg, other_vocab_pkg, tmp_path, no_session):
    mixed = _copy(text_pkg, tmp_path / "mixed")
    shutil.copyfile(other_vocab_pkg / "model.onnx", mixed / "model.onnx")
    _refused(mixed, r"model.onnx does not match its card \(output 'logits' is \[1, 60\] in the graph, \[1, 59\]")


def test_a_graph_that_hides_its_vocabulary_size_fails_the_trial_step(text_pkg, other_vocab_pkg, tmp_path):
    mixed = _copy(text_pkg, tmp_path / "mixed")
    model = onnx.load(str(other_vocab_pkg / "model.onnx"))
    logits = next(o for o in model.graph.output if o.name == "logits")
    logits.type.tensor_type.shape.dim[1].dim_param = "V"   # declared shape no longer says 60
    (mixed / "model.onnx").write_bytes(model.SerializeToString())
    _refused(mixed, r"a trial step gave 'logits' the shape \[1, 60\], the card says \[1, 59\]")


def test_onnxruntime_failures_while_stepping_are_package_errors(text_pkg):
    pkg = load_package(text_pkg)
    feeds = pkg.stepper.initial_state()
    feeds["x"] = np.zeros((1, 1), dtype=np.float32)  # wrong dtype
    with pytest.raises(PackageError, match="model.onnx: onnxruntime failed on a step") as info:
        pkg.stepper.step(feeds)
    assert "\n" not in str(info.value)


def test_the_checks_need_nothing_the_slim_build_leaves_out(text_pkg, tmp_path):
    """The slim build has no torch, onnx, onnxscript or safetensors (packaging/scribe-studio.spec): validating
    cards, scanning model files and refusing bad packages must work without them."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    ext = _with_external_weights(text_pkg, tmp_path / "ext", "weights.bin")
    bad = _copy(text_pkg, tmp_path / "bad", vocab=[1, 2, 3])
    code = (
        "import sys\n"
        "for m in ('torch', 'onnx', 'onnxscript', 'safetensors'):\n"
        "    sys.modules[m] = None\n"
        "from engine.runtime import PackageError, load_package\n"
        f"assert ''.join(load_package({str(text_pkg)!r}).generate_text('ab', 5, seed=1))\n"
        f"for p in ({str(ext)!r}, {str(bad)!r}):\n"
        "    try:\n"
        "        load_package(p)\n"
        "    except PackageError as e:\n"
        "        print(e)\n"
        "from studio.common.registry import read_entry\n"
        f"print(read_entry({str(ext)!r}).error)\n")
    repo = Path(__file__).resolve().parents[3]
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo,
                         env=dict(os.environ, PYTHONPATH=str(repo), QT_QPA_PLATFORM="offscreen"))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert "external data" in lines[0] and "vocab[0]" in lines[1] and "external data" in lines[2]
