"""Checkpoints: safetensors weights + JSON card + optimizer/RNG state. Never pickle.

A run directory holds ``checkpoints/step-0000500-val1.5321/`` folders, each with
``model.safetensors``, ``state.safetensors`` (optimizer tensors, RNG, task state), ``card.json``
(config, vocab, metrics, step) and ``state.json`` (optimizer scalars, data positions).
``last.json`` and ``best.json`` point at the folders; they are replaced atomically, so a kill
during a save leaves the previous good checkpoint in place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from engine.core.errors import CheckpointError

FORMAT = "scribe-checkpoint"
FORMAT_VERSION = 1

# kind -> "module:callable" building a model from its card's model_config
MODEL_BUILDERS = {
    "text": "engine.models.charlm:CharLM.from_config",
    "ink-prediction": "engine.models.handwriting:PredictionNet.from_config",
    "ink-synthesis": "engine.models.handwriting:SynthesisNet.from_config",
}


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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


def _fsync(path: Path) -> None:
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
    tmp = Path(tempfile.mkdtemp(dir=ckdir, prefix=f".{name}."))
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
            _fsync(f)
        old = None
        if final.exists():  # the same step saved again: move the old one aside, never delete it first
            old = Path(tempfile.mkdtemp(dir=ckdir, prefix=f".{name}.old."))
            os.replace(final, old / "ck")
        os.replace(tmp, final)
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


def _pointed(run_dir: Path, which: str) -> Path | None:
    p = run_dir / f"{which}.json"
    if not p.exists():
        return None
    try:
        return run_dir / json.loads(p.read_text(encoding="utf-8"))["path"]
    except (ValueError, KeyError, OSError):
        return None


def _prune(run_dir: Path, keep_last: int) -> None:
    keep = {_pointed(run_dir, "best"), _pointed(run_dir, "last")}
    folders = sorted((p for p in (run_dir / "checkpoints").iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.name)
    for p in folders[:-keep_last] if keep_last > 0 else folders:
        if p not in keep:
            shutil.rmtree(p, ignore_errors=True)
    for p in (run_dir / "checkpoints").glob(".step-*"):  # leftovers of a killed save
        shutil.rmtree(p, ignore_errors=True)


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
        if p.name.startswith(".") or not (p / "card.json").exists():
            continue
        try:
            card = json.loads((p / "card.json").read_text(encoding="utf-8"))
        except ValueError:
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
        p = _pointed(path, which)
        if p is not None and (p / "model.safetensors").exists():
            return p
    # pointers lost (e.g. killed before the first pointer write): newest complete checkpoint
    cands = [c for c in sorted((path / "checkpoints").glob("step-*")) if (c / "card.json").exists()] \
        if (path / "checkpoints").is_dir() else []
    if cands:
        return cands[-1]
    raise CheckpointError(f"{path} holds no checkpoint (expected card.json + model.safetensors, "
                          f"or a run folder with last.json)")


def read_card(ckpt: Path) -> dict:
    try:
        card = json.loads((ckpt / "card.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"unreadable checkpoint card {ckpt / 'card.json'}: {exc}") from None
    if card.get("format") != FORMAT:
        raise CheckpointError(f"{ckpt} is not a Scribe checkpoint (format={card.get('format')!r})")
    if int(card.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(f"{ckpt} was written by a newer Scribe (format {card['format_version']}); "
                              f"this version reads up to {FORMAT_VERSION}")
    return card


def _build(kind: str, model_config: dict) -> torch.nn.Module:
    import importlib

    if kind not in MODEL_BUILDERS:
        raise CheckpointError(f"unknown model kind {kind!r}")
    mod, attr = MODEL_BUILDERS[kind].split(":")
    obj: Any = importlib.import_module(mod)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj(model_config)


def load_model(path: str | os.PathLike, prefer: str = "best", map_location: str = "cpu"):
    """Load (model, card) from a run or checkpoint folder. Weights only, via safetensors."""
    ckpt = resolve(path, prefer)
    card = read_card(ckpt)
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
        meta = json.loads((ckpt / "state.json").read_text(encoding="utf-8"))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot resume from {ckpt}: {exc}") from None
    return tensors, meta


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict, meta: dict) -> None:
    if "optimizer" in meta:
        optimizer.load_state_dict(_unflatten_optimizer(tensors, meta["optimizer"]))


def restore_rng(tensors: dict) -> None:
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"])
    if torch.cuda.is_available():
        states = [tensors[k] for k in sorted(t for t in tensors if t.startswith("rng.cuda."))]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)


def extra_tensors(tensors: dict) -> dict[str, torch.Tensor]:
    return {k[len("extra."):]: v for k, v in tensors.items() if k.startswith("extra.")}
