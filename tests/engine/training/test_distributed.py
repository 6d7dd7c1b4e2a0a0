"""Data-parallel training (engine/training/distributed.py): 2 CPU processes (gloo, started by ``--nproc 2``, i.e.
torch's elastic launcher) x batch B/2 train exactly like 1 process x batch B (text and ink); a 2-process run
resumes in 1 process on the same loss curve; a batch that does not split is refused in one line; a process
killed mid-run ends the job with one line and a loadable checkpoint; Ctrl-C stops both processes after the same
step; a non-finite loss on one rank makes both skip the same steps and stop together."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import engine.training.checkpoint as ckpt
from engine.training.distributed import strip_nproc

REPO = Path(__file__).resolve().parents[3]
TIMEOUT = 300   # generous: a loaded 2-core machine starts three Python processes that import torch

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="this torch build has no gloo")

TEXT_FLAGS = ["--cell", "lstm", "--layers", "2", "--hidden", "16", "--embed", "8", "--seq-len", "12", "--batch", "8",
              "--lr", "0.01", "--warmup", "3", "--schedule", "constant", "--dropout", "0", "--eval-blocks", "4",
              "--stateful-streams", "1", "--sample-every", "1000"]
INK_FLAGS = ["--kind", "synthesis", "--layers", "1", "--hidden", "12", "--mixtures", "3", "--window-k", "2",
             "--batch", "6", "--buckets", "2", "--lr", "0.005", "--warmup", "3", "--dropout", "0", "--eval-every", "10",
             "--sample-every", "1000", "--sample-text", "the fox"]
COMMON = ["--device", "cpu", "--threads", "1", "--seed", "3", "--quiet"]


def scribe(*argv, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "engine.cli", *map(str, argv)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def in_process(*argv) -> int:
    from engine.cli.main import main

    return main([str(a) for a in argv])


def losses(events: Path) -> dict[int, float]:
    return {e["step"]: e["loss"] for e in map(json.loads, events.read_text().splitlines()) if e["type"] == "step"}


def weights(run: Path, step: int) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    cps = {c["step"]: c for c in ckpt.list_checkpoints(run)}
    return load_file(str(Path(cps[step]["path"]) / "model.safetensors"))


def assert_same_weights(a: dict, b: dict, tol: float = 1e-5) -> None:
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst <= tol, worst


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    import numpy as np

    rng = np.random.default_rng(0)
    words = "the quick brown fox jumps over a lazy dog and then sleeps in the warm sun while birds sing".split()
    path = tmp_path_factory.mktemp("text") / "c.txt"
    path.write_text("\n".join(" ".join(rng.choice(words, 9)) for _ in range(150)) + "\n")
    return path


def test_strip_nproc():
    assert strip_nproc(["train", "text", "--nproc", "2", "--out", "o", "--nproc=3", "--batch", "4"]) == \
        ["train", "text", "--out", "o", "--batch", "4"]


def test_text_two_processes_match_one_and_resume_in_one(corpus, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    # 1 process x batch 8, 30 steps (constant LR: a run stopped at 20 and resumed is the same run)
    assert in_process("train", "text", "--corpus", corpus, "--out", one, "--steps", 30, *TEXT_FLAGS, "--eval-every", 10, *COMMON,
                      "--events", tmp_path / "one.jsonl") == 0
    # 2 processes x 4 streams each, 20 steps
    r = scribe("train", "text", "--corpus", corpus, "--out", two, "--steps", 20, *TEXT_FLAGS, "--eval-every", 10, *COMMON, "--nproc", 2,
               "--events", tmp_path / "two.jsonl")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.count("finished at step 20") == 1        # rank 0 alone reports
    a, b = losses(tmp_path / "one.jsonl"), losses(tmp_path / "two.jsonl")
    assert sorted(b) == list(range(1, 21))
    assert max(abs(a[s] - b[s]) for s in b) <= 1e-5
    assert_same_weights(weights(one, 20), weights(two, 20))
    card = ckpt.read_card(ckpt.resolve(two, prefer="last"))
    assert card["batch"] == 8 and card["step"] == 20         # the global batch
    # the 2-process run's checkpoint, resumed in one process, goes on along the 1-process curve
    assert in_process("train", "text", "--out", two, "--resume", "--steps", 30, *COMMON,
                      "--events", tmp_path / "resumed.jsonl") == 0
    c = losses(tmp_path / "resumed.jsonl")
    assert sorted(c) == list(range(21, 31))
    assert max(abs(a[s] - c[s]) for s in c) <= 1e-5
    assert_same_weights(weights(one, 30), weights(two, 30))


@pytest.fixture(scope="module")
def ink_data(tmp_path_factory) -> Path:
    sys.path.insert(0, str(REPO / "tests" / "helpers"))
    from hw_data import toy_dataset, toy_texts

    path = tmp_path_factory.mktemp("ink") / "data"
    # lines of different lengths: the ranks' shares of a batch hold different numbers of points
    toy_dataset(toy_texts(24, words=2) + toy_texts(12, seed=1, words=3), val_every=6).save(path)
    return path


def test_ink_two_processes_match_one(ink_data, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert in_process("train", "ink", "--data", ink_data, "--out", one, "--steps", 20, *INK_FLAGS, *COMMON,
                      "--events", tmp_path / "one.jsonl") == 0
    r = scribe("train", "ink", "--data", ink_data, "--out", two, "--steps", 20, *INK_FLAGS, *COMMON, "--nproc", 2,
               "--events", tmp_path / "two.jsonl")
    assert r.returncode == 0, r.stderr
    a, b = losses(tmp_path / "one.jsonl"), losses(tmp_path / "two.jsonl")
    assert sorted(b) == list(range(1, 21))
    assert max(abs(a[s] - b[s]) for s in b) <= 1e-5
    assert_same_weights(weights(one, 20), weights(two, 20))


def test_batch_that_does_not_split_is_refused_in_one_line(corpus, tmp_path):
    r = scribe("train", "text", "--corpus", corpus, "--out", tmp_path / "r", "--steps", 2, *TEXT_FLAGS, *COMMON,
               "--batch", 5, "--nproc", 2)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines == [lines[0]] and lines[0].startswith("scribe: error:") and "multiple of 2" in lines[0], r.stderr


def _worker_pids(launcher: int) -> dict[int, int]:
    """rank -> pid of the launcher's worker processes (Linux /proc)."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid != launcher:
                continue
            env = dict(kv.split("=", 1) for kv in (d / "environ").read_bytes().decode(errors="replace").split("\0")
                       if "=" in kv)
        except (OSError, IndexError, ValueError):
            continue
        if "RANK" in env:
            out[int(env["RANK"])] = int(d.name)
    return out


def _two_process_run(corpus, run):
    """A 2-process text run (``--nproc 2``) that has written its first checkpoint."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "train", "text", "--corpus", str(corpus), "--out",
                             str(run), "--steps", "1000000", *TEXT_FLAGS, "--eval-every", "5", *COMMON,
                             "--nproc", "2"], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + TIMEOUT
    while not (run.is_dir() and ckpt.list_checkpoints(run)):
        if proc.poll() is not None:
            pytest.fail(proc.stderr.read())
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no checkpoint in time")
        time.sleep(0.2)
    return proc


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the worker processes in /proc")
def test_a_killed_process_ends_the_job_in_one_line_and_keeps_the_checkpoint(corpus, tmp_path):
    run = tmp_path / "run"
    proc = _two_process_run(corpus, run)
    try:
        pids = _worker_pids(proc.pid)
        assert set(pids) == {0, 1}
        os.kill(pids[1], signal.SIGKILL)
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode != 0
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("scribe: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert "process 1 of 2 was killed by SIGKILL" in errors[0] and "is kept" in errors[0], errors[0]
    model, card = ckpt.load_model(run, prefer="last")     # the last checkpoint is whole
    assert card["step"] >= 5 and card["step"] % 5 == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the worker processes in /proc")
def test_ctrl_c_stops_every_process_at_the_same_step(corpus, tmp_path):
    run = tmp_path / "run"
    proc = _two_process_run(corpus, run)
    try:
        proc.send_signal(signal.SIGINT)          # what Ctrl-C in the terminal does: torch's launcher passes it on
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "Traceback" not in err and "scribe: error" not in err, err
    assert err.count("stopped at step") == 1, err
    last = ckpt.list_checkpoints(run)[-1]["step"]
    assert f"stopped at step {last};" in err     # both ranks stopped after the same step; rank 0 saved it
    ckpt.load_model(run, prefer="last")


# ---- a non-finite loss on one rank: both ranks skip the same steps and stop together ---------------------------

def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nan_worker(rank: int, port: int, out: str, corpus: str, results) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from engine.core.errors import TrainingError
    from engine.core.vocab import Vocab
    from engine.data.corpus import Corpus
    from engine.training import distributed
    from engine.training.text_task import TextTask
    from engine.training.trainer import TrainConfig, Trainer, seed_everything

    dist = distributed.init("cpu")
    text = Path(corpus).read_text()
    v = Vocab.from_text(text)
    seed_everything(0)
    task = TextTask(Corpus(data=v.encode(text), vocab=v), dict(cell="lstm", layers=1, hidden=8, embed=4), batch=4,
                    seq_len=8, eval_blocks=2, eval_block_len=16, sample_len=5, stateful_max=2000, dist=dist)
    step = {"n": 0}
    plain = task.train_loss

    def train_loss():          # rank 1 alone goes non-finite from its 4th batch on
        loss, n = plain()
        step["n"] += 1
        return (loss * float("nan"), n) if rank == 1 and step["n"] >= 4 else (loss, n)

    task.train_loss = train_loss
    events = []
    trainer = Trainer(task, TrainConfig(steps=50, lr=1e-2, warmup=1, eval_every=3, sample_every=1000, device="cpu",
                                        seed=0, max_bad_steps=2), out, callbacks=[events.append], dist=dist)
    try:
        trainer.run()
        results.put((rank, "finished", trainer.step, None))
    except TrainingError as exc:
        results.put((rank, str(exc), trainer.step, getattr(exc, "shared", False)))
    finally:
        distributed.shutdown()


def test_a_non_finite_loss_on_one_rank_stops_every_rank_the_same_way(corpus, tmp_path):
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_nan_worker, args=(r, port, str(tmp_path / "run"), str(corpus), results))
             for r in range(2)]
    for p in procs:
        p.start()
    got = sorted(results.get(timeout=TIMEOUT) for _ in procs)
    for p in procs:
        p.join(TIMEOUT)
    assert [p.exitcode for p in procs] == [0, 0]
    (r0, msg0, step0, shared0), (r1, msg1, step1, shared1) = got
    assert step0 == step1 == 3                     # steps 4 and 5 skipped on both ranks, then both stop
    assert msg0 == msg1 and "non-finite loss" in msg0 and shared0 and shared1
    model, card = ckpt.load_model(tmp_path / "run", prefer="last")   # the good checkpoint of step 3
    assert card["step"] == 3


def test_a_packaged_build_says_that_several_processes_need_a_pip_install(monkeypatch):
    from engine.core.errors import ScribeError
    from engine.training import distributed

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    with pytest.raises(ScribeError, match="installed with pip"):
        distributed.launch(2, ["train", "text"], "out", "cpu")
