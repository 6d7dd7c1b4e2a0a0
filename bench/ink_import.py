"""Benchmark: IAM-OnDB import speed (first import, cached re-import, incremental re-import).

Writes a synthetic tree in the IAM-OnDB format (lineStrokes/ + ascii/, ISO-8859-1) of realistic size to a
temporary folder: by default 12,200 line files of synthetic handwriting scaled to tablet units (~10x), with
point counts like IAM-OnDB's (~750 points per line, ~40 KB per file, ~480 MB in all). Then times

1. the first ``import_iam`` (parse + clean every file, parallel workers),
2. a second import of the unchanged tree (the cache: manifest of sizes and mtimes),
3. a third import after 1% of the line files changed (only those are re-parsed).

    flock /tmp/scribe-heavy.lock .venv/bin/python bench/ink_import.py [--files 12200] [--jobs N]

Prints the figures as a Markdown table (paste into bench/RESULTS-ink-import.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.iam import import_iam  # noqa: E402
from engine.data.synth import corpus_lines, make_writers, render_line  # noqa: E402

HEAD = ('<?xml version="1.0" encoding="ISO-8859-1"?>\n<WhiteboardCaptureSession>\n  <WhiteboardDescription>\n'
        '    <SensorLocation corner="top_left"/>\n    <DiagonallyOppositeCoords x="6512" y="1376"/>\n'
        '    <VerticallyOppositeCoords x="966" y="1376"/>\n    <HorizontallyOppositeCoords x="6512" y="787"/>\n'
        '  </WhiteboardDescription>\n  <StrokeSet>\n')
TAIL = "  </StrokeSet>\n</WhiteboardCaptureSession>\n"


def line_xml(ink, dx: int, dy: int, t0: float) -> str:
    parts = [HEAD]
    for s in ink.strokes:
        x = np.round(s.x * 10 + dx).astype(int)
        y = np.round(s.y * 10 + dy).astype(int)
        t = s.t + t0
        parts.append(f'    <Stroke colour="black" start_time="{t[0]:.2f}" end_time="{t[-1]:.2f}">\n')
        parts.extend(f'      <Point x="{a}" y="{b}" time="{c:.2f}"/>\n' for a, b, c in zip(x, y, t))
        parts.append("    </Stroke>\n")
    parts.append(TAIL)
    return "".join(parts)


def make_tree(root: Path, n_files: int, seed: int = 0, unique: int = 1500) -> tuple[int, int]:
    """Write the tree; returns (bytes, points). ``unique`` distinct lines are rendered and re-used with
    different offsets (parsing cost depends on size, not on content)."""
    corpus = (Path(__file__).resolve().parents[1] / "assets" / "corpora" / "tinyshakespeare.txt")
    text = corpus.read_text(encoding="utf-8") if corpus.exists() else "the quick brown fox jumps over the lazy dog " * 50
    texts = corpus_lines(text, unique, seed=seed, min_chars=25, max_chars=45, mix=0.1)
    writers = make_writers(40, seed)
    inks = [render_line(t, writers[i % len(writers)], seed=i) for i, t in enumerate(texts)]
    rng = np.random.default_rng(seed)
    total_bytes = total_points = 0
    k = 0
    form_no = 0
    while k < n_files:
        grp = f"{'abcdefghijklmnopr'[form_no // 100 % 17]}{form_no // 1700 + 1:02d}"
        form = f"{grp}-{form_no % 1000:03d}"
        variant = "uwxz"[form_no % 4]
        n_lines = min(int(rng.integers(5, 10)), n_files - k)
        ld = root / "lineStrokes" / grp / form
        ad = root / "ascii" / grp / form
        ld.mkdir(parents=True, exist_ok=True)
        ad.mkdir(parents=True, exist_ok=True)
        csr = []
        for j in range(n_lines):
            i = int(rng.integers(len(inks)))
            xml = line_xml(inks[i], int(rng.integers(900, 1100)), int(rng.integers(900, 1400)), 700.0 + 30 * j)
            data = xml.encode("iso-8859-1")
            (ld / f"{form}{variant}-{j + 1:02d}.xml").write_bytes(data)
            total_bytes += len(data)
            total_points += len(inks[i])
            csr.append(inks[i].text)
        (ad / f"{form}{variant}.txt").write_bytes(("OCR:\n\n" + "\n".join(csr) + "\n\nCSR:\n\n" + "\n".join(csr)
                                                  + "\n").encode("iso-8859-1"))
        k += n_lines
        form_no += 1
    return total_bytes, total_points


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=12200)
    ap.add_argument("--jobs", type=int, default=None, help="parser processes (default: CPU count)")
    ap.add_argument("--keep", default=None, help="write the tree here and keep it (default: a temp dir)")
    a = ap.parse_args()

    base = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="scribe-iam-bench-"))
    tree, out = base / "iam", base / "dataset"
    try:
        t = time.perf_counter()
        nbytes, npoints = make_tree(tree, a.files)
        t_make = time.perf_counter() - t
        print(f"tree: {a.files:,} line files, {nbytes / 1e6:,.0f} MB XML, {npoints:,} points "
              f"(written in {t_make:.0f} s)", flush=True)

        t = time.perf_counter()
        ds, r1 = import_iam(tree, out, jobs=a.jobs)
        t1 = time.perf_counter() - t
        print(f"first import: {t1:.1f} s ({len(ds):,} lines, {r1.parsed:,} parsed, {len(r1.skipped)} skipped)",
              flush=True)

        t = time.perf_counter()
        ds2, r2 = import_iam(tree, out, jobs=a.jobs)
        t2 = time.perf_counter() - t
        assert r2.cached and len(ds2) == len(ds)
        print(f"cached import: {t2:.2f} s", flush=True)

        files = sorted(tree.glob("lineStrokes/*/*/*.xml"))
        changed = files[:: 100]
        for f in changed:
            os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000_000))
        t = time.perf_counter()
        ds3, r3 = import_iam(tree, out, jobs=a.jobs)
        t3 = time.perf_counter() - t
        assert r3.parsed == len(changed) and np.array_equal(ds3.points, ds.points)
        print(f"incremental import ({len(changed)} files changed): {t3:.2f} s", flush=True)

        jobs = a.jobs or os.cpu_count()
        print()
        print("| measurement | value |")
        print("|---|---|")
        print(f"| line files / XML size / points | {a.files:,} / {nbytes / 1e6:,.0f} MB / {npoints:,} |")
        print(f"| first import ({jobs} worker processes) | {t1:.1f} s ({a.files / t1:,.0f} files/s, "
              f"{nbytes / 1e6 / t1:.1f} MB/s) |")
        print(f"| second import, unchanged tree (cache) | {t2:.2f} s ({t1 / t2:,.0f}x faster) |")
        print(f"| import after {len(changed)} files changed (1%) | {t3:.2f} s |")
        print(f"| dataset on disk | {sum(f.stat().st_size for f in out.iterdir()) / 1e6:.0f} MB |")
    finally:
        if not a.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
