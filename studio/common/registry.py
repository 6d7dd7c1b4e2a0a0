"""The models the app knows: bundled packages, the user's own, and packages opened from disk.

Listing validates ``card.json`` and checks ``model.onnx`` against it (fast, no onnxruntime); a package that
fails is listed as unusable with the reason, never raised. A package is loaded through ``engine.runtime`` when
it is first used, off the GUI thread, and cached.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KIND_LABELS = {
    "text": "Text (char LM)",
    "ink-synthesis": "Handwriting synthesis",
    "ink-prediction": "Handwriting prediction",
}
INK_KINDS = ("ink-synthesis",)


@dataclass
class ModelEntry:
    path: Path
    source: str  # "bundled" | "user" | "opened"
    card: dict = field(default_factory=dict)
    size_bytes: int = 0
    error: str | None = None

    @property
    def name(self) -> str:
        return str(self.card.get("name") or self.path.name)

    @property
    def kind(self) -> str:
        return str(self.card.get("kind") or "unknown")

    @property
    def key(self) -> str:
        return str(self.path.resolve())

    @property
    def usable(self) -> bool:
        return self.error is None


def folder_size(path: Path) -> int:
    total = 0
    try:
        for p in path.rglob("*"):
            try:
                if p.is_file():
                    total += p.stat().st_size
            except OSError:
                pass
    except OSError:
        pass
    return total


def read_entry(path: Path | str, source: str = "opened") -> ModelEntry:
    """Describe the package at ``path`` from its card (never raises; problems go into ``error``).

    Nothing in the folder is trusted: the card is validated (``engine.runtime.package.read_card``) and
    ``model.onnx`` checked against it without starting onnxruntime (``check_package_files``: no external
    data, matching inputs/outputs, vocabulary size). An unusable package keeps an empty card, so no view
    ever meets its fields."""
    from engine.core.errors import ScribeError
    from engine.runtime.package import check_package_files, read_card

    path = Path(path)
    entry = ModelEntry(path=path, source=source)
    card_path = path / "card.json"
    if not path.is_dir():
        entry.error = f"{path} is not a folder"
        return entry
    if not card_path.is_file():
        entry.error = f"{path} has no card.json (not a Scribe model package)"
        return entry
    try:
        card = read_card(path)
        check_package_files(path, card)
        entry.card = card
    except ScribeError as exc:
        entry.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a package must never take the app down
        entry.error = f"{path} cannot be used: {type(exc).__name__}: {exc}"
    entry.size_bytes = folder_size(path)
    return entry


def _packages_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and (p / "card.json").is_file())


def scan(extra_paths: list[str] | None = None) -> list[ModelEntry]:
    """Bundled models, then the user's own, then packages opened from disk (deduplicated)."""
    from engine.core.paths import bundled_models_dir, user_models_dir

    entries: list[ModelEntry] = []
    seen: set[str] = set()

    def add(e: ModelEntry) -> None:
        if e.key not in seen:
            seen.add(e.key)
            entries.append(e)

    for p in _packages_in(bundled_models_dir()):
        add(read_entry(p, "bundled"))
    try:
        user = user_models_dir()
    except OSError:
        user = None
    if user is not None:
        for p in _packages_in(user):
            add(read_entry(p, "user"))
    for s in extra_paths or []:
        add(read_entry(Path(s), "opened"))
    return entries


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


class PackageCache:
    """Loads runtime packages once (thread-safe; called from worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pkgs: dict[str, Any] = {}

    def load(self, path: Path | str):
        key = str(Path(path).resolve())
        with self._lock:
            pkg = self._pkgs.get(key)
            if pkg is None:
                from engine.runtime import load_package

                pkg = load_package(key)
                self._pkgs[key] = pkg
            return pkg

    def forget(self, path: Path | str) -> None:
        with self._lock:
            self._pkgs.pop(str(Path(path).resolve()), None)


PACKAGES = PackageCache()
