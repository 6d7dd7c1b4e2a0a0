"""Entry point: ``scribe-studio`` opens the app; ``scribe-studio --self-test`` checks an install.

Start-up imports Qt and the torch-free parts of the engine only (generation runs on onnxruntime).
"""

from __future__ import annotations

import argparse
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scribe-studio",
                                description="Scribe Studio: draw, generate and train handwriting and text.")
    p.add_argument("--self-test", action="store_true",
                   help="load the bundled models, generate text and a line of handwriting offscreen, write an "
                        "SVG, and exit 0 (non-zero with a message on any failure)")
    p.add_argument("--self-test-train", action="store_true",
                   help="train a tiny model for a few steps in the training child process and check its "
                        "checkpoint (needs torch: the full bundle or a source install)")
    p.add_argument("--out", metavar="DIR", help="with --self-test: where to write its SVG (default: a temp dir)")
    p.add_argument("--theme", choices=("system", "light", "dark"), help="colour theme for this run")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    import multiprocessing

    multiprocessing.freeze_support()  # a frozen app's training child processes start here (spawn)
    args_list = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(args_list)
    if args.version:
        from engine import __version__

        print(f"scribe-studio {__version__}")
        return 0
    if args.self_test:
        from studio.self_test import run_self_test

        return run_self_test(args.out)
    if args.self_test_train:
        from studio.self_test import run_training_self_test

        return run_training_self_test()

    from studio.common.application import make_app

    app = make_app(["scribe-studio", *args_list])
    from studio.common.settings import open_settings, read
    from studio.common.theme import apply_theme
    from studio.main_window import MainWindow

    settings = open_settings()
    theme = args.theme or read(settings, "ui/theme", "system")
    apply_theme(app, theme)
    win = MainWindow(settings)
    win.show()
    if os.environ.get("SCRIBE_STUDIO_EXIT_AFTER_SHOW"):  # bench/startup.py and tests: report, then leave
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, lambda: _report_and_close(win))
    rc = app.exec()
    from studio.common.jobs import join_workers

    join_workers(10.0)
    return rc


def _report_and_close(win) -> None:
    import json
    import time

    print(json.dumps({"shown": win.isVisible(), "time": time.time(), "torch": "torch" in sys.modules,
                      "onnxruntime": "onnxruntime" in sys.modules}), flush=True)
    win.close()


if __name__ == "__main__":
    sys.exit(main())
