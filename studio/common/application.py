"""The QApplication every entry point (the app, its self-test, screenshots, benchmarks) starts from."""

from __future__ import annotations


def make_app(argv: list[str]):
    """The QApplication, with event compression off (every pen sample counts)."""
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_CompressHighFrequencyEvents, False)
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_CompressTabletEvents, False)
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("Scribe Studio")
    app.setOrganizationName("scribe-studio")
    app.setApplicationDisplayName("Scribe Studio")
    from pathlib import Path

    from PySide6.QtGui import QIcon

    icon = Path(__file__).resolve().parents[1] / "resources" / "scribe.svg"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    return app
