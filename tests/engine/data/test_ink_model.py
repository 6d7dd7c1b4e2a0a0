"""Ink data model, stroke-3 conversion, normalisation and cleaning."""

import json
import os

import numpy as np
import pytest

from engine.core.errors import DataError
from engine.core.norm import NormStats, compute_norm_stats, stats_from_lines
from engine.data.ink import Ink, Stroke
from engine.data.ink_clean import (
    MAX_COORD,
    CleanOptions,
    check_coordinates,
    clean_ink,
    drop_nonfinite,
    line_height,
    merge_duplicates,
    remove_jumps,
    resample,
)
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


# ---------------------------------------------------------------------------------- jump rule vs density
def _sparse_line():
    """A densely sampled body (x-height 100, steps of ~2) with fast strokes sampled by one or two points:
    an ascender whose top is a single sample 250 units up (a 'spike' to the median rule) and a long t-bar."""
    strokes = []
    x = np.arange(0.0, 600.0, 2.0)
    body_y = 50 + 50 * np.sin(x / 15.0)                              # y in [0, 100], baseline at 100
    strokes.append(Stroke(x[:150], body_y[:150]))
    # ascender: from the baseline straight up to y=-150 and back, one sample at the top
    asc_x = np.concatenate([x[150:160], [322.0], 324 + np.arange(10) * 2.0])
    asc_y = np.concatenate([np.full(10, 100.0), [-150.0], np.full(10, 100.0)])
    strokes.append(Stroke(asc_x, asc_y))
    strokes.append(Stroke(x[170:], body_y[170:]))
    strokes.append(Stroke([300.0, 302.0, 480.0, 482.0], [20.0, 20.0, 21.0, 21.0]))   # t-bar: one 178 step
    return Ink(strokes)


def test_remove_jumps_keeps_sparse_legitimate_strokes():
    ink = _sparse_line()
    n = len(ink)
    out = remove_jumps(ink)
    assert len(out) == n and len(out.strokes) == len(ink.strokes)       # nothing dropped, nothing split
    assert -150.0 in out.strokes[1].y
    old = remove_jumps(ink, jump_height_factor=0)                       # the old, median-only rule
    assert len(old) < n or len(old.strokes) > len(ink.strokes)          # it cut the real strokes
    stats = {}
    clean_ink(ink, CleanOptions(), stats)
    assert stats["spikes"] == 0 and stats["splits"] == 0 and stats["points_in"] == n


def test_remove_jumps_still_splits_and_drops_glitches_of_many_line_heights():
    ink = _sparse_line()
    body = ink.strokes[0]
    h = line_height(ink)
    assert 80 < h < 260
    x, y = body.x.copy(), body.y.copy()
    y[40] += 20 * h                                                     # a spike many line heights away
    x[100:] += 12 * h                                                   # a jump of many line heights
    glitched = Ink([Stroke(x, y)] + ink.strokes[1:])
    stats = {}
    out = clean_ink(glitched, CleanOptions(), stats)
    assert stats["spikes"] == 1 and stats["splits"] == 1
    assert len(out) == len(glitched) - 1 and len(out.strokes) == len(glitched.strokes) + 1
    assert max(np.abs(s.y).max() for s in out.strokes) < 1000
    # an explicit max_jump is an absolute limit, as before
    assert len(remove_jumps(glitched, max_jump=1e9).strokes) == len(glitched.strokes)


def test_check_coordinates_names_the_place():
    check_coordinates(Ink([Stroke([1.0, np.nan], [2.0, 3.0])]), "ok.xml")      # NaN: unknown, dropped later
    for bad in (np.inf, -np.inf, 1e308, -2e7):
        with pytest.raises(DataError, match=r"x coordinate \S+ in f\.inkml is (not finite|beyond ±1e\+07)"):
            check_coordinates(Ink([Stroke([1.0, bad], [2.0, 3.0])]), "f.inkml")
    assert MAX_COORD == 1e7


# ---------------------------------------------------------------------------------- durable dataset writes
def _ds(n, text="hi"):
    return InkDataset.from_lines([InkLine(np.full((n, 3), i, np.float32), f"{text}{i}") for i in range(n)])


def test_save_writes_one_id_into_both_files_and_fsyncs(tmp_path, monkeypatch):
    import engine.data.ink_dataset as mod

    synced = []
    real = os.fsync
    monkeypatch.setattr(mod.os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    ds = _ds(3)
    ds.save(tmp_path / "d")
    assert len(synced) >= 4                    # data, meta, the staging folder, the dataset folder
    meta = json.loads((tmp_path / "d" / "meta.json").read_text())
    with np.load(tmp_path / "d" / "data.npz") as z:
        assert str(z["write_id"]) == meta["write_id"] == ds.write_id
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["data.npz", "meta.json"]
    assert InkDataset.load(tmp_path / "d").write_id == ds.write_id


def test_save_cleans_leftovers_of_killed_writes(tmp_path):
    d = tmp_path / "d"
    _ds(2).save(d)
    (d / ".saving-0123456789ab").mkdir()
    (d / ".saving-0123456789ab" / "data.npz").write_bytes(b"half")
    (d / "data.tmp.npz").write_bytes(b"old style")
    (d / "meta.json.tmp").write_text("{")
    (d / "import-manifest.json").write_text("{}")                         # other files are left alone
    _ds(4).save(d)
    assert sorted(p.name for p in d.iterdir()) == ["data.npz", "import-manifest.json", "meta.json"]
    assert len(InkDataset.load(d)) == 4


@pytest.mark.parametrize("kill_at", [1, 2])
def test_a_write_killed_between_or_before_renames_never_leaves_a_mismatch(tmp_path, monkeypatch, kill_at):
    import engine.data.ink_dataset as mod

    d = tmp_path / "d"
    _ds(2, "old").save(d)
    calls = []
    real = os.replace

    def dying_replace(a, b):
        calls.append(b)
        if len(calls) == kill_at:
            raise KeyboardInterrupt            # the process dies here (nothing after it runs)
        return real(a, b)

    monkeypatch.setattr(mod.os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        _ds(5, "new").save(d)
    monkeypatch.setattr(mod.os, "replace", real)
    back = InkDataset.load(d)                  # kill_at 1: the old pair; 2: the new save is finished
    assert len(back) == (2 if kill_at == 1 else 5)
    assert back.line(0).text == ("old0" if kill_at == 1 else "new0")
    assert len(back.offsets) == len(back.lines_meta) + 1
    assert InkDataset.load(d).write_id == back.write_id
    assert [p.name for p in d.iterdir() if p.name.startswith(".saving-")] == []


def test_mismatched_data_and_meta_without_a_staged_save_is_a_clear_error(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _ds(2).save(a)
    _ds(2).save(b)
    (a / "meta.json").write_bytes((b / "meta.json").read_bytes())
    with pytest.raises(DataError, match="different saves"):
        InkDataset.load(a)


def test_datasets_written_before_write_ids_still_load(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    np.savez(d / "data.npz", points=np.zeros((2, 3), np.float32), offsets=np.array([0, 2]))
    (d / "meta.json").write_text(json.dumps({"format": "scribe-ink-dataset", "format_version": 1,
                                             "lines": [{"text": "a"}]}))
    assert len(InkDataset.load(d)) == 1 and InkDataset.load(d).write_id == ""


def test_write_file_durably_replaces_and_cleans_its_temporaries(tmp_path):
    from engine.data.ink_dataset import write_file_durably

    (tmp_path / "m.json.1234abcd.tmp").write_text("killed")
    (tmp_path / "m.json.tmp").write_text("killed, old style")
    (tmp_path / "other.tmp").write_text("not ours")
    write_file_durably(tmp_path / "m.json", b"one")
    write_file_durably(tmp_path / "m.json", b"two")
    assert (tmp_path / "m.json").read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "other.tmp"]
