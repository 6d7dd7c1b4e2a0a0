"""Hardening: bad values are refused by name, absurd model sizes with an estimate, output files fail with one
line (and lose nothing), `| head` ends quietly, `train ink --resume` keeps the run's settings, the default
thread count is chosen and said, text is transliterated to the model's characters."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hw_data import toy_dataset, toy_texts

import engine.cli.common as common
from engine.cli.common import check_model_size, default_threads, estimate_params
from engine.core.errors import ScribeError

REPO = Path(__file__).resolve().parents[3]
TEXT = "the cat sat on the mat. the dog sat on the log. " * 40
SMALL_TEXT = ["--layers", "1", "--hidden", "16", "--embed", "8", "--batch", "4", "--seq-len", "8",
              "--eval-blocks", "4", "--quiet"]
INK = ["--layers", "1", "--hidden", "8", "--mixtures", "2", "--window-k", "2", "--quiet"]

TRAIN_TEXT = ["train", "text", "--corpus", "c.txt", "--out", "r"]
TRAIN_INK = ["train", "ink", "--data", "d", "--out", "r"]
SAMPLE_TEXT = ["sample", "text", "--model", "m"]
SAMPLE_INK = ["sample", "ink", "--model", "m", "--svg", "o.svg"]

BAD = [
    (TRAIN_TEXT, "--eval-every", "0"), (TRAIN_TEXT, "--hidden", "0"), (TRAIN_TEXT, "--layers", "0"),
    (TRAIN_TEXT, "--embed", "0"), (TRAIN_INK, "--window-k", "0"), (TRAIN_TEXT, "--batch", "0"),
    (TRAIN_INK, "--batch", "0"), (TRAIN_TEXT, "--dropout", "2"), (TRAIN_TEXT, "--lr", "-0.1"),
    (TRAIN_TEXT, "--lr", "nan"), (TRAIN_INK, "--lr", "nan"), (TRAIN_TEXT, "--threads", "-2"),
    (TRAIN_TEXT, "--seed", "-1"), (TRAIN_TEXT, "--steps", "0"), (TRAIN_INK, "--steps", "-5"),
    (TRAIN_TEXT, "--minutes", "-1"), (TRAIN_TEXT, "--minutes", "0"), (TRAIN_TEXT, "--warmup", "-1"),
    (TRAIN_TEXT, "--min-lr", "-1"), (TRAIN_TEXT, "--weight-decay", "-0.1"), (TRAIN_TEXT, "--sample-every", "-1"),
    (TRAIN_TEXT, "--clip", "inf"), (TRAIN_INK, "--hidden", "x"), (TRAIN_INK, "--layers", "1.5"),
    (SAMPLE_TEXT, "--temperature", "0"), (SAMPLE_TEXT, "--temperature", "-1"),
    (SAMPLE_TEXT, "--temperature", "nan"), (SAMPLE_INK, "--bias", "nan"), (SAMPLE_INK, "--bias", "inf"),
    (SAMPLE_INK, "--word-gap", "-1"), (SAMPLE_INK, "--word-gap", "nan"), (SAMPLE_INK, "--word-space", "wide"),
    (SAMPLE_INK, "--word-space", "9"), (SAMPLE_INK, "--slant", "wide"), (SAMPLE_INK, "--slant", "60"),
    (SAMPLE_INK, "--slant", "nan"), (SAMPLE_INK, "--takes", "0"), (SAMPLE_INK, "--takes", "17"),
    (SAMPLE_INK, "--takes", "2.5"),
    (SAMPLE_INK, "--bias", "-1"), (SAMPLE_TEXT, "--length", "-1"), (SAMPLE_TEXT, "--top-k", "-1"),
    (SAMPLE_INK, "--max-steps", "0"), (SAMPLE_INK, "--max-steps", "-3"), (SAMPLE_INK, "--seed", "-1"),
    (["probe", "--corpus", "c.txt"], "-k", "0"), (["probe", "--corpus", "c.txt"], "--batch", "0"),
]


@pytest.mark.parametrize("words,flag,value", BAD, ids=[f"{w[1] if w[0] != 'probe' else 'probe'}{f}={v}"
                                                       for w, f, v in BAD])
def test_bad_values_are_refused_by_name(run_cli, capsys, words, flag, value):
    with pytest.raises(SystemExit) as exc:
        run_cli(*words, f"{flag}={value}")
    assert exc.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert flag in last and value in last and "Traceback" not in err, last


def test_good_edge_values_are_accepted():
    from engine.cli.main import build_parser

    a = build_parser().parse_args([*TRAIN_TEXT, "--warmup", "0", "--dropout", "0", "--clip", "0", "--seed", "0",
                                   "--sample-every", "0", "--lr", "1e-4", "--min-lr", "0"])
    assert (a.warmup, a.dropout, a.clip, a.seed, a.lr, a.min_lr) == (0, 0.0, 0.0, 0, 1e-4, 0.0)
    a = build_parser().parse_args([*SAMPLE_TEXT, "--length", "0", "--top-k", "0", "--temperature", "0.01"])
    assert (a.length, a.top_k, a.temperature) == (0, 0, 0.01)
    spacing = [(a.word_gap, a.word_space) for a in (build_parser().parse_args([*SAMPLE_INK, *extra]) for extra in (
        [], ["--word-gap", "0", "--word-space", "AUTO"], ["--word-space", "0.25"]))]
    assert spacing == [(0.5, None), (0.0, None), (0.5, 0.25)]
    slants = [build_parser().parse_args([*SAMPLE_INK, *extra]).slant for extra in (
        [], ["--slant", "auto"], ["--slant", "Off"], ["--slant", "-12.5"])]
    assert slants == [None, None, "off", -12.5]


def test_the_size_estimate_is_close_and_absurd_models_are_refused(tmp_path, run_cli, capsys):
    from argparse import Namespace

    import torch  # noqa: F401

    from engine.models.charlm import CharLM, CharLMConfig

    s = Namespace(cell="lstm", layers=2, hidden=48, embed=8, skip=True)
    real = sum(p.numel() for p in CharLM(CharLMConfig(vocab_size=30, **vars(s))).parameters())
    assert estimate_params("text", s, 30) == real
    check_model_size("text", s, 30, available=10**9)
    with pytest.raises(ScribeError, match=r"about .* parameters.*GB.*more than the 1.0 MB of memory available"):
        check_model_size("text", Namespace(**{**vars(s), "hidden": 4096}), 30, available=10**6)
    # the CLI: one line with the estimate, at once (no 160 GB allocation), nothing written
    c = tmp_path / "c.txt"
    c.write_text(TEXT, encoding="utf-8")
    rc = run_cli("train", "text", "--corpus", c, "--out", tmp_path / "huge", "--hidden", "100000", "--quiet")
    err = capsys.readouterr().err
    assert rc == 2 and "--hidden 100000" in err and "billion parameters" in err and "TB" in err
    assert "Traceback" not in err and not (tmp_path / "huge" / "checkpoints").exists()
    data = toy_dataset(toy_texts(12), val_every=4).save(tmp_path / "ds")
    rc = run_cli("train", "ink", "--data", data, "--out", tmp_path / "huge-ink", "--hidden", "100000", "--quiet")
    err = capsys.readouterr().err
    assert rc == 2 and "memory available" in err and len(err.strip().splitlines()) <= 2


def test_default_threads_follow_cores_and_load(tmp_path, run_cli, capsys):
    assert default_threads(cores=2, load=0.0)[0] == 1
    assert default_threads(cores=1, load=None)[0] == 1
    n, why = default_threads(cores=8, load=6.5)
    assert n == 1 and "busy" in why and "6.5" in why
    assert default_threads(cores=8, load=0.3)[0] == 4
    assert default_threads(cores=3, load=0.1)[0] == 3
    c = tmp_path / "c.txt"
    c.write_text(TEXT, encoding="utf-8")
    assert run_cli("train", "text", "--corpus", c, "--out", tmp_path / "r", "--steps", "1", "--eval-every", "1",
                   *SMALL_TEXT) == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("CPU threads:")]
    assert len(lines) == 1 and "--threads" in lines[0]
    assert run_cli("train", "text", "--corpus", c, "--out", tmp_path / "r2", "--steps", "1", "--eval-every", "1",
                   "--threads", "1", *SMALL_TEXT) == 0
    assert "CPU threads:" not in capsys.readouterr().err   # given: nothing to say


# ---- train ink --resume --------------------------------------------------------------------------------

def test_ink_resume_keeps_the_runs_settings_and_a_used_folder_needs_resume(tmp_path, run_cli, capsys):
    data = toy_dataset(toy_texts(24), val_every=4).save(tmp_path / "ds")
    out = tmp_path / "run"
    first = ["--lr", "0.003", "--batch", "4", "--warmup", "3", "--eval-every", "2", "--buckets", "2",
             "--weight-decay", "0.02", "--max-points", "400"]
    assert run_cli("train", "ink", "--data", data, "--out", out, "--steps", "2", *INK, *first) == 0
    # a new run into the folder would mix checkpoints: refused, nothing touched
    before = sorted(p.name for p in (out / "checkpoints").iterdir())
    capsys.readouterr()
    assert run_cli("train", "ink", "--data", data, "--out", out, "--steps", "2", *INK) == 2
    err = capsys.readouterr().err
    assert "already holds a training run" in err and "--resume" in err
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == before
    # --resume with only a new budget: every setting comes from the run, not the defaults
    assert run_cli("train", "ink", "--data", data, "--out", out, "--steps", "4", "--resume", "--quiet") == 0
    card = _last_card(out)
    tc = card["train_config"]
    assert card["step"] == 4
    assert (tc["lr"], tc["warmup"], tc["eval_every"], tc["weight_decay"]) == (0.003, 3, 2, 0.02)
    assert card["settings"]["batch"] == 4 and card["batch"] == 4
    assert card["settings"]["buckets"] == 2 and card["settings"]["max_points"] == 400
    assert card["model_config"]["hidden"] == 8
    # a flag given on resume still wins
    assert run_cli("train", "ink", "--data", data, "--out", out, "--steps", "5", "--resume", "--lr", "0.001",
                   "--quiet") == 0
    card = _last_card(out)
    assert card["train_config"]["lr"] == 0.001 and card["train_config"]["warmup"] == 3
    capsys.readouterr()
    assert run_cli("train", "ink", "--data", data, "--out", tmp_path / "empty", "--resume", *INK) == 2
    assert "nothing to resume" in capsys.readouterr().err


def _last_card(run: Path) -> dict:
    return json.loads((run / json.loads((run / "last.json").read_text())["path"] / "card.json").read_text())


def test_ink_resume_of_an_older_card_without_settings(tmp_path):
    from engine.cli.ink import saved_settings

    card = {"kind": "ink-synthesis", "train_config": {"lr": 0.003, "warmup": 20, "eval_every": 100, "steps": 50},
            "model_config": {"layers": 2, "hidden": 64, "mixtures": 10, "window_k": 5, "dropout": 0.0},
            "batch": 16, "buckets": [[40, 3], [80, 5], [120, 7]], "data": {"max_points": 800}}
    s = saved_settings(card)
    assert (s["lr"], s["warmup"], s["eval_every"], s["batch"], s["buckets"], s["max_points"], s["kind"]) == \
        (0.003, 20, 100, 16, 3, 800, "synthesis")


def test_skipped_lines_are_a_warning_with_their_share(tmp_path, run_cli, capsys):
    texts = toy_texts(16, words=2) + toy_texts(16, seed=3, words=5)
    data = toy_dataset(texts, val_every=4).save(tmp_path / "ds")
    ev = tmp_path / "events.jsonl"
    assert run_cli("train", "ink", "--data", data, "--out", tmp_path / "r", "--steps", "1", "--eval-every", "1",
                   "--max-points", "80", "--batch", "2", "--events", ev, *INK) == 0
    warnings = [json.loads(line)["message"] for line in ev.read_text().splitlines()
                if json.loads(line)["type"] == "warning"]
    (msg,) = [w for w in warnings if "left out of training" in w]
    assert "of 32 lines" in msg and "%" in msg and "longer than --max-points 80" in msg and "--hz 30" in msg


# ---- output files ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ink_run(tmp_path_factory):
    from engine.cli.main import main

    tmp = tmp_path_factory.mktemp("ink")
    data = toy_dataset(toy_texts(12), val_every=4).save(tmp / "ds")
    assert main(["train", "ink", "--data", str(data), "--out", str(tmp / "run"), "--steps", "1",
                 "--eval-every", "1", *INK]) == 0
    return tmp / "run"


def test_svg_output_errors_are_one_line_and_lose_nothing(ink_run, tmp_path, run_cli, capsys, monkeypatch):
    args = ("sample", "ink", "--model", ink_run, "--text", "the dog", "--seed", "1", "--max-steps", "30")
    capsys.readouterr()
    assert run_cli(*args, "--svg", tmp_path / "missing" / "a.svg") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and "missing" in err
    assert run_cli(*args, "--svg", tmp_path) == 2
    assert "is a folder" in capsys.readouterr().err
    assert run_cli(*args, "--svg", tmp_path / "a.svg", "--inkml", tmp_path / "nope" / "a.inkml") == 2
    assert "nope" in capsys.readouterr().err and not (tmp_path / "a.svg").exists()   # checked before writing
    # a full disk: one line, the earlier file untouched, no half-written file left behind
    svg = tmp_path / "b.svg"
    svg.write_text("earlier", encoding="utf-8")

    def full_disk(path, data):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(data[:10])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(common, "_write_file", full_disk)
    assert run_cli(*args, "--svg", svg) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "disk is full" in err and str(svg) in err
    assert svg.read_text(encoding="utf-8") == "earlier" and sorted(p.name for p in tmp_path.iterdir()) == ["b.svg"]
    monkeypatch.undo()
    assert run_cli(*args, "--svg", svg) == 0 and "<svg" in svg.read_text(encoding="utf-8")


def test_sample_ink_transliterates_the_text_and_says_so(ink_run, tmp_path, run_cli, capsys):
    capsys.readouterr()
    svg = tmp_path / "a.svg"
    assert run_cli("sample", "ink", "--model", ink_run, "--text", "thé dög", "--seed", "1",
                   "--max-steps", "20", "--svg", svg, "--inkml", tmp_path / "a.inkml") == 0
    err = capsys.readouterr().err
    (note,) = [ln for ln in err.splitlines() if ln.startswith("note:")]
    assert "'the dog'" in note and "'e' for 'é'" in note and "'o' for 'ö'" in note
    from engine.data.inkml import read_inkml

    assert read_inkml(tmp_path / "a.inkml")[0].text == "the dog"
    assert run_cli("sample", "ink", "--model", ink_run, "--text", "dog Q", "--svg", svg) == 2
    assert "'Q'" in capsys.readouterr().err   # no stand-in: refused by name, as before


def test_sample_ink_keeps_the_likeliest_of_several_takes_and_says_which(ink_run, tmp_path, run_cli, capsys):
    capsys.readouterr()
    args = ("sample", "ink", "--model", ink_run, "--text", "the dog", "--seed", "2", "--max-steps", "25")
    assert run_cli(*args, "--takes", "3", "--svg", tmp_path / "a.svg") == 0
    (note,) = [ln for ln in capsys.readouterr().err.splitlines() if "take" in ln]
    assert note.startswith("note: kept take ") and note.split()[3] in ("1", "2", "3") and "of 3" in note
    assert run_cli(*args, "--takes", "3", "--svg", tmp_path / "b.svg") == 0     # a seed gives the same line
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()
    capsys.readouterr()
    assert run_cli(*args, "--svg", tmp_path / "c.svg") == 0
    assert "take" not in capsys.readouterr().err                              # one take by default, no note


# ---- stdout ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    from engine.cli.main import main

    tmp = tmp_path_factory.mktemp("text")
    c = tmp / "c.txt"
    c.write_text(TEXT, encoding="utf-8")
    assert main(["train", "text", "--corpus", str(c), "--out", str(tmp / "run"), "--steps", "2", "--eval-every", "2",
                 *SMALL_TEXT]) == 0
    return tmp / "run"


def test_sample_text_into_a_closed_pipe_ends_quietly(text_run, run_cli, monkeypatch, capsys):
    class Closed:
        def __init__(self):
            self.n = 0

        def write(self, s):
            self.n += 1
            if self.n > 5:
                raise BrokenPipeError(errno.EPIPE, "Broken pipe")
            return len(s)

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", Closed())
    assert run_cli("sample", "text", "--model", text_run, "--prime", "the ", "--length", "50") == 141
    monkeypatch.undo()
    assert "Traceback" not in capsys.readouterr().err


def test_sample_text_piped_to_head(text_run):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    p = subprocess.Popen([sys.executable, "-m", "engine.cli", "sample", "text", "--model", str(text_run),
                          "--prime", "the ", "--length", "200000", "--seed", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=env)
    assert len(p.stdout.read(20)) == 20
    p.stdout.close()   # like `| head -c 20`
    rc = p.wait(timeout=120)
    err = p.stderr.read().decode()
    p.stderr.close()
    assert rc == 141 and "Traceback" not in err and "BrokenPipe" not in err, err


def test_sample_text_transliterates_the_prime(text_run, run_cli, capsys):
    capsys.readouterr()
    assert run_cli("sample", "text", "--model", text_run, "--prime", "thé càt", "--length", "3",
                   "--seed", "1") == 0
    out, err = capsys.readouterr()
    assert out.startswith("the cat") and len(out.rstrip("\n")) == 10
    assert "note:" in err and "'e' for 'é'" in err and "'a' for 'à'" in err


# ---- checkpoints that cannot be written ------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="RLIMIT_FSIZE on Linux")
def test_a_file_size_limit_is_one_line_not_a_traceback(tmp_path):
    import resource

    c = tmp_path / "c.txt"
    c.write_text(TEXT, encoding="utf-8")

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-m", "engine.cli", "train", "text", "--corpus", str(c), "--out",
                        str(tmp_path / "run"), "--steps", "2", "--eval-every", "2", "--threads", "1",
                        *SMALL_TEXT[:-1], "--hidden", "64", "--quiet"], preexec_fn=limit, capture_output=True,
                       text=True, env=env, cwd=REPO, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if "error" in ln]
    assert len(errors) == 1 and "cannot write a checkpoint" in errors[0] and "File too large" in errors[0]
