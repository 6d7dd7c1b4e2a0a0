"""Checkpoints: atomic writes, names, pointers, safe loading."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch

import engine.training.checkpoint as ckpt
from engine.core.errors import CheckpointError
from engine.models.charlm import CharLM, CharLMConfig

CFG = dict(vocab_size=5, cell="gru", layers=1, hidden=8, embed=4)


def _card(step, val):
    return {"kind": "text", "model_config": CharLMConfig(**CFG).__dict__, "vocab": list("abcde"), "step": step,
            "metrics": {"val_loss": val}}


def _save(run, model, step, val, best=False, keep_last=2):
    return ckpt.save_checkpoint(run, model=model, card=_card(step, val), optimizer=None, is_best=best,
                                keep_last=keep_last)


def test_names_pointers_and_pruning(tmp_path):
    torch.manual_seed(0)
    m = CharLM(CharLMConfig(**CFG))
    run = tmp_path / "run"
    p1 = _save(run, m, 100, 2.5, best=True)
    assert p1.name == "step-0000100-val2.5000"
    _save(run, m, 200, 2.0, best=True)
    _save(run, m, 300, 2.2)
    _save(run, m, 400, 2.3, keep_last=1)
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["step-0000200-val2.0000", "step-0000400-val2.3000"]
    assert ckpt.resolve(run).name == "step-0000200-val2.0000"
    assert ckpt.resolve(run, prefer="last").name == "step-0000400-val2.3000"
    listed = ckpt.list_checkpoints(run)
    assert [(c["step"], c["best"], c["last"]) for c in listed] == [(200, True, False), (400, False, True)]
    # pointers lost: the newest complete checkpoint is used
    (run / "last.json").unlink()
    (run / "best.json").unlink()
    assert ckpt.resolve(run).name == "step-0000400-val2.3000"


_DIE = textwrap.dedent("""
    import os, sys, torch
    import engine.training.checkpoint as ckpt
    from engine.models.charlm import CharLM, CharLMConfig
    run, where = sys.argv[1], sys.argv[2]
    cfg = dict(vocab_size=5, cell="gru", layers=1, hidden=8, embed=4)
    card = lambda step: {"kind": "text", "model_config": CharLMConfig(**cfg).__dict__, "vocab": list("abcde"),
                         "step": step, "metrics": {"val_loss": 3.0 - step}}
    torch.manual_seed(0)
    m = CharLM(CharLMConfig(**cfg))
    ckpt.save_checkpoint(run, model=m, card=card(1), is_best=True)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(1.0)
    if where == "weights":          # the process dies half way through writing the new state file
        orig = ckpt.save_file
        def dying(tensors, path, *a, **k):
            if path.endswith("state.safetensors"):
                with open(path, "wb") as fh:
                    fh.write(b"half a file")
                os._exit(9)
            return orig(tensors, path, *a, **k)
        ckpt.save_file = dying
    else:                           # ... or after the new folder is in place, before the pointers move
        def dying(path, text):
            os._exit(9)
        ckpt.atomic_write_text = dying
    ckpt.save_checkpoint(run, model=m, card=card(2), is_best=True)
""")


@pytest.mark.parametrize("where", ["weights", "pointer"])
def test_a_save_that_dies_midway_leaves_the_last_checkpoint_loadable(tmp_path, where):
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", _DIE, str(run), where], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    assert json.loads((run / "last.json").read_text())["step"] == 1
    model, card = ckpt.load_model(run, prefer="last")
    assert card["step"] == 1
    torch.manual_seed(0)
    ref = CharLM(CharLMConfig(**CFG))
    for a, b in zip(model.state_dict().values(), ref.state_dict().values()):
        assert torch.equal(a, b)
    tensors, meta = ckpt.load_training_state(ckpt.resolve(run, prefer="last"))
    assert "rng.torch" in tensors
    # the next save clears the debris of the killed one
    _save(run, model, 3, 1.0)
    assert not list((run / "checkpoints").glob(".*"))


def test_bad_checkpoints_give_clear_errors(tmp_path):
    torch.manual_seed(0)
    run = tmp_path / "run"
    p = _save(run, CharLM(CharLMConfig(**CFG)), 1, 2.0, best=True)
    with pytest.raises(CheckpointError, match="not found"):
        ckpt.load_model(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        ckpt.load_model(tmp_path)
    (p / "model.safetensors").write_bytes(b"\x80\x04 this is a pickle, not safetensors")
    with pytest.raises(CheckpointError, match="corrupt weights"):
        ckpt.load_model(run)
    card = json.loads((p / "card.json").read_text())
    card["format"] = "something-else"
    (p / "card.json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="not a Scribe checkpoint"):
        ckpt.load_model(run)


def test_same_step_saved_twice_replaces_cleanly(tmp_path):
    torch.manual_seed(0)
    m = CharLM(CharLMConfig(**CFG))
    run = tmp_path / "run"
    _save(run, m, 5, 1.5)
    with torch.no_grad():
        m.head.bias.fill_(7.0)
    _save(run, m, 5, 1.5)
    model, _ = ckpt.load_model(run, prefer="last")
    assert torch.all(model.head.bias == 7.0)
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-0000005-val1.5000"]
