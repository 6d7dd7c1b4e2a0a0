"""InkTask on the shared trainer: batching, normalisation, evaluation, overfitting, exact resume, CLI."""

import json

import numpy as np
import pytest
import torch
from hw_data import line_stroke3, toy_dataset, toy_texts

import engine.training.checkpoint as ckpt
from engine.core.errors import DataError
from engine.data.ink_dataset import InkDataset, InkLine
from engine.training.ink_task import InkTask
from engine.training.trainer import TrainConfig, Trainer

TINY = dict(layers=2, hidden=16, mixtures=3, window_k=2)


def test_batches_are_fixed_shape_buckets_covering_every_line_once_per_epoch():
    ds = toy_dataset(toy_texts(60, words=2) + toy_texts(20, seed=1, words=4), val_every=0)
    task = InkTask(ds, "synthesis", TINY, batch=8, buckets=3, val_fraction=0.1)
    n_train = len(task.train_lines)
    shapes = set()
    seen = []
    for b, idx in task.plan:
        assert len(idx) == 8
        t_pad, u_pad = task.bucket_shapes[b]
        assert all(len(task.train_lines[i][0]) <= t_pad for i in idx)
        assert all(len(task.train_lines[i][1]) <= u_pad for i in idx)
        seen.extend(idx.tolist())
    assert set(seen) == set(range(n_train))
    for _ in range(len(task.plan)):
        x, tgt, mask, chars = task.next_batch()
        shapes.add((tuple(x.shape), tuple(chars.shape)))
        lens = mask.sum(1).long()
        for i in range(x.shape[0]):
            n = int(lens[i])
            assert torch.equal(x[i, 0], torch.tensor([0.0, 0.0, 1.0]))      # start row
            assert torch.equal(x[i, 1:n], tgt[i, :n - 1])                  # teacher forcing, shifted by one
            assert torch.all(mask[i, n:] == 0) and torch.all(tgt[i, n:] == 0)
            assert chars[i].sum() == (chars[i].sum(1) > 0).sum()           # one-hot rows, zero padding
    assert len(shapes) <= len(task.bucket_shapes)
    assert task.epoch == 0
    task.next_batch()
    assert task.epoch == 1


def test_normalisation_from_training_split_only_and_in_card():
    texts = toy_texts(30)
    ds = toy_dataset(texts, val_every=3)
    lines = [ds.line(i) for i in range(len(ds))]
    huge = [InkLine(l.points * (100.0 if l.split == "val" else 1.0), l.text, l.writer, l.split, l.id) for l in lines]
    a = InkTask(ds, "synthesis", TINY, batch=4)
    b = InkTask(InkDataset.from_lines(huge), "synthesis", TINY, batch=4)
    assert np.allclose(a.norm.std, b.norm.std) and np.allclose(a.norm.mean, b.norm.mean)
    allp = np.concatenate([p for p, _ in a.train_lines])
    assert abs(allp[:, :2].mean()) < 0.1 and 0.8 < allp[:, :2].std() < 1.2
    card = a.card()
    assert card["norm"]["std"] == pytest.approx(a.norm.std.tolist())
    assert "".join(card["vocab"]) == "".join(sorted(set("".join(texts))))
    assert card["model_config"]["vocab_size"] == len(card["vocab"])
    assert card["points_per_char"] == pytest.approx(a.points_per_char)


def test_evaluate_reports_nats_per_point_and_per_line():
    ds = toy_dataset(toy_texts(30), val_every=3)
    task = InkTask(ds, "synthesis", TINY, batch=4)
    task.model.eval()
    with torch.no_grad():
        m = task.evaluate()
    assert m["val_lines"] == 10 and m["val_points"] == sum(len(p) for p, _ in task.val_lines)
    assert m["val_loss"] == pytest.approx(m["nats_per_line"] * m["val_lines"] / m["val_points"])
    # independent: one line at a time
    from engine.models import mdn
    total = 0.0
    with torch.no_grad():
        for p, ids in task.val_lines:
            x, tgt, mask, chars = task._tensors([(p, ids)], len(p), len(ids))
            total += float(mdn.nll(task.model(x, chars)[0], tgt, task.m, mask))
    assert m["nats_per_line"] == pytest.approx(total / 10, rel=1e-4)


def test_lines_without_text_or_too_long_are_skipped_with_counts():
    lines = [InkLine(line_stroke3("ab"), "ab"), InkLine(line_stroke3("ab"), ""),
             InkLine(line_stroke3("abcdefgh" * 5), "abcdefgh" * 5), InkLine(line_stroke3("ba"), "ba", split="val")]
    task = InkTask(InkDataset.from_lines(lines), "synthesis", TINY, batch=2, max_points=100)
    assert task.skipped == {"short": 0, "long": 1, "no_text": 1, "unknown_chars": 0}
    with pytest.raises(DataError, match="transcriptions"):
        InkTask(InkDataset.from_lines([InkLine(line_stroke3("ab"), "")] * 3), "synthesis", TINY)


def test_tiny_synthesis_model_overfits_one_line(tmp_path):
    torch.manual_seed(0)
    line = line_stroke3("fox dog")
    ds = InkDataset.from_lines([InkLine(line, "fox dog"), InkLine(line, "fox dog", split="val")])
    task = InkTask(ds, "synthesis", dict(layers=1, hidden=32, mixtures=2, window_k=2), batch=1, buckets=1)
    task.model.eval()
    with torch.no_grad():
        before = task.evaluate()["val_loss"]
    events = []
    Trainer(task, TrainConfig(steps=400, eval_every=400, lr=1e-2, warmup=0, schedule="constant", weight_decay=0),
            tmp_path, callbacks=[events.append]).run()
    after = [e for e in events if e["type"] == "eval"][-1]["val_loss"]
    assert before > 2.0 and after < -1.0, (before, after)


def _train(tmp_path, name, steps, resume=False):
    ds = toy_dataset(toy_texts(24), val_every=4)
    torch.manual_seed(0)
    task = InkTask(ds, "synthesis", TINY, batch=4, buckets=2)
    tr = Trainer(task, TrainConfig(steps=steps, eval_every=3, lr=5e-3, warmup=2, schedule="constant"), tmp_path / name)
    if resume:
        tr.resume()
    tr.run()
    return tr


def test_resume_through_the_shared_trainer_is_exact(tmp_path):
    straight = _train(tmp_path, "a", 8)
    _train(tmp_path, "b", 5)            # evals at 3 and 5 -> last checkpoint at step 5 (mid-epoch)
    resumed = _train(tmp_path, "b", 8, resume=True)
    assert resumed.step == 8
    for (n, p), (_, q) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.allclose(p, q, atol=1e-6), n
    card = json.loads((ckpt.resolve(tmp_path / "b", "last") / "card.json").read_text())
    assert card["kind"] == "ink-synthesis" and card["vocab"] and card["norm"]


def test_prediction_task_trains_and_samples(tmp_path):
    ds = toy_dataset(toy_texts(16), val_every=4)
    task = InkTask(ds, "prediction", dict(layers=2, hidden=8, mixtures=2), batch=4)
    events = []
    Trainer(task, TrainConfig(steps=3, eval_every=3, warmup=0), tmp_path, callbacks=[events.append]).run()
    sample = [e for e in events if e["type"] == "sample"][0]
    assert sample["kind"] == "ink-prediction" and len(sample["points"]) == 400
    model, card = ckpt.load_model(tmp_path)
    assert card["kind"] == "ink-prediction" and "vocab" not in card


def test_cli_train_resume_and_sample(tmp_path, run_cli):
    data = toy_dataset(toy_texts(24), val_every=4).save(tmp_path / "ds")
    out = tmp_path / "run"
    assert run_cli("train", "ink", "--data", data, "--out", out, "--preset", "tiny", "--steps", 2,
                   "--eval-every", 2, "--quiet") == 0
    assert run_cli("train", "ink", "--data", data, "--out", out, "--preset", "tiny", "--steps", 3,
                   "--eval-every", 2, "--quiet", "--resume") == 0
    assert json.loads((out / "last.json").read_text())["step"] == 3
    svg = tmp_path / "s.svg"
    inkml = tmp_path / "s.inkml"
    assert run_cli("sample", "ink", "--model", out, "--text", "dog", "--bias", 1, "--seed", 1, "--svg", svg,
                   "--inkml", inkml) == 0
    assert svg.read_text().lstrip().startswith(("<svg", "<?xml")) and "<path" in svg.read_text()
    from engine.data.inkml import read_inkml
    ink = read_inkml(inkml)[0]
    assert ink.text == "dog" and len(ink) > 1


def test_cli_unknown_characters_is_a_clear_error(tmp_path, run_cli, capsys):
    data = toy_dataset(toy_texts(12), val_every=4).save(tmp_path / "ds")
    out = tmp_path / "run"
    assert run_cli("train", "ink", "--data", data, "--out", out, "--preset", "tiny", "--steps", 1,
                   "--eval-every", 1, "--quiet") == 0
    capsys.readouterr()
    assert run_cli("sample", "ink", "--model", out, "--text", "dog Q7", "--svg", tmp_path / "x.svg") == 2
    err = capsys.readouterr().err
    assert err.startswith("scribe: error:") and "'Q'" in err and "'7'" in err and "Traceback" not in err
    assert not (tmp_path / "x.svg").exists()


def _train_graphs(tmp_path, name, mode, steps=7, poison_at=None):
    ds = toy_dataset(toy_texts(24), val_every=4)
    torch.manual_seed(0)
    task = InkTask(ds, "synthesis", TINY, batch=4, buckets=2)
    if poison_at is not None:  # one batch with a NaN input: that step must be skipped, in both paths
        real = task.next_static_batch
        calls = {"n": 0}

        def poisoned():
            key, batch = real()
            calls["n"] += 1
            if calls["n"] == poison_at:
                batch[0] = batch[0].clone()
                batch[0][0, 1, 0] = float("nan")
            return key, batch
        task.next_static_batch = poisoned
    events = []
    tr = Trainer(task, TrainConfig(steps=steps, eval_every=100, lr=5e-3, warmup=2, schedule="constant",
                                   cuda_graphs=mode), tmp_path / name, callbacks=[events.append])
    tr.run()
    return tr, events


@pytest.mark.parametrize("poison_at", [None, 3])
def test_static_batch_steps_match_ordinary_steps_exactly(tmp_path, poison_at):
    """The code path that CUDA graphs replay (static input buffers, gradients zeroed in place, norms and
    clipping inside the step, the update outside it) run eagerly on the CPU gives the same training."""
    a, ev_a = _train_graphs(tmp_path, "eager", "off", poison_at=poison_at)
    b, ev_b = _train_graphs(tmp_path, "static", "on", poison_at=poison_at)
    assert a._graphed is None and b._graphed is not None and b._graphed.capture is False
    steps = lambda ev: [(e["step"], e["loss"], e["grad_norm"], e["layer_grad_norms"]) for e in ev if e["type"] == "step"]  # noqa: E731
    assert steps(ev_a) == steps(ev_b) and len(steps(ev_a)) == 7
    for (ka, va), (kb, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    warned = [e for e in ev_b if e["type"] == "warning" and "non-finite" in e["message"]]
    assert len(warned) == (1 if poison_at else 0)
    assert a.skipped_steps == b.skipped_steps == (1 if poison_at else 0)


def test_cuda_graphs_setting_is_checked(tmp_path):
    ds = toy_dataset(toy_texts(8), val_every=4)
    task = InkTask(ds, "synthesis", TINY, batch=4, buckets=1)
    from engine.core.errors import TrainingError
    with pytest.raises(TrainingError, match="cuda_graphs"):
        Trainer(task, TrainConfig(steps=1, cuda_graphs="yes"), tmp_path / "x")
    assert Trainer(task, TrainConfig(steps=1), tmp_path / "y")._graphed is None   # auto: CUDA only


def test_cli_training_is_reproducible_for_a_seed(tmp_path, run_cli):
    data = toy_dataset(toy_texts(16), val_every=4).save(tmp_path / "ds")
    weights = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        torch.manual_seed(len(name) * 1000 + ord(name))  # whatever the global RNG was, --seed decides
        out = tmp_path / name
        assert run_cli("train", "ink", "--data", data, "--out", out, "--preset", "tiny", "--steps", 2,
                       "--eval-every", 2, "--quiet", "--seed", seed) == 0
        model, _ = ckpt.load_model(out)
        weights.append(model.state_dict())
    same = lambda x, y: all(torch.equal(x[k], y[k]) for k in x)  # noqa: E731
    assert same(weights[0], weights[1]) and not same(weights[0], weights[2])


@pytest.mark.parametrize("join", ["baseline", "pen"])
def test_paired_lines_are_scored_as_a_primed_line_is(join):
    """A paired batch row's loss on its second line is the primed NLL ``engine.core.ink_score`` gives (the
    prime teacher-forced, the window placed, the line a word space right of the prime, placed by the join). Training
    leaves the window free through the prime, so the scorer does too (``guide_prime=False``)."""
    from engine.core.ink_score import score_line
    from engine.models import mdn
    from engine.models.torch_stepper import TorchStepper
    from engine.training.ink_task import PairedInkTask

    torch.manual_seed(0)
    task = PairedInkTask(toy_dataset(toy_texts(24)), "synthesis", dict(layers=2, hidden=8, mixtures=2, window_k=2),
                         batch=6, buckets=1, pairs=1.0, join=join, seed=3)
    task.model.eval()
    x, tgt, mask, chars, chars2, at = task.next_batch()
    assert (at >= 0).all()                         # pairs=1: every line follows another of its writer
    with torch.no_grad():
        y, _ = task.model(x, chars, switch=(at, chars2))
    # recompute row 0 through the numpy scorer: prime = the first line, then the second
    a = int(at[0])
    n = int(mask[0].sum())
    pts = task.norm.denormalise(tgt[0, :n].numpy())
    prime, line = pts[:a], pts[a:].copy()
    prime_text = task.vocab.decode([int(i) for i in chars[0].argmax(-1)[:int(chars[0].sum())]])
    line_text = task.vocab.decode([int(i) for i in chars2[0].argmax(-1)[:int(chars2[0].sum())]])[1:]
    nll = score_line(TorchStepper(task.model.step_module()), line, text=line_text, vocab=task.vocab, norm=task.norm,
                     prime_stroke3=prime, prime_text=prime_text, gap=task.ink_scale.prime_gap,
                     join=join, guide_prime=False)
    assert task.ink_scale.join == join and task.card()["ink_scale"]["join"] == join
    with torch.no_grad():
        row = y[:1, a:n]
        want = float(mdn.nll(row, tgt[:1, a:n], task.m, mask[:1, a:n]))
    assert float(np.sum(nll)) == pytest.approx(want, rel=1e-4, abs=1e-3)
    # the writers match, and a paired model trains (loss finite, gradients reach the window)
    task.model.train()
    loss, units = task.train_loss()
    loss.backward()
    assert torch.isfinite(loss) and units > 0 and task.model.window.weight.grad.abs().sum() > 0


def test_cli_pairs_train_priming_and_resume_keeps_it(tmp_path, run_cli, capsys):
    from engine.cli.ink import build_ink_trainer
    from engine.cli.main import build_parser
    from engine.training.ink_task import PairedInkTask

    data = toy_dataset(toy_texts(24), val_every=4).save(tmp_path / "ds")
    out = tmp_path / "run"
    assert run_cli("train", "ink", "--data", data, "--out", out, "--preset", "tiny", "--steps", 2, "--pairs", 0.5,
                   "--join", "pen", "--eval-every", 2, "--quiet") == 0
    card = json.loads((out / ckpt.resolve(out).relative_to(out) / "card.json").read_text())
    assert card["settings"]["pairs"] == 0.5 and card["data"]["pairs"] == 0.5
    assert card["settings"]["join"] == "pen" and card["ink_scale"]["join"] == "pen"
    args = build_parser().parse_args(["train", "ink", "--data", str(data), "--out", str(out), "--resume",
                                      "--steps", "3"])
    trainer = build_ink_trainer(args)
    assert isinstance(trainer.task, PairedInkTask) and trainer.task.pairs == 0.5
    assert trainer.task.ink_scale.join == "pen"                   # the join is a saved setting too
    capsys.readouterr()
    # without --join, pairs join on the baseline; a join without pairs is refused in one line
    assert run_cli("train", "ink", "--data", data, "--out", tmp_path / "r3", "--preset", "tiny", "--steps", 1,
                   "--pairs", 0.5, "--quiet") == 0
    assert ckpt.read_card(ckpt.resolve(tmp_path / "r3"))["ink_scale"]["join"] == "baseline"
    capsys.readouterr()
    assert run_cli("train", "ink", "--data", data, "--out", tmp_path / "r4", "--preset", "tiny", "--steps", 1,
                   "--join", "pen", "--quiet") != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--join" in err[0] and "--pairs" in err[0]
    assert not (tmp_path / "r4").exists() or not ckpt.list_checkpoints(tmp_path / "r4")
    with pytest.raises(SystemExit) as exc:
        run_cli("train", "ink", "--data", data, "--out", tmp_path / "r2", "--pairs", 2)
    assert exc.value.code == 2 and "--pairs" in capsys.readouterr().err
