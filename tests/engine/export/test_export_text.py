"""Export of char LMs: parity per cell type (with and without skip wiring), same seed -> same text through
torch and onnxruntime, atomic writes, the CLI."""

import json

import numpy as np
import pytest
import torch

import engine.training.checkpoint as ckpt
from engine.core.errors import ExportError, ScribeError
from engine.core.vocab import Vocab
from engine.export.exporter import export_model, step_module
from engine.export.fixtures import make_tiny_package
from engine.export.parity import check_parity
from engine.models.charlm import CharLM, CharLMConfig
from engine.models.torch_stepper import TorchStepper
from engine.runtime import load_package
from engine.training.text_task import generate_text

VOCAB = Vocab("\n abcdefghijklmnopqrstuvwxyz.,")


def tiny_lm(cell="lstm", skip=False, seed=0, layers=2, hidden=12):
    torch.manual_seed(seed)
    return CharLM(CharLMConfig(vocab_size=len(VOCAB), cell=cell, layers=layers, hidden=hidden, embed=6,
                               skip=skip)).eval()


def text_card(model):
    return {"kind": "text", "model_config": model.config_dict(), "vocab": VOCAB.to_json(),
            "metrics": {"val_loss": 1.5}, "data": {"files": ["x.txt"]}, "step": 7}


@pytest.mark.parametrize("skip", [False, True], ids=["stacked", "skip"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-tanh", "rnn-relu"])
def test_text_export_parity_and_same_seed_same_text(tmp_path, cell, skip):
    model = tiny_lm(cell, skip, seed=3)
    out = export_model(model, text_card(model), tmp_path / "pkg")
    card = json.loads((out / "card.json").read_text())
    assert card["format"] == "scribe-package" and card["kind"] == "text"
    assert card["parity"]["steps"] == 50 and card["parity"]["max_diff"] <= 1e-4
    assert card["parity"]["graph"] == "fused"
    assert card["vocab"] == VOCAB.to_json() and card["metrics"] == {"val_loss": 1.5}
    assert set(card["io"]["state"]) == ({"h", "c"} if cell == "lstm" else {"h"})
    assert not list(tmp_path.glob(".*")), "no temporary folders left behind"

    pkg = load_package(out)
    # chained steps through both backends from the same random state agree
    rng = np.random.default_rng(1)
    tstep, ostep = TorchStepper(step_module(model, "text")), pkg.stepper
    st_t = {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in ostep.initial_state().items()}
    st_o = dict(st_t)
    for _ in range(20):
        x = rng.integers(0, len(VOCAB), size=(1, 1))
        a, b = tstep.step({"x": x, **st_t}), ostep.step({"x": x, **st_o})
        np.testing.assert_allclose(b["logits"], a["logits"], atol=1e-5)
        st_t = {k: a[k + "_out"] for k in st_t}
        st_o = {k: b[k + "_out"] for k in st_o}

    # the torch loop and the ONNX loop draw the same characters for the same seed
    kw = dict(temperature=1.0, seed=11)
    t_text = "".join(generate_text(model, VOCAB, "the ", 120, **kw))
    o_text = "".join(pkg.generate_text("the ", 120, **kw))
    assert len(t_text) == 120 and t_text == o_text
    assert "".join(pkg.generate_text("the ", 120, temperature=1.0, seed=12)) != o_text


def test_torch_step_module_matches_the_full_sequence_model():
    """The exported single step is the same function as the training model's forward."""
    for skip in (False, True):
        model = tiny_lm("lstm", skip, seed=5)
        ids = torch.tensor(VOCAB.encode("hello world").astype(np.int64))[None]
        with torch.no_grad():
            full, _ = model(ids)
        step = TorchStepper(step_module(model, "text"))
        feeds = {"x": None, **step.initial_state()}
        for t in range(ids.shape[1]):
            feeds["x"] = ids[:, t:t + 1].numpy()
            out = step.step(feeds)
            feeds.update(h=out["h_out"], c=out["c_out"])
            np.testing.assert_allclose(out["logits"][0], full[0, t].numpy(), atol=1e-5)


def test_parity_check_reports_the_difference(tmp_path):
    from engine.export.onnx_graph import export_onnx

    model = tiny_lm(seed=1)
    step = step_module(model, "text")
    export_onnx(step, tmp_path / "m.onnx")
    with torch.no_grad():
        model.head.bias += 1e-3  # torch now disagrees with the exported graph
    with pytest.raises(ExportError, match=r"differ by 0\.001.*'logits'"):
        check_parity(step, tmp_path / "m.onnx", text_card(model))


def test_failed_export_leaves_nothing_behind(tmp_path, monkeypatch):
    import engine.export.exporter as ex

    def boom(*a, **k):
        raise ExportError("parity check failed: differ by 0.5")

    monkeypatch.setattr(ex, "check_parity", boom)
    model = tiny_lm()
    with pytest.raises(ExportError):
        export_model(model, text_card(model), tmp_path / "pkg")
    assert list(tmp_path.iterdir()) == []


def test_export_replaces_a_package_but_never_other_folders(tmp_path):
    first = make_tiny_package("text", tmp_path / "pkg", seed=1)
    old = (first / "model.onnx").read_bytes()
    again = make_tiny_package("text", tmp_path / "pkg", seed=2)
    assert again == first and (again / "model.onnx").read_bytes() != old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]

    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "todo.txt").write_text("keep me")
    with pytest.raises(ScribeError, match="not a model package"):
        make_tiny_package("text", precious)
    assert (precious / "todo.txt").read_text() == "keep me"


def test_make_tiny_package_options(tmp_path):
    p = make_tiny_package("text", tmp_path / "t", cell="gru", hidden=8, vocab="ab ", name="Tiny",
                          styles=[{"name": "s", "text": "ab", "stroke3": [[0, 0, 0], [1, 2, 1]]}])
    pkg = load_package(p)
    assert pkg.name == "Tiny" and pkg.vocab.chars == ["a", "b", " "]
    assert pkg.card["model_config"]["cell"] == "gru" and pkg.card["model_config"]["hidden"] == 8
    assert set("".join(pkg.generate_text("a", 30, seed=0))) <= set("ab ")
    assert pkg.styles[0]["name"] == "s" and pkg.styles[0]["stroke3"].shape == (2, 3)


def test_cli_export_and_sample_from_checkpoint_or_package(tmp_path, run_cli, capsys):
    model = tiny_lm("gru", True, seed=4)
    card = dict(text_card(model), metrics={"val_loss": 2.0})
    ckpt.save_checkpoint(tmp_path / "run", model=model, card=card, is_best=True)
    assert run_cli("export", tmp_path / "run", "--out", tmp_path / "pkg") == 0
    assert "exported text model" in capsys.readouterr().out
    args = ("sample", "text", "--prime", "a b", "--length", "80", "--seed", "5", "--temperature", "1")
    assert run_cli(*args, "--model", tmp_path / "run") == 0
    from_ckpt = capsys.readouterr().out
    assert run_cli(*args, "--model", tmp_path / "pkg") == 0
    from_pkg = capsys.readouterr().out
    assert from_ckpt.startswith("a b") and len(from_ckpt.strip()) >= 80
    assert from_pkg == from_ckpt

    assert run_cli("export", tmp_path / "nothing", "--out", tmp_path / "p2") == 2
    assert "scribe: error:" in capsys.readouterr().err
    assert not (tmp_path / "p2").exists()


def test_int8_package_is_smaller_and_close(tmp_path):
    import onnx

    model = tiny_lm("lstm", False, seed=2, hidden=64)
    q = export_model(model, text_card(model), tmp_path / "q", quantize="int8", seed=1)
    card = json.loads((q / "card.json").read_text())
    assert card["quantization"]["scheme"] == "int8-dynamic"
    assert 0 < card["quantization"]["drift"]["max_diff"] < 0.1
    assert card["parity"]["max_diff"] <= 1e-4  # the float graph was checked first
    ops = {n.op_type for n in onnx.load(str(q / "model.onnx")).graph.node}
    assert "MatMulInteger" in ops
    float_bytes = 4 * sum(p.numel() for p in model.parameters())
    assert (q / "model.onnx").stat().st_size < 0.5 * float_bytes
    qp = load_package(q)
    feeds = {"x": np.array([[3]]), **qp.stepper.initial_state()}
    a, b = TorchStepper(step_module(model, "text")).step(feeds)["logits"], qp.stepper.step(feeds)["logits"]
    assert 0 < np.abs(a - b).max() < 0.05
    assert len("".join(qp.generate_text("the ", 50, seed=1))) == 50
    with pytest.raises(ExportError, match="unknown quantization"):
        export_model(model, text_card(model), tmp_path / "x", quantize="int4")


def test_reference_graph_export(tmp_path):
    """The model's own step module exports too (graph="reference"), checked the same way."""
    import onnx

    model = tiny_lm("lstm", True, seed=6)
    out = export_model(model, text_card(model), tmp_path / "ref", graph="reference")
    card = json.loads((out / "card.json").read_text())
    assert card["parity"]["graph"] == "reference" and card["parity"]["max_diff"] <= 1e-4
    assert "LSTM" in {n.op_type for n in onnx.load(str(out / "model.onnx")).graph.node}
    kw = dict(temperature=1.0, seed=3)
    assert "".join(load_package(out).generate_text("a b", 60, **kw)) == "".join(generate_text(model, VOCAB, "a b", 60, **kw))
    with pytest.raises(ExportError, match="unknown graph"):
        export_model(model, text_card(model), tmp_path / "x", graph="fancy")


def test_fused_graph_that_disagrees_is_refused(tmp_path, monkeypatch):
    """The fused module is checked against the model's own step: a wrong fused graph cannot ship."""
    import engine.export.steps as es

    real = es.fused_step_module

    def broken(model, kind):
        m = real(model, kind)
        with torch.no_grad():
            m.head_b += 0.01
        return m

    monkeypatch.setattr(es, "fused_step_module", broken)
    model = tiny_lm("gru", False, seed=7)
    with pytest.raises(ExportError, match="parity check failed"):
        export_model(model, text_card(model), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_legacy_exporter_gives_the_same_package(tmp_path):
    model = tiny_lm("gru", True, seed=8)
    out = export_model(model, text_card(model), tmp_path / "legacy", exporter="legacy")
    card = json.loads((out / "card.json").read_text())
    assert card["exporter"]["exporter"] == "legacy" and card["parity"]["max_diff"] <= 1e-4
    kw = dict(temperature=1.0, seed=9)
    assert "".join(load_package(out).generate_text("ab", 50, **kw)) == "".join(generate_text(model, VOCAB, "ab", 50, **kw))
    with pytest.raises(ExportError, match="unknown exporter"):
        export_model(model, text_card(model), tmp_path / "x", exporter="jit")
    assert not (tmp_path / "x").exists()
