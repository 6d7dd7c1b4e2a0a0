"""Benchmark: how fast ``scribe synth`` writes a synthetic handwriting corpus.

Renders N lines (default 10,000) from the demo corpus at 70 Hz (IAM-like density) with 1 process and with
2 worker processes, and once at 30 Hz, in one run; prints lines/s, points and points per letter.

    flock /tmp/scribe-heavy.lock .venv/bin/python bench/ink_synth.py [--lines 10000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.synth import _glyphs, corpus_lines, synth_dataset  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=10000)
    ap.add_argument("--writers", type=int, default=20)
    a = ap.parse_args()
    corpus = Path(__file__).resolve().parents[1] / "assets" / "corpora" / "tinyshakespeare.txt"
    t = time.perf_counter()
    _glyphs()
    t_glyphs = time.perf_counter() - t
    lines = corpus_lines(corpus.read_text(encoding="utf-8"), a.lines, seed=0)
    chars = sum(len(l.replace(" ", "")) for l in lines)
    print("| run | time | lines/s | points | points per letter |")
    print("|---|---|---|---|---|")
    ref = None
    for label, kw in (("70 Hz, 1 process", dict(hz=70.0, jobs=1)), ("70 Hz, 2 processes", dict(hz=70.0, jobs=2)),
                      ("30 Hz, 1 process", dict(hz=30.0, jobs=1))):
        t = time.perf_counter()
        ds = synth_dataset(lines, writers=a.writers, seed=0, **kw)
        dt = time.perf_counter() - t
        pts = int(ds.offsets[-1])
        if kw["hz"] == 70.0:
            if ref is None:
                ref = ds.points
            else:
                assert np.array_equal(ref, ds.points), "parallel output differs"
        print(f"| {label} | {dt:.1f} s | {a.lines / dt:,.0f} | {pts:,} | {pts / chars:.1f} |", flush=True)
    print(f"\n{a.lines:,} lines, {chars:,} letters (non-space); glyph table built in {t_glyphs:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
