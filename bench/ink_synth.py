"""Benchmark: how fast ``scribe synth`` writes a synthetic handwriting corpus.

Renders N lines (default 10,000) from the demo corpus at 70 Hz (IAM-like density) with 1 process and with
2 worker processes, and once at 30 Hz, in one run; prints lines/s, points and points per letter (overall and
per hand family: print, italic, script, cursive).

    flock /tmp/scribe-heavy.lock .venv/bin/python bench/ink_synth.py [--lines 10000] [--hands MIX] [--quick]

``--quick`` runs only the 70 Hz single-process case (e.g. ``--lines 2000 --quick`` for the 2,000-line figure).
``--baseline FILE`` instead times ``synth_dataset`` of an older ``engine/data/synth.py`` against the current one
(70 Hz, 1 process, alternating, ``--repeat`` times each, CPU and wall time; the first run of each includes
building its glyph tables), e.g. before / after a change:

    git show HEAD:engine/data/synth.py > /tmp/synth_before.py
    .venv/bin/python bench/ink_synth.py --lines 2000 --baseline /tmp/synth_before.py --repeat 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.synth import HAND_FONTS, _print_capitals, _table, corpus_lines, synth_dataset  # noqa: E402


def compare(a) -> int:
    """Time the current synth_dataset against the one in ``a.baseline`` (same lines, writers, seed)."""
    import importlib.util
    import statistics

    import engine.data.synth as current

    spec = importlib.util.spec_from_file_location("synth_baseline", a.baseline)
    before = importlib.util.module_from_spec(spec)
    sys.modules["synth_baseline"] = before            # (dataclasses look their module up)
    spec.loader.exec_module(before)
    corpus = Path(__file__).resolve().parents[1] / "assets" / "corpora" / "tinyshakespeare.txt"
    lines = current.corpus_lines(corpus.read_text(encoding="utf-8"), a.lines, seed=0)
    chars = sum(len(l.replace(" ", "")) for l in lines)
    times: dict[str, list] = {"before": [], "after": []}
    pts = {}
    for _ in range(a.repeat):
        for name, mod in (("before", before), ("after", current)):
            c, w = time.process_time(), time.perf_counter()
            ds = mod.synth_dataset(lines, writers=a.writers, seed=0)
            times[name].append((time.process_time() - c, time.perf_counter() - w))
            pts[name] = int(ds.offsets[-1])
    print(f"{a.lines:,} lines, {chars:,} letters, {a.writers} writers, 70 Hz, 1 process, {a.repeat} runs each\n")
    print("| code | CPU time (median, min-max) | wall time (median) | points | points per letter |")
    print("|---|---|---|---|---|")
    for name, ts in times.items():
        cpu = [t[0] for t in ts]
        print(f"| {name} | {statistics.median(cpu):.2f} s ({min(cpu):.2f}-{max(cpu):.2f}) | "
              f"{statistics.median(t[1] for t in ts):.2f} s | {pts[name]:,} | {pts[name] / chars:.1f} |")
    ratio = statistics.median(t[0] for t in times["after"]) / statistics.median(t[0] for t in times["before"])
    print(f"\nafter / before (CPU): {ratio:.2f}x")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=10000)
    ap.add_argument("--writers", type=int, default=20)
    ap.add_argument("--hands", default=None, help="hand-family mix (default: all, the default mix)")
    ap.add_argument("--quick", action="store_true", help="only the 70 Hz, 1-process run")
    ap.add_argument("--baseline", default=None, metavar="FILE", help="compare with this older synth.py")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    if a.baseline:
        return compare(a)
    corpus = Path(__file__).resolve().parents[1] / "assets" / "corpora" / "tinyshakespeare.txt"
    t = time.perf_counter()
    for hand, fonts in HAND_FONTS.items():
        for f in fonts:
            _table(f)
            if hand in ("print", "italic"):
                _table(f, True)
    _print_capitals()
    t_glyphs = time.perf_counter() - t
    lines = corpus_lines(corpus.read_text(encoding="utf-8"), a.lines, seed=0)
    chars = sum(len(l.replace(" ", "")) for l in lines)
    print("| run | time | lines/s | points | points per letter |")
    print("|---|---|---|---|---|")
    ref = None
    runs = (("70 Hz, 1 process", dict(hz=70.0, jobs=1)), ("70 Hz, 2 processes", dict(hz=70.0, jobs=2)),
            ("30 Hz, 1 process", dict(hz=30.0, jobs=1)))
    per_hand = {}
    for label, kw in runs[:1] if a.quick else runs:
        t = time.perf_counter()
        ds = synth_dataset(lines, writers=a.writers, seed=0, hands=a.hands, **kw)
        dt = time.perf_counter() - t
        pts = int(ds.offsets[-1])
        if kw["hz"] == 70.0:
            if ref is None:
                ref = ds.points
                lens = ds.lengths()
                for i, m in enumerate(ds.lines_meta):
                    n = per_hand.setdefault(m["hand"], [0, 0, 0])
                    n[0] += 1
                    n[1] += int(lens[i])
                    n[2] += len(m["text"].replace(" ", ""))
            else:
                assert np.array_equal(ref, ds.points), "parallel output differs"
        print(f"| {label} | {dt:.1f} s | {a.lines / dt:,.0f} | {pts:,} | {pts / chars:.1f} |", flush=True)
    print(f"\n{a.lines:,} lines, {chars:,} letters (non-space); glyph tables built in {t_glyphs:.2f} s")
    print("70 Hz points per letter by hand: " + ", ".join(f"{h} {p / c:.1f} ({n:,} lines)"
                                                          for h, (n, p, c) in per_hand.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
