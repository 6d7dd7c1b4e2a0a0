"""Entry point: ``scribe-studio``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication(sys.argv if argv is None else ["scribe-studio", *argv])
    w = QLabel("Scribe Studio")
    w.resize(800, 600)
    w.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
