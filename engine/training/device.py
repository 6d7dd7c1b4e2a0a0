"""Device selection: CUDA when present, else CPU."""

from __future__ import annotations

from engine.core.errors import ScribeError


def pick_device(name: str = "auto"):
    import torch

    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ScribeError("CUDA was requested but this torch build sees no GPU "
                              f"(torch {torch.__version__}); use --device cpu or install a CUDA build of torch")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ScribeError(f"unknown device {name!r}: use auto, cpu or cuda")


def describe_device(dev) -> str:
    import torch

    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return f"cpu ({torch.get_num_threads()} threads)"
