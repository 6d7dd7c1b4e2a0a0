"""Fixtures for the Train view tests: an isolated home, a small corpus, a window holding only the Train view."""

from train_view_support import corpus, home, window  # noqa: F401  (pytest fixtures)
