"""Checkpoints: atomic writes, names, pointers, safe loading."""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

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


# ------------------------------------------------------------------ untrusted cards, pointers, the run lock


def _edit_card(ck, **changes):
    card = json.loads((ck / "card.json").read_text())
    for k, v in changes.items():
        if k.startswith("model_config."):
            card["model_config"][k.split(".", 1)[1]] = v
        else:
            card[k] = v
    (ck / "card.json").write_text(json.dumps(card))


def _one_line(exc_info, *must_contain):
    msg = str(exc_info.value)
    assert "\n" not in msg
    for s in must_contain:
        assert str(s) in msg
    return msg


def test_untrusted_checkpoint_cards_are_refused_before_anything_is_built(tmp_path, monkeypatch):
    torch.manual_seed(0)
    run = tmp_path / "run"
    ck = _save(run, CharLM(CharLMConfig(**CFG)), 1, 2.0, best=True)
    card_text = (ck / "card.json").read_text()
    built = []
    real_build = ckpt._build

    def spy(kind, cfg):
        built.append(torch.empty(0).device.type)   # "meta" for the shape check, "cpu" for the real model
        return real_build(kind, cfg)

    monkeypatch.setattr(ckpt, "_build", spy)
    for changes, match in [({"vocab": [1, 2, 3]}, r"vocab\[0\]"),
                           ({"model_config.hidden": 20000}, "model_config.hidden"),
                           ({"model_config.hidden": "8"}, "model_config.hidden"),
                           ({"model_config.cell": "gru", "model_config.depth": 3}, "model_config.depth: unknown"),
                           ({"model_config.vocab_size": 6}, "vocab_size is 6 but vocab has 5"),
                           ({"model_config": None}, "no model_config")]:
        (ck / "card.json").write_text(card_text)
        _edit_card(ck, **changes)
        with pytest.raises(CheckpointError, match=match) as info:
            ckpt.load_model(run)
        _one_line(info, ck / "card.json")
    assert built == []
    # a card within the caps but not matching the weights: refused on the header, the model only built on "meta"
    (ck / "card.json").write_text(card_text)
    _edit_card(ck, **{"model_config.hidden": 4096})
    with pytest.raises(CheckpointError, match="do not match the model in its card") as info:
        ckpt.load_model(run)
    _one_line(info, ck, "rnn.rnns.0.weight_hh_l0 is [24, 8], the card implies [12288, 4096]")
    assert built == ["meta"]
    (ck / "card.json").write_text('{"format": "scribe-checkpoint", "a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(CheckpointError, match="nested deeper than 64 levels"):
        ckpt.load_model(run)
    assert ckpt.list_checkpoints(run) == []   # listing skips what it cannot use


def test_damaged_training_state_is_a_checkpoint_error(tmp_path):
    torch.manual_seed(0)
    ck = _save(tmp_path / "run", CharLM(CharLMConfig(**CFG)), 1, 2.0)
    (ck / "state.json").write_text(json.dumps({"trainer": [1], "optimizer": {}}))
    with pytest.raises(CheckpointError, match="state.json is damaged"):
        ckpt.load_training_state(ck)
    (ck / "state.json").write_text("[" * 10_000 + "]" * 10_000)
    with pytest.raises(CheckpointError, match="nested deeper"):
        ckpt.load_training_state(ck)
    m = CharLM(CharLMConfig(**CFG))
    with pytest.raises(CheckpointError, match="optimizer state of the checkpoint is damaged"):
        ckpt.restore_optimizer(torch.optim.SGD(m.parameters(), lr=0.1), {}, {"optimizer": {"state": [1]}})


@pytest.mark.parametrize("pointer", ["abs", "dotdot", "link", "root"])
def test_pointers_stay_inside_their_run_folder(tmp_path, pointer):
    torch.manual_seed(0)
    m = CharLM(CharLMConfig(**CFG))
    elsewhere = _save(tmp_path / "other", m, 7, 1.0)   # a real checkpoint outside the run
    run = tmp_path / "run"
    _save(run, m, 1, 2.0, best=True)
    target = {"abs": str(elsewhere), "dotdot": f"../other/checkpoints/{elsewhere.name}",
              "link": "checkpoints/escape", "root": "."}[pointer]
    if pointer == "link":
        (run / "checkpoints" / "escape").symlink_to(elsewhere, target_is_directory=True)
    for which in ("best", "last"):
        (run / f"{which}.json").write_text(json.dumps({"path": target, "step": 7}))
    with pytest.raises(CheckpointError, match="points outside its run folder") as info:
        ckpt.resolve(run)
    _one_line(info, run / "best.json")
    with pytest.raises(CheckpointError, match="points outside"):
        ckpt.load_model(run, prefer="last")
    listed = ckpt.list_checkpoints(run)   # listing and pruning never follow it
    assert [c["step"] for c in listed] == [1] and not any(c["best"] or c["last"] for c in listed)
    assert elsewhere.is_dir()


def test_the_run_lock_refuses_a_second_run_and_dies_with_its_process(tmp_path):
    run = tmp_path / "run"
    with ckpt.RunLock(run) as lock:
        assert lock.path.is_file()
        with pytest.raises(CheckpointError, match="is in use by another training run") as info:
            ckpt.RunLock(run).acquire()
        _one_line(info, run, f"process {os.getpid()}")
    assert not (run / ckpt.LOCK_NAME).exists()
    with ckpt.RunLock(run):   # released: free again
        pass
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        import engine.training.checkpoint as ckpt
        ckpt.RunLock({str(run)!r}).acquire()
        print("locked", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(CheckpointError, match=f"in use by another training run \\(process {holder.pid} on "):
            ckpt.RunLock(run).acquire()
    finally:
        holder.kill()   # SIGKILL: no clean-up code runs
        holder.wait()
    with ckpt.RunLock(run):   # the kernel dropped the lock with the process: no stale lock
        pass


def test_a_second_trainer_on_the_same_folder_is_refused(tmp_path):
    from engine.core.vocab import Vocab
    from engine.data.corpus import Corpus
    from engine.training.text_task import TextTask
    from engine.training.trainer import TrainConfig, Trainer

    text = "the quick brown fox jumps over the lazy dog. " * 20
    v = Vocab.from_text(text)
    task = TextTask(Corpus(data=v.encode(text), vocab=v), dict(cell="gru", layers=1, hidden=8, embed=4), batch=2,
                    seq_len=8, eval_blocks=2, eval_block_len=16, sample_len=5)
    trainer = Trainer(task, TrainConfig(steps=2, eval_every=2, device="cpu", seed=0), tmp_path / "run")
    with ckpt.RunLock(tmp_path / "run"):
        with pytest.raises(CheckpointError, match="in use by another training run"):
            trainer.run()
    assert not (tmp_path / "run" / "checkpoints").exists()
    assert trainer.run()["step"] == 2
    assert not (tmp_path / "run" / ckpt.LOCK_NAME).exists()


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_leftovers_of_killed_writes_are_cleaned_but_never_a_live_writers(tmp_path):
    torch.manual_seed(0)
    m = CharLM(CharLMConfig(**CFG))
    run = tmp_path / "run"
    _save(run, m, 1, 2.0)
    ck, dead = run / "checkpoints", _dead_pid()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead_dir = ck / f".step-0000002-val1.0000.tmp-{dead}-abc"
        live_dir = ck / f".step-0000002-val1.0000.tmp-{live.pid}-abc"    # another process's save in progress
        legacy_dir = ck / ".step-0000003-val1.0000.k2j4h5g6"               # from a version without process tags
        dead_tmp = run / f".last.json.tmp-{dead}-q1w2e3.tmp"
        legacy_tmp = run / ".best.json.zz11yy22.tmp"
        for d in (dead_dir, live_dir, legacy_dir):
            d.mkdir()
            (d / "model.safetensors").write_bytes(b"half")
        for f in (dead_tmp, legacy_tmp):
            f.write_text("{")
        old = time.time() - 7200
        os.utime(legacy_dir, (old, old))
        os.utime(legacy_tmp, (old, old))
        _save(run, m, 4, 1.5)    # a save's pruning: only the dead writer's leftovers
        assert not dead_dir.exists() and not dead_tmp.exists()
        assert live_dir.exists() and legacy_dir.exists() and legacy_tmp.exists()
        with ckpt.RunLock(run):  # a run starting: also what predates process tags
            assert not legacy_dir.exists() and not legacy_tmp.exists()
            assert live_dir.exists()
    finally:
        live.kill()
        live.wait()
    assert ckpt.is_stale_temp(live_dir)


def test_saves_fsync_the_files_and_the_folders_they_rename_into(tmp_path, monkeypatch):
    synced = []
    real = ckpt.fsync_path
    monkeypatch.setattr(ckpt, "fsync_path", lambda p: (synced.append(Path(p)), real(p)))
    torch.manual_seed(0)
    run = tmp_path / "run"
    final = _save(run, CharLM(CharLMConfig(**CFG)), 1, 2.0, best=True)
    names = [p.name for p in synced]
    assert {"model.safetensors", "state.safetensors", "card.json", "state.json"} <= set(names)
    assert run / "checkpoints" in synced and synced.count(run) == 2   # after the folder and after each pointer
    assert final.is_dir()


def test_export_cleans_leftovers_of_killed_exports(tmp_path):
    from engine.export.fixtures import make_tiny_package

    dead = _dead_pid()
    stale = [tmp_path / f".pkg.export-{dead}-abc", tmp_path / ".pkg.export-legacy1", tmp_path / f".pkg.old-{dead}-1"]
    mine = tmp_path / f".pkg.export-{os.getpid()}-busy"   # this process's own export in progress
    other = tmp_path / f".other.export-{dead}-abc"         # not this package's
    for d in stale + [mine, other]:
        d.mkdir()
    old = time.time() - 7200
    os.utime(stale[1], (old, old))
    make_tiny_package("text", tmp_path / "pkg")
    assert not any(d.exists() for d in stale)
    assert mine.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".pkg")) == [mine.name]


def test_the_card_schema_matches_the_models():
    from dataclasses import fields

    from engine.core import card_schema as cs
    from engine.models.handwriting import HandwritingConfig, build
    from engine.models.rnn import CELLS

    assert cs.CELLS == CELLS
    assert cs.TEXT_CONFIG_DEFAULTS == {f.name: f.default for f in fields(CharLMConfig) if f.name != "vocab_size"}
    assert cs.INK_CONFIG_DEFAULTS == {f.name: f.default for f in fields(HandwritingConfig)}
    for cfg in (dict(vocab_size=7, cell="lstm", layers=3, hidden=5, embed=3, skip=True),
                dict(vocab_size=7, cell="gru", layers=2, hidden=6, embed=2),
                dict(vocab_size=3, cell="rnn-relu", layers=1, hidden=4, embed=2, skip=True),
                dict(vocab_size=9)):
        assert cs.parameter_count("text", cfg) == sum(p.numel() for p in CharLM.from_config(cfg).parameters())
    for kind, cfg in (("ink-prediction", dict(layers=3, hidden=5, mixtures=2)),
                      ("ink-synthesis", dict(layers=2, hidden=6, mixtures=3, window_k=4, vocab_size=11)),
                      ("ink-synthesis", dict(layers=1, hidden=3, mixtures=1, window_k=1, vocab_size=2))):
        assert cs.parameter_count(kind, cfg) == sum(p.numel() for p in build(kind, cfg).parameters())
