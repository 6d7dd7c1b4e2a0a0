"""Screenshots of the Train view for docs/: mid-run on tinyshakespeare, and the gradient-flow tab after the
quick tanh-RNN / GRU / LSTM experiment. Offscreen, real training in the child process (a few minutes).

    .venv/bin/python bench/ui_responsiveness_screens.py          # ~75 s
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=1.0, help="train this long before the mid-run screenshot")
    ap.add_argument("--out", default=str(REPO / "docs"))
    ap.add_argument("--experiment-steps", type=int, default=150)
    args = ap.parse_args()
    os.environ["SCRIBE_STUDIO_HOME"] = tempfile.mkdtemp(prefix="scribe-screens-")

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["screens"])
    from studio.common.theme import apply_theme

    apply_theme(app, "light")
    from studio.train.view import TrainView

    loop = QEventLoop()

    def spin(sec):
        QTimer.singleShot(int(sec * 1000), loop.quit)
        loop.exec()

    view = TrainView()
    view.resize(1440, 900)
    view.show()
    view.settings.set_data(str(REPO / "assets" / "corpora" / "tinyshakespeare.txt"))
    while view.settings.summary_pending():
        spin(0.05)
    view.settings.preset_combo.setCurrentText("Custom (CLI defaults)")
    view.settings.set_knobs(cell="lstm", layers=1, hidden=256, embed=32, seq_len=64, batch=32, lr=3e-3, clip=0.5,
                   eval_every=100, steps=4000, device="cpu")
    assert view.start(), view.message()
    t0 = time.time()
    while time.time() - t0 < args.minutes * 60 and view.is_training():
        spin(0.5)
    view.tabs.setCurrentWidget(view.samples)
    spin(1.0)
    out = Path(args.out)
    view.grab().save(str(out / "screenshot-train.png"))
    print(f"mid-run screenshot at step {int(view.plots.loss.tail[0])}: {out / 'screenshot-train.png'}")

    view.stop()
    while view.is_training():
        spin(0.2)
    view.tabs.setCurrentWidget(view.flow)
    view.flow.run_probe()
    while view.flow.busy():
        spin(0.2)
    view.flow.exp_steps.setValue(args.experiment_steps)
    view.flow.run_experiment()
    while view.flow.busy():
        spin(0.5)
    spin(1.0)
    view.grab().save(str(out / "screenshot-train-flow.png"))
    print(f"gradient-flow screenshot: {out / 'screenshot-train-flow.png'} ({view.flow.status.text()})")
    view.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
