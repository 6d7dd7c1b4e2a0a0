"""InkML reading and writing (the app's recordings) and the InkML folder importer."""

import numpy as np
import pytest

from engine.core.errors import DataError
from engine.data.ink import Ink, Stroke
from engine.data.inkml import import_inkml, parse_trace, read_inkml, write_inkml


def _ink(seed, text, writer="", n=3):
    rng = np.random.default_rng(seed)
    strokes = []
    t = 12.5
    for k in range(n):
        m = int(rng.integers(1, 30))
        x = np.round(rng.normal(100 * k, 20, m), 2)
        y = np.round(rng.normal(50, 10, m), 2)
        tt = t + np.arange(m) * 0.0125
        t = tt[-1] + 0.2
        strokes.append(Stroke(x, y, tt, np.round(rng.random(m), 3)))
    return Ink(strokes, text, writer)


def _same(a: Ink, b: Ink, channels=("x", "y", "t", "p")):
    assert a.text == b.text and a.writer == b.writer
    assert [len(s) for s in a.strokes] == [len(s) for s in b.strokes]
    for sa, sb in zip(a.strokes, b.strokes):
        for c in channels:
            np.testing.assert_allclose(getattr(sa, c), getattr(sb, c), atol=1e-4)


def test_round_trip_one_ink_with_time_and_pressure(tmp_path):
    ink = _ink(0, 'Caf\u00e9 <&> "quoted"', writer="me")
    p = write_inkml(tmp_path / "a.inkml", ink)
    [back] = read_inkml(p)
    _same(ink, back)
    assert 'type="truth"' in p.read_text(encoding="utf-8")


def test_round_trip_several_lines_in_one_file(tmp_path):
    inks = [_ink(1, "first line"), _ink(2, "second line", n=5), _ink(3, "")]
    back = read_inkml(write_inkml(tmp_path / "b.inkml", inks))
    assert len(back) == 3
    for a, b in zip(inks, back):
        _same(a, b)


def test_round_trip_without_time_or_pressure(tmp_path):
    ink = Ink([Stroke([1, 2.5], [3, 4]), Stroke([7], [8])], "xy")
    [back] = read_inkml(write_inkml(tmp_path / "c.inkml", ink))
    _same(ink, back, ("x", "y"))
    assert back.strokes[0].t is None and back.strokes[0].p is None


def test_difference_prefixes():
    # spec example: explicit, first differences, second differences (the mode persists)
    v = parse_trace("1125 18432'23'43\"7\"-8 3-5", 2)
    np.testing.assert_allclose(v, [[1125, 18432], [1148, 18475], [1178, 18510], [1211, 18540]])
    v = parse_trace("10 10 0, '1 '2 '5, 3 4 5, !0 !0 '0", 3)
    np.testing.assert_allclose(v, [[10, 10, 0], [11, 12, 5], [14, 16, 10], [0, 0, 10]])
    v = parse_trace("1 2 ?, 3 4 T, * 5 F", 3)
    assert np.isnan(v[0, 2]) and v[1, 2] == 1 and v[2, 0] == 3 and v[2, 2] == 0
    with pytest.raises(DataError):
        parse_trace("1 2 3, 4 5", 2)
    with pytest.raises(DataError):
        parse_trace("'1 2", 2)           # a difference needs a previous value
    with pytest.raises(DataError):
        parse_trace("1 2, x y", 2)


def test_reads_foreign_inkml_with_context_and_groups(tmp_path):
    p = tmp_path / "f.inkml"
    p.write_text("""<?xml version="1.0"?>
<inkml:ink xmlns:inkml="http://www.w3.org/2003/InkML">
  <inkml:definitions><inkml:context><inkml:traceFormat>
    <inkml:channel name="Y" type="decimal"/><inkml:channel name="X" type="decimal"/>
    <inkml:channel name="T" type="integer" units="ms"/>
  </inkml:traceFormat></inkml:context></inkml:definitions>
  <inkml:annotation type="truth">whole page</inkml:annotation>
  <inkml:traceGroup>
    <inkml:annotation type="truth">hello</inkml:annotation>
    <inkml:trace>1 2 1000, 3 4 1010</inkml:trace>
    <inkml:traceGroup><inkml:annotation type="truth">he</inkml:annotation>
      <inkml:trace>5 6 1020</inkml:trace></inkml:traceGroup>
  </inkml:traceGroup>
  <inkml:traceGroup><inkml:annotation type="truth">no traces here</inkml:annotation></inkml:traceGroup>
</inkml:ink>""", encoding="utf-8")
    [ink] = read_inkml(p)
    assert ink.text == "hello"
    np.testing.assert_allclose(ink.strokes[0].x, [2, 4])        # channel order from traceFormat
    np.testing.assert_allclose(ink.strokes[0].y, [1, 3])
    np.testing.assert_allclose(ink.strokes[0].t, [1.0, 1.01])   # ms -> s
    assert len(ink.strokes) == 2


@pytest.mark.parametrize("content,reason", [
    ('<?xml version="1.0"?><!DOCTYPE ink [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
     '<ink xmlns="http://www.w3.org/2003/InkML"><trace>&b;</trace></ink>', "refused"),
    ('<?xml version="1.0"?><!DOCTYPE ink [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
     '<ink xmlns="http://www.w3.org/2003/InkML"><annotation type="truth">&x;</annotation><trace>1 2</trace></ink>',
     "external"),
    ('<ink xmlns="http://www.w3.org/2003/InkML"><trace>1 2, 3 4</trace>', "malformed"),
    ('<svg><trace>1 2</trace></svg>', "not an InkML"),
    ('<ink xmlns="http://www.w3.org/2003/InkML"><annotation type="truth">x</annotation></ink>', "no traces"),
    ('<ink xmlns="http://www.w3.org/2003/InkML"><trace>1 2, 3 abc</trace></ink>', "bad trace value"),
])
def test_bad_files_are_refused_with_a_reason(tmp_path, content, reason):
    p = tmp_path / "bad.inkml"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=reason):
        read_inkml(p)


def test_import_folder_skips_bad_files_and_lines(tmp_path):
    d = tmp_path / "rec"
    write_inkml(d / "one.inkml", [_ink(1, "alpha", "ann"), _ink(2, "beta", "ann")])
    write_inkml(d / "sub" / "two.inkml", _ink(3, "gamma"))
    (d / "bad.inkml").write_text("<ink><trace>1 2", encoding="utf-8")
    nan_ink = Ink([Stroke([np.nan, np.nan], [1, 2])], "nan only")
    write_inkml(d / "nan.inkml", nan_ink)
    (d / "notes.txt").write_text("ignored")
    ds, rep = import_inkml(d, tmp_path / "ds")
    assert sorted(m["text"] for m in ds.lines_meta) == ["alpha", "beta", "gamma"]
    assert {m["writer"] for m in ds.lines_meta if m["text"] != "gamma"} == {"ann"}
    reasons = dict(rep.skipped)
    assert "malformed" in reasons["bad.inkml"]
    assert "no valid points" in reasons["nan.inkml"] or "bad trace value" in reasons["nan.inkml"]
    splits = {m["file"]: m["split"] for m in ds.lines_meta}
    assert len([m for m in ds.lines_meta if m["file"] == "one.inkml"]) == 2 and len(splits) == 2
    with pytest.raises(DataError, match="no .inkml files"):
        import_inkml(tmp_path / "ds")


# ------------------------------------------------------------------ absurd values and odd files
INK = '<ink xmlns="http://www.w3.org/2003/InkML">{}</ink>'


def test_huge_hex_values_are_a_data_error_not_an_overflow(tmp_path):
    with pytest.raises(DataError, match="too large"):
        parse_trace("1 2, #" + "F" * 400 + " 3", 2)
    with pytest.raises(DataError, match="too large"):
        parse_trace("1 2, -#" + "F" * 256 + " 3", 2)
    np.testing.assert_allclose(parse_trace("#FF -#10, #0 1", 2), [[255, -16], [0, 1]])
    p = tmp_path / "hex.inkml"
    p.write_text(INK.format("<trace>1 2, #" + "F" * 400 + " 3</trace>"), encoding="utf-8")
    with pytest.raises(DataError, match="too large"):
        read_inkml(p)


def test_a_huge_colour_in_a_brush_is_ignored(tmp_path):
    p = tmp_path / "brush.inkml"
    p.write_text(INK.format('<definitions><brush xml:id="b1"><brushProperty name="color" value="#'
                            + "F" * 400 + '"/></brush></definitions><trace brushRef="#b1">1 2, 3 4</trace>'),
                 encoding="utf-8")
    [ink] = read_inkml(p)
    np.testing.assert_allclose(ink.strokes[0].x, [1, 3])


@pytest.mark.parametrize("trace", ["1e308 2, 3 4", "1 -1e308, 3 4", "1e999 2, 3 4", "1 2, 3 20000001",
                                   "1 2, '1e308 0, '1e308 0"])
def test_absurd_coordinates_reject_the_file_naming_it(tmp_path, trace):
    p = tmp_path / "rec-7.inkml"
    p.write_text(INK.format(f"<trace>{trace}</trace>"), encoding="utf-8")
    with pytest.raises(DataError, match=r"[xy] coordinate \S+ in rec-7\.inkml is (not finite|beyond)"):
        read_inkml(p)


def test_one_bad_file_does_not_abort_a_folder_import(tmp_path, monkeypatch):
    import engine.data.inkml as mod

    d = tmp_path / "rec"
    write_inkml(d / "a.inkml", _ink(1, "alpha"))
    write_inkml(d / "b.inkml", _ink(2, "beta"))
    (d / "huge.inkml").write_text(INK.format("<trace>1 2, 1e308 4</trace>"), encoding="utf-8")
    (d / "hex.inkml").write_text(INK.format("<trace>1 2, #" + "F" * 400 + " 4</trace>"), encoding="utf-8")
    write_inkml(d / "odd.inkml", _ink(3, "odd"))
    real = mod.read_inkml

    def reader(path):
        if path.name == "odd.inkml":
            raise ValueError("something a malformed file provoked\nover two lines")
        return real(path)

    monkeypatch.setattr(mod, "read_inkml", reader)
    ds, rep = import_inkml(d, tmp_path / "ds")
    assert sorted(m["text"] for m in ds.lines_meta) == ["alpha", "beta"]
    reasons = dict(rep.skipped)
    assert set(reasons) == {"huge.inkml", "hex.inkml", "odd.inkml"}
    assert "x coordinate 1e+308 in huge.inkml is beyond" in reasons["huge.inkml"]
    assert "too large" in reasons["hex.inkml"]
    assert "ValueError" in reasons["odd.inkml"] and all("\n" not in r for r in reasons.values())
    assert rep.cleaning["points_in"] >= int(ds.offsets[-1])
    for line in ds:
        assert np.all(np.isfinite(line.points)) and np.all(np.abs(line.points) < 1e7)

    def bug(path):
        raise MemoryError
    monkeypatch.setattr(mod, "read_inkml", bug)
    with pytest.raises(MemoryError):
        import_inkml(d)
