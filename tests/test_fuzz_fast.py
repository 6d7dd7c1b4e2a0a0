"""The fast part of the fuzz matrix (bench/fuzz_matrix.py): property tests of the parsers and validators that
read untrusted input, and a handful of the matrix's cases run as real ``scribe`` subprocesses.

Each property: arbitrary input never raises anything but the project's ScribeError (DataError for ink files
and datasets), or argparse's SystemExit(2) for a command-line value. The model-card parser has its own
property tests (tests/engine/core/test_card_schema.py); the app's torch-free reader of run folders, which uses
it, is tested here.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from engine.core.errors import DataError

REPO = Path(__file__).resolve().parents[1]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def scratch():
    d = Path(tempfile.mkdtemp(prefix="fuzz-fast-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _file(scratch: Path, name: str, data: bytes | str) -> Path:
    p = scratch / name
    p.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return p


def _one_line(exc: BaseException) -> None:
    assert str(exc) and "\n" not in str(exc), repr(str(exc))


# ---- InkML ------------------------------------------------------------------------------------------------

_TRACE_CHARS = "0123456789 .,-+eE#!'\"?*TFabcx\t\n"
_trace = st.text(alphabet=_TRACE_CHARS, max_size=120)
_channels = st.lists(st.sampled_from(["X", "Y", "T", "F", "P", "Z", ""]), max_size=5)


@st.composite
def inkml_docs(draw):
    chans = draw(_channels)
    units = [draw(st.sampled_from(["", ' units="ms"'])) for _ in chans]
    fmt = "".join(f'<channel name="{c}" type="decimal"{u}/>' for c, u in zip(chans, units))
    traces = "".join(f"<trace>{draw(_trace).replace('<', '').replace('&', '')}</trace>"
                     for _ in range(draw(st.integers(0, 4))))
    group = draw(st.booleans())
    truth = draw(st.text(max_size=20)).replace("<", "").replace("&", "")
    body = (f"<traceGroup><annotation type=\"truth\">{truth}</annotation>{traces}</traceGroup>" if group
            else f"<annotation type=\"truth\">{truth}</annotation>{traces}")
    return f'<ink xmlns="http://www.w3.org/2003/InkML"><traceFormat>{fmt}</traceFormat>{body}</ink>'


@FAST
@given(st.binary(max_size=300) | inkml_docs().map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_inkml_reader_raises_only_data_errors(scratch, raw):
    from engine.data.inkml import read_inkml

    try:
        inks = read_inkml(_file(scratch, "f.inkml", raw))
    except DataError as exc:
        _one_line(exc)
        return
    for ink in inks:
        for s in ink.strokes:
            assert len(s.x) == len(s.y)
            assert not np.any(np.abs(s.x) > 1e7) and not np.any(np.abs(s.y) > 1e7)


@FAST
@given(_trace, st.integers(1, 5))
@example("-\n5 3", 2)
@example("1 2, -\t3 4", 2)
@example("#" + "F" * 300 + " 1", 2)
@example("'1 '2", 2)
def test_trace_values_raise_only_data_errors(text, n):
    from engine.data.inkml import parse_trace

    try:
        a = parse_trace(text, n)
    except DataError:
        return
    assert a.ndim == 2 and a.shape[1] == n


# ---- IAM-OnDB lineStrokes ------------------------------------------------------------------------------------

_attr = st.one_of(st.none(), st.text(alphabet="0123456789.-+eEinfaxyz ", max_size=12),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr))


@st.composite
def iam_docs(draw):
    strokes = []
    for _ in range(draw(st.integers(0, 3))):
        pts = []
        for _ in range(draw(st.integers(0, 6))):
            attrs = "".join(f' {k}="{v}"' for k, v in zip(("x", "y", "time"), (draw(_attr) for _ in range(3)))
                            if v is not None)
            pts.append(f"<Point{attrs}/>")
        strokes.append("<Stroke>" + "".join(pts) + "</Stroke>")
    root = draw(st.sampled_from(["WhiteboardCaptureSession", "WhiteboardCaptureSession", "Other"]))
    return f"<{root}><StrokeSet>{''.join(strokes)}</StrokeSet></{root}>"


@FAST
@given(st.binary(max_size=300) | iam_docs().map(str.encode))
def test_iam_line_reader_raises_only_data_errors(scratch, raw):
    from engine.data.iam import parse_line_file

    try:
        ink = parse_line_file(_file(scratch, "a01-000u-01.xml", raw))
    except DataError as exc:
        _one_line(exc)
        return
    assert all(len(s.x) == len(s.y) for s in ink.strokes)


@FAST
@given(st.binary(max_size=300))
def test_iam_transcriptions_raise_only_data_errors(scratch, raw):
    from engine.data.iam import read_transcriptions

    try:
        lines = read_transcriptions(_file(scratch, "a01-000u.txt", raw))
    except DataError:
        return
    assert all(isinstance(x, str) for x in lines)


def test_a_fifo_in_an_iam_tree_is_left_out(tmp_path):
    from engine.data.iam import _scan

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "ok.xml").write_text("<x/>")
    os.mkfifo(tmp_path / "a" / "fifo.xml")
    os.symlink(tmp_path / "a" / "loop.xml", tmp_path / "a" / "loop.xml")
    os.symlink(tmp_path / "nowhere", tmp_path / "a" / "dangling.xml")
    assert list(_scan(tmp_path, ".xml")) == ["a/ok.xml"]


# ---- ink datasets --------------------------------------------------------------------------------------------

_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                     lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4),
                     max_leaves=20)


@st.composite
def damaged_meta(draw):
    meta = {"format": "scribe-ink-dataset", "format_version": 1,
            "lines": [{"text": "ab", "writer": "w", "split": "train", "id": "0"},
                      {"text": "cd", "writer": "w", "split": "val", "id": "1"}]}
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "line", "field"]))
        if where == "top":
            meta[draw(st.sampled_from(["format", "format_version", "lines", "skipped", "extra", "source"]))] = \
                draw(_json)
        elif where == "line" and isinstance(meta.get("lines"), list) and meta["lines"]:
            meta["lines"][draw(st.integers(0, len(meta["lines"]) - 1))] = draw(_json)
        elif isinstance(meta.get("lines"), list) and meta["lines"] and isinstance(meta["lines"][0], dict):
            meta["lines"][0][draw(st.sampled_from(["text", "writer", "split", "id"]))] = draw(_json)
    return meta


@st.composite
def damaged_arrays(draw):
    points = np.zeros((5, 3), np.float32)
    offsets = np.array([0, 2, 5])
    what = draw(st.sampled_from(["points-shape", "points-value", "offsets", "dtype", "none"]))
    if what == "points-shape":
        points = np.zeros(draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)), np.float32)
    elif what == "points-value":
        points[draw(st.integers(0, 4)), draw(st.integers(0, 2))] = draw(st.floats(width=32))
    elif what == "offsets":
        offsets = np.array(draw(st.lists(st.integers(-10, 10), max_size=4)), dtype=np.int64)
    elif what == "dtype":
        points = points.astype(draw(st.sampled_from([np.int8, np.float64, np.bool_, np.complex64, "U1"])))
    return points, offsets


@FAST
@given(damaged_meta() | _json, damaged_arrays())
def test_dataset_loader_raises_only_data_errors(scratch, meta, arrays):
    from engine.data.ink_dataset import InkDataset

    d = scratch / "ds"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    points, offsets = arrays
    np.savez(d / "data.npz", points=points, offsets=offsets)
    (d / "meta.json").write_text(json.dumps(meta))
    try:
        ds = InkDataset.load(d)
    except DataError as exc:
        _one_line(exc)
        return
    assert ds.points.shape[1] == 3 and np.isfinite(ds.points).all()
    assert len(ds.offsets) == len(ds) + 1 and ds.offsets[-1] == len(ds.points)
    assert all(isinstance(m.get("text", ""), str) for m in ds.lines_meta)


# ---- the app's reader of run folders (studio.train.data: cards and pointers, no torch) ---------------------------

def _run_folder(root: Path) -> Path:
    run = root / "run"
    ck = run / "checkpoints" / "step-0000002"
    ck.mkdir(parents=True)
    (ck / "model.safetensors").write_bytes(b"x")
    card = {"format": "scribe-checkpoint", "format_version": 1, "kind": "text", "vocab": list("ab"), "step": 2,
            "model_config": {"vocab_size": 2, "hidden": 4, "embed": 2}}
    (ck / "card.json").write_text(json.dumps(card))
    (run / "last.json").write_text(json.dumps({"path": "checkpoints/step-0000002"}))
    outside = root / "outside"
    outside.mkdir()
    (outside / "model.safetensors").write_bytes(b"x")
    (outside / "card.json").write_text(json.dumps({**card, "name": "OUTSIDE"}))
    return run


@FAST
@given(_json, st.sampled_from(["card", "last", "best"]))
def test_app_run_reader_returns_only_valid_cards_from_inside_the_run(value, which):
    from engine.core.card_schema import validate_card
    from studio.train.data import list_checkpoints, model_card

    root = Path(tempfile.mkdtemp(prefix="fuzz-run-"))
    try:
        run = _run_folder(root)
        target = run / "checkpoints" / "step-0000002" / "card.json" if which == "card" else run / f"{which}.json"
        if which != "card" and isinstance(value, str):
            value = {"path": value if value else "../outside"}
        target.write_text(json.dumps(value))
        list_checkpoints(run)
        try:
            card = model_card(run)
        except DataError as exc:
            _one_line(exc)
            return
        assert card.get("name") != "OUTSIDE"
        validate_card(card, "card.json", package=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("pointer", ["../outside", "{root}/outside", "checkpoints/../../outside", "checkpoints/link"])
def test_app_run_reader_never_follows_a_pointer_out_of_the_run(tmp_path, pointer):
    from studio.train.data import list_checkpoints, model_card

    run = _run_folder(tmp_path)
    os.symlink(tmp_path / "outside", run / "checkpoints" / "link")
    for which in ("last", "best"):
        (run / f"{which}.json").write_text(json.dumps({"path": pointer.format(root=tmp_path)}))
    assert model_card(run).get("name") != "OUTSIDE"
    assert [Path(c["path"]).name for c in list_checkpoints(run)] == ["step-0000002"]


# ---- command-line values -------------------------------------------------------------------------------------

def _commands():
    from engine.cli.main import build_parser

    parser = build_parser()
    out = []

    def walk(p, path):
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        for a in subs:
            for name, sp in a.choices.items():
                walk(sp, path + [name])
        if not subs:
            base = list(path)
            for a in p._actions:
                if not a.option_strings and a.dest not in ("help",) and a.nargs != 0:
                    base.append("x")                           # a positional (a path)
                elif a.required:
                    base += [a.option_strings[0], "x" if a.type in (None, str) else "1"]
            for a in p._actions:
                if a.option_strings and a.type is not None and a.type is not str:
                    out.append((base, max(a.option_strings, key=len), a.dest, a.type))
    walk(parser, [])
    return parser, out


_PARSER, _FLAGS = _commands()
_values = st.one_of(st.text(max_size=30), st.from_regex(r"-?[0-9]{0,40}(\.[0-9]{0,5})?(e-?[0-9]{1,4})?", fullmatch=True),
                    st.sampled_from(["nan", "inf", "-inf", "1e400", "0x10", "1_000", " 5 ", "５", "٣", "-0", "+3", "auto",
                                     " AUTO "]),
                    st.floats().map(repr), st.integers().map(str))


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.sampled_from(_FLAGS), _values)
def test_every_numeric_flag_refuses_cleanly_or_gives_a_value_in_bounds(capsys, flag, value):
    base, opt, dest, typ = flag
    assume("\x00" not in value)
    try:
        ns = _PARSER.parse_args(base + [f"{opt}={value}"])
    except SystemExit as exc:
        assert exc.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err and opt in err[-1] and "Traceback" not in "\n".join(err)
        return
    v = getattr(ns, dest)
    if v is None:                                      # "auto", where the flag takes it
        from engine.cli.common import AutoOr

        assert isinstance(typ, AutoOr) and value.strip().lower() == "auto"
        return
    assert isinstance(v, (int, float)) and not isinstance(v, bool)
    assert math.isfinite(v)
    lo, hi = getattr(typ, "lo", None), getattr(typ, "hi", None)
    if lo is not None:
        assert v > lo or (v == lo and not typ.lo_open)
    if hi is not None:
        assert v < hi or (v == hi and not typ.hi_open)


def test_every_numeric_flag_has_a_bounded_type():
    """No plain int/float flag is left: each takes a Number (bounds stated, nan/inf refused)."""
    from engine.cli.common import Number

    loose = [f"scribe {' '.join(b[:2])} {opt}" for b, opt, _, typ in _FLAGS
             if not isinstance(typ, Number) and not (b[:2] == ["eval", "ink"] and opt == "--limit")]
    assert loose == []


@FAST
@given(st.text(max_size=40), st.sampled_from([int, float]), st.booleans(), st.booleans())
@example("6\n", int, False, False)     # found by hypothesis: the out-of-range message carried the newline
def test_number_type_is_total(text, base, lo_open, hi_open):
    from engine.cli.common import Number

    n = Number(base, -5, 5, lo_open=lo_open, hi_open=hi_open)
    try:
        v = n(text)
    except argparse.ArgumentTypeError as exc:
        _one_line(exc)
        return
    assert isinstance(v, base) and math.isfinite(v) and -5 <= v <= 5


# ---- samplers (a damaged model's outputs) ------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@FAST
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=7, max_size=19),
       st.floats(0, 10), st.integers(0, 2**32 - 1))
def test_samplers_never_raise_on_extreme_outputs(values, bias, seed):
    from engine.core.sampling import make_rng, sample_logits, sample_mdn

    y = np.array(values[: 6 * ((len(values) - 1) // 6) + 1])
    p = sample_mdn(y, make_rng(seed), bias)
    assert p.shape == (3,)
    i = sample_logits(np.array(values), make_rng(seed), temperature=max(bias, 0.1), top_k=3)
    assert 0 <= i < len(values)


# ---- a handful of the matrix's cases, as real subprocesses ----------------------------------------------------

def _matrix():
    spec = importlib.util.spec_from_file_location("fuzz_matrix", REPO / "bench" / "fuzz_matrix.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fuzz_matrix", mod)
    spec.loader.exec_module(mod)
    return mod


MATRIX_CASES = [
    "inkml/import/entity-bomb", "inkml/import/hex-1000-digits", "inkml/import/folder-fifo-links",
    "iam/tree/fifo-txt", "iam/tree/loop-xml", "iam/cache/manifest-list",
    "corpus/synth/fifo", "corpus/synth/invalid-utf8",
    "cli/import inkml --max-jump=neg", "cli/synth --seed=neg", "cli/synth --hz=inf", "cli/import iam --jobs=huge",
    "pipe/synth", "pipe/import-inkml", "pipe/help",
    "outputs/synth/over-a-dataset", "outputs/import-inkml --out/a-file", "outputs/synth --svg-preview/folder",
    "concurrency/synth/three-same-out",
]


def test_matrix_cases(tmp_path):
    fm = _matrix()
    runner = fm.Runner(tmp_path)
    fx = fm.Fixtures(runner, tmp_path / "fixtures")
    (tmp_path / "fixtures").mkdir()
    by_name = {f"{c.family}/{c.name}": c for c in fm.build_cases(fx, ["corpus", "inkml", "iam", "cli", "pipe",
                                                                        "outputs", "concurrency"])}
    bad = []
    for i, name in enumerate(MATRIX_CASES):
        out = fm.run_case(by_name[name], i, runner, tmp_path, keep=False)
        if out.cls not in ("ok", "clean-error"):
            bad.append(f"{name}: {out.cls}: {out.note} ({out.command})")
    assert bad == []


def test_the_matrix_covers_every_family_and_enough_cases(tmp_path):
    fm = _matrix()
    fx = fm.Fixtures(fm.Runner(tmp_path), tmp_path / "fixtures")
    cases = fm.build_cases(fx, fm.FAMILIES)
    assert {c.family for c in cases} == set(fm.FAMILIES)
    assert len(cases) >= 400


def test_a_failed_inkml_write_leaves_the_earlier_file_and_no_temporary(tmp_path, monkeypatch):
    import errno
    import xml.etree.ElementTree as ET

    from engine.data.ink import Ink, Stroke
    from engine.data.inkml import write_inkml

    ink = Ink([Stroke(np.arange(5.0), np.arange(5.0))], "ab")
    out = tmp_path / "line.inkml"
    out.write_text("earlier")

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ET.ElementTree, "write", full)
    with pytest.raises(OSError):
        write_inkml(out, ink)
    assert out.read_text() == "earlier" and sorted(p.name for p in tmp_path.iterdir()) == ["line.inkml"]
