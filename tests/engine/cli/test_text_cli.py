"""`scribe train text` / `scribe sample text`: presets, sampling, continuing on a new corpus, progress bar."""

import io

import numpy as np
import pytest
import torch

import engine.training.checkpoint as ckpt
from engine.cli.common import ProgressBar
from engine.cli.main import build_parser
from engine.cli.text import resolve_text_settings
from engine.core.vocab import Vocab
from engine.models.charlm import CharLM, CharLMConfig
from engine.training.presets import TEXT_PRESETS
from engine.training.text_task import generate_text

TEXT = "the cat sat on the mat. the dog sat on the log. " * 40
SMALL = ["--layers", "1", "--hidden", "16", "--embed", "8", "--batch", "4", "--seq-len", "8", "--eval-blocks", "4",
         "--quiet"]


def parse(*argv):
    return build_parser().parse_args(["train", "text", *map(str, argv)])


def test_explicit_flags_override_the_preset(tmp_path):
    s = resolve_text_settings(parse("--corpus", "c.txt", "--out", tmp_path, "--preset", "gpu", "--hidden", "256",
                                    "--steps", "50"))
    gpu = TEXT_PRESETS["gpu"]
    assert s.hidden == 256 and s.steps == 50 and s.minutes is None        # given flags win, budget replaced
    assert (s.layers, s.batch, s.seq_len, s.dropout, s.amp) == (gpu["layers"], gpu["batch"], gpu["seq_len"],
                                                               gpu["dropout"], True)
    assert s.patience == gpu["patience"] > 0
    s = resolve_text_settings(parse("--corpus", "c.txt", "--out", tmp_path, "--preset", "cpu"))
    assert s.minutes == TEXT_PRESETS["cpu"]["minutes"] and not s.steps
    s = resolve_text_settings(parse("--corpus", "c.txt", "--out", tmp_path))
    assert (s.cell, s.hidden, s.steps, s.skip, s.amp) == ("lstm", 512, 1000, False, False)
    s = resolve_text_settings(parse("--out", tmp_path, "--preset", "default-text"))
    assert s.corpus.endswith("tinyshakespeare.txt")
    # saved settings of a resumed run sit between the defaults and the preset / given flags
    s = resolve_text_settings(parse("--corpus", "c.txt", "--out", tmp_path, "--lr", "0.5"),
                              saved={"batch": 7, "lr": 0.1, "steps": 30})
    assert (s.batch, s.lr, s.steps) == (7, 0.5, 30)


def test_default_text_preset_fits_the_bundle_budget():
    p = TEXT_PRESETS["default-text"]
    model = CharLM(CharLMConfig(vocab_size=65, cell=p["cell"], layers=p["layers"], hidden=p["hidden"],
                                embed=p["embed"]))
    size = sum(t.numel() * 4 for t in model.state_dict().values())
    assert size <= 20e6, size


def test_missing_corpus_is_a_clear_error(tmp_path, run_cli, capsys):
    assert run_cli("train", "text", "--out", tmp_path / "r", "--steps", "1") == 2
    assert "give a corpus" in capsys.readouterr().err


def _train(run_cli, tmp_path, name="run", text=TEXT, extra=()):
    c = tmp_path / f"{name}.txt"
    c.write_text(text, encoding="utf-8")
    assert run_cli("train", "text", "--corpus", c, "--out", tmp_path / name, "--steps", "8", "--eval-every", "8",
                   *SMALL, *extra) == 0
    return tmp_path / name


def test_sampling_is_deterministic_and_respects_top_k(tmp_path):
    torch.manual_seed(0)
    v = Vocab.from_text(TEXT)
    model = CharLM(CharLMConfig(vocab_size=len(v), cell="lstm", layers=1, hidden=16, embed=8))
    gen = lambda **kw: "".join(generate_text(model, v, "the ", 60, **kw))  # noqa: E731
    a, b = gen(temperature=1.0, seed=5), gen(temperature=1.0, seed=5)
    assert a == b and len(a) == 60 and set(a) <= set(v.chars)
    assert gen(temperature=1.0, seed=6) != a
    greedy = gen(temperature=0.0, seed=1)
    assert gen(temperature=1.5, top_k=1, seed=2) == greedy          # top-1 is greedy at any temperature
    assert gen(temperature=1e-4, seed=3) == greedy                  # temperature -> 0 is greedy
    # greedy follows the argmax of the model's own logits
    ids = torch.tensor(v.encode("the ").astype(np.int64))[None]
    with torch.no_grad():
        logits, _ = model(ids)
    assert greedy[0] == v.chars[int(logits[0, -1].argmax())]
    # top-k only ever draws from the k most likely characters
    with torch.no_grad():
        top3 = {v.chars[i] for i in logits[0, -1].topk(3).indices.tolist()}
    firsts = {gen(temperature=5.0, top_k=3, seed=s)[0] for s in range(30)}
    assert firsts <= top3 and len(firsts) > 1


def test_sample_cli_seed_and_unknown_prime(tmp_path, run_cli, capsys):
    run = _train(run_cli, tmp_path)
    capsys.readouterr()
    outs = []
    for _ in range(2):
        assert run_cli("sample", "text", "--model", run, "--prime", "the ", "--length", "40", "--seed", "9",
                       "--temperature", "0.7", "--top-k", "5") == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] and outs[0].startswith("the ") and len(outs[0].rstrip("\n")) == 44
    assert run_cli("sample", "text", "--model", run, "--prime", "Zebra", "--length", "5") == 2
    err = capsys.readouterr().err
    assert err.startswith("scribe: error:") and "Z" in err and "Traceback" not in err


def test_continuing_on_a_new_corpus_keeps_the_vocab(tmp_path, run_cli, capsys):
    run = _train(run_cli, tmp_path)
    _, card = ckpt.load_model(run)
    new = tmp_path / "new.txt"
    new.write_text("the cat ate the Fish! " * 60 + "ÄÖ", encoding="utf-8")
    capsys.readouterr()
    assert run_cli("train", "text", "--corpus", new, "--out", tmp_path / "tuned", "--init-from", run, "--steps", "4",
                   "--eval-every", "4", *SMALL) == 0
    err = capsys.readouterr().err
    assert "cannot represent 5 character(s)" in err and "'!FiÄÖ'" in err
    _, card2 = ckpt.load_model(tmp_path / "tuned")
    assert card2["vocab"] == card["vocab"]


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_shows_loss_rate_and_eta():
    out = _Tty()
    bar = ProgressBar(True, stream=out)
    bar({"type": "start", "step": 0, "total_steps": 100})
    for i in range(1, 4):
        bar({"type": "step", "step": i, "loss": 2.5, "rate": 12345.0, "unit": "tokens", "eta_s": 125.0,
             "clipped": i == 3})
        bar._last_draw = 0  # let every step redraw in the test
    bar({"type": "eval", "step": 3, "val_loss": 2.25, "val_loss_stateful": 2.2, "bpc": 3.17, "best": True})
    bar({"type": "done", "step": 3})
    text = out.getvalue()
    assert "loss 2.5000" in text and "12,345 tokens/s" in text and "ETA 02:05" in text and "clipped" in text
    assert "3/100" in text and "step 3: val_loss 2.2500" in text and "(best)" in text
    quiet = io.StringIO()  # not a terminal: no bar, but evaluations are still printed
    bar = ProgressBar(True, stream=quiet)
    bar({"type": "start", "step": 0, "total_steps": 10})
    bar({"type": "step", "step": 1, "loss": 2.5, "rate": 1.0, "unit": "tokens", "eta_s": 1.0})
    bar({"type": "eval", "step": 1, "val_loss": 2.0})
    assert quiet.getvalue() == "step 1: val_loss 2.0000\n"


@pytest.mark.parametrize("preset", ["cpu", "gpu"])
def test_presets_train_with_small_overrides(tmp_path, run_cli, preset):
    """Every preset's settings run (the gpu one on the CPU here: bf16 autocast is a CUDA-only switch)."""
    c = tmp_path / "c.txt"
    c.write_text(TEXT, encoding="utf-8")
    rc = run_cli("train", "text", "--preset", preset, "--device", "cpu", "--corpus", c, "--out", tmp_path / preset,
                 "--steps", "2", "--eval-every", "2", "--layers", "1", "--hidden", "16", "--embed", "8",
                 "--batch", "4", "--seq-len", "16", "--eval-blocks", "2", "--quiet")
    assert rc == 0
    _, card = ckpt.load_model(tmp_path / preset)
    assert card["step"] == 2
    assert card["train_config"]["amp"] is TEXT_PRESETS[preset].get("amp", False)
    assert card["model_config"]["dropout"] == TEXT_PRESETS[preset]["dropout"]
