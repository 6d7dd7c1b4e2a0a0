"""Checkpoints: safetensors weights + JSON card + optimizer/RNG state. Never pickle.

A run directory holds ``checkpoints/step-0000500-val1.5321/`` folders, each with
``model.safetensors``, ``state.safetensors`` (optimizer tensors, RNG, task state), ``card.json``
(config, vocab, metrics, step) and ``state.json`` (optimizer scalars, data positions).
``last.json`` and ``best.json`` point at the folders; they are replaced atomically (written, fsynced,
renamed, the folder fsynced), so a kill during a save leaves the previous good checkpoint in place.

Nothing read back is trusted: cards are validated (``engine.core.card_schema``) and checked against the
safetensors header's tensor shapes before a model is built; pointers must stay inside their run folder.
A training run holds :class:`RunLock` on its folder, so a second run on the same folder is refused; the
temporary names of a write carry the writer's process id, and leftovers are removed only when their writer
is gone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from engine.core.card_schema import CHECKPOINT_FORMAT, read_json, validate_card
from engine.core.errors import CheckpointError
from engine.core.process import fsync_path, pid_alive

FORMAT = CHECKPOINT_FORMAT
FORMAT_VERSION = 1
MAX_POINTER_BYTES = 64 * 1024
MAX_STATE_JSON_BYTES = 256 * 2**20
LOCK_NAME = ".run.lock"

# kind -> "module:callable" building a model from its card's model_config
MODEL_BUILDERS = {
    "text": "engine.models.charlm:CharLM.from_config",
    "ink-prediction": "engine.models.handwriting:PredictionNet.from_config",
    "ink-synthesis": "engine.models.handwriting:SynthesisNet.from_config",
}


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary sibling (``.NAME.tmp-PID-*.tmp``): fsynced, renamed
    into place, the folder fsynced."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{temp_tag('tmp')}", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_path(path.parent)


def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {"param_groups": sd["param_groups"], "state": {}}
    for pid, st in sd["state"].items():
        m = {}
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"opt.{pid}.{k}"] = v.detach().cpu().contiguous()
                m[k] = "tensor"
            else:
                m[k] = v
        meta["state"][str(pid)] = m
    return tensors, meta


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state = {}
    for pid, m in meta["state"].items():
        state[int(pid)] = {k: (tensors[f"opt.{pid}.{k}"] if v == "tensor" else v) for k, v in m.items()}
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(run_dir: str | os.PathLike, *, model: torch.nn.Module, card: dict,
                    optimizer: torch.optim.Optimizer | None = None, extra_tensors: dict | None = None,
                    extra_json: dict | None = None, is_best: bool = False, keep_last: int = 2) -> Path:
    """Write a checkpoint folder atomically and update ``last.json`` (and ``best.json``)."""
    run_dir = Path(run_dir)
    ckdir = run_dir / "checkpoints"
    ckdir.mkdir(parents=True, exist_ok=True)
    step = int(card.get("step", 0))
    val = card.get("metrics", {}).get("val_loss")
    name = checkpoint_name(step, val)
    final = ckdir / name
    tmp = Path(tempfile.mkdtemp(dir=ckdir, prefix=f".{name}.{temp_tag('tmp')}"))
    try:
        weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(weights, str(tmp / "model.safetensors"))
        state_t: dict[str, torch.Tensor] = {}
        state_j: dict[str, Any] = dict(extra_json or {})
        if optimizer is not None:
            ot, om = _flatten_optimizer(optimizer)
            state_t.update(ot)
            state_j["optimizer"] = om
        state_t["rng.torch"] = torch.get_rng_state()
        if torch.cuda.is_available():
            for i, s in enumerate(torch.cuda.get_rng_state_all()):
                state_t[f"rng.cuda.{i}"] = s
        for k, v in (extra_tensors or {}).items():
            state_t[f"extra.{k}"] = v.detach().cpu().contiguous()
        save_file(state_t, str(tmp / "state.safetensors"))
        card = dict(card, format=FORMAT, format_version=FORMAT_VERSION, saved=time.time())
        (tmp / "card.json").write_text(json.dumps(card, indent=1, ensure_ascii=False), encoding="utf-8")
        (tmp / "state.json").write_text(json.dumps(state_j), encoding="utf-8")
        for f in tmp.iterdir():  # on disk before the folder is published
            fsync_path(f)
        fsync_path(tmp)
        old = None
        if final.exists():  # the same step saved again: move the old one aside, never delete it first
            old = Path(tempfile.mkdtemp(dir=ckdir, prefix=f".{name}.{temp_tag('old')}"))
            os.replace(final, old / "ck")
        os.replace(tmp, final)
        fsync_path(ckdir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    pointer = json.dumps({"path": f"checkpoints/{name}", "step": step, "val_loss": val})
    atomic_write_text(run_dir / "last.json", pointer)
    if is_best:
        atomic_write_text(run_dir / "best.json", pointer)
    _prune(run_dir, keep_last)
    return final


def _pointed(run_dir: Path, which: str, strict: bool = False) -> Path | None:
    """The checkpoint folder ``which``.json of ``run_dir`` points at, or None (no pointer, or a damaged one).
    A pointer that leads out of the run folder (an absolute path, ``..``, a link) is never followed: None, or
    CheckpointError when ``strict``."""
    p = run_dir / f"{which}.json"
    if not p.is_file():
        return None
    try:
        data = read_json(p, max_bytes=MAX_POINTER_BYTES)
    except CheckpointError:
        return None
    rel = data.get("path") if isinstance(data, dict) else None
    if not isinstance(rel, str) or not rel:
        return None
    try:
        root = run_dir.resolve()
        target = (run_dir / rel).resolve()
        inside = not Path(rel).is_absolute() and not Path(rel).drive and target.is_relative_to(root) \
            and target != root
    except (OSError, ValueError, RuntimeError):  # a NUL byte, a link loop
        inside = False
    if not inside:
        if strict:
            raise CheckpointError(f"{p} points outside its run folder ({rel[:200]!r}); refusing to follow it")
        return None
    return run_dir / target.relative_to(root)


def _prune(run_dir: Path, keep_last: int) -> None:
    keep = {_pointed(run_dir, "best"), _pointed(run_dir, "last")}
    folders = sorted((p for p in (run_dir / "checkpoints").iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.name)
    for p in folders[:-keep_last] if keep_last > 0 else folders:
        if p not in keep:
            shutil.rmtree(p, ignore_errors=True)
    clean_stale_temps(run_dir)  # leftovers of killed saves (never another live process's save in progress)


# ------------------------------------------------------------------ temporary files, stale leftovers, the run lock

_TEMP_OWNER = re.compile(r"\.(?:tmp|old|export)-(\d+)-")


def temp_tag(what: str) -> str:
    """The part of a temporary name that says what it is and which process writes it (``tmp-4242-``)."""
    return f"{what}-{os.getpid()}-"


def is_stale_temp(path: Path, before: float | None = None) -> bool:
    """Whether the temporary file or folder ``path`` is a leftover: its writer (the process id in its name)
    is gone. Names without a process id (older versions) count as leftovers when modified before ``before``."""
    owners = _TEMP_OWNER.findall(path.name)   # the last one: the base name may look like a tag too
    if owners:
        pid = int(owners[-1])
        return pid != os.getpid() and not pid_alive(pid)
    if before is None:
        return False
    try:
        return path.lstat().st_mtime < before
    except OSError:
        return False


def remove_stale_temps(folder: Path, patterns: tuple[str, ...], before: float | None = None) -> list[Path]:
    """Remove the leftovers (:func:`is_stale_temp`) matching ``patterns`` (globs) in ``folder``; returns them."""
    gone = []
    for pattern in patterns:
        for p in Path(folder).glob(pattern):
            if is_stale_temp(p, before):
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    try:
                        p.unlink()
                    except OSError:
                        continue
                gone.append(p)
    return gone


def clean_stale_temps(run_dir: Path, before: float | None = None) -> list[Path]:
    """Leftovers of killed writes in a run folder: pointer temp files and half-written checkpoint folders."""
    run_dir = Path(run_dir)
    gone = remove_stale_temps(run_dir, (".last.json.*.tmp", ".best.json.*.tmp"), before)
    if (run_dir / "checkpoints").is_dir():
        gone += remove_stale_temps(run_dir / "checkpoints", (".step-*",), before)
    return gone


def _try_lock(fd: int) -> bool:
    if os.name == "nt":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import errno
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        return True   # a file system without locks (ENOLCK, EOPNOTSUPP): run unlocked rather than not at all
    return True


def _unlock(fd: int) -> None:
    try:
        if os.name == "nt":
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError:
        pass


class RunLock:
    """One training run per run folder: an exclusive lock on ``RUN/.run.lock`` for the lifetime of a run.

    The operating system drops the lock when the process ends, however it ends, so a killed run never leaves
    a stale lock. The file records who holds it (pid, host, start time) for the message a second run gets.
    Taking the lock also removes what killed writes left in the folder.
    """

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(20):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _try_lock(fd):
                holder = _lock_holder(fd)
                os.close(fd)
                raise CheckpointError(f"{self.run_dir} is in use by another training run{holder}; wait for it "
                                      f"to finish or stop it, or train into another folder")
            try:  # the holder before us may have removed the file between our open and our lock: retry
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except OSError:
                same = False
            if same:
                break
            _unlock(fd)
            os.close(fd)
        else:
            raise CheckpointError(f"cannot lock {self.run_dir} for training (the lock file keeps changing)")
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "started": time.strftime("%Y-%m-%d %H:%M:%S")})
        os.ftruncate(fd, 1)
        os.lseek(fd, 1, os.SEEK_SET)   # byte 0 is the one locked on Windows
        os.write(fd, info.encode("utf-8"))
        self._fd = fd
        clean_stale_temps(self.run_dir, before=time.time())
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if os.name != "nt" and os.path.samestat(os.fstat(fd), os.stat(self.path)):
                os.unlink(self.path)   # while still locked: whoever opens the name next gets a fresh file
        except OSError:
            pass
        _unlock(fd)
        os.close(fd)

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _lock_holder(fd: int) -> str:
    try:
        os.lseek(fd, 1, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode("utf-8"))
        return f" (process {int(info['pid'])} on {str(info['host'])[:100]}, started {str(info['started'])[:40]})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def checkpoint_name(step: int, val_loss: float | None) -> str:
    """``step-0000500-val1.5321``: the step and the validation loss, sortable by step."""
    return f"step-{int(step):07d}" + (f"-val{val_loss:.4f}" if isinstance(val_loss, (int, float)) else "")


def list_checkpoints(run_dir: str | os.PathLike) -> list[dict]:
    """Checkpoints of a run, oldest first, with their cards' step and metrics."""
    run_dir = Path(run_dir)
    out = []
    best, last = _pointed(run_dir, "best"), _pointed(run_dir, "last")
    ck = run_dir / "checkpoints"
    if not ck.is_dir():
        return out
    for p in sorted(ck.iterdir()):
        if p.name.startswith(".") or p.is_symlink() or not (p / "card.json").exists():
            continue   # a link could lead out of the run folder
        try:
            card = validate_card(read_json(p / "card.json"), str(p / "card.json"), package=False)
        except CheckpointError:
            continue
        out.append({"path": str(p), "step": card.get("step"), "metrics": card.get("metrics", {}),
                    "best": p == best, "last": p == last, "kind": card.get("kind")})
    return out


def resolve(path: str | os.PathLike, prefer: str = "best") -> Path:
    """A run directory, or a checkpoint folder, -> the checkpoint folder to load."""
    path = Path(path).expanduser()
    if (path / "card.json").exists() and (path / "model.safetensors").exists():
        return path
    if not path.exists():
        raise CheckpointError(f"model not found: {path}")
    order = ["best", "last"] if prefer == "best" else ["last", "best"]
    for which in order:
        p = _pointed(path, which, strict=True)
        if p is not None and (p / "model.safetensors").exists():
            return p
    # pointers lost (e.g. killed before the first pointer write): newest complete checkpoint
    cands = [c for c in sorted((path / "checkpoints").glob("step-*"))
             if (c / "card.json").exists() and not c.is_symlink()] \
        if (path / "checkpoints").is_dir() else []
    if cands:
        return cands[-1]
    raise CheckpointError(f"{path} holds no checkpoint (expected card.json + model.safetensors, "
                          f"or a run folder with last.json)")


def read_card(ckpt: Path) -> dict:
    """The validated card of a checkpoint folder (``engine.core.card_schema``); CheckpointError naming the file."""
    path = Path(ckpt) / "card.json"
    card = read_json(path)
    if not isinstance(card, dict):
        raise CheckpointError(f"{path} is damaged: not a JSON object")
    if card.get("format") != FORMAT:
        raise CheckpointError(f"{ckpt} is not a Scribe checkpoint (format={str(card.get('format'))[:60]!r})")
    version = card.get("format_version", 0)
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise CheckpointError(f"{ckpt} was written by a newer Scribe (format {version}); "
                              f"this version reads up to {FORMAT_VERSION}")
    return validate_card(card, str(path), package=False)


def _build(kind: str, model_config: dict) -> torch.nn.Module:
    import importlib

    if kind not in MODEL_BUILDERS:
        raise CheckpointError(f"unknown model kind {kind!r}")
    mod, attr = MODEL_BUILDERS[kind].split(":")
    obj: Any = importlib.import_module(mod)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj(model_config)


def weight_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes of a safetensors file, from its header only (no tensor is read)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"corrupt weights in {path.parent}: {exc}") from None


def check_weights_match(ckpt: Path, card: dict) -> None:
    """The weights file must hold exactly the tensors, of exactly the shapes, of the model the card
    describes: compared on the header and a model built on the meta device (no memory allocated)."""
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in _build(card["kind"], card["model_config"]).state_dict().items()}
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{ckpt / 'card.json'}: cannot build the model it describes: {exc}") from None
    except (RuntimeError, NotImplementedError):  # an op without a meta kernel: the schema's size caps remain
        return
    got = weight_shapes(ckpt / "model.safetensors")
    problems = [f"missing {k}" for k in expected if k not in got] + \
               [f"unexpected {k}" for k in got if k not in expected] + \
               [f"{k} is {list(got[k])}, the card implies {list(v)}" for k, v in expected.items()
                if k in got and got[k] != v]
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        raise CheckpointError(f"weights in {ckpt} do not match the model in its card: "
                              f"{'; '.join(problems[:3])}{more}")


def load_model(path: str | os.PathLike, prefer: str = "best", map_location: str = "cpu"):
    """Load (model, card) from a run or checkpoint folder. Weights only, via safetensors; the card is
    validated and checked against the weights' shapes before the model is built."""
    ckpt = resolve(path, prefer)
    card = read_card(ckpt)
    check_weights_match(ckpt, card)
    model = _build(card["kind"], card["model_config"])
    try:
        weights = load_file(str(ckpt / "model.safetensors"), device=map_location)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"corrupt weights in {ckpt}: {exc}") from None
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointError(f"weights in {ckpt} do not match the model in its card: {exc}") from None
    model.eval()
    card["checkpoint_path"] = str(ckpt)
    return model, card


def load_training_state(ckpt: Path) -> tuple[dict[str, torch.Tensor], dict]:
    try:
        tensors = load_file(str(ckpt / "state.safetensors"))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot resume from {ckpt}: {exc}") from None
    meta = read_json(ckpt / "state.json", max_bytes=MAX_STATE_JSON_BYTES)
    if not isinstance(meta, dict) or any(not isinstance(meta.get(k, {}), dict) for k in ("trainer", "task", "optimizer")):
        raise CheckpointError(f"cannot resume from {ckpt}: {ckpt / 'state.json'} is damaged")
    return tensors, meta


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict, meta: dict) -> None:
    if "optimizer" in meta:
        try:
            sd = _unflatten_optimizer(tensors, meta["optimizer"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"the optimizer state of the checkpoint is damaged ({type(exc).__name__}: "
                                  f"{str(exc)[:200]})") from None
        optimizer.load_state_dict(sd)


def restore_rng(tensors: dict) -> None:
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"])
    if torch.cuda.is_available():
        states = [tensors[k] for k in sorted(t for t in tensors if t.startswith("rng.cuda."))]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)


def extra_tensors(tensors: dict) -> dict[str, torch.Tensor]:
    return {k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")}
