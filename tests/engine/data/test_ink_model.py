"""Ink data model, stroke-3 conversion, normalisation and cleaning."""

import json

import numpy as np
import pytest

from engine.core.errors import DataError
from engine.core.norm import NormStats, compute_norm_stats, stats_from_lines
from engine.data.ink import Ink, Stroke
from engine.data.ink_clean import CleanOptions, clean_ink, drop_nonfinite, merge_duplicates, remove_jumps, resample
from engine.data.ink_dataset import InkDataset, InkLine


def _ink():
    return Ink([Stroke([1, 2, 4], [5, 5, 7], t=[0.0, 0.01, 0.02]), Stroke([10], [3], t=[0.05]),
                Stroke([11, 12], [4, 9], t=[0.1, 0.11])], text="ab", writer="w")


def test_stroke3_layout_and_round_trip():
    ink = _ink()
    s3 = ink.to_stroke3()
    assert s3.dtype == np.float32 and s3.shape == (6, 3)
    np.testing.assert_array_equal(s3[0], [1, 5, 0])          # first row: offset from the origin
    np.testing.assert_array_equal(s3[:, 2], [0, 0, 1, 1, 0, 1])
    np.testing.assert_array_equal(s3[3], [6, -4, 1])         # pen-up jump to the single-point stroke
    back = Ink.from_stroke3(s3, text="ab")
    assert [len(s) for s in back.strokes] == [3, 1, 2]
    for a, b in zip(ink.strokes, back.strokes):
        np.testing.assert_allclose(a.x, b.x)
        np.testing.assert_allclose(a.y, b.y)
    assert back.text == "ab"
    assert ink.bounds() == (1.0, 3.0, 12.0, 9.0)


def test_from_stroke3_without_final_pen_up_and_empty():
    ink = Ink.from_stroke3(np.array([[0, 0, 0], [1, 1, 0], [1, 0, 0]]))
    assert len(ink.strokes) == 1 and len(ink) == 3
    assert Ink.from_stroke3(np.zeros((0, 3))).strokes == []
    assert Ink([]).to_stroke3().shape == (0, 3)
    assert Ink([Stroke([], [])]).to_stroke3().shape == (0, 3)


def test_stroke_rejects_mismatched_channels():
    with pytest.raises(ValueError):
        Stroke([1, 2], [1])
    with pytest.raises(ValueError):
        Stroke([1, 2], [1, 2], t=[0.0])


def test_at_origin_makes_first_row_zero():
    s3 = _ink().at_origin().to_stroke3()
    np.testing.assert_array_equal(s3[0, :2], [0, 0])


def test_normalisation_round_trip_and_json():
    rng = np.random.default_rng(0)
    s3 = np.concatenate([rng.normal([3, -1], [5, 2], size=(500, 2)), (rng.random((500, 1)) < 0.1)], axis=1)
    st = stats_from_lines([s3])
    n = st.normalise(s3)
    np.testing.assert_allclose(n[1:, :2].mean(0), 0, atol=0.05)
    np.testing.assert_allclose(n[1:, :2].std(0), 1, atol=0.05)
    np.testing.assert_array_equal(n[:, 2], s3[:, 2])
    np.testing.assert_allclose(st.denormalise(n), s3, rtol=1e-5, atol=1e-4)
    st2 = NormStats.from_json(json.dumps(st.to_json()))
    np.testing.assert_allclose(st2.mean, st.mean)
    np.testing.assert_allclose(st2.std, st.std)
    with pytest.raises(DataError):
        NormStats.from_json({"mean": [0, 0]})
    with pytest.raises(DataError):
        NormStats([0, 0], [0, 1])


def test_compute_norm_stats_uses_only_the_training_split():
    train = InkLine(np.array([[0, 0, 0], [2, 0, 0], [4, 0, 1]], np.float32), split="train")
    val = InkLine(np.array([[0, 0, 0], [100, 50, 1]], np.float32), split="val")
    ds = InkDataset.from_lines([train, val])
    st = compute_norm_stats(ds, "train")
    np.testing.assert_allclose(st.mean, [3, 0])
    np.testing.assert_allclose(st.std[0], 1.0)
    assert st.std[1] > 0                      # floored, never zero
    with pytest.raises(DataError):
        compute_norm_stats(ds, "test")


def test_dataset_save_load_keeps_extra_line_fields(tmp_path):
    ds = InkDataset.from_lines([InkLine(np.zeros((2, 3), np.float32), "hi", "w1", "val", "x1", {"form": "f"})])
    ds.save(tmp_path / "d")
    back = InkDataset.load(tmp_path / "d")
    line = back.line(0)
    assert (line.text, line.writer, line.split, line.id, line.meta) == ("hi", "w1", "val", "x1", {"form": "f"})


def test_drop_nonfinite():
    ink = Ink([Stroke([1, np.nan, 3, np.inf], [1, 2, np.nan, 4], t=[0, 1, 2, 3]), Stroke([np.nan], [1], t=[4])])
    out = drop_nonfinite(ink)
    assert len(out.strokes) == 1
    np.testing.assert_array_equal(out.strokes[0].x, [1])
    np.testing.assert_array_equal(out.strokes[0].t, [0])
    bad_t = drop_nonfinite(Ink([Stroke([1, 2], [1, 2], t=[0, np.nan], p=[0.5, 0.5])]))
    assert bad_t.strokes[0].t is None and len(bad_t) == 2 and bad_t.strokes[0].p is not None


def test_merge_duplicates():
    ink = Ink([Stroke([0, 0, 1, 1, 1.05, 3], [0, 0, 0, 0, 0, 0])])
    assert len(merge_duplicates(ink).strokes[0]) == 4
    assert len(merge_duplicates(ink, eps=0.1).strokes[0]) == 3


def test_remove_jumps_drops_spikes_and_splits_long_steps():
    x = np.arange(20, dtype=float)
    y = np.zeros(20)
    y[7] = 500.0                                  # a spike out and back
    x[14:] += 400.0                               # a long pen-down jump: the pen must have lifted
    out = remove_jumps(Ink([Stroke(x, y)]))
    assert [len(s) for s in out.strokes] == [13, 6]
    assert 500.0 not in np.concatenate([s.y for s in out.strokes])
    assert len(remove_jumps(Ink([Stroke(x, y)]), max_jump=1000).strokes) == 1


def test_resample_even_spacing_and_channels():
    ink = Ink([Stroke([0, 10], [0, 0], t=[0, 1], p=[0.2, 0.6])])
    s = resample(ink, 2.5).strokes[0]
    np.testing.assert_allclose(s.x, [0, 2.5, 5, 7.5, 10])
    np.testing.assert_allclose(s.t, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(s.p, [0.2, 0.3, 0.4, 0.5, 0.6])


def test_clean_ink_rejections():
    with pytest.raises(DataError, match="no valid points"):
        clean_ink(Ink([Stroke([np.nan], [np.nan]), Stroke([], [])]))
    long = Ink([Stroke(np.arange(50.0), np.zeros(50))])
    with pytest.raises(DataError, match="too long"):
        clean_ink(long, CleanOptions(max_points=10))
    assert len(clean_ink(long, CleanOptions(max_points=50))) == 50


def test_ink_modules_do_not_import_torch_or_qt():
    import subprocess
    import sys

    code = ("import sys\n"
            "import engine.data.ink, engine.core.norm, engine.data.ink_clean, engine.data.iam, engine.data.inkml\n"
            "import engine.data.synth, engine.data.svg, engine.data.ink_dataset, engine.cli.data\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'pyqtgraph')]\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
