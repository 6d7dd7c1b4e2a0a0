"""IAM-OnDB importer: ``lineStrokes/`` XML + ``ascii/`` CSR transcriptions -> an InkDataset folder.

* ``lineStrokes/a01/a01-000/a01-000u-02.xml`` is line 2 of form ``a01-000`` written as variant ``u``;
  its transcription is line 2 of the ``CSR:`` block of ``ascii/a01/a01-000/a01-000u.txt`` (ISO-8859-1).
* Split: by form (``a01-000``), from a hash of its name, so every variant and line of a form lands in the
  same split and the split never changes between runs or machines.
* Files are streamed with defusedxml (entity bombs / external entities refused); a bad file is skipped and
  reported with its reason. Files are parsed in parallel worker processes.
* Cache: the output folder keeps ``import-manifest.json`` (size and mtime of every input file). Importing
  an unchanged tree again returns the stored dataset at once; a changed tree re-parses only the changed
  line files.
* Lines are stored in raw tablet units, moved so their first point is at the origin; y points down.
* Not training text: a CSR line with IAM's ``#`` (a crossed-out word) or the form's placeholder
  "Please Enter Transcription here" drops its whole line; such lines are counted and listed as skipped.
* A file with an infinite or absurd coordinate (beyond ±1e7) is rejected, naming the file.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict
from pathlib import Path
from xml.sax.handler import ContentHandler

import numpy as np

import engine.data.xmlsafe as xmlsafe
from engine.core.errors import DataError
from engine.data.ink import Ink, Stroke
from engine.data.ink_clean import CLEAN_STATS, CleanOptions, check_coordinates, clean_ink
from engine.data.ink_dataset import ImportReport, InkDataset, InkLine, split_for_key, write_file_durably

IMPORTER_VERSION = 2
MANIFEST = "import-manifest.json"
ENCODING = "iso-8859-1"
_NAME = re.compile(r"^(?P<form>[A-Za-z0-9]+-\d+)(?P<variant>[A-Za-z]*)-(?P<line>\d+)$")
PLACEHOLDER = "Please Enter Transcription here"     # what an untranscribed form's CSR block holds
DROP_REASONS = {"crossed_out": "crossed-out word ('#') in the transcription: line dropped",
                "placeholder": f"placeholder transcription '{PLACEHOLDER}': line dropped"}


# ---------------------------------------------------------------------------------------- single files
def parse_line_name(stem: str) -> tuple[str, str, int] | None:
    """``a01-000u-02`` -> ("a01-000", "u", 2); None if the name does not follow the IAM pattern."""
    m = _NAME.match(stem)
    if not m:
        return None
    return m["form"], m["variant"], int(m["line"])


def unusable_transcription(text: str) -> str | None:
    """Why a CSR line must not become training text: "crossed_out" (IAM marks a crossed-out word with ``#``),
    "placeholder" (the form was never transcribed), or None when it is usable."""
    if "#" in text:
        return "crossed_out"
    if re.sub(r"[^a-z]+", " ", text.lower()).strip() == PLACEHOLDER.lower():
        return "placeholder"
    return None


def _floats(vals: list) -> np.ndarray:
    try:
        return np.array(vals, dtype=np.float64)
    except (TypeError, ValueError):      # a missing or garbled attribute becomes NaN, dropped by cleaning
        out = np.full(len(vals), np.nan)
        for i, v in enumerate(vals):
            try:
                out[i] = float(v)
            except (TypeError, ValueError):
                pass
        return out


class _LineHandler(ContentHandler):
    """SAX handler collecting the Points of every Stroke."""

    def __init__(self):
        super().__init__()
        self.strokes: list[list] = []
        self.current: list | None = None
        self.root: str | None = None

    def startElement(self, name, attrs):
        if self.root is None:
            self.root = name
            if name != "WhiteboardCaptureSession":
                raise DataError(f"not an IAM-OnDB line file (root element <{name}>)")
        if name == "Point":
            if self.current is not None:
                self.current.append((attrs.get("x"), attrs.get("y"), attrs.get("time")))
        elif name == "Stroke":
            self.current = []

    def endElement(self, name):
        if name == "Stroke" and self.current is not None:
            if self.current:
                self.strokes.append(self.current)
            self.current = None


def parse_line_file(path: str | os.PathLike) -> Ink:
    """One lineStrokes XML file -> Ink (strokes with x, y and time). Raises DataError(reason); an infinite
    or absurd coordinate is a DataError naming the file."""
    h = _LineHandler()
    xmlsafe.sax_parse(path, h)
    if not h.strokes:
        raise DataError("no strokes")
    strokes = []
    for pts in h.strokes:
        x, y, t = (_floats(list(col)) for col in zip(*pts))
        strokes.append(Stroke(x, y, t))
    if not all(np.all(np.isfinite(s.t)) for s in strokes):
        strokes = [Stroke(s.x, s.y) for s in strokes]
    ink = Ink(strokes)
    check_coordinates(ink, Path(path).name)
    return ink


def read_transcriptions(path: str | os.PathLike) -> list[str]:
    """The CSR lines of an ascii/ file (ISO-8859-1), in order. Raises DataError if there is no CSR block (or
    the path is not a regular file: a FIFO would block the reader)."""
    if not Path(path).is_file():
        raise DataError("not a regular file")
    try:
        text = Path(path).read_text(encoding=ENCODING)
    except OSError as exc:
        raise DataError(xmlsafe.reason(exc)) from None
    lines = text.splitlines()
    for i, ln in enumerate(lines):
        if ln.strip() == "CSR:":
            return [l.strip() for l in lines[i + 1:] if l.strip()]
    raise DataError("no CSR: block")


def split_for_form(form: str, val_fraction: float = 0.05, test_fraction: float = 0.05) -> str:
    """Deterministic split of a form name (same answer on every run and machine)."""
    return split_for_key(form, val_fraction, test_fraction)


def _parse_clean(job: tuple[str, dict]) -> tuple[np.ndarray | None, str | None, dict]:
    """Worker: parse + clean one file -> (stroke-3 at origin, None, cleaning stats) or (None, reason, {})."""
    path, opts = job
    stats: dict = {}
    try:
        ink = clean_ink(parse_line_file(path), CleanOptions(**opts), stats)
        return ink.at_origin().to_stroke3(), None, stats
    except xmlsafe.FILE_ERRORS as exc:      # one odd file must not stop a 12,000-file import
        return None, xmlsafe.reason(exc), {}


# ---------------------------------------------------------------------------------------- the tree
def _scan(folder: Path, suffix: str) -> dict[str, tuple[int, int]]:
    """relpath (posix) -> (size, mtime_ns) of every regular file ending in suffix under folder (links to
    regular files included; FIFOs, devices, dangling links and link loops left out: a FIFO would block the
    parser)."""
    out: dict[str, tuple[int, int]] = {}
    stack = [("", os.fspath(folder))]
    while stack:
        rel, d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            name = f"{rel}{e.name}"
            try:
                if e.is_dir(follow_symlinks=False):
                    stack.append((name + "/", e.path))
                elif e.name.lower().endswith(suffix) and e.is_file():
                    st = e.stat()
                    out[name] = (st.st_size, st.st_mtime_ns)
            except OSError:   # vanished, or a link loop
                continue
    return dict(sorted(out.items()))


def _find_dirs(root: Path) -> tuple[Path, Path]:
    if not root.is_dir():
        raise DataError(f"{root} is not a folder (expected an IAM-OnDB folder with lineStrokes/ and ascii/)")
    ls, asc = root / "lineStrokes", root / "ascii"
    missing = [n for n, p in (("lineStrokes/", ls), ("ascii/", asc)) if not p.is_dir()]
    if missing:
        raise DataError(f"{root} is not an IAM-OnDB folder: {' and '.join(missing)} missing "
                        f"(download lineStrokes-all.tar.gz and ascii-all.tar.gz and unpack them there)")
    return ls, asc


def _load_cache(out: Path | None, key: dict):
    if out is None or not (out / MANIFEST).exists():
        return None, None
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or manifest.get("key") != key:
            return None, None
        if not all(isinstance(manifest.get(k, {}), dict) for k in ("xml", "ascii", "errors", "clean")):
            return None, None                             # a damaged manifest: parse everything again
        ds = InkDataset.load(out)
        if manifest.get("dataset") != ds.write_id:      # the dataset was saved by another (later) run
            return None, None
        return manifest, ds
    except (ValueError, OSError, DataError, RecursionError):
        return None, None


def import_iam(root: str | os.PathLike, out: str | os.PathLike | None = None, *,
               clean: CleanOptions | None = None, val_fraction: float = 0.05, test_fraction: float = 0.05,
               jobs: int | None = None, use_cache: bool = True, progress=None) -> tuple[InkDataset, ImportReport]:
    """Import an IAM-OnDB tree. Saves to ``out`` (the cache) when given. ``progress(done, total)`` is
    called now and then while parsing. Returns the dataset and a report (skipped files with reasons)."""
    t0 = time.perf_counter()
    root = Path(root)
    ls_dir, ascii_dir = _find_dirs(root)
    clean = clean or CleanOptions()
    out = Path(out) if out is not None else None
    key = {"importer": IMPORTER_VERSION, "clean": asdict(clean), "val": val_fraction, "test": test_fraction}

    xml_files = _scan(ls_dir, ".xml")
    txt_files = _scan(ascii_dir, ".txt")
    if not xml_files:
        raise DataError(f"no line files (*.xml) under {ls_dir}")
    report = ImportReport(files=len(xml_files))

    manifest, old = _load_cache(out, key) if use_cache else (None, None)
    if manifest is not None and old is not None:
        if (manifest.get("xml") == {k: list(v) for k, v in xml_files.items()}
                and manifest.get("ascii") == {k: list(v) for k, v in txt_files.items()}):
            report.cached = True
            report.lines, report.points = len(old), int(old.offsets[-1])
            report.skipped = list(old.skipped)
            report.dropped = dict(old.extra.get("dropped", {}))
            report.cleaning = dict(old.extra.get("cleaning", {}))
            report.reused = len(xml_files)
            report.seconds = time.perf_counter() - t0
            return old, report

    # ---- reuse unchanged files from the previous import
    results: dict[str, tuple[np.ndarray | None, str | None, dict]] = {}
    if manifest is not None and old is not None:
        old_xml = manifest.get("xml", {})
        old_err = manifest.get("errors", {})
        old_clean = manifest.get("clean", {})
        by_id = {m.get("file"): i for i, m in enumerate(old.lines_meta)}
        for rel, st in xml_files.items():
            if old_xml.get(rel) != list(st):
                continue
            if rel in old_err:
                results[rel] = (None, str(old_err[rel])[:300], {})
            elif rel in by_id:
                i = by_id[rel]
                stats = old_clean.get(rel, {})
                stats = {k: v for k, v in stats.items() if isinstance(v, int)} if isinstance(stats, dict) else {}
                results[rel] = (old.points[old.offsets[i]:old.offsets[i + 1]], None, stats)
    report.reused = len(results)

    # ---- parse the rest (in parallel when there are many)
    todo = [rel for rel in xml_files if rel not in results]
    opts = asdict(clean)
    jobs_list = [(str(ls_dir / rel), opts) for rel in todo]
    n_jobs = jobs if jobs is not None else min(os.cpu_count() or 1, 8)
    if n_jobs > 1 and len(todo) >= 200:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(n_jobs) as pool:
            for k, res in enumerate(pool.imap(_parse_clean, jobs_list, chunksize=32)):
                results[todo[k]] = res
                if progress and k % 256 == 0:
                    progress(report.reused + k, len(xml_files))
    else:
        for k, job in enumerate(jobs_list):
            results[todo[k]] = _parse_clean(job)
            if progress and k % 256 == 0:
                progress(report.reused + k, len(xml_files))
    report.parsed = len(todo)

    # ---- transcriptions (always re-read: small and cheap)
    transcripts: dict[str, list[str] | str] = {}
    for rel in txt_files:
        stem = rel.rsplit("/", 1)[-1][:-4]
        try:
            transcripts[stem] = read_transcriptions(ascii_dir / rel)
        except DataError as exc:
            transcripts[stem] = str(exc)

    lines: list[InkLine] = []
    skipped: list[tuple[str, str]] = []
    errors: dict[str, str] = {}
    clean_stats: dict[str, dict] = {}
    dropped = {k: 0 for k in DROP_REASONS}
    cleaning = {k: 0 for k in CLEAN_STATS}
    for rel in xml_files:
        pts, err, stats = results[rel]
        shown = f"lineStrokes/{rel}"
        if err is not None:
            errors[rel] = err
            skipped.append((shown, err))
            continue
        clean_stats[rel] = stats
        stem = rel.rsplit("/", 1)[-1][:-4]
        name = parse_line_name(stem)
        if name is None:
            skipped.append((shown, "file name is not form-line (e.g. a01-000u-01.xml)"))
            continue
        form, variant, line_no = name
        tr = transcripts.get(form + variant)
        if tr is None:
            skipped.append((shown, f"no transcription (ascii/.../{form + variant}.txt missing)"))
            continue
        if isinstance(tr, str):
            skipped.append((shown, f"transcription {form + variant}.txt unusable: {tr}"))
            continue
        if not 1 <= line_no <= len(tr):
            skipped.append((shown, f"no CSR line {line_no} in {form + variant}.txt (it has {len(tr)})"))
            continue
        why = unusable_transcription(tr[line_no - 1])
        if why is not None:
            dropped[why] += 1
            skipped.append((shown, DROP_REASONS[why]))
            continue
        for k in CLEAN_STATS:
            cleaning[k] += int(stats.get(k, 0))
        lines.append(InkLine(pts, tr[line_no - 1], form + variant,
                             split_for_form(form, val_fraction, test_fraction), stem,
                             meta={"form": form, "file": rel}))
    if not lines:
        first = "; ".join(f"{f}: {r}" for f, r in skipped[:3])
        raise DataError(f"no usable IAM-OnDB lines under {root}" + (f" ({first})" if first else ""))

    ds = InkDataset.from_lines(lines, source=f"iam-ondb:{root}", skipped=skipped,
                               extra={"units": "tablet", "importer": IMPORTER_VERSION, "dropped": dropped,
                                      "cleaning": cleaning})
    report.lines, report.points = len(ds), int(ds.offsets[-1])
    report.skipped, report.dropped, report.cleaning = skipped, dropped, cleaning
    if out is not None:
        ds.save(out)
        try:   # the import cache; without it the next import parses everything again
            write_file_durably(out / MANIFEST, json.dumps({
                "key": key, "root": str(root.resolve()), "dataset": ds.write_id,
                "xml": {k: list(v) for k, v in xml_files.items()},
                "ascii": {k: list(v) for k, v in txt_files.items()},
                "errors": errors, "clean": clean_stats}).encode("utf-8"))
        except OSError as exc:
            raise DataError(f"the dataset was written to {out}, but not its import cache {MANIFEST}: "
                            f"{exc.strerror or exc}") from None
    report.seconds = time.perf_counter() - t0
    return ds, report
