"""Plain training events (dicts) and sinks for them.

Every event is a JSON-serialisable dict with at least ``type`` and ``time``. Types emitted by the
trainer: ``start``, ``step``, ``eval``, ``sample``, ``checkpoint``, ``warning``, ``done``, ``error``.
The GUI consumes these; ``--events FILE|-`` writes them as JSON lines.
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any, Callable, Iterable

Event = dict
Callback = Callable[[Event], None]


def make_event(type_: str, **fields: Any) -> Event:
    ev = {"type": type_, "time": time.time()}
    ev.update(fields)
    return ev


def format_duration(seconds: float | None, unknown: str = "?") -> str:
    """An ETA or elapsed time as mm:ss, or h:mm:ss from an hour up; ``unknown`` for None, inf or NaN."""
    if seconds is None or not math.isfinite(seconds):
        return unknown
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        try:
            return _jsonable(obj.item())
        except Exception:  # noqa: BLE001
            return str(obj)
    return obj


class JsonlSink:
    """Writes each event as one JSON line to a path or ``-`` (stdout)."""

    def __init__(self, target: str):
        self._own = target != "-"
        if not self._own:
            self._fh = sys.stdout
            return
        from pathlib import Path

        from engine.core.errors import ScribeError

        try:
            Path(target).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(Path(target).expanduser(), "a", encoding="utf-8")
        except OSError as exc:
            raise ScribeError(f"cannot write events to {target}: {exc.strerror or exc}") from None

    def __call__(self, event: Event) -> None:
        if self._fh is None:
            return
        try:
            self._fh.write(json.dumps(_jsonable(event), ensure_ascii=False) + "\n")
            self._fh.flush()
        except OSError as exc:   # a full disk, or the reader of stdout went away: stop writing events, say so once
            if not isinstance(exc, BrokenPipeError):
                print(f"warning: cannot write events any more ({exc.strerror or exc}); training goes on",
                      file=sys.stderr)
            self.close()
            self._fh = None

    def close(self) -> None:
        if self._own and self._fh is not None:
            try:
                self._fh.close()
            except OSError:      # what was still buffered cannot be written (a full disk): nothing more to do
                pass


class Emitter:
    """Fans events out to callbacks; a failing callback never breaks training."""

    def __init__(self, callbacks: Iterable[Callback] = ()):
        self.callbacks = list(callbacks)

    def add(self, cb: Callback) -> None:
        self.callbacks.append(cb)

    def emit(self, type_: str, **fields: Any) -> Event:
        ev = make_event(type_, **fields)
        for cb in self.callbacks:
            try:
                cb(ev)
            except Exception as exc:  # noqa: BLE001
                print(f"event callback failed: {exc!r}", file=sys.stderr)
        return ev


def read_events(path: str) -> list[Event]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
