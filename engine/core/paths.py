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


def user_models_dir() -> Path:
    d = user_dir() / "models"
    d.mkdir(parents=True, exist_ok=True)
    return d


def bundled_models_dir() -> Path:
    return assets_dir() / "models"
