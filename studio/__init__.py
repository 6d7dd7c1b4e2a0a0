"""Scribe Studio desktop app (PySide6 + pyqtgraph). Never imports torch at start-up."""
