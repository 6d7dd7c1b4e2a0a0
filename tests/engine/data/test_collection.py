"""The handwriting collection (engine.data.collection) and its prompts (engine.data.prompts)."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from engine.core.errors import DataError
from engine.data.collection import Collection, collection_dir
from engine.data.ink import Ink, Stroke
from engine.data.inkml import read_inkml, write_inkml
from engine.data.prompts import PROMPTS, PUNCTUATION, TARGET_CHARS, char_counts


def _ink(seed: int = 0, text: str = "", pressure: bool = True) -> Ink:
    rng = np.random.default_rng(seed)
    strokes = []
    for k in range(3):
        n = 12 + k
        x = np.cumsum(rng.uniform(0.5, 2.0, n)) + 40 * k
        y = 120 + rng.normal(0, 5, n)
        strokes.append(Stroke(x, y, t=np.arange(n) * 0.01 + k, p=rng.uniform(0.2, 0.9, n) if pressure else None))
    return Ink(strokes, text)


# ------------------------------------------------------------------------------------------- prompts
def test_prompts_cover_every_target_character_twice():
    import string

    assert set(TARGET_CHARS) == set(string.ascii_letters + string.digits + ".,;:!?'\"-()&/")
    assert 30 <= len(PROMPTS) <= 60
    counts = char_counts(PROMPTS)
    short = {c: n for c, n in counts.items() if n < 2}
    assert not short, f"characters with fewer than 2 samples in the prompts: {short}"
    for p in PROMPTS:   # short, single, tidy lines made of the target characters and spaces
        assert 10 <= len(p) <= 36, p
        assert p == " ".join(p.split()), p
        assert set(p) <= set(TARGET_CHARS) | {" "}, p
    assert len(set(PROMPTS)) == len(PROMPTS)
    assert set(PUNCTUATION) <= set("".join(PROMPTS))


def test_char_counts_lists_every_character():
    counts = char_counts(["aab", "b!"], "abc!")
    assert counts == {"a": 2, "b": 2, "c": 0, "!": 1}


# ------------------------------------------------------------------------------------------- add / list / delete
def test_add_writes_inkml_with_text_and_pressure(tmp_path):
    col = Collection(tmp_path / "col")
    path = col.add(_ink(1), PROMPTS[0])
    assert path.parent == tmp_path / "col" and path.suffix == ".inkml"
    assert path.name.startswith("0001-call-jo")
    (ink,) = read_inkml(path)
    assert ink.text == PROMPTS[0]
    assert len(ink.strokes) == 3 and ink.strokes[0].p is not None and ink.strokes[0].t is not None
    np.testing.assert_allclose(ink.strokes[0].x, _ink(1).strokes[0].x, atol=1e-4)
    lines = col.list()
    assert [(e.text, e.strokes, e.points) for e in lines] == [(PROMPTS[0], 3, 12 + 13 + 14)]
    p2 = col.add(_ink(2, pressure=False), "  second   line ")
    assert p2.name.startswith("0002-second-line")
    assert col.texts() == [PROMPTS[0], "second line"]


def test_add_refuses_empty_ink_or_text(tmp_path):
    col = Collection(tmp_path)
    with pytest.raises(DataError, match="write the line first"):
        col.add(Ink([]), "hello")
    with pytest.raises(DataError, match="write the line first"):
        col.add(Ink([Stroke([np.nan], [np.nan])]), "hello")
    with pytest.raises(DataError, match="no text"):
        col.add(_ink(), "   ")
    assert col.files() == []


def test_delete_only_inside_the_collection(tmp_path):
    col = Collection(tmp_path / "col")
    a = col.add(_ink(1), "one")
    b = col.add(_ink(2), "two")
    col.delete(a)
    assert not a.exists() and col.texts() == ["two"]
    other = tmp_path / "elsewhere.inkml"
    write_inkml(other, _ink(3, "x"))
    with pytest.raises(DataError, match="not a line of this collection"):
        col.delete(other)
    assert other.exists() and b.exists()
    # numbering continues after the highest file, never reusing a name
    assert col.add(_ink(4), "three").name.startswith("0003-")


def test_damaged_files_are_not_listed(tmp_path):
    col = Collection(tmp_path)
    col.add(_ink(), "good")
    (tmp_path / "0009-bad.inkml").write_text("<ink><trace>1 2, oops</trace></ink>", encoding="utf-8")
    assert col.texts() == ["good"]


def test_collection_dir_is_in_the_user_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRIBE_STUDIO_HOME", str(tmp_path / "home"))
    d = collection_dir()
    assert d == tmp_path / "home" / "my-handwriting" and d.is_dir()
    assert Collection().folder == d


# ------------------------------------------------------------------------------------------- prompts and coverage
def test_next_prompt_skips_written_ones_and_wraps(tmp_path):
    prompts = ["aa bb", "cc dd", "ee ff"]
    col = Collection(tmp_path, prompts)
    assert col.next_prompt() == 0
    col.add(_ink(), "aa bb")
    assert col.next_prompt() == 1
    col.position = 2
    assert Collection(tmp_path, prompts).position == 2       # kept on disk
    assert col.next_prompt() == 2
    col.add(_ink(1), "ee ff")
    assert col.next_prompt() == 1                             # wraps round to the skipped one
    col.add(_ink(2), "cc dd")
    assert col.next_prompt() is None
    (tmp_path / "progress.json").write_text("{bad", encoding="utf-8")
    assert col.position == 0


def test_coverage_lists_characters_below_the_minimum(tmp_path):
    col = Collection(tmp_path)
    assert col.coverage() == {c: 0 for c in TARGET_CHARS}
    col.add(_ink(1), "Aa b")
    col.add(_ink(2), "a!")
    counts = col.counts()
    assert counts["a"] == 2 and counts["A"] == 1 and counts["b"] == 1 and counts["!"] == 1 and counts["z"] == 0
    cov = col.coverage(min_count=2)
    assert "a" not in cov and cov["A"] == 1 and cov["z"] == 0
    assert col.coverage(min_count=1).keys() == set(TARGET_CHARS) - set("Aab!")


# ------------------------------------------------------------------------------------------- export / import
def test_export_zip_and_folder_then_import_into_an_empty_collection(tmp_path):
    src = Collection(tmp_path / "src")
    with pytest.raises(DataError, match="nothing to export"):
        src.export_zip(tmp_path / "empty.zip")
    for i, text in enumerate(PROMPTS[:3]):
        src.add(_ink(i), text)
    assert src.export_zip(tmp_path / "out" / "mine.zip") == 3
    with zipfile.ZipFile(tmp_path / "out" / "mine.zip") as zf:
        assert sorted(zf.namelist()) == sorted(p.name for p in src.files())
    assert src.export_folder(tmp_path / "folder") == 3

    dst = Collection(tmp_path / "dst")
    report = dst.import_from(tmp_path / "out" / "mine.zip")
    assert len(report.added) == 3 and not report.skipped and report.duplicates == 0
    assert dst.texts() == list(PROMPTS[:3])
    ink_a = read_inkml(src.files()[0])[0]
    ink_b = read_inkml(dst.files()[0])[0]
    np.testing.assert_allclose(ink_a.strokes[1].x, ink_b.strokes[1].x)
    np.testing.assert_allclose(ink_a.strokes[1].p, ink_b.strokes[1].p)
    # the same lines again (from the folder export) are recognised, not doubled
    again = dst.import_from(tmp_path / "folder")
    assert again.added == [] and again.duplicates == 3
    assert "3 already in the collection" in again.summary()


def test_import_skips_bad_files_with_their_reasons(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_inkml(folder / "good.inkml", _ink(1, "good line"))
    write_inkml(folder / "two.inkml", [_ink(2, "first"), _ink(3, "")])
    (folder / "notes.txt").write_text("hello", encoding="utf-8")
    (folder / "broken.inkml").write_text("<ink><trace>1 2", encoding="utf-8")
    (folder / "other.inkml").write_text("<svg/>", encoding="utf-8")
    col = Collection(tmp_path / "col")
    report = col.import_from(folder)
    assert sorted(col.texts()) == ["first", "good line"]
    reasons = dict(report.skipped)
    assert reasons["notes.txt"] == "not an InkML file"
    assert "malformed" in reasons["broken.inkml"]
    assert "not an InkML file" in reasons["other.inkml"]
    assert "no text" in reasons["two.inkml#2"]
    assert "notes.txt" in report.summary()

    zpath = tmp_path / "mixed.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("readme.md", "# hi")
        zf.write(folder / "good.inkml", "sub/good.inkml")
        zf.writestr("../evil.inkml", (folder / "good.inkml").read_text().replace("good line", "evil"))
    report = col.import_from(zpath)
    assert dict(report.skipped) == {"readme.md": "not an InkML file"}
    assert report.duplicates == 1 and len(report.added) == 1
    assert not (tmp_path / "evil.inkml").exists()           # member names are never used as paths
    assert all(p.parent == col.folder for p in col.files())

    (tmp_path / "fake.zip").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable .zip"):
        col.import_from(tmp_path / "fake.zip")
    with pytest.raises(DataError, match="does not exist"):
        col.import_from(tmp_path / "missing")
