"""Cold start of the app to a visible window, measured in fresh subprocesses.

    .venv/bin/python bench/startup.py [--runs 7] [--with-models]

For each run a new Python process starts ``python -m studio.app`` (offscreen, a fresh SCRIBE_STUDIO_HOME)
with SCRIBE_STUDIO_EXIT_AFTER_SHOW=1: the app shows its main window, and from the event loop's first turn
prints a JSON line with the wall-clock time, whether torch was imported, and closes. Start-up time =
that time minus the moment the parent spawned the process (includes the interpreter's own start).
A bare PySide6 window (QApplication + one QLabel shown) is measured the same way as the floor.
The goal: <= 2 s to a visible window on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BARE = (
    "import json, sys, time\n"
    "from PySide6.QtWidgets import QApplication, QLabel\n"
    "from PySide6.QtCore import QTimer\n"
    "app = QApplication(sys.argv); w = QLabel('x'); w.resize(1240, 780); w.show()\n"
    "QTimer.singleShot(0, lambda: (print(json.dumps({'shown': w.isVisible(), 'time': time.time(), "
    "'torch': 'torch' in sys.modules}), flush=True), w.close()))\n"
    "app.exec()\n"
)


def one_run(cmd: list[str], env: dict) -> dict:
    t0 = time.time()
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    t_exit = time.time()
    if r.returncode != 0:
        raise SystemExit(f"run failed ({r.returncode}): {r.stderr[-2000:]}")
    rep = json.loads(r.stdout.strip().splitlines()[-1])
    return {"start_s": rep["time"] - t0, "exit_s": t_exit - t0, "torch": rep["torch"], "shown": rep["shown"]}


def make_home(with_models: bool) -> Path:
    home = Path(tempfile.mkdtemp(prefix="scribe-startup-"))
    if with_models:
        from engine.export.fixtures import make_tiny_package  # torch, in this parent process only

        make_tiny_package("text", home / "models" / "tiny-text", seed=0)
        make_tiny_package("ink-synthesis", home / "models" / "tiny-ink", seed=0)
    return home


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--with-models", action="store_true", help="list two tiny packages in the user models dir")
    a = ap.parse_args()
    home = make_home(a.with_models)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", SCRIBE_STUDIO_HOME=str(home),
               SCRIBE_STUDIO_EXIT_AFTER_SHOW="1")
    app_runs = [one_run([sys.executable, "-m", "studio.app"], env) for _ in range(a.runs)]
    bare_runs = [one_run([sys.executable, "-c", BARE], env) for _ in range(a.runs)]
    app_t = [r["start_s"] for r in app_runs]
    bare_t = [r["start_s"] for r in bare_runs]
    med_app, med_bare = statistics.median(app_t), statistics.median(bare_t)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, QT_QPA_PLATFORM=offscreen, "
          f"models listed: {'2 tiny packages' if a.with_models else 'bundled only'}, runs: {a.runs}")
    print(f"scribe-studio to visible window: first (cold) {app_t[0]:.2f} s, median {med_app:.2f} s, "
          f"min {min(app_t):.2f} s, max {max(app_t):.2f} s")
    print(f"bare PySide6 window:             first {bare_t[0]:.2f} s, median {med_bare:.2f} s, "
          f"min {min(bare_t):.2f} s, max {max(bare_t):.2f} s")
    print(f"ratio app/bare (median): {med_app / med_bare:.2f}; app overhead {med_app - med_bare:+.2f} s")
    print(f"torch imported at start-up: {any(r['torch'] for r in app_runs)}")
    print(f"goal <= 2 s: {'met' if max(app_t) <= 2.0 else 'NOT met'} (worst run {max(app_t):.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
