"""Fixtures for the app tests: tiny exported packages, an isolated settings home, the main window."""

from app_support import studio_home, tiny_packages, window  # noqa: F401  (pytest fixtures)
