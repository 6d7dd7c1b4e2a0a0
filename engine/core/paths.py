"""Where bundled assets and user data live (source checkout, installed, or PyInstaller bundle)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def assets_dir() -> Path:
    """The bundled assets folder (models, corpora, icons)."""
    base = getattr(sys, "_MEIPASS", None)
    if base:
        return Path(base) / "assets"
    return Path(__file__).resolve().parents[2] / "assets"


def user_dir() -> Path:
    """Base folder for the user's own models, runs and recordings (SCRIBE_STUDIO_HOME overrides)."""
    env = os.environ.get("SCRIBE_STUDIO_HOME")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("scribe-studio", appauthor=False))


def user_subdir(name: str) -> Path:
    """``user_dir() / name``, created if missing."""
    d = user_dir() / name
    d.mkdir(parents=True, exist_ok=True)
    return d


def user_models_dir() -> Path:
    """The user's own model packages (exported from the Train tab or with ``scribe export``)."""
    return user_subdir("models")


def runs_dir() -> Path:
    """Training runs started from the app."""
    return user_subdir("runs")


def datasets_dir() -> Path:
    """Ink datasets imported or synthesised from the app."""
    return user_subdir("datasets")


def recordings_dir() -> Path:
    """The user's own handwriting (InkML, one line per file)."""
    return user_subdir("recordings")


def bundled_models_dir() -> Path:
    return assets_dir() / "models"
