"""Export of the handwriting nets (prediction and synthesis): parity incl. the dynamic text length U,
same seed -> same ink through torch and onnxruntime, primed sampling, bad ink packages, the CLI."""

import json
import shutil

import numpy as np
import pytest
import torch

import engine.training.checkpoint as ckpt
from engine.core.errors import ScribeError
from engine.core.ink_stream import ink_stream
from engine.export.exporter import export_model
from engine.models.handwriting import build
from engine.models.torch_stepper import TorchStepper
from engine.runtime import PackageError, load_package

CHARS = " abcdehlorw"
NORM = {"mean": [1.5, 0.2], "std": [3.0, 2.5]}


def tiny_ink(kind, seed=0):
    torch.manual_seed(seed)
    cfg = dict(layers=2, hidden=10, mixtures=3)
    if kind == "ink-synthesis":
        cfg.update(window_k=2, vocab_size=len(CHARS))
    model = build(kind, cfg).eval()
    card = {"kind": kind, "model_config": model.config_dict(), "norm": NORM, "metrics": {"val_loss": -1.0}}
    if kind == "ink-synthesis":
        card["vocab"] = list(CHARS)
    return model, card


@pytest.fixture(scope="module", params=["ink-prediction", "ink-synthesis"])
def exported(request, tmp_path_factory):
    model, card = tiny_ink(request.param, seed=2)
    out = export_model(model, card, tmp_path_factory.mktemp("ink") / "pkg")
    return model, card, out


def test_ink_export_card_and_parity(exported):
    model, card, out = exported
    pc = json.loads((out / "card.json").read_text())
    assert pc["kind"] == card["kind"] and pc["norm"] == NORM and pc["parity"]["max_diff"] <= 1e-4
    assert pc["parity"]["graph"] == "fused"
    names = [i["name"] for i in pc["io"]["inputs"]]
    if card["kind"] == "ink-synthesis":
        assert names == ["x", "chars", "h", "c", "kappa", "w"]
        assert len(pc["parity"]["sizes"]) == 2  # checked at two text lengths
        assert set(pc["io"]["state"]) == {"h", "c", "kappa", "w"}
    else:
        assert names == ["x", "h", "c"]


def test_ink_steps_agree_for_any_text_length(exported):
    model, card, out = exported
    pkg = load_package(out)
    t = TorchStepper(model.step_module())
    rng = np.random.default_rng(0)
    for U in ([3, 17, 40] if card["kind"] == "ink-synthesis" else [0]):
        feeds = {"x": rng.standard_normal((1, 3)).astype(np.float32), **pkg.stepper.initial_state()}
        if U:
            chars = np.zeros((1, U, len(CHARS)), np.float32)
            chars[0, np.arange(U), rng.integers(0, len(CHARS), U)] = 1
            feeds["chars"] = chars
        for _ in range(5):
            a, b = t.step(feeds), pkg.stepper.step(feeds)
            for k in a:
                np.testing.assert_allclose(b[k], a[k], atol=2e-5, rtol=1e-5)
            if U:
                assert b["phi"].shape == (1, U + 1)
            feeds.update({k[:-4]: a[k] for k in a if k.endswith("_out")})
            feeds["x"] = rng.standard_normal((1, 3)).astype(np.float32)


def _same_ink(a, b):
    a, b = np.stack(a), np.stack(b)
    assert a.shape == b.shape
    np.testing.assert_array_equal(a[:, 2], b[:, 2])
    np.testing.assert_allclose(a[:, :2], b[:, :2], atol=1e-3)


def test_same_seed_same_ink_on_torch_and_onnx(exported):
    model, card, out = exported
    pkg = load_package(out)
    torch_stepper = TorchStepper(model.step_module())
    text = "hello world" if card["kind"] == "ink-synthesis" else ""
    vocab = card.get("vocab")
    kw = dict(bias=0.3, seed=5, max_steps=60)
    a = list(ink_stream(torch_stepper, text=text, vocab=vocab, norm=NORM, **kw))
    b = list(pkg.generate_ink(text, **kw))
    assert all(p.shape == (3,) and p.dtype == np.float32 for p in b)
    _same_ink(a, b)
    c = list(pkg.generate_ink(text, bias=0.3, seed=6, max_steps=60))
    assert not np.allclose(np.stack(b)[:20], np.stack(c)[:20])

    # primed: teacher-force a stroke with its transcript, then write in that style
    prime = np.array([[0, 0, 0], [2, 1, 0], [3, -1, 1], [1, 0, 0], [2, 2, 1]], np.float32)
    pt = "he" if card["kind"] == "ink-synthesis" else None
    a = list(ink_stream(torch_stepper, text=text, vocab=vocab, norm=NORM, prime_stroke3=prime, prime_text=pt, **kw))
    b = list(pkg.generate_ink(text, prime_stroke3=prime, prime_text=pt, **kw))
    _same_ink(a, b)
    assert not np.allclose(np.stack(b)[:10], np.stack(list(pkg.generate_ink(text, **kw)))[:10])


def test_ink_package_checks_its_text(exported, tmp_path):
    model, card, out = exported
    pkg = load_package(out)
    if card["kind"] == "ink-prediction":  # writes no text: ignores it, stops at the cap
        assert pkg.vocab is None and pkg.unknown_chars("anything") == []
        pts = list(pkg.generate_ink("ignored", seed=1, max_steps=25))
        assert len(pts) == 25 and pts[-1][2] == 1.0
        return
    assert pkg.unknown_chars("hello, Q!") == [",", "Q", "!"]
    with pytest.raises(ScribeError, match="cannot write"):
        next(pkg.generate_ink("hello Q"))
    with pytest.raises(ScribeError, match="text"):
        next(pkg.generate_ink(""))
    with pytest.raises(PackageError, match="writes handwriting"):
        pkg.generate_text("a", 3)
    with pytest.raises(PackageError, match="ink-synthesis model, not text"):
        load_package(out, kind="text")

    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    c = json.loads((broken / "card.json").read_text())
    del c["norm"]
    (broken / "card.json").write_text(json.dumps(c))
    with pytest.raises(PackageError, match="normalisation"):
        load_package(broken)


def test_cli_sample_ink_from_checkpoint_and_package(tmp_path, run_cli, capsys):
    model, card = tiny_ink("ink-synthesis", seed=3)
    ckpt.save_checkpoint(tmp_path / "run", model=model, card=card, is_best=True)
    assert run_cli("export", tmp_path / "run", "--out", tmp_path / "pkg") == 0
    args = ("sample", "ink", "--text", "hello", "--seed", "3", "--max-steps", "40")
    assert run_cli(*args, "--model", tmp_path / "run", "--svg", tmp_path / "a.svg") == 0
    assert run_cli(*args, "--model", tmp_path / "pkg", "--svg", tmp_path / "b.svg") == 0
    capsys.readouterr()
    a, b = (tmp_path / "a.svg").read_text(), (tmp_path / "b.svg").read_text()
    assert a.startswith("<svg") or "<svg" in a[:200]
    assert a == b


def test_int8_synthesis_package(tmp_path):
    """The int8 package really is quantized (integer matmuls, a much smaller file) and stays close to the
    float package of the same model over chained steps (each package carrying its own state).

    Tolerances (measured on this tiny model, seeds 0-4, 60 chained steps): int8 vs float differs by at most
    0.007 in the MDN parameters y and 4e-4 in the attention phi; the drift the exporter records is
    0.015-0.03 on a CPU with VNNI, 0.02-0.05 on an AVX2-only one (0.04-0.23 there before the quantizer's
    7-bit ``reduce_range``: int8 products saturate without VNNI). A 2% random perturbation of the float weights already moves y by 0.05 and phi by 0.13
    over the same steps, so the bounds below (y 0.025, phi 3e-3) catch a broken quantization."""
    import onnx

    model, card = tiny_ink("ink-synthesis", seed=1)
    fpath = export_model(model, card, tmp_path / "f")
    qpath = export_model(model, card, tmp_path / "q", quantize="int8")
    flt, pkg = load_package(fpath), load_package(qpath)
    q = pkg.card["quantization"]
    assert q["scheme"] == "int8-dynamic" and "quantization" not in flt.card
    assert 0.0 < q["drift"]["max_diff"] < 0.1

    qops = {n.op_type for n in onnx.load(str(qpath / "model.onnx")).graph.node}
    fops = {n.op_type for n in onnx.load(str(fpath / "model.onnx")).graph.node}
    assert qops & {"MatMulInteger", "DynamicQuantizeLSTM"} and not fops & {"MatMulInteger", "DynamicQuantizeLSTM"}
    assert (qpath / "model.onnx").stat().st_size < 0.5 * (fpath / "model.onnx").stat().st_size  # measured 0.22

    text = "hello world"
    chars = np.zeros((1, len(text), len(CHARS)), np.float32)
    chars[0, np.arange(len(text)), [CHARS.index(ch) for ch in text]] = 1
    rng = np.random.default_rng(0)
    sf = flt.stepper.initial_state()
    sq = dict(sf)
    worst_y = worst_phi = 0.0
    for _ in range(40):
        x = rng.standard_normal((1, 3)).astype(np.float32)
        x[0, 2] = float(rng.random() < 0.1)
        a = flt.stepper.step({"x": x, "chars": chars, **sf})
        b = pkg.stepper.step({"x": x, "chars": chars, **sq})
        assert b["y"].shape == a["y"].shape and b["phi"].shape == a["phi"].shape == (1, len(text) + 1)
        worst_y = max(worst_y, float(np.abs(b["y"] - a["y"]).max()))
        worst_phi = max(worst_phi, float(np.abs(b["phi"] - a["phi"]).max()))
        sf = {k[:-4]: a[k] for k in a if k.endswith("_out")}
        sq = {k[:-4]: b[k] for k in b if k.endswith("_out")}
    assert 0.0 < worst_y <= 0.025, worst_y       # quantized (not bit-identical), yet close
    assert worst_phi <= 3e-3, worst_phi

    pts = list(pkg.generate_ink("hello", seed=2, max_steps=30))
    assert 0 < len(pts) <= 30 and all(np.isfinite(p).all() for p in pts)


def test_reference_synthesis_graph_exports_with_dynamic_text_length(tmp_path):
    model, card = tiny_ink("ink-synthesis", seed=4)
    pkg = load_package(export_model(model, card, tmp_path / "ref", graph="reference"))
    assert pkg.card["parity"]["graph"] == "reference" and len(pkg.card["parity"]["sizes"]) == 2
    kw = dict(bias=0.2, seed=1, max_steps=40)
    _same_ink(list(ink_stream(TorchStepper(model.step_module()), text="hello", vocab=CHARS, norm=NORM, **kw)),
              list(pkg.generate_ink("hello", **kw)))
