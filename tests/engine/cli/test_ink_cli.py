"""``scribe import iam|inkml`` and ``scribe synth``: summaries, files, one-line errors (exit 2)."""

import numpy as np

from engine.data.ink import Ink, Stroke
from engine.data.ink_dataset import InkDataset
from engine.data.inkml import write_inkml


def test_synth_cli(run_cli, tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("Now is the winter of our discontent made glorious summer by this sun of York.\n" * 3)
    out = tmp_path / "syn"
    rc = run_cli("synth", "--corpus", corpus, "--lines", 30, "--out", out, "--writers", 3, "--seed", 4,
                 "--svg-preview", tmp_path / "p.svg")
    text = capsys.readouterr().out
    assert rc == 0
    assert "30 lines" in text and "writers: 3" in text and "charset" in text
    ds = InkDataset.load(out)
    assert len(ds) == 30 and ds.extra["seed"] == 4
    assert (tmp_path / "p.svg").read_text().count("<path") > 10


def test_synth_cli_errors(run_cli, tmp_path, capsys):
    assert run_cli("synth", "--corpus", tmp_path / "missing.txt", "--lines", 3, "--out", tmp_path / "o") == 2
    assert "scribe: error:" in capsys.readouterr().err
    (tmp_path / "f").write_text("x")
    assert run_cli("synth", "--lines", 3, "--out", tmp_path / "f", "--corpus", tmp_path / "f") == 2
    assert run_cli("synth", "--lines", 0, "--out", tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("scribe: error:") == 2


def test_synth_cli_caps(run_cli, tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("Now is the winter of our discontent made glorious summer by this sun of York.\n" * 3)
    assert run_cli("synth", "--corpus", corpus, "--lines", 40, "--out", tmp_path / "caps", "--writers", 2,
                   "--caps", 1.0, "--mix", 0) == 0
    texts = [m["text"] for m in InkDataset.load(tmp_path / "caps").lines_meta]
    assert len(texts) == 40 and all(t == t.upper() and any(c.isalpha() for c in t) for t in texts)
    capsys.readouterr()
    assert run_cli("synth", "--corpus", corpus, "--lines", 3, "--out", tmp_path / "bad", "--caps", 1.5) == 2
    assert "--caps must be in [0, 1]" in capsys.readouterr().err


def test_import_inkml_cli(run_cli, tmp_path, capsys):
    write_inkml(tmp_path / "rec" / "a.inkml", [Ink([Stroke(np.arange(10.0), np.ones(10))], "hi"),
                                               Ink([Stroke(np.arange(5.0), np.zeros(5))], "yo")])
    (tmp_path / "rec" / "bad.inkml").write_text("<ink>")
    rc = run_cli("import", "inkml", tmp_path / "rec", "--out", tmp_path / "ds")
    out = capsys.readouterr().out
    assert rc == 0 and "2 lines" in out and "bad.inkml" in out and "malformed" in out
    assert run_cli("import", "inkml", tmp_path / "nothing", "--out", tmp_path / "ds2") == 2


def test_import_iam_cli(run_cli, tmp_path, capsys):
    from test_ink_iam import line_xml, make_tree, strokes

    root = make_tree(tmp_path / "iam", {"a01-000u": (["hello there", "second"],
                                                     {1: line_xml(strokes(1)), 2: line_xml(strokes(2))})})
    assert run_cli("import", "iam", root, "--out", tmp_path / "ds") == 0
    assert "2 lines" in capsys.readouterr().out
    assert run_cli("import", "iam", root, "--out", tmp_path / "ds") == 0
    assert "cache" in capsys.readouterr().out
    assert run_cli("import", "iam", tmp_path, "--out", tmp_path / "ds") == 2
    assert "lineStrokes/" in capsys.readouterr().err
    assert run_cli("import", "iam", root, "--out", tmp_path / "ds", "--val", 0.6, "--test", 0.5) == 2
