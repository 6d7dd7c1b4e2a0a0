"""The vanishing-gradient probe ||dL_t/dh_{t-k}|| for k = 0..K."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.models.charlm import CharLM, CharLMConfig
from engine.models.rnn import CELLS
from engine.training.probe import decay_summary, gradient_flow, probe_batch


def long_dependency_batch(seed: int, batch: int = 16, gap: int = 30):
    """The toy task: a key (A-D), ``gap`` noise characters, '?', then the key again. The windows end at
    '?', whose target is the key seen ``gap + 1`` steps earlier. Vocabulary: ABCDxyz?"""
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 4, size=batch)
    noise = rng.integers(4, 7, size=(batch, gap))
    return np.concatenate([keys[:, None], noise, np.full((batch, 1), 7), keys[:, None]], axis=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lstm_gradient_decays_much_slower_than_rnn_tanh(seed):
    ids = long_dependency_batch(seed)
    K = 30
    curves = {}
    for cell in ("rnn-tanh", "lstm"):
        torch.manual_seed(seed)
        model = CharLM(CharLMConfig(vocab_size=8, cell=cell, layers=1, hidden=64, embed=16))
        curves[cell] = gradient_flow(model, ids, K)
    tanh, lstm = (decay_summary(curves[c]) for c in ("rnn-tanh", "lstm"))
    assert lstm["ratio_at_K"] > 30 * tanh["ratio_at_K"], (lstm, tanh)
    assert lstm["decay_per_step"] > tanh["decay_per_step"] + 0.05
    assert tanh["k_1000"] is not None and tanh["k_1000"] < K and lstm["k_1000"] is None


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("cell", CELLS)
def test_probe_runs_for_every_cell_and_wiring_without_touching_the_model(cell, skip):
    torch.manual_seed(0)
    model = CharLM(CharLMConfig(vocab_size=8, cell=cell, layers=2, hidden=12, embed=4, skip=skip, dropout=0.3))
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ids = torch.randint(0, 8, (3, 30))
    c1 = gradient_flow(model, ids, 10)
    c2 = gradient_flow(model, ids, 10)
    assert c1.shape == (11,) and np.all(np.isfinite(c1)) and np.all(c1 > 0)
    np.testing.assert_array_equal(c1, c2)           # eval mode inside: no dropout noise
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("cell", CELLS)
def test_probe_matches_an_independent_gradient(cell):
    """Single layer: h_{t-k} from the fused module made a leaf, run on, differentiate L_t."""
    torch.manual_seed(1)
    model = CharLM(CharLMConfig(vocab_size=6, cell=cell, layers=1, hidden=10, embed=4)).eval()
    ids = torch.randint(0, 6, (2, 20))
    K = 6
    curve = gradient_flow(model, ids, K)
    x, y = ids[:, :-1], ids[:, 1:]
    T = x.shape[1]
    for k in range(K + 1):
        with torch.no_grad():
            _, state = model(x[:, :T - k])
        entry = state[0]
        h = (entry[0] if cell == "lstm" else entry).clone().requires_grad_(True)
        if k == 0:
            logits = model.head(h[-1])
        else:
            st = [(h, entry[1])] if cell == "lstm" else [h]
            out, _ = model(x[:, T - k:], st)
            logits = out[:, -1]
        loss = F.cross_entropy(logits, y[:, -1], reduction="sum")
        (g,) = torch.autograd.grad(loss, h)
        expect = g[0].norm(dim=-1).mean().item()
        assert curve[k] == pytest.approx(expect, rel=1e-4, abs=1e-9), k


def test_probe_batch_and_bad_sizes():
    data = np.arange(500) % 7
    b = probe_batch(data.astype(np.uint8), K=20, batch=5, warmup=30, seed=1)
    assert b.shape == (5, 52) and b.dtype == np.int64
    np.testing.assert_array_equal(b, probe_batch(data.astype(np.uint8), K=20, batch=5, warmup=30, seed=1))
    model = CharLM(CharLMConfig(vocab_size=7, cell="gru", layers=1, hidden=4, embed=2))
    with pytest.raises(ValueError, match="at least"):
        gradient_flow(model, b[:, :10], 20)


def test_probe_cli(tmp_path, run_cli, capsys):
    c = tmp_path / "c.txt"
    c.write_text("abcdefgh " * 60, encoding="utf-8")
    assert run_cli("probe", "--cell", "rnn-tanh,lstm", "--corpus", c, "-k", "8", "--hidden", "16",
                   "--warmup", "5") == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "rnn-tanh (fresh)" in lines[0] and "lstm (fresh)" in lines[0]
    assert [ln.split()[0] for ln in lines[1:10]] == [str(k) for k in range(9)]
    assert "mean decay per step" in out
    assert run_cli("train", "text", "--corpus", c, "--out", tmp_path / "run", "--steps", "2", "--layers", "1",
                   "--hidden", "8", "--embed", "4", "--batch", "2", "--seq-len", "8", "--quiet") == 0
    capsys.readouterr()
    assert run_cli("probe", "--model", tmp_path / "run", "--corpus", c, "-k", "5", "--json", "--warmup", "3") == 0
    import json

    res = json.loads(capsys.readouterr().out)
    assert list(res) == ["lstm (trained)"] and len(res["lstm (trained)"]["curve"]) == 6
    assert run_cli("probe", "--corpus", c) == 2
    assert "give --model" in capsys.readouterr().err
