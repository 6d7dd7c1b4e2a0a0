"""Synthetic handwriting corpus: coverage, timing, writer styles, datasets."""

import numpy as np
import pytest

from engine.core.errors import DataError
from engine.data.synth import (
    REQUIRED_CHARS,
    WriterStyle,
    corpus_lines,
    make_writers,
    render_line,
    supported_chars,
    synth_corpus,
    synth_dataset,
)

TEXT = ("It was the best of times, it was the worst of times; it was the age of wisdom. Was it? "
        "Yes! 'Quite' so - (they said) & then Zoe, Xavier and Jake left at 10:45.\n" * 5)


def slant(ink) -> float:
    """Median shear of the near-vertical pen-down movements (x moves right as y goes up => positive)."""
    r = []
    for s in ink.strokes:
        dx, dy = np.diff(s.x), np.diff(s.y)
        m = np.abs(dy) > 3 * np.maximum(np.abs(dx), 1e-9) * 0.5
        r.append(-dx[m] / dy[m])
    return float(np.median(np.concatenate(r)))


def test_every_required_character_renders():
    assert set(REQUIRED_CHARS) <= set(supported_chars())
    w = WriterStyle()
    for c in REQUIRED_CHARS.replace(" ", ""):
        ink = render_line(c, w, seed=0)
        assert len(ink) >= 3, c
        x0, y0, x1, y1 = ink.bounds()
        assert (x1 - x0) + (y1 - y0) > 2.0, c               # a visible mark, not a dot at the origin
    assert render_line("a b", w, seed=0).text == "a b"


def test_units_time_and_density_are_iam_like():
    w = WriterStyle(x_height=24.0)
    ink = render_line("minimum waves", w, seed=1)
    y = np.concatenate([s.y for s in ink.strokes])
    assert -60 < y.min() < -15 and 0 < y.max() < 40         # y down: ascenders negative, baseline 0
    t = np.concatenate([s.t for s in ink.strokes])
    assert np.all(np.diff(t) > 0)                            # monotonic clock
    per_letter = len(ink) / len("minimumwaves")
    assert 15 < per_letter < 45
    # few long strokes, not hundreds of tiny segments: "minimum" is written in one or two pen strokes + dots
    assert len(render_line("minimum", w, seed=1).strokes) <= 5


def test_writers_differ_and_are_reproducible():
    base = dict(x_height=24.0, width=0.8, jitter=0.1, drift=0.0)
    upright = render_line("the quick brown fox jumps", WriterStyle(slant=-0.15, **base), seed=3)
    leaning = render_line("the quick brown fox jumps", WriterStyle(slant=0.4, **base), seed=3)
    assert slant(leaning) - slant(upright) > 0.3
    big = render_line("hello", WriterStyle(x_height=28.0, **{k: v for k, v in base.items() if k != "x_height"}), seed=3)
    small = render_line("hello", WriterStyle(x_height=20.0, **{k: v for k, v in base.items() if k != "x_height"}), seed=3)
    hb, hs = big.bounds(), small.bounds()
    assert (hb[3] - hb[1]) / (hs[3] - hs[1]) == pytest.approx(1.4, rel=0.1)
    ws = make_writers(8, seed=5)
    assert make_writers(8, seed=5) == ws and make_writers(8, seed=6) != ws
    assert len({tuple(w.to_json().values()) for w in ws}) == 8
    assert np.std([w.slant for w in ws]) > 0.05 and np.std([w.x_height for w in ws]) > 1.0
    a = render_line("same text", ws[0], seed=9).to_stroke3()
    np.testing.assert_array_equal(a, render_line("same text", ws[0], seed=9).to_stroke3())
    assert not np.array_equal(a, render_line("same text", ws[0], seed=10).to_stroke3())


def test_unknown_character_is_a_clear_error():
    with pytest.raises(DataError, match="cannot write"):
        render_line("caf\u00e9", WriterStyle())
    with pytest.raises(DataError, match="cannot write"):
        synth_dataset(["ok", "na\u00efve"], writers=1)


def test_corpus_lines_lengths_and_mix():
    lines = corpus_lines(TEXT, 200, seed=1, min_chars=20, max_chars=50, mix=0.3)
    assert len(lines) == 200
    assert all(len(l) <= 50 for l in lines)
    assert np.mean([len(l) >= 20 for l in lines]) > 0.95
    assert corpus_lines(TEXT, 200, seed=1, mix=0.3) == lines
    joined = "".join(lines)
    assert set("0123456789") <= set(joined)                 # the mixed lines bring in all digits
    plain = corpus_lines(TEXT, 50, seed=1, mix=0.0)
    assert all(l in " ".join(TEXT.split()) for l in plain)  # plain lines are corpus text
    with pytest.raises(DataError):
        corpus_lines("\u00e9\u00e9\u00e9", 3)


def test_corpus_lines_caps_fraction_keeps_the_other_lines():
    base = corpus_lines(TEXT, 400, seed=4, mix=0.3)
    caps = corpus_lines(TEXT, 400, seed=4, mix=0.3, caps=0.25)
    changed = [i for i, (a, b) in enumerate(zip(base, caps)) if a != b]
    assert all(caps[i] in (base[i], base[i].upper()) for i in range(400))   # same lines, some in capitals
    assert 0.15 < len(changed) / 400 < 0.35
    assert all(any(c.isalpha() for c in caps[i]) and caps[i] == caps[i].upper() for i in changed)
    assert corpus_lines(TEXT, 400, seed=4, mix=0.3, caps=0.0) == base
    with pytest.raises(DataError):
        corpus_lines(TEXT, 3, caps=1.5)


def test_synth_dataset_covers_charset_splits_and_writers(tmp_path):
    ds = synth_corpus(TEXT, 120, writers=4, seed=2, mix=0.5)
    assert len(ds) == 120
    assert {m["writer"] for m in ds.lines_meta} == {f"synth-{i:03d}" for i in range(4)}
    assert set(ds.indices("train")) and len(ds.indices("train")) > 90
    for line in ds:
        assert line.points.dtype == np.float32 and line.points[-1, 2] == 1
        np.testing.assert_array_equal(line.points[0, :2], [0, 0])
    assert {c for c in "0123456789" if c in "".join(ds.charset())} == set("0123456789")
    ds.save(tmp_path / "syn")
    assert len(type(ds).load(tmp_path / "syn")) == 120
    ds2 = synth_dataset([ds.line(i).text for i in range(len(ds))], writers=4, seed=2, jobs=1)
    np.testing.assert_array_equal(ds.points, ds2.points)


def test_sampling_rate_and_parallel_rendering_are_consistent():
    lines = corpus_lines(TEXT, 90, seed=3)
    fast = synth_dataset(lines, writers=3, seed=1)
    slow = synth_dataset(lines, writers=3, seed=1, hz=35)
    ratio = slow.lengths().sum() / fast.lengths().sum()
    assert 0.4 < ratio < 0.6                                # half the rate, about half the points
    par = synth_dataset(lines, writers=3, seed=1, jobs=2)
    np.testing.assert_array_equal(par.points, fast.points)
    assert par.lines_meta == fast.lines_meta
    with pytest.raises(DataError):
        synth_dataset(lines, hz=0)
