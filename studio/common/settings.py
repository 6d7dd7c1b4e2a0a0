"""Persistent settings (QSettings). SCRIBE_STUDIO_HOME moves them into that folder (tests, portable use)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

ORG = "scribe-studio"
APP = "Scribe Studio"


def open_settings() -> QSettings:
    home = os.environ.get("SCRIBE_STUDIO_HOME")
    if home:
        Path(home).mkdir(parents=True, exist_ok=True)
        return QSettings(str(Path(home) / "settings.ini"), QSettings.Format.IniFormat)
    return QSettings(ORG, APP)


def read(settings: QSettings, key: str, default: Any, type_: type | None = None) -> Any:
    """A typed read that survives the INI backend's habit of returning strings."""
    value = settings.value(key, None)
    if value is None:
        return default
    t = type_ or (type(default) if default is not None else None)
    try:
        if t is bool:
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if t is int:
            return int(float(value))
        if t is float:
            return float(value)
        if t is str:
            return str(value)
        if t is list:
            if isinstance(value, str):
                return [value] if value else []
            return [str(v) for v in value]
    except (TypeError, ValueError):
        return default
    return value
