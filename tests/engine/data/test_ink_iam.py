"""IAM-OnDB importer on self-written files in the IAM format (and the real fixture when present)."""

import os
import re

import numpy as np
import pytest

from engine.core.errors import DataError
from engine.data.iam import import_iam, parse_line_file, parse_line_name, read_transcriptions, split_for_form
from engine.data.ink_dataset import InkDataset

HEAD = ('<?xml version="1.0" encoding="ISO-8859-1"?>\n<WhiteboardCaptureSession>\n  <WhiteboardDescription>\n'
        '    <SensorLocation corner="top_left"/>\n    <DiagonallyOppositeCoords x="6000" y="1400"/>\n'
        '  </WhiteboardDescription>\n  <StrokeSet>\n')
TAIL = "  </StrokeSet>\n</WhiteboardCaptureSession>\n"


def line_xml(strokes, t0=100.0):
    out = [HEAD]
    t = t0
    for s in strokes:
        out.append(f'    <Stroke colour="black" start_time="{t:.2f}" end_time="{t + len(s) * 0.01:.2f}">\n')
        for x, y in s:
            out.append(f'      <Point x="{x}" y="{y}" time="{t:.2f}"/>\n')
            t += 0.01
        out.append("    </Stroke>\n")
    return "".join(out) + TAIL


def strokes(seed, n=3):
    rng = np.random.default_rng(seed)
    return [[(int(500 + 300 * k + 10 * i), int(1000 + rng.integers(-50, 50))) for i in range(12)] for k in range(n)]


def ascii_txt(lines):
    return "OCR:\n\nsomething else\nentirely\n\nCSR:\n\n" + "\n".join(lines) + "\n"


def make_tree(root, forms):
    """forms: {"a01-000u": (["csr line 1", ...], {line_no: xml_text})}"""
    for name, (csr, files) in forms.items():
        grp, form = name[:3], name[:7]
        d = root / "ascii" / grp / form
        d.mkdir(parents=True, exist_ok=True)
        if csr is not None:
            (d / f"{name}.txt").write_bytes(ascii_txt(csr).encode("iso-8859-1"))
        ld = root / "lineStrokes" / grp / form
        ld.mkdir(parents=True, exist_ok=True)
        for no, xml in files.items():
            (ld / f"{name}-{no:02d}.xml").write_bytes(xml.encode("iso-8859-1") if isinstance(xml, str) else xml)
    return root


BOMB = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;">]>\n<WhiteboardCaptureSession><StrokeSet>'
        '<Stroke><Point x="1" y="2" time="&lol2;"/></Stroke></StrokeSet></WhiteboardCaptureSession>')
XXE = ('<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
       '<WhiteboardCaptureSession><StrokeSet><Stroke><Point x="1" y="2" time="&xxe;"/></Stroke></StrokeSet>'
       '</WhiteboardCaptureSession>')


@pytest.fixture
def tree(tmp_path):
    nan_xml = line_xml(strokes(3)).replace('x="510"', 'x="NaN"', 1).replace('<Point x="520" y="', '<Point x="520" y="z', 1)
    assert nan_xml.count("NaN") == 1 and nan_xml.count('y="z') == 1
    return make_tree(tmp_path / "iam", {
        "a01-000u": (["A MOVE to stop Mr . Gaitskell", "from nominating any more", "Caf\u00e9 au lait"],
                     {1: line_xml(strokes(1)), 2: line_xml(strokes(2)), 3: line_xml(strokes(9))}),
        "a01-000x": (["A MOVE to stop", "second"], {1: line_xml(strokes(4)), 2: "<WhiteboardCaptureSession><Str"}),
        "b02-010": (["bomb line", "xxe line", "empty line", "nan line", "missing"],
                    {1: BOMB, 2: XXE, 3: HEAD + '    <Stroke colour="black"></Stroke>\n' + TAIL, 4: nan_xml,
                     6: line_xml(strokes(5))}),
        "c03-001z": (None, {1: line_xml(strokes(6))}),
    })


def test_parse_line_name():
    assert parse_line_name("a01-000u-02") == ("a01-000", "u", 2)
    assert parse_line_name("a01-000-10") == ("a01-000", "", 10)
    assert parse_line_name("readme") is None


def test_parse_line_file_reads_strokes_and_time(tmp_path):
    p = tmp_path / "x.xml"
    p.write_text(line_xml([[(1, 2), (3, 4)], [(5, 6)]], t0=10.0), encoding="iso-8859-1")
    ink = parse_line_file(p)
    assert [len(s) for s in ink.strokes] == [2, 1]
    np.testing.assert_array_equal(ink.strokes[0].x, [1, 3])
    np.testing.assert_array_equal(ink.strokes[1].y, [6])
    np.testing.assert_allclose(ink.strokes[0].t, [10.0, 10.01])


def test_read_transcriptions_iso_8859_1(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes(ascii_txt(["Caf\u00e9 Mr .", "two"]).encode("iso-8859-1"))
    assert read_transcriptions(p) == ["Caf\u00e9 Mr .", "two"]
    p.write_text("OCR:\nno csr here\n")
    with pytest.raises(DataError, match="CSR"):
        read_transcriptions(p)


def test_import_matches_transcriptions_and_skips_bad_files(tree, tmp_path):
    ds, rep = import_iam(tree, tmp_path / "ds", jobs=1)
    by_id = {m["id"]: m for m in ds.lines_meta}
    assert by_id["a01-000u-01"]["text"] == "A MOVE to stop Mr . Gaitskell"
    assert by_id["a01-000u-02"]["text"] == "from nominating any more"
    assert by_id["a01-000u-03"]["text"] == "Caf\u00e9 au lait"
    assert by_id["a01-000x-01"]["text"] == "A MOVE to stop"
    assert by_id["a01-000u-01"]["writer"] == "a01-000u"
    assert by_id["b02-010-04"]["text"] == "nan line"      # NaN / garbled points dropped, the rest kept
    reasons = dict(rep.skipped)
    assert set(reasons) == {"lineStrokes/a01/a01-000/a01-000x-02.xml", "lineStrokes/b02/b02-010/b02-010-01.xml",
                            "lineStrokes/b02/b02-010/b02-010-02.xml", "lineStrokes/b02/b02-010/b02-010-03.xml",
                            "lineStrokes/b02/b02-010/b02-010-06.xml", "lineStrokes/c03/c03-001/c03-001z-01.xml"}
    assert "malformed XML" in reasons["lineStrokes/a01/a01-000/a01-000x-02.xml"]
    assert "refused" in reasons["lineStrokes/b02/b02-010/b02-010-01.xml"]
    assert "refused" in reasons["lineStrokes/b02/b02-010/b02-010-02.xml"]
    assert "external" in reasons["lineStrokes/b02/b02-010/b02-010-02.xml"]
    assert "no" in reasons["lineStrokes/b02/b02-010/b02-010-03.xml"]
    assert "no CSR line 6" in reasons["lineStrokes/b02/b02-010/b02-010-06.xml"]
    assert "no transcription" in reasons["lineStrokes/c03/c03-001/c03-001z-01.xml"]
    assert len(ds) == 5 and rep.lines == 5
    for line in ds:
        assert np.all(np.isfinite(line.points))
        np.testing.assert_array_equal(line.points[0, :2], [0, 0])   # moved to the origin
    # the stored dataset is a normal InkDataset with the skipped list
    back = InkDataset.load(tmp_path / "ds")
    assert len(back) == 5 and len(back.skipped) == 6


def test_nan_points_are_dropped(tree, tmp_path):
    ds, _ = import_iam(tree, None, jobs=1)
    i = [m["id"] for m in ds.lines_meta].index("b02-010-04")
    assert len(ds.line(i).points) == 3 * 12 - 2


def test_split_is_by_form_and_deterministic(tmp_path):
    forms = {f"a{g:02d}-{k:03d}{v}": (["x", "y"], {1: line_xml(strokes(k)), 2: line_xml(strokes(k + 1))})
             for g in range(1, 4) for k in range(12) for v in ("u", "w")}
    root = make_tree(tmp_path / "iam", forms)
    ds1, _ = import_iam(root, None, jobs=1, val_fraction=0.2, test_fraction=0.2)
    ds2, _ = import_iam(root, None, jobs=1, val_fraction=0.2, test_fraction=0.2)
    assert [m["split"] for m in ds1.lines_meta] == [m["split"] for m in ds2.lines_meta]
    split_of_form = {}
    for m in ds1.lines_meta:
        assert split_of_form.setdefault(m["form"], m["split"]) == m["split"]   # no form in two splits
    assert set(split_of_form.values()) == {"train", "val", "test"}
    assert all(split_for_form(f, 0.2, 0.2) == s for f, s in split_of_form.items())


def test_cache_second_import_is_cached_and_changes_are_picked_up(tree, tmp_path):
    out = tmp_path / "ds"
    ds1, r1 = import_iam(tree, out, jobs=1)
    assert not r1.cached and r1.parsed == r1.files
    ds2, r2 = import_iam(tree, out, jobs=1)
    assert r2.cached and r2.parsed == 0
    np.testing.assert_array_equal(ds1.points, ds2.points)
    # change one line file and one transcription
    f = tree / "lineStrokes/a01/a01-000/a01-000u-02.xml"
    f.write_text(line_xml(strokes(42, n=5)), encoding="iso-8859-1")
    os.utime(f, ns=(1, 1))
    t = tree / "ascii/a01/a01-000/a01-000x.txt"
    t.write_text(ascii_txt(["A MOVE changed", "second"]), encoding="iso-8859-1")
    ds3, r3 = import_iam(tree, out, jobs=1)
    # re-parsed: the changed file, plus the two lines that had no transcription last time (retried)
    assert not r3.cached and r3.parsed == 3 and r3.reused == r3.files - 3
    by_id = {m["id"]: i for i, m in enumerate(ds3.lines_meta)}
    assert len(ds3.line(by_id["a01-000u-02"]).points) == 60
    assert ds3.line(by_id["a01-000x-01"]).text == "A MOVE changed"
    assert len(ds3.skipped) == len(ds1.skipped)
    fresh, _ = import_iam(tree, None, jobs=1)
    np.testing.assert_array_equal(fresh.points, ds3.points)


def test_parallel_import_equals_serial(tmp_path):
    forms = {f"d{k // 50:02d}-{k:03d}": (["some text"], {1: line_xml(strokes(k))}) for k in range(210)}
    root = make_tree(tmp_path / "iam", forms)
    a, _ = import_iam(root, None, jobs=1)
    b, rb = import_iam(root, None, jobs=2)
    np.testing.assert_array_equal(a.points, b.points)
    assert a.lines_meta == b.lines_meta


def test_bad_roots(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        import_iam(tmp_path / "nope")
    (tmp_path / "x" / "lineStrokes").mkdir(parents=True)
    with pytest.raises(DataError, match="ascii/ missing"):
        import_iam(tmp_path / "x")
    (tmp_path / "x" / "ascii").mkdir()
    with pytest.raises(DataError, match="no line files"):
        import_iam(tmp_path / "x")


def test_real_fixture_form(shared_dir, tmp_path):
    root = shared_dir / "fixtures" / "iam-ondb"
    if not root.exists():
        pytest.skip("IAM-OnDB fixture not present")
    ds, rep = import_iam(root, tmp_path / "ds", jobs=1)
    assert rep.skipped == []
    texts = {m["id"]: m["text"] for m in ds.lines_meta}
    assert texts == {"a01-000u-01": "A MOVE to stop Mr . Gaitskell", "a01-000u-02": "from nomnating any more Labour"}
    for line in ds:
        assert 500 < len(line.points) < 700 and line.points[:, 2].sum() > 20
        assert line.split == ds.line(0).split                    # same form, same split


# ------------------------------------------------------------------ transcriptions that are not training text
def test_unusable_transcription():
    from engine.data.iam import unusable_transcription

    assert unusable_transcription("A MOVE to stop Mr . Gaitskell") is None
    assert unusable_transcription("from #nominating any more") == "crossed_out"
    assert unusable_transcription("#") == "crossed_out"
    assert unusable_transcription("Please Enter Transcription here") == "placeholder"
    assert unusable_transcription("  please enter transcription here. ") == "placeholder"
    assert unusable_transcription("Please enter the transcription here") is None


def test_crossed_out_and_placeholder_lines_are_dropped_counted_and_listed(tmp_path):
    root = make_tree(tmp_path / "iam", {
        "a01-000u": (["good line", "a #crossed word", "Please Enter Transcription here", "last"],
                     {k: line_xml(strokes(k)) for k in (1, 2, 3, 4)}),
        "a02-000": (["Please Enter Transcription here"], {1: line_xml(strokes(7))}),
    })
    ds, rep = import_iam(root, tmp_path / "ds", jobs=1)
    assert sorted(m["text"] for m in ds.lines_meta) == ["good line", "last"]
    assert not any("#" in m["text"] or "Transcription" in m["text"] for m in ds.lines_meta)
    assert rep.dropped == {"crossed_out": 1, "placeholder": 2}
    reasons = dict(rep.skipped)
    assert "crossed-out" in reasons["lineStrokes/a01/a01-000/a01-000u-02.xml"]
    assert "placeholder" in reasons["lineStrokes/a01/a01-000/a01-000u-03.xml"]
    assert "placeholder" in reasons["lineStrokes/a02/a02-000/a02-000-01.xml"]
    back = InkDataset.load(tmp_path / "ds")
    assert back.extra["dropped"] == rep.dropped and len(back.skipped) == 3
    _, cached = import_iam(root, tmp_path / "ds", jobs=1)
    assert cached.cached and cached.dropped == rep.dropped
    # fixing the transcription brings the line back (it is re-read, the ink is re-parsed)
    (root / "ascii/a01/a01-000/a01-000u.txt").write_bytes(
        ascii_txt(["good line", "a crossed word", "Please Enter Transcription here", "last"]).encode("iso-8859-1"))
    ds3, rep3 = import_iam(root, tmp_path / "ds", jobs=1)
    assert "a crossed word" in [m["text"] for m in ds3.lines_meta] and rep3.dropped["crossed_out"] == 0


# ------------------------------------------------------------------ absurd coordinates and odd files
@pytest.mark.parametrize("value", ["1e308", "-1e308", "1e400", "-inf", "20000000"])
def test_absurd_coordinates_reject_the_file_naming_it(tmp_path, value):
    p = tmp_path / "a01-000u-01.xml"
    p.write_text(line_xml(strokes(1)).replace('x="510"', f'x="{value}"', 1), encoding="iso-8859-1")
    with pytest.raises(DataError, match=r"x coordinate \S+ in a01-000u-01\.xml is (not finite|beyond)"):
        parse_line_file(p)


def test_one_bad_file_does_not_stop_the_import(tmp_path, monkeypatch):
    import engine.data.iam as iam

    root = make_tree(tmp_path / "iam", {"a01-000u": (["one", "two", "three", "four"], {
        1: line_xml(strokes(1)), 2: re.sub(r'(<Point x="\d+" y=")[^"]*', r"\g<1>1e308", line_xml(strokes(2)), count=1),
        3: line_xml(strokes(3)), 4: line_xml(strokes(4))})})
    real = iam.parse_line_file

    def odd(path):
        if str(path).endswith("-03.xml"):
            raise OverflowError("int too large to convert to float")
        return real(path)

    monkeypatch.setattr(iam, "parse_line_file", odd)
    ds, rep = import_iam(root, None, jobs=1)
    assert [m["text"] for m in ds.lines_meta] == ["one", "four"]
    reasons = dict(rep.skipped)
    assert "y coordinate 1e+308 in a01-000u-02.xml" in reasons["lineStrokes/a01/a01-000/a01-000u-02.xml"]
    assert "too large" in reasons["lineStrokes/a01/a01-000/a01-000u-03.xml"]
    assert all("\n" not in r for r in reasons.values())
    for line in ds:
        assert np.all(np.abs(line.points) < 1e7)

    def bug(path):
        raise MemoryError                      # not a file problem: it must stop the import
    monkeypatch.setattr(iam, "parse_line_file", bug)
    with pytest.raises(MemoryError):
        import_iam(root, None, jobs=1)


def test_cache_is_not_used_when_the_dataset_was_saved_by_another_run(tree, tmp_path):
    out = tmp_path / "ds"
    ds, _ = import_iam(tree, out, jobs=1)
    InkDataset.from_lines(list(ds)[:2], source="other").save(out)       # e.g. another tool wrote there
    ds2, rep2 = import_iam(tree, out, jobs=1)
    assert not rep2.cached and len(ds2) == len(ds)


# ------------------------------------------------------------------ the real forms (IAM terms: read from ../shared)
def test_real_forms_jump_rule_cuts_fewer_real_strokes(shared_dir):
    from engine.data.ink import Ink, Stroke
    from engine.data.ink_clean import CleanOptions, clean_ink

    root = shared_dir / "fixtures" / "iam-ondb-writers"
    if not root.exists():
        pytest.skip("IAM-OnDB writers fixture not present")
    inks = [parse_line_file(p) for p in sorted((root / "lineStrokes").rglob("*.xml"))]
    assert len(inks) >= 70

    def lossy(ink, rng):                       # sparser sampling: runs of lost samples, as tablets drop them
        out = []
        for s in ink.strokes:
            keep = np.ones(len(s), bool)
            for i in np.flatnonzero(rng.random(len(s)) < 0.03):
                keep[i + 1:i + 7] = False
            keep[-1] = True
            out.append(Stroke(s.x[keep], s.y[keep]))
        return Ink(out)

    for data in (inks, [lossy(k, np.random.default_rng(i)) for i, k in enumerate(inks)]):
        old, new = {}, {}
        for ink in data:
            clean_ink(ink, CleanOptions(jump_height_factor=0), old)       # the median-only rule
            clean_ink(ink, CleanOptions(), new)
        assert new["spikes"] + new["splits"] < max(1, old["spikes"] + old["splits"])
        assert new["splits"] == 0 and new["spikes"] == 0
    assert old["splits"] > 10                  # the old rule cut many real strokes in the sparser lines


def test_real_forms_import_summary_counts(shared_dir, tmp_path):
    root = shared_dir / "fixtures" / "iam-ondb-writers"
    if not root.exists():
        pytest.skip("IAM-OnDB writers fixture not present")
    ds, rep = import_iam(root, tmp_path / "ds", jobs=1)
    assert rep.lines == len(ds) >= 70 and rep.skipped == []
    assert rep.dropped == {"crossed_out": 0, "placeholder": 0}
    removed = rep.cleaning["nonfinite"] + rep.cleaning["duplicates"] + rep.cleaning["spikes"]
    assert rep.cleaning["points_in"] - removed == int(ds.offsets[-1])
    assert rep.cleaning["splits"] == 0
