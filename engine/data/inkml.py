"""InkML (W3C) read and write; also the app's own recording format.

Reading understands ``<traceFormat>`` channels (X, Y, T time, F force/pressure; others ignored), the
difference prefixes of trace values (``!`` explicit, ``'`` first difference, ``"`` second difference, a value
without prefix continuing its channel's last mode), ``?`` (unknown -> NaN), ``*`` (repeat), ``T``/``F``.

One file may hold several lines: every top-level ``<traceGroup>`` that contains traces is one :class:`Ink`
(its ``<annotation type="truth">`` is the transcription), and traces directly under ``<ink>`` form one more
(with the file's top-level truth annotation). Files are streamed with defusedxml: entity declarations and
external references are refused. Infinite or absurd coordinates (beyond ±1e7) reject the file (DataError naming
it); a hex value too large for a float is a DataError, never an OverflowError. Brushes (colours) are ignored.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

import engine.data.xmlsafe as xmlsafe
from engine.core.errors import DataError
from engine.data.ink import Ink, Stroke
from engine.data.ink_clean import check_coordinates

NS = "http://www.w3.org/2003/InkML"
_CHANNEL_FIELD = {"X": "x", "Y": "y", "T": "t", "F": "p", "P": "p"}
_VALUE = re.compile(r"""\s*([!'"]?)\s*((?:-\s*)?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|(?:-\s*)?#[0-9A-Fa-f]+|[TF?*])""")
_SPECIAL = re.compile(r"""[!'"?*#TF]""")


# ------------------------------------------------------------------------------------------- reading
def parse_trace(text: str, n_channels: int) -> np.ndarray:
    """Trace text -> (points, n_channels) float64 array (NaN where a value is unknown or missing)."""
    text = (text or "").strip()
    if not text:
        return np.zeros((0, n_channels))
    if not _SPECIAL.search(text):                     # fast path: plain explicit numbers
        parts = text.split(",") if "," in text else None
        toks = text.replace(",", " ").split()
        if (len(toks) % n_channels == 0) if parts is None else (len(toks) == len(parts) * n_channels):
            try:
                return np.array(toks, dtype=np.float64).reshape(-1, n_channels)
            except ValueError:
                pass
    points = text.split(",") if "," in text else None
    if points is None:                                # no commas: group values by channel count
        vals = _tokens(text)
        if len(vals) % n_channels:
            raise DataError(f"trace has {len(vals)} values, not a multiple of {n_channels} channels")
        points_tok = [vals[i:i + n_channels] for i in range(0, len(vals), n_channels)]
    else:
        points_tok = [_tokens(p) for p in points if p.strip()]
    out = np.full((len(points_tok), n_channels), np.nan)
    mode = ["!"] * n_channels
    prev = [np.nan] * n_channels
    vel = [0.0] * n_channels
    for i, toks in enumerate(points_tok):
        if len(toks) > n_channels:
            raise DataError(f"trace point {i + 1} has {len(toks)} values for {n_channels} channels")
        for c, (prefix, raw) in enumerate(toks):
            if prefix:
                mode[c] = prefix
            if raw == "?":
                continue
            if raw == "*":
                v = prev[c]
            elif raw in ("T", "F"):
                v = 1.0 if raw == "T" else 0.0
            else:
                s = "".join(raw.split())        # "- 5", "-\t5": the sign may stand apart from its digits
                v = _hex(s, i) if "#" in s else float(s)
                m = mode[c]
                if m in ("'", '"') and not np.isfinite(prev[c]):
                    raise DataError(f"point {i + 1}: a difference value has no previous value to add to")
                if m == "'":
                    vel[c] = v
                    v = prev[c] + v
                elif m == '"':
                    vel[c] = vel[c] + v
                    v = prev[c] + vel[c]
                else:
                    vel[c] = v - prev[c] if np.isfinite(prev[c]) else 0.0
            out[i, c] = v
            prev[c] = v
    return out


def _hex(s: str, i: int) -> float:
    """``#FF`` / ``-#FF`` -> float; a value too large for a float is a DataError (not an OverflowError)."""
    digits = s.lstrip("-").lstrip("#")
    if len(digits.lstrip("0")) > 256:        # > 2**1024: would overflow float (and not worth converting)
        raise DataError(f"point {i + 1}: hex value {s[:12]}... ({len(digits)} digits) is too large")
    try:
        v = float(int(digits, 16))
    except OverflowError:
        raise DataError(f"point {i + 1}: hex value {s[:12]}... is too large") from None
    return -v if s.startswith("-") else v


def _tokens(text: str) -> list[tuple[str, str]]:
    toks, pos, text = [], 0, text.rstrip()
    for m in _VALUE.finditer(text):
        if m.start() != pos:
            break
        toks.append((m.group(1), m.group(2)))
        pos = m.end()
    if pos != len(text):
        raise DataError(f"bad trace value near {text[pos:pos + 20]!r}")
    return toks


class _Group:
    def __init__(self):
        self.strokes: list[Stroke] = []
        self.text: str | None = None
        self.writer: str = ""


def _stroke_from(values: np.ndarray, fields: list[str | None], time_scale: float) -> Stroke:
    cols = {}
    for c, f in enumerate(fields):
        if f and f not in cols:
            cols[f] = values[:, c]
    if "x" not in cols or "y" not in cols:
        raise DataError("the trace format has no X and Y channels")
    t = cols.get("t")
    return Stroke(cols["x"], cols["y"], None if t is None else t * time_scale, cols.get("p"))


def read_inkml(path: str | os.PathLike) -> list[Ink]:
    """All inks (lines) in an InkML file. Raises DataError(reason) for unsafe, malformed or empty files."""
    path = Path(path)
    fields: list[str | None] = ["x", "y"]
    time_scale = 1.0
    fmt_seen = False
    in_format = 0
    fmt_fields: list[str | None] = []
    stack: list[str] = []
    top = _Group()
    groups: list[_Group] = []
    current: _Group | None = None      # the open top-level traceGroup
    root_checked = False
    for ev, el in xmlsafe.iterparse(path):
        tag = xmlsafe.local(el.tag)
        if ev == "start":
            if not root_checked:
                root_checked = True
                if tag != "ink":
                    raise DataError(f"not an InkML file (root element <{tag}>)")
            if tag == "traceFormat" and not fmt_seen:
                in_format += 1
                fmt_fields = []
            elif tag == "channel" and in_format:
                name = (el.get("name") or "").upper()
                fmt_fields.append(_CHANNEL_FIELD.get(name))
                if name == "T" and (el.get("units") or "").lower() == "ms":
                    time_scale = 1e-3
            elif tag == "traceGroup" and stack == ["ink"]:
                current = _Group()
            stack.append(tag)
            continue
        stack.pop()
        if tag == "traceFormat" and in_format:
            in_format -= 1
            if fmt_fields:
                fields, fmt_seen = fmt_fields, True
        elif tag == "trace":
            try:
                values = parse_trace(el.text or "", len(fields))
            except DataError as exc:
                raise DataError(f"trace {el.get('id') or ''}: {exc}".replace("trace : ", "trace: ")) from None
            if len(values):
                (current or top).strokes.append(_stroke_from(values, fields, time_scale))
            el.clear()
        elif tag == "annotation":
            kind = (el.get("type") or "").lower()
            target = top if stack == ["ink"] else current if stack == ["ink", "traceGroup"] else None
            if target is not None:
                if kind == "truth":
                    target.text = (el.text or "").strip()
                elif kind == "writer":
                    target.writer = (el.text or "").strip()
        elif tag == "traceGroup" and stack == ["ink"] and current is not None:
            groups.append(current)
            current = None
    inks = []
    if top.strokes:
        inks.append(Ink(top.strokes, top.text or "", top.writer, {"file": path.name}))
    for g in groups:
        if g.strokes:
            inks.append(Ink(g.strokes, g.text if g.text is not None else "", g.writer or top.writer,
                            {"file": path.name}))
    if not inks:
        raise DataError("no traces")
    for ink in inks:
        check_coordinates(ink, path.name)
    return inks


# ------------------------------------------------------------------------------------------- writing
def _fmt(v: float) -> str:
    s = f"{v:.4f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def write_inkml(path: str | os.PathLike, inks: Ink | list[Ink]) -> Path:
    """Write inks (one line each) to an InkML file. One ink: traces directly under ``<ink>``; several:
    one ``<traceGroup>`` per ink. Channels X Y, plus T (seconds) and F when every stroke has them."""
    if isinstance(inks, Ink):
        inks = [inks]
    if not inks:
        raise DataError("nothing to write: no inks")
    strokes = [s for ink in inks for s in ink.strokes if len(s)]
    has_t = bool(strokes) and all(s.t is not None for s in strokes)
    has_p = bool(strokes) and all(s.p is not None for s in strokes)
    root = ET.Element("ink", {"xmlns": NS})
    fmt = ET.SubElement(root, "traceFormat")
    ET.SubElement(fmt, "channel", {"name": "X", "type": "decimal"})
    ET.SubElement(fmt, "channel", {"name": "Y", "type": "decimal"})
    if has_t:
        ET.SubElement(fmt, "channel", {"name": "T", "type": "decimal", "units": "s"})
    if has_p:
        ET.SubElement(fmt, "channel", {"name": "F", "type": "decimal"})

    def add(parent, ink: Ink):
        if ink.text:
            ET.SubElement(parent, "annotation", {"type": "truth"}).text = ink.text
        if ink.writer:
            ET.SubElement(parent, "annotation", {"type": "writer"}).text = ink.writer
        for s in ink.strokes:
            if not len(s):
                continue
            cols = [s.x, s.y] + ([s.t] if has_t else []) + ([s.p] if has_p else [])
            pts = zip(*cols)
            ET.SubElement(parent, "trace").text = ", ".join(" ".join(_fmt(v) for v in p) for p in pts)

    if len(inks) == 1:
        add(root, inks[0])
    else:
        for ink in inks:
            add(ET.SubElement(root, "traceGroup"), ink)
    ET.indent(root, space="  ")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # complete or not at all: a temporary sibling (named by this process, so two writers never share one),
    # fsynced and renamed into place; on any failure (a full disk, Ctrl-C) it is removed and the earlier file
    # is untouched
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            ET.ElementTree(root).write(fh, encoding="utf-8", xml_declaration=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    return path


# ------------------------------------------------------------------------------------------- folders
def import_inkml(folder: str | os.PathLike, out: str | os.PathLike | None = None, *, clean=None,
                 val_fraction: float = 0.05, test_fraction: float = 0.05, progress=None):
    """Every ``*.inkml`` file under ``folder`` (one line per ink) -> (InkDataset, ImportReport).

    Lines keep their raw units (moved to start at the origin). The split is by file, so lines recorded
    together stay together. Bad files and unusable lines are skipped and reported with the reason."""
    import time

    from engine.data.ink_clean import CLEAN_STATS, CleanOptions, clean_ink
    from engine.data.ink_dataset import ImportReport, InkDataset, InkLine, split_for_key

    t0 = time.perf_counter()
    folder = Path(folder)
    if folder.is_file():
        files = [folder]
        base = folder.parent
    elif folder.is_dir():
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".inkml" and p.is_file())
        base = folder
    else:
        raise DataError(f"{folder} does not exist (expected a folder of .inkml files)")
    if not files:
        raise DataError(f"no .inkml files in {folder}")
    opts = clean or CleanOptions()
    report = ImportReport(files=len(files))
    lines, skipped = [], []
    cleaning = {k: 0 for k in CLEAN_STATS}
    for k, path in enumerate(files):
        rel = path.relative_to(base).as_posix()
        try:
            inks = read_inkml(path)
        except xmlsafe.FILE_ERRORS as exc:      # one bad file is skipped with its reason, the rest imported
            skipped.append((rel, xmlsafe.reason(exc)))
            continue
        split = split_for_key(rel, val_fraction, test_fraction)
        for j, ink in enumerate(inks):
            name = rel if len(inks) == 1 else f"{rel}#{j + 1}"
            stats: dict = {}
            try:
                ink = clean_ink(ink, opts, stats)
            except xmlsafe.FILE_ERRORS as exc:
                skipped.append((name, xmlsafe.reason(exc)))
                continue
            for key in CLEAN_STATS:
                cleaning[key] += stats.get(key, 0)
            lines.append(InkLine(ink.at_origin().to_stroke3(), ink.text, ink.writer, split, name,
                                 meta={"file": rel}))
        if progress and k % 100 == 0:
            progress(k, len(files))
    report.parsed = len(files)
    if not lines:
        first = "; ".join(f"{f}: {r}" for f, r in skipped[:3])
        raise DataError(f"no usable ink lines in {folder}" + (f" ({first})" if first else ""))
    ds = InkDataset.from_lines(lines, source=f"inkml:{folder}", skipped=skipped,
                               extra={"units": "inkml", "cleaning": cleaning})
    if out is not None:
        ds.save(out)
    report.lines, report.points, report.skipped = len(ds), int(ds.offsets[-1]), skipped
    report.cleaning = cleaning
    report.seconds = time.perf_counter() - t0
    return ds, report
