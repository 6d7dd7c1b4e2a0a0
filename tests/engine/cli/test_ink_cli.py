"""``scribe import iam|inkml`` and ``scribe synth``: summaries, files, one-line errors (exit 2)."""

import numpy as np
import pytest

from engine.data.ink import Ink, Stroke
from engine.data.ink_dataset import InkDataset
from engine.data.inkml import write_inkml


def _iam_helpers():
    """line_xml, make_tree, strokes from tests/engine/data/test_ink_iam.py (also when this file runs alone)."""
    import importlib.util
    import sys
    from pathlib import Path

    mod = sys.modules.get("test_ink_iam")
    if mod is None:
        path = Path(__file__).resolve().parents[1] / "data" / "test_ink_iam.py"
        spec = importlib.util.spec_from_file_location("test_ink_iam", path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["test_ink_iam"] = mod
        spec.loader.exec_module(mod)
    return mod.line_xml, mod.make_tree, mod.strokes


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
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("scribe: error:") == 1
    with pytest.raises(SystemExit) as exc:              # a bad value: refused by the argument's type
        run_cli("synth", "--lines", 0, "--out", tmp_path / "o")
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in err and "argument --lines: 0 is out of range" in err


def test_synth_cli_caps(run_cli, tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("Now is the winter of our discontent made glorious summer by this sun of York.\n" * 3)
    assert run_cli("synth", "--corpus", corpus, "--lines", 40, "--out", tmp_path / "caps", "--writers", 2,
                   "--caps", 1.0, "--mix", 0) == 0
    texts = [m["text"] for m in InkDataset.load(tmp_path / "caps").lines_meta]
    assert len(texts) == 40 and all(t == t.upper() and any(c.isalpha() for c in t) for t in texts)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        run_cli("synth", "--corpus", corpus, "--lines", 3, "--out", tmp_path / "bad", "--caps", 1.5)
    assert exc.value.code == 2 and "argument --caps: 1.5 is out of range" in capsys.readouterr().err


def test_import_inkml_cli(run_cli, tmp_path, capsys):
    write_inkml(tmp_path / "rec" / "a.inkml", [Ink([Stroke(np.arange(10.0), np.ones(10))], "hi"),
                                               Ink([Stroke(np.arange(5.0), np.zeros(5))], "yo")])
    (tmp_path / "rec" / "bad.inkml").write_text("<ink>")
    rc = run_cli("import", "inkml", tmp_path / "rec", "--out", tmp_path / "ds")
    out = capsys.readouterr().out
    assert rc == 0 and "2 lines" in out and "bad.inkml" in out and "malformed" in out
    assert run_cli("import", "inkml", tmp_path / "nothing", "--out", tmp_path / "ds2") == 2


def test_import_iam_cli(run_cli, tmp_path, capsys):
    line_xml, make_tree, strokes = _iam_helpers()

    root = make_tree(tmp_path / "iam", {"a01-000u": (["hello there", "second"],
                                                     {1: line_xml(strokes(1)), 2: line_xml(strokes(2))})})
    assert run_cli("import", "iam", root, "--out", tmp_path / "ds") == 0
    assert "2 lines" in capsys.readouterr().out
    assert run_cli("import", "iam", root, "--out", tmp_path / "ds") == 0
    assert "cache" in capsys.readouterr().out
    assert run_cli("import", "iam", tmp_path, "--out", tmp_path / "ds") == 2
    assert "lineStrokes/" in capsys.readouterr().err
    assert run_cli("import", "iam", root, "--out", tmp_path / "ds", "--val", 0.6, "--test", 0.5) == 2


def test_import_iam_cli_reports_dropped_transcriptions_and_cleaning(run_cli, tmp_path, capsys):
    line_xml, make_tree, strokes = _iam_helpers()

    root = make_tree(tmp_path / "iam", {"a01-000u": (["hello there", "a #crossed word", "Please Enter Transcription here"],
                                                     {k: line_xml(strokes(k)) for k in (1, 2, 3)})})
    assert run_cli("import", "iam", root, "--out", tmp_path / "ds") == 0
    out = capsys.readouterr().out
    assert "1 lines" in out
    assert ("dropped for their transcription: 2 lines (1 with a crossed-out word '#', "
            "1 with the placeholder 'Please Enter Transcription here')") in out
    assert "cleaning: 0 of 36 points removed" in out and "0 strokes split at jumps" in out
    assert "a01-000u-02.xml: crossed-out word" in out and "a01-000u-03.xml: placeholder" in out
    assert run_cli("import", "iam", root, "--out", tmp_path / "ds") == 0
    out = capsys.readouterr().out
    assert "cache" in out and "dropped for their transcription: 2 lines" in out


def test_import_inkml_cli_skips_absurd_files_with_one_line_reasons(run_cli, tmp_path, capsys):
    write_inkml(tmp_path / "rec" / "a.inkml", Ink([Stroke(np.arange(10.0), np.ones(10))], "hi"))
    ink = '<ink xmlns="http://www.w3.org/2003/InkML"><trace>{}</trace></ink>'
    (tmp_path / "rec" / "inf.inkml").write_text(ink.format("1 2, 1e999 3"))
    (tmp_path / "rec" / "hex.inkml").write_text(ink.format("1 2, #" + "F" * 400 + " 3"))
    rc = run_cli("import", "inkml", tmp_path / "rec", "--out", tmp_path / "ds")
    out = capsys.readouterr().out
    assert rc == 0 and "1 lines" in out and "Traceback" not in out
    skipped = [ln for ln in out.splitlines() if ln.startswith("  ")]
    assert "  inf.inkml: x coordinate inf in inf.inkml is not finite (not handwriting units)" in skipped
    assert any(ln.startswith("  hex.inkml: trace: point 2: hex value") and len(ln) < 200 for ln in skipped)
    assert "cleaning:" in out and "dropped for their transcription" not in out
