"""The shared trainer: clipping, NaN guard, best/last + early stopping, events, resume."""

import json
import math

import numpy as np
import pytest
import torch

import engine.training.checkpoint as ckpt
import engine.training.trainer as trainer_mod
from engine.core.errors import TrainingError
from engine.core.events import read_events
from engine.core.vocab import Vocab
from engine.data.corpus import Corpus
from engine.training.text_task import TextTask
from engine.training.trainer import Control, TrainConfig, Trainer, grad_norms_and_clip, layer_groups

TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
        "foolishness, it was the epoch of belief, it was the epoch of incredulity.\n") * 12
TINY = dict(cell="lstm", layers=2, hidden=16, embed=8)


def tiny_task(**kw) -> TextTask:
    v = Vocab.from_text(TEXT)
    args = dict(batch=4, seq_len=16, eval_blocks=4, eval_block_len=32, sample_len=20)
    args.update(kw)
    return TextTask(Corpus(data=v.encode(TEXT), vocab=v), dict(TINY), **args)


def cfg(**kw) -> TrainConfig:
    base = dict(steps=6, lr=1e-2, warmup=2, eval_every=3, device="cpu", seed=0)
    base.update(kw)
    return TrainConfig(**base)


def test_clip_reports_pre_clip_norms_and_bounds_the_step():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    groups = layer_groups(model)
    assert list(groups) == ["0", "2"]  # weight and bias of a layer together
    assert list(layer_groups(tiny_task().model)) == ["embed", "rnn.rnns.0.l0", "rnn.rnns.0.l1", "head"]
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 10
    expect_layers = {n: math.sqrt(sum(float(p.grad.pow(2).sum()) for p in ps)) for n, ps in groups.items()}
    expect_total = math.sqrt(sum(v * v for v in expect_layers.values()))
    total, per = grad_norms_and_clip(groups, 1.5)
    assert float(total) == pytest.approx(expect_total, rel=1e-5)
    assert per.tolist() == pytest.approx(list(expect_layers.values()), rel=1e-5)
    after = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in model.parameters()))
    assert after <= 1.5 * (1 + 1e-5) and after == pytest.approx(1.5, rel=1e-4)
    # under the threshold nothing changes
    for p in model.parameters():
        p.grad = torch.full_like(p, 1e-3)
    before = [p.grad.clone() for p in model.parameters()]
    total, _ = grad_norms_and_clip(groups, 1.5)
    assert all(torch.equal(a, p.grad) for a, p in zip(before, model.parameters()))


def test_trainer_reports_clipping_and_steps_with_clipped_gradients(tmp_path):
    task = tiny_task()
    events = []
    tr = Trainer(task, cfg(steps=4, clip=0.05, eval_every=100), tmp_path / "run", callbacks=[events.append])
    seen = []
    orig = tr.opt.step

    def step(*a, **k):
        seen.append(math.sqrt(sum(float(p.grad.pow(2).sum()) for p in tr.model.parameters() if p.grad is not None)))
        return orig(*a, **k)

    tr.opt.step = step
    tr.run()
    steps = [e for e in events if e["type"] == "step"]
    assert len(steps) == 4 and len(seen) == 4
    for e, post in zip(steps, seen):
        assert e["clipped"] is True and e["grad_norm"] > 0.05      # reported: the norm BEFORE clipping
        assert post <= 0.05 * (1 + 1e-4)                           # applied: at most the threshold
        assert math.sqrt(sum(v * v for v in e["layer_grad_norms"].values())) == pytest.approx(e["grad_norm"], rel=1e-4)
    tr2 = Trainer(tiny_task(), cfg(steps=2, clip=1e6, eval_every=100), tmp_path / "run2",
                  callbacks=[events.append])
    events.clear()
    tr2.run()
    assert not any(e["clipped"] for e in events if e["type"] == "step")


class FlakyTask(TextTask):
    """A text task whose loss is NaN on chosen steps."""

    def __init__(self, bad_steps, **kw):
        v = Vocab.from_text(TEXT)
        super().__init__(Corpus(data=v.encode(TEXT), vocab=v), dict(TINY), batch=4, seq_len=16, eval_blocks=4,
                         eval_block_len=32, sample_len=10, **kw)
        self.bad = bad_steps
        self.calls = 0

    def train_loss(self):
        loss, n = super().train_loss()
        self.calls += 1
        if self.bad(self.calls):
            loss = loss * float("nan")
        return loss, n


def _finite_weights(run_dir):
    from safetensors.torch import load_file

    for c in ckpt.list_checkpoints(run_dir):
        w = load_file(str(ckpt.Path(c["path"]) / "model.safetensors"))
        assert all(torch.isfinite(t).all() for t in w.values())


def test_nan_guard_skips_and_counts(tmp_path):
    events = []
    task = FlakyTask(lambda i: i in (3, 4))
    summary = Trainer(task, cfg(steps=6), tmp_path / "run", callbacks=[events.append]).run()
    assert summary["status"] == "finished" and summary["step"] == 6
    assert summary["skipped_steps"] == 2 and task.calls == 8
    warnings = [e for e in events if e["type"] == "warning"]
    assert len(warnings) == 2 and "non-finite loss" in warnings[0]["message"]
    _finite_weights(tmp_path / "run")


def test_nan_guard_stops_after_repeated_failures_without_a_nan_checkpoint(tmp_path):
    events = []
    task = FlakyTask(lambda i: i > 4)
    tr = Trainer(task, cfg(steps=50, eval_every=2, max_bad_steps=3), tmp_path / "run", callbacks=[events.append])
    with pytest.raises(TrainingError, match="3 steps in a row had a non-finite loss; stopped at step 4"):
        tr.run()
    assert events[-1]["type"] == "error"
    cks = ckpt.list_checkpoints(tmp_path / "run")
    assert [c["step"] for c in cks] == [2, 4]
    _finite_weights(tmp_path / "run")
    model, card = ckpt.load_model(tmp_path / "run", prefer="last")
    assert card["step"] == 4


def test_non_finite_weights_are_never_saved(tmp_path):
    tr = Trainer(tiny_task(), cfg(steps=2, eval_every=1), tmp_path / "run")
    tr.run()
    before = ckpt.resolve(tmp_path / "run", prefer="last")
    with torch.no_grad():
        tr.model.head.weight[0, 0] = float("nan")
    with pytest.raises(TrainingError, match="non-finite"):
        tr.save({"val_loss": 1.0}, is_best=True)
    assert ckpt.resolve(tmp_path / "run", prefer="last") == before
    assert ckpt.resolve(tmp_path / "run", prefer="best") == before


class ScriptedEvalTask(TextTask):
    def __init__(self, vals):
        v = Vocab.from_text(TEXT)
        super().__init__(Corpus(data=v.encode(TEXT), vocab=v), dict(TINY), batch=4, seq_len=16, sample_len=5)
        self.vals = list(vals)

    def evaluate(self):
        return {"val_loss": self.vals.pop(0)}


def test_best_and_last_are_kept_and_early_stopping(tmp_path):
    events = []
    task = ScriptedEvalTask([3.0, 2.0, 2.5, 2.4, 2.6, 1.0])
    tr = Trainer(task, cfg(steps=100, eval_every=2, patience=3, keep_last=1), tmp_path / "run",
                 callbacks=[events.append])
    summary = tr.run()
    assert summary["status"] == "early-stopped" and summary["step"] == 10
    assert summary["best_val_loss"] == 2.0
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert names == ["step-0000004-val2.0000", "step-0000010-val2.6000"]     # best + last only
    best = json.loads((tmp_path / "run" / "best.json").read_text())
    last = json.loads((tmp_path / "run" / "last.json").read_text())
    assert best["step"] == 4 and best["val_loss"] == 2.0 and last["step"] == 10
    _, card = ckpt.load_model(tmp_path / "run")          # best by default
    assert card["step"] == 4 and card["metrics"]["val_loss"] == 2.0
    evals = [e for e in events if e["type"] == "eval"]
    assert [e["best"] for e in evals] == [True, True, False, False, False]


def _write_corpus(tmp_path):
    p = tmp_path / "corpus.txt"
    p.write_text(TEXT, encoding="utf-8")
    return p


SMALL = ["--layers", "2", "--hidden", "16", "--embed", "8", "--batch", "4", "--seq-len", "8",
         "--eval-blocks", "4", "--quiet", "--seed", "3"]


def test_events_jsonl(tmp_path, run_cli, capsys):
    c = _write_corpus(tmp_path)
    ev = tmp_path / "events.jsonl"
    rc = run_cli("train", "text", "--corpus", c, "--out", tmp_path / "run", "--steps", "6", "--eval-every", "3",
                 "--events", ev, *SMALL)
    assert rc == 0
    events = read_events(str(ev))
    types = [e["type"] for e in events]
    assert types[0] == "start" and types[-1] == "done"
    assert types.count("step") == 6 and types.count("eval") == 2 and types.count("checkpoint") == 2
    assert types.count("sample") == 2
    start = events[0]
    assert start["kind"] == "text" and start["total_steps"] == 6 and start["unit"] == "tokens" and start["params"] > 0
    for e in events:
        assert isinstance(e["time"], float)
        if e["type"] == "step":
            assert {"step", "loss", "grad_norm", "clipped", "lr", "rate", "layer_grad_norms", "eta_s"} <= e.keys()
            assert math.isfinite(e["loss"]) and e["rate"] > 0
        if e["type"] == "eval":
            assert {"val_loss", "val_loss_stateful", "bpc", "best", "best_val_loss"} <= e.keys()
        if e["type"] == "checkpoint":
            assert ckpt.Path(e["path"]).is_dir() and f"val{e['metrics']['val_loss']:.4f}" in e["path"]
        if e["type"] == "sample":
            assert isinstance(e["text"], str) and len(e["text"]) == 300
    assert [e["step"] for e in events if e["type"] == "step"] == [1, 2, 3, 4, 5, 6]
    assert events[-1]["status"] == "finished" and events[-1]["step"] == 6
    # '-' writes them to stdout, one JSON object per line
    capsys.readouterr()
    rc = run_cli("train", "text", "--corpus", c, "--out", tmp_path / "run2", "--steps", "2", "--eval-every", "2",
                 "--events", "-", *SMALL)
    out = capsys.readouterr().out.splitlines()
    assert rc == 0 and [json.loads(line)["type"] for line in out][0] == "start"


def _weights(run_dir, which="last"):
    from safetensors.torch import load_file

    return load_file(str(ckpt.resolve(run_dir, prefer=which) / "model.safetensors"))


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_continues_bit_for_bit(tmp_path, run_cli):
    """Stop a cosine-schedule run half way (like Ctrl-C) and resume it: the weights after 2N steps equal
    those of an uninterrupted run (dropout RNG, data position, carried state and optimizer restored)."""
    from engine.cli.common import run_training
    from engine.cli.main import build_parser

    c = _write_corpus(tmp_path)
    flags = ["--steps", "12", "--eval-every", "4", "--dropout", "0.2", *SMALL]
    assert run_cli("train", "text", "--corpus", c, "--out", tmp_path / "straight", *flags) == 0
    args = build_parser().parse_args(["train", "text", "--corpus", str(c), "--out", str(tmp_path / "split"), *flags])
    trainer = args.build_trainer(args)
    trainer.events.add(lambda e: trainer.control.stop.set() if e["type"] == "step" and e["step"] == 6 else None)
    summary = run_training(trainer, args)
    assert summary["status"] == "stopped" and summary["step"] == 6
    # resume: settings (model, batch, seq-len, dropout, steps, seed ...) come from the saved run
    assert run_cli("train", "text", "--out", tmp_path / "split", "--resume", "--quiet") == 0
    _assert_same(_weights(tmp_path / "straight"), _weights(tmp_path / "split"))
    _, card = ckpt.load_model(tmp_path / "split", prefer="last")
    assert card["step"] == 12


def test_resume_with_more_steps(tmp_path, run_cli, capsys):
    """--resume with a higher --steps trains on (constant LR: equal to one run of the longer length)."""
    c = _write_corpus(tmp_path)
    flags = ["--schedule", "constant", "--warmup", "2", "--eval-every", "5", *SMALL]
    assert run_cli("train", "text", "--corpus", c, "--out", tmp_path / "long", "--steps", "10", *flags) == 0
    assert run_cli("train", "text", "--corpus", c, "--out", tmp_path / "short", "--steps", "5", *flags) == 0
    capsys.readouterr()
    assert run_cli("train", "text", "--corpus", c, "--out", tmp_path / "short", "--steps", "10", "--resume",
                   *flags) == 0
    assert "finished at step 10" in capsys.readouterr().err
    _assert_same(_weights(tmp_path / "long"), _weights(tmp_path / "short"))
    # a new run into a folder that holds one is refused (nothing is overwritten)
    rc = run_cli("train", "text", "--corpus", c, "--out", tmp_path / "short", "--steps", "5", *flags)
    err = capsys.readouterr().err
    assert rc == 2 and "already holds a training run" in err and "--resume" in err
    rc = run_cli("train", "text", "--corpus", c, "--out", tmp_path / "empty", "--resume", *flags)
    assert rc == 2 and "nothing to resume" in capsys.readouterr().err


def test_minimal_task_without_optional_hooks(tmp_path):
    """A task implementing only the documented interface (no ``warnings``) trains and checkpoints."""

    class Minimal:
        kind, unit = "text", "tokens"

        def __init__(self):
            self.inner = tiny_task()
            self.model = self.inner.model

        def to(self, device):
            self.inner.to(device)

        def train_loss(self):
            return self.inner.train_loss()

        def reset_state(self):
            self.inner.reset_state()

        def evaluate(self):
            return {"val_loss": self.inner.evaluate()["val_loss"]}

        def sample(self, seed):
            return {"text": "x"}

        def card(self):
            return self.inner.card()

        def checkpoint_state(self):
            return self.inner.checkpoint_state()

        def load_checkpoint_state(self, js, tensors):
            self.inner.load_checkpoint_state(js, tensors)

    summary = Trainer(Minimal(), cfg(steps=3, eval_every=3), tmp_path / "run").run()
    assert summary["step"] == 3 and np.isfinite(summary["best_val_loss"])


# ---- --minutes budgets (a fake clock: nothing here depends on how fast the machine is) -----------------

class FakeClock:
    """Stands in for the ``time`` module inside engine.training.trainer. Time only moves when the test (or
    a fake ``sleep``) moves it; it ticks in 1/64 s so every difference the trainer takes is exact."""

    def __init__(self, start=1024.0):
        self.now = start
        self.on_sleep = None

    def time(self):
        return self.now

    monotonic = perf_counter = time

    def advance(self, seconds):
        self.now += math.ceil(seconds * 64) / 64

    def sleep(self, seconds):
        self.advance(seconds)
        if self.on_sleep is not None:
            self.on_sleep()


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    monkeypatch.setattr(trainer_mod, "time", c)
    return c


class TimedTask(TextTask):
    """A text task whose training steps take ``durations[i]`` seconds of fake time (the last one repeats)."""

    def __init__(self, clock, durations=(6.0,)):
        v = Vocab.from_text(TEXT)
        super().__init__(Corpus(data=v.encode(TEXT), vocab=v), dict(TINY), batch=4, seq_len=16, eval_blocks=4,
                         eval_block_len=32, sample_len=5)
        self.clock, self.durations, self.calls = clock, list(durations), 0

    def train_loss(self):
        self.clock.advance(self.durations[min(self.calls, len(self.durations) - 1)])
        self.calls += 1
        return super().train_loss()


HI, LO = 1e-2, 1e-3


def _cosine(progress):
    return LO + 0.5 * (HI - LO) * (1 + math.cos(math.pi * progress))


def minutes_cfg(**kw):
    return cfg(**{"steps": None, "minutes": 1.0, "warmup": 0, "lr": HI, "min_lr": LO, "eval_every": 1000, **kw})


def _steps(events):
    return [e for e in events if e["type"] == "step"]


def test_minutes_budget_runs_a_time_based_cosine(tmp_path, clock):
    """The LR follows the cosine by the fraction of the time budget used, not by steps: 10 quick steps
    (3 s) take half the minute, 3 slow ones (10 s) the rest."""
    durations = [3.0] * 10 + [10.0] * 3
    events = []
    summary = Trainer(TimedTask(clock, durations), minutes_cfg(), tmp_path / "run", callbacks=[events.append]).run()
    assert summary["status"] == "finished" and summary["step"] == 13     # stops when the minute is used up
    used = np.cumsum([0.0] + durations)                                  # time used when each step starts
    steps = _steps(events)
    assert [e["lr"] for e in steps] == pytest.approx([_cosine(t / 60) for t in used[:13]], rel=1e-9)
    assert steps[10]["lr"] == pytest.approx(_cosine(0.5), rel=1e-9)     # a step-based cosine would be at 10/13
    assert [e["eta_s"] for e in steps] == pytest.approx([60 - t for t in used[1:]], abs=1e-9)
    _, meta = ckpt.load_training_state(ckpt.resolve(tmp_path / "run", prefer="last"))
    assert meta["trainer"]["elapsed"] == pytest.approx(60.0, abs=1e-9)
    # with a step budget as well, the schedule follows whichever is further along
    events.clear()
    Trainer(TimedTask(clock, durations), minutes_cfg(steps=20), tmp_path / "both", callbacks=[events.append]).run()
    assert [e["lr"] for e in _steps(events)] == pytest.approx(
        [_cosine(max(t / 60, k / 20)) for k, t in enumerate(used[:13])], rel=1e-9)


def test_time_spent_paused_does_not_count_against_minutes(tmp_path, clock):
    control = Control()
    events, paused_at = [], []

    def on_event(e):
        events.append(e)
        if e["type"] == "step" and e["step"] == 5:
            control.pause.set()
        if e["type"] == "paused":
            paused_at.append(clock.now)

    def release():  # the user presses Resume after ten minutes
        if clock.now - paused_at[0] >= 600:
            control.pause.clear()

    clock.on_sleep = release
    start = clock.now
    summary = Trainer(TimedTask(clock), minutes_cfg(), tmp_path / "run", callbacks=[on_event], control=control).run()
    types = [e["type"] for e in events]
    assert types.count("paused") == 1 and types.count("resumed") == 1
    paused = next(e for e in events if e["type"] == "paused")
    assert paused["step"] == 5 and [e["step"] for e in _steps(events)][:5] == [1, 2, 3, 4, 5]
    assert clock.now - start >= 660                                  # ten minutes paused, one minute training
    assert summary["status"] == "finished" and summary["step"] == 10  # the pause used none of the budget
    steps = _steps(events)
    assert [e["lr"] for e in steps] == pytest.approx([_cosine(k / 10) for k in range(10)], rel=1e-9)
    assert [e["eta_s"] for e in steps] == pytest.approx([60.0 - 6 * k for k in range(1, 11)], abs=1e-9)
    src = ckpt.resolve(tmp_path / "run", prefer="last")
    _, meta = ckpt.load_training_state(src)
    assert meta["trainer"]["elapsed"] == pytest.approx(60.0, abs=1e-9)
    assert ckpt.read_card(src)["elapsed_s"] == pytest.approx(60.0, abs=1e-9)


def test_minutes_used_are_saved_and_restored_on_resume(tmp_path, clock):
    out = tmp_path / "run"
    control = Control()
    events = []

    def stop_at_4(e):
        events.append(e)
        if e["type"] == "step" and e["step"] == 4:
            control.stop.set()

    summary = Trainer(TimedTask(clock), minutes_cfg(), out, callbacks=[stop_at_4], control=control).run()
    assert summary["status"] == "stopped" and summary["step"] == 4
    src = ckpt.resolve(out, prefer="last")
    _, meta = ckpt.load_training_state(src)
    assert meta["trainer"]["elapsed"] == pytest.approx(24.0, abs=1e-9)
    assert ckpt.read_card(src)["elapsed_s"] == pytest.approx(24.0, abs=1e-9)

    clock.advance(3600)  # an hour passes before the run is resumed: it must not count
    events.clear()
    tr = Trainer(TimedTask(clock), minutes_cfg(), out, callbacks=[events.append])
    tr.resume()
    assert tr.elapsed_before == pytest.approx(24.0, abs=1e-9)
    summary = tr.run()
    assert summary["status"] == "finished" and summary["step"] == 10   # the remaining 36 s: 6 more steps
    assert [e["step"] for e in _steps(events)] == list(range(5, 11))
    assert [e["lr"] for e in _steps(events)] == pytest.approx([_cosine(k / 10) for k in range(4, 10)], rel=1e-9)
    _, meta = ckpt.load_training_state(ckpt.resolve(out, prefer="last"))
    assert meta["trainer"]["elapsed"] == pytest.approx(60.0, abs=1e-9)

    # minutes are a total for the run: resuming with a bigger budget trains on to it
    events.clear()
    tr = Trainer(TimedTask(clock), minutes_cfg(minutes=2.0), out, callbacks=[events.append])
    tr.resume()
    assert tr.run()["step"] == 20
    assert [e["lr"] for e in _steps(events)] == pytest.approx([_cosine(k / 20) for k in range(10, 20)], rel=1e-9)


def test_minutes_cosine_starts_where_warmup_ends(tmp_path, clock):
    """With --minutes the cosine runs over the time left after warm-up: the LR goes on from its peak (it used
    to drop from 3e-3 to 1.1e-3 in one step when warm-up had taken a large share of the budget)."""
    events = []
    out = tmp_path / "run"
    control = Control()

    def on_event(e):
        events.append(e)
        if e["type"] == "step" and e["step"] == 6:
            control.stop.set()

    Trainer(TimedTask(clock), minutes_cfg(warmup=4), out, callbacks=[on_event], control=control).run()
    tr = Trainer(TimedTask(clock), minutes_cfg(warmup=4), out, callbacks=[events.append])
    tr.resume()
    assert tr.warmup_elapsed == pytest.approx(24.0, abs=1e-9)   # saved with the run
    assert tr.run()["step"] == 10
    lrs = [e["lr"] for e in _steps(events)]
    assert lrs[:4] == pytest.approx([HI * k / 4 for k in range(1, 5)], rel=1e-9)         # warm-up by steps
    assert lrs[4:] == pytest.approx([_cosine((6 * k - 24) / 36) for k in range(4, 10)], rel=1e-9)
    assert lrs[4] == pytest.approx(HI) and lrs[4] > _cosine(24 / 60) * 1.4   # not the old drop to cos(0.4)


def test_a_run_shorter_than_the_sampling_interval_still_samples(tmp_path):
    events = []
    Trainer(tiny_task(), cfg(steps=3, eval_every=10), tmp_path / "a", callbacks=[events.append]).run()
    types = [e["type"] for e in events]
    assert [e["step"] for e in events if e["type"] == "sample"] == [3]
    assert types.index("sample") > types.index("eval") and types[-1] == "done"
    events.clear()   # a sample at the last step already: none added
    Trainer(tiny_task(), cfg(steps=6, eval_every=3), tmp_path / "b", callbacks=[events.append]).run()
    assert [e["step"] for e in events if e["type"] == "sample"] == [3, 6]
    events.clear()   # stopped before any sample: one at the end
    control = Control()
    Trainer(tiny_task(), cfg(steps=50, eval_every=10), tmp_path / "c", control=control,
            callbacks=[events.append, lambda e: control.stop.set() if e.get("step") == 2 else None]).run()
    assert [e["step"] for e in events if e["type"] == "sample"] == [2]


def test_a_checkpoint_that_cannot_be_written_is_one_clear_error(tmp_path, monkeypatch):
    from safetensors import SafetensorError

    real = ckpt.save_checkpoint
    calls = []

    def fails_the_second_time(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise SafetensorError("Error while serializing: I/O error: File too large (os error 27)")
        return real(*a, **kw)

    monkeypatch.setattr(ckpt, "save_checkpoint", fails_the_second_time)
    events = []
    with pytest.raises(TrainingError) as exc:
        Trainer(tiny_task(), cfg(steps=6, eval_every=3), tmp_path / "run", callbacks=[events.append]).run()
    msg = str(exc.value)
    assert "\n" not in msg and "cannot write a checkpoint" in msg and "File too large" in msg
    assert "step 3 is kept" in msg and events[-1]["type"] == "error"
    _, card = ckpt.load_model(tmp_path / "run", prefer="last")
    assert card["step"] == 3
