"""What forcing the prime once saves when a line is written in several takes (``engine.core.ink_stream.line_start``).

Every take of a line starts from the same state: the start row and the prime forced through the model. Since the
takes share that state (``InkWriter`` forces it once and hands it to every take and every reading back), a line of
``n`` takes forces the prime once instead of ``2n`` times. This bench writes the same lines both ways, in turn, with
the bundled model (or ``--model``) on one thread:

- ``shared``: the product, ``InkWriter.generate(..., takes=n)``;
- ``per take``: the same, with no start handed to the takes (``line_start`` patched out), so that every take is
  written and read back from the start row, the prime forced each time, as before the prime was shared.

It checks that both keep the same take, point for point, and reports the median seconds a line and their ratio, by
the prime's length. Primes: a line of each of the seven real writers (../shared/fixtures/iam-ondb-writers, imported
into a temporary folder and never copied), else lines of the synthetic corpus's writers; plus no prime.

    .venv/bin/python bench/takes_speed.py [--takes 3] [--lines 4] [--model M]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from handwriting_real_writers import DEFAULT_IAM, DEFAULT_MODEL, SENTENCES, import_iam, log  # noqa: E402


def primes(iam: Path, scale, work: str) -> tuple[str, list]:
    """(where they came from, [(name, stroke3 in model units, transcript)]): one line of each real writer, else of
    seven synthetic writers."""
    from engine.data.ink import Ink
    from engine.data.prime import prepare_prime

    if iam.is_dir():
        ds = import_iam(str(iam), work)
        seen, out = set(), []
        for i, m in enumerate(ds.lines_meta):
            if m["writer"] not in seen and len(m["text"]) >= 20:
                seen.add(m["writer"])
                out.append((m["writer"], prepare_prime(Ink.from_stroke3(ds.line(i).points, text=m["text"]), scale),
                            m["text"]))
        return "real writers", out
    from engine.data.synth import make_writers, render_line

    text = "the writing of a person"
    return "synthetic writers", [(f"synthetic {k}", prepare_prime(render_line(text, w, seed=k), scale), text)
                                 for k, w in enumerate(make_writers(7, seed=11))]


def line(writer, text: str, prime, prime_text, seed: int, takes: int, shared: bool) -> tuple[int, np.ndarray]:
    """(the take kept, its points): the product's takes (``shared``), or the same with no start handed to the takes,
    so that each forces the prime itself, writing and reading back, as before the start was shared."""
    st: dict = {}
    with contextlib.nullcontext() if shared else mock.patch("engine.data.ink_writer.line_start", lambda *a, **k: None):
        pts = list(writer.generate(text, bias=0.5, prime_stroke3=prime, prime_text=prime_text, seed=seed, takes=takes,
                                   stats=st))
    return st["take"], np.stack(pts)


def main() -> None:
    from engine.cli.ink import TAKES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(DEFAULT_MODEL), help="an exported package")
    ap.add_argument("--iam", default=str(DEFAULT_IAM), help="IAM-OnDB root (lineStrokes/ + ascii/)")
    ap.add_argument("--takes", type=TAKES, default=3)
    ap.add_argument("--lines", type=int, default=4, help="sentences written after each prime")
    args = ap.parse_args()
    from engine.runtime import load_package

    writer = load_package(args.model, threads=1).ink_writer
    writer.reference_gap                   # measured once, outside the timings
    rows = []
    with tempfile.TemporaryDirectory(prefix="takes-speed-") as work:
        source, found = primes(Path(args.iam), writer.scale, work)
    for name, prime, prime_text in [("no prime", None, None)] + found:
        times = {"shared": [], "per take": []}
        for k, text in enumerate(SENTENCES[:args.lines]):
            got = {}
            for way in ("per take", "shared") if k % 2 else ("shared", "per take"):
                t0 = time.perf_counter()
                got[way] = line(writer, text, prime, prime_text, k, args.takes, way == "shared")
                times[way].append(time.perf_counter() - t0)
            if got["shared"][0] != got["per take"][0] or not np.array_equal(got["shared"][1], got["per take"][1]):
                raise SystemExit(f"{name}, {text!r}: the shared start kept another line than forcing per take")
        a, b = statistics.median(times["shared"]), statistics.median(times["per take"])
        rows.append((name, 0 if prime is None else len(prime), b, a))
        log(f"{name}: {b:.3f} -> {a:.3f} s")
    print(f"`.venv/bin/python bench/takes_speed.py --takes {args.takes} --lines {args.lines}`: {source}, "
          f"{Path(args.model).name}, one thread, the two ways in turn; the same take kept, point for point.\n")
    print("| prime | points | per take (s a line) | shared (s a line) | shared / per take |")
    print("|---|---:|---:|---:|---:|")
    for name, n, b, a in rows:
        print(f"| {name} | {n} | {b:.3f} | {a:.3f} | {a / b:.2f} |")
    primed = [r for r in rows if r[1]]
    print(f"| **primed, median** | {statistics.median(r[1] for r in primed):.0f} | "
          f"{statistics.median(r[2] for r in primed):.3f} | {statistics.median(r[3] for r in primed):.3f} | "
          f"{statistics.median(r[3] / r[2] for r in primed):.2f} |")


if __name__ == "__main__":
    main()
