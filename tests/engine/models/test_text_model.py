"""Stacked RNN cells, truncated BPTT state carry, learning a periodic corpus."""

import numpy as np
import pytest
import torch

from engine.core.vocab import Vocab
from engine.data.corpus import Corpus
from engine.models.charlm import CharLM, CharLMConfig
from engine.models.rnn import CELLS, state_tensors, unflatten_state
from engine.training.text_task import StreamBatcher, TextTask
from engine.training.trainer import TrainConfig, Trainer


def corpus_of(text: str) -> Corpus:
    v = Vocab.from_text(text)
    return Corpus(data=v.encode(text), vocab=v)


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("cell", CELLS)
def test_cell_by_cell_step_matches_fused_forward(cell, skip):
    torch.manual_seed(0)
    m = CharLM(CharLMConfig(vocab_size=7, cell=cell, layers=2, hidden=12, embed=5, skip=skip)).eval()
    x = torch.randint(0, 7, (3, 6))
    with torch.no_grad():
        ref, ref_state = m(x)
        state, outs = None, []
        for t in range(6):
            out, state, hs = m.rnn.step_cells(m.embed(x[:, t]), state)
            outs.append(m.head(out))
            assert len(hs) == 2 and hs[0].shape == (3, 12)
    torch.testing.assert_close(torch.stack(outs, 1), ref, rtol=1e-5, atol=1e-5)
    a, b = state_tensors(state), state_tensors(ref_state)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_init_options(cell):
    torch.manual_seed(0)
    m = CharLM(CharLMConfig(vocab_size=5, cell=cell, layers=2, hidden=8, embed=4, gate_bias=2.0))
    w = m.rnn.rnns[0].weight_hh_l1
    for k in range(w.shape[0] // 8):  # every gate block of the recurrent matrix is orthogonal
        blk = w[k * 8:(k + 1) * 8].detach()
        torch.testing.assert_close(blk @ blk.T, torch.eye(8), atol=1e-5, rtol=0)
    b = m.rnn.rnns[0].bias_ih_l0.detach()
    if cell == "lstm":
        assert torch.all(b[8:16] == 2.0) and torch.all(b[:8] == 0)     # forget gate
    elif cell == "gru":
        assert torch.all(b[8:16] == 2.0) and torch.all(b[16:] == 0)    # update gate
    else:
        assert torch.all(b == 0)


def test_state_round_trips_through_named_tensors():
    for cell in ("lstm", "gru"):
        for skip in (False, True):
            m = CharLM(CharLMConfig(vocab_size=5, cell=cell, layers=2, hidden=4, embed=3, skip=skip))
            _, st = m(torch.zeros(2, 3, dtype=torch.long))
            back = unflatten_state(state_tensors(st))
            assert type(back) is list and len(back) == len(st)
            assert all(type(a) is type(b) for a, b in zip(back, st))
            assert all(torch.equal(a, b) for a, b in zip(state_tensors(back).values(), state_tensors(st).values()))


def test_stream_batcher_chunks_are_contiguous():
    data = np.arange(1000, dtype=np.int32) % 251
    b = StreamBatcher(data.astype(np.uint8), batch=4, seq_len=10)
    x1, y1, w1 = b.next()
    x2, y2, w2 = b.next()
    assert not w1 and not w2
    assert torch.equal(x1[:, 1:], y1[:, :-1])
    assert torch.equal(x2[:, 0], y1[:, -1])           # the next chunk continues each stream
    assert torch.equal(x1[1, 0], torch.tensor(data[b.stream_len]).long())
    for _ in range(b.stream_len // 10 - 2):
        b.next()
    _, _, wrapped = b.next()
    assert wrapped and b.epoch == 1


def test_state_carries_across_chunks_without_gradient():
    # chunk 1 of every stream uses only 'abcd', chunk 2 only 'efgh': if a gradient crossed the chunk
    # boundary the embedding rows of 'abcd' would get gradient from chunk 2's loss
    T = 8
    streams = ["abcdabcd" + "efghefgh" + "x" for _ in range(3)]
    text = "".join(s[:-1] for s in streams) + "e"
    task = TextTask(corpus_of(text * 2), dict(cell="lstm", layers=2, hidden=16, embed=8), batch=3, seq_len=T)
    data = task.vocab.encode(text)
    task.batcher = StreamBatcher(data, batch=3, seq_len=T)  # exactly our three streams
    L = task.batcher.stream_len
    assert L == 2 * T
    task.model.eval()
    loss1, _ = task.train_loss()
    carried = task.hidden
    assert all(not t.requires_grad for t in state_tensors(carried).values())
    task.model.zero_grad()
    loss2, _ = task.train_loss()
    loss2.backward()
    g = task.model.embed.weight.grad
    first = [task.vocab.index[c] for c in "abcd"]
    second = [task.vocab.index[c] for c in "efgh"]
    assert torch.count_nonzero(g[first]) == 0
    assert torch.count_nonzero(g[second]) > 0
    # ... and the forward state did flow: chunk 2 from the carried state == the second half of one long pass
    x_full = torch.from_numpy(data[:3 * L].reshape(3, L).astype(np.int64))
    y_full = torch.from_numpy(data[1:3 * L + 1].reshape(3, L).astype(np.int64))
    with torch.no_grad():
        logits, _ = task.model(x_full)
        ref2 = torch.nn.functional.cross_entropy(logits[:, T:].reshape(-1, logits.shape[-1]), y_full[:, T:].reshape(-1))
        fresh, _ = task.model(x_full[:, T:])
        no_carry = torch.nn.functional.cross_entropy(fresh.reshape(-1, fresh.shape[-1]), y_full[:, T:].reshape(-1))
    torch.testing.assert_close(loss2.detach(), ref2, rtol=1e-5, atol=1e-6)
    assert abs(float(no_carry) - float(ref2)) > 1e-4


@pytest.mark.parametrize("cell,skip", [("rnn-tanh", False), ("rnn-relu", False), ("gru", False), ("lstm", False),
                                       ("lstm", True)])
def test_every_cell_learns_a_periodic_corpus(tmp_path, cell, skip):
    text = "abcdefghij" * 300
    torch.manual_seed(0)
    task = TextTask(corpus_of(text), dict(cell=cell, layers=1 if not skip else 2, hidden=32, embed=8, skip=skip),
                    batch=8, seq_len=20, eval_blocks=4, eval_block_len=200, sample_len=10)
    cfg = TrainConfig(steps=150, lr=1e-2, warmup=10, eval_every=150, clip=1.0, device="cpu", weight_decay=0.0)
    summary = Trainer(task, cfg, tmp_path / "run").run()
    m = summary["metrics"]
    # from a fresh state the first character of a block is a guess (ln 10 / 200 = 0.0115 of the mean)
    assert m["val_loss"] < 0.05, m
    assert m["val_loss_stateful"] < 0.05, m
