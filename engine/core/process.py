"""Processes and folders shared between processes: is a writer still alive, and a lock on a folder. No torch.

Used where several ``scribe`` processes (or the app and a command) may write into one folder: temporary names
carry the writer's process id, so leftovers are removed only when their writer is gone, and the short commit
step of a write holds :func:`folder_lock`.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

_PID_IN_NAME = re.compile(r"-(\d+)-")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` (on this machine) still runs. Unknown counts as alive."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        import ctypes

        k32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = k32.OpenProcess(0x1000 | 0x00100000, False, pid)  # QUERY_LIMITED_INFORMATION | SYNCHRONIZE
        if not handle:
            return k32.GetLastError() == 5   # access denied: it exists
        try:
            return k32.WaitForSingleObject(handle, 0) == 0x102   # WAIT_TIMEOUT: still running
        finally:
            k32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True


def writer_pid(name: str) -> int | None:
    """The process id a temporary name carries (``.saving-4242-ab12...`` -> 4242), or None."""
    m = _PID_IN_NAME.search(name)
    return int(m.group(1)) if m else None


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike):
    """Hold an exclusive lock on ``folder`` itself (flock on the folder; no file is created) while the block
    runs; other processes taking it wait. Where folders cannot be locked (Windows, some network file systems)
    the block runs unlocked."""
    fd = None
    try:
        import fcntl

        fd = os.open(Path(folder), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        fcntl.flock(fd, fcntl.LOCK_EX)
    except (ImportError, OSError):
        if fd is not None:
            os.close(fd)
        fd = None
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)   # closing the descriptor releases the lock


def fsync_path(path: str | os.PathLike) -> None:
    """fsync a file or a folder (a folder: so a rename into it is on disk; not possible on Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
