"""``scribe eval ink``: a checkpoint and its package score alike, data-unit figures follow the data's scale,
primed scoring uses the writer's other lines, the JSON keys, and one-line errors (exit 2)."""

import json
import math

import numpy as np
import pytest
import torch
from hw_data import line_stroke3

import engine.training.checkpoint as ckpt
from engine.cli.evaluate import JSON_KEYS, _Prepared, load_ink_scorer, primed_pairs, score_dataset
from engine.data.ink_dataset import InkDataset, InkLine
from engine.models.handwriting import build

CHARS = " abcdehlorw"
NORM = {"mean": [2.0, 0.0], "std": [3.0, 2.0]}
TEXTS = ["hello world", "old lace", "we rode", "a cold well", "her robe", "whole do", "all clear", "head low"]


def toy(folder, texts=TEXTS, scale=1.0, text=True):
    rng = np.random.default_rng(0)
    lines = []
    for i, t in enumerate(texts):
        s3 = line_stroke3(t, 0.2, rng)
        s3[:, :2] *= scale
        lines.append(InkLine(s3, t if text else "", f"w{i % 3}", "test" if i % 4 == 3 else "train", f"l{i}"))
    return InkDataset.from_lines(lines, source="toy").save(folder)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A tiny synthesis run folder and its exported package."""
    from engine.cli.main import main

    root = tmp_path_factory.mktemp("eval")
    torch.manual_seed(4)
    model = build("ink-synthesis", dict(layers=2, hidden=12, mixtures=3, window_k=2, vocab_size=len(CHARS))).eval()
    card = {"kind": "ink-synthesis", "model_config": model.config_dict(), "norm": NORM, "vocab": list(CHARS),
            "ink_scale": {"x_height": 3.0, "spacing": 1.0}}
    ckpt.save_checkpoint(root / "run", model=model, card=card, is_best=True)
    assert main(["export", str(root / "run"), "--out", str(root / "pkg"), "--exporter", "legacy"]) == 0  # faster
    return root / "run", root / "pkg"


def _json(run_cli, tmp_path, model, data, *extra):
    out = tmp_path / "r.json"
    assert run_cli("eval", "ink", "--model", model, "--data", data, "--json", out, *extra) == 0
    return json.loads(out.read_text())


def test_checkpoint_and_package_agree_and_json_keys(models, run_cli, tmp_path, capsys):
    run, pkg = models
    data = toy(tmp_path / "ds")
    a = _json(run_cli, tmp_path, run, data)
    b = _json(run_cli, tmp_path, pkg, data)
    assert set(a) == set(JSON_KEYS) and a["split"] == "all" and a["primed"] is False
    assert a["lines"] == b["lines"] == len(TEXTS) and a["points"] == b["points"] > 0
    for k in ("nats_per_point", "nats_per_line", "data_nats_per_point", "data_nats_per_line"):
        assert math.isfinite(a[k]) and b[k] == pytest.approx(a[k], rel=1e-4, abs=1e-4)
    assert a["nats_per_line"] == pytest.approx(a["nats_per_point"] * a["points"] / a["lines"])
    out = capsys.readouterr().out
    assert "model units" in out and "data units" in out
    t = _json(run_cli, tmp_path, pkg, data, "--split", "test", "--limit", "1")
    assert t["lines"] == 1 and t["split"] == "test"


def test_data_units_shift_by_the_log_jacobian(models, run_cli, tmp_path, capsys):
    _, pkg = models
    a = _json(run_cli, tmp_path, pkg, toy(tmp_path / "a"))
    b = _json(run_cli, tmp_path, pkg, toy(tmp_path / "b", scale=7.0))
    assert b["points"] == a["points"]
    assert b["nats_per_point"] == pytest.approx(a["nats_per_point"], abs=1e-3)     # the same ink to the model
    assert b["data_nats_per_point"] - a["data_nats_per_point"] == pytest.approx(2 * math.log(7.0), abs=1e-3)
    # and the data-unit figure is the model-unit one plus log(std_x std_y) - 2 log(scale) per point
    ds = InkDataset.load(tmp_path / "a")
    scorer = load_ink_scorer(pkg)
    recs, skipped, _ = score_dataset(scorer, ds, range(len(ds)))
    from engine.data.ink import Ink
    from engine.data.prime import prime_scale

    r = recs[0]
    s = prime_scale(Ink.from_stroke3(ds.line(r["index"]).points), scorer.scale)
    assert r["data_nll"] - r["nll"] == pytest.approx(r["points"] * (math.log(3.0 * 2.0) - 2 * math.log(s)))


def test_primed_uses_another_line_of_the_same_writer(models, run_cli, tmp_path, capsys):
    run, pkg = models
    data = toy(tmp_path / "ds")
    ds = InkDataset.load(data)
    recs, skipped, _ = score_dataset(load_ink_scorer(pkg), ds, range(len(ds)), primed=True)
    assert len(recs) == len(TEXTS) and not skipped
    for r in recs:
        assert r["prime"] != r["index"] and ds.lines_meta[r["prime"]]["writer"] == r["writer"]
    a = _json(run_cli, tmp_path, pkg, data)
    p = _json(run_cli, tmp_path, pkg, data, "--primed")
    assert p["primed"] is True and p["points"] == a["points"] and p["nats_per_point"] != pytest.approx(
        a["nats_per_point"], abs=1e-3)
    assert _json(run_cli, tmp_path, run, data, "--primed")["nats_per_point"] == pytest.approx(p["nats_per_point"],
                                                                                              rel=1e-4)
    # a writer with a single line has nothing to prime it with: that line is skipped, and said so
    one = toy(tmp_path / "one", texts=TEXTS[:4])          # writers w0 w1 w2 w0: w1 and w2 have one line
    capsys.readouterr()
    assert _json(run_cli, tmp_path, pkg, one, "--primed")["lines"] == 2
    assert "2 with no other line of their writer" in capsys.readouterr().err


def test_primed_pairs_are_the_lines_and_primes_eval_scores(models, tmp_path):
    # the benchmarks' pairing (bench/prime_gain.py, prime_first_point.py) is score_dataset's --primed pairing,
    # leaving out the lines it skips (a writer with a single line)
    data = toy(tmp_path / "one", texts=TEXTS[:4])          # writers w0 w1 w2 w0: w1 and w2 have one line
    ds = InkDataset.load(data)
    sc = load_ink_scorer(models[1])
    recs, _, _ = score_dataset(sc, ds, range(len(ds)), primed=True)
    pairs = list(primed_pairs(ds, _Prepared(ds, sc.scale), sc.vocab, range(len(ds))))
    assert pairs == [(r["index"], r["prime"]) for r in recs] == [(0, 3), (3, 0)]


def _error(run_cli, capsys, *argv):
    capsys.readouterr()
    assert run_cli("eval", "ink", *argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("scribe: error:")
    return err


def test_bad_input(models, run_cli, tmp_path, capsys):
    from engine.models.charlm import CharLM, CharLMConfig

    run, pkg = models
    data = toy(tmp_path / "ds")
    assert "model not found" in _error(run_cli, capsys, "--model", tmp_path / "nope", "--data", data)
    assert "dataset not found" in _error(run_cli, capsys, "--model", pkg, "--data", tmp_path / "nope")
    assert "not an ink dataset" in _error(run_cli, capsys, "--model", pkg, "--data", tmp_path)
    lm = CharLM(CharLMConfig(vocab_size=len(CHARS), cell="lstm", layers=1, hidden=8, embed=4))
    ckpt.save_checkpoint(tmp_path / "text", model=lm, card={"kind": "text", "model_config": lm.config_dict(),
                                                             "vocab": list(CHARS)}, is_best=True)
    assert "text model" in _error(run_cli, capsys, "--model", tmp_path / "text", "--data", data)
    assert "no transcriptions" in _error(run_cli, capsys, "--model", pkg, "--data",
                                         toy(tmp_path / "notext", text=False))
    assert "no val lines" in _error(run_cli, capsys, "--model", run, "--data", data, "--split", "val")
    # characters the model cannot write: those lines are skipped (and counted); none left is an error
    mixed = toy(tmp_path / "mixed", texts=TEXTS[:3] + ["Quiz!", "jazz"])
    capsys.readouterr()
    assert _json(run_cli, tmp_path, pkg, mixed)["lines"] == 3
    err = capsys.readouterr().err
    assert "skipped 2 line(s): 2 with characters the model cannot write" in err and "'Q'" in err
    msg = _error(run_cli, capsys, "--model", pkg, "--data", toy(tmp_path / "bad", texts=["Quiz!", "jazz"]))
    assert "no line" in msg and "cannot write" in msg


def test_as_is_scores_the_lines_unchanged(models, run_cli, tmp_path):
    """--as-is (data already in the model's units): the figures are the scorer's on the raw lines."""
    from engine.core.ink_score import score_line

    run, pkg = models
    data = toy(tmp_path / "ds")
    got = _json(run_cli, tmp_path, pkg, data, "--as-is")
    scorer = load_ink_scorer(pkg)
    ds = InkDataset.load(data)
    total = sum(float(np.sum(score_line(scorer.stepper, ds.line(i).points, text=ds.line(i).text,
                                        vocab=scorer.vocab, norm=scorer.norm)))
                for i in range(len(ds)))
    n = sum(len(ds.line(i).points) for i in range(len(ds)))
    assert got["points"] == n and got["nats_per_point"] == pytest.approx(total / n, rel=1e-6)
    assert got != _json(run_cli, tmp_path, pkg, data)    # prepared lines score differently


def test_json_output_problems_are_one_line_and_keep_an_earlier_file(models, run_cli, tmp_path, capsys, monkeypatch):
    import engine.cli.common as common

    _, pkg = models
    data = toy(tmp_path / "ds")
    (tmp_path / "a-folder").mkdir()
    msg = _error(run_cli, capsys, "--model", pkg, "--data", data, "--json", tmp_path / "a-folder")
    assert "--json" in msg and "is a folder" in msg
    msg = _error(run_cli, capsys, "--model", pkg, "--data", data, "--json", tmp_path / "nowhere" / "r.json")
    assert "does not exist" in msg and "nowhere" in msg
    # a write that fails (a full disk) leaves the earlier file as it was, and no temporary
    old = tmp_path / "r.json"
    old.write_text("earlier figures")

    def full(path, data):
        with open(path, "w") as fh:
            fh.write(data[:3])
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(common, "_write_file", full)
    msg = _error(run_cli, capsys, "--model", pkg, "--data", data, "--json", old)
    assert "cannot write --json" in msg and "disk is full" in msg
    assert old.read_text() == "earlier figures" and sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["r.json"]
