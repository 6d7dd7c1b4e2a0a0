"""Tiny, randomly initialised but real (exported, parity-checked) packages, for tests and screenshots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.core.errors import ExportError
from engine.export.exporter import export_model

TINY_TEXT_VOCAB = "\n !',.?abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def make_tiny_package(kind: str, out_dir, seed: int = 0, **sizes) -> Path:
    """Build a tiny randomly initialised model of ``kind`` and export it to ``out_dir``; returns the path.

    For tests (the GUI's included): the package is real (ONNX + card, parity-checked) but untrained.
    ``kind``: "text" | "ink-synthesis" | "ink-prediction". ``sizes`` override the model config
    (text: cell, layers, hidden, embed, skip, vocab=<string of characters>; ink: layers, hidden,
    mixtures, window_k, vocab=<string> (synthesis), norm={"mean": [mx, my], "std": [sx, sy]}) and may
    include ``name``, ``quantize`` ("int8") and ``styles``
    (a list of dict(name, text, stroke3) written into the card). Fast after the first call (torch's exporter
    warms up once).
    """
    import torch

    sizes = dict(sizes)
    name = sizes.pop("name", None)
    quantize = sizes.pop("quantize", None)
    styles = sizes.pop("styles", None)
    torch.manual_seed(seed)
    if kind == "text":
        from engine.core.vocab import Vocab
        from engine.models.charlm import CharLM, CharLMConfig

        vocab = Vocab(sizes.pop("vocab", TINY_TEXT_VOCAB))
        cfg = dict(cell="lstm", layers=2, hidden=16, embed=8)
        cfg.update(sizes)
        model = CharLM(CharLMConfig(vocab_size=len(vocab), **cfg))
        card = {"kind": "text", "model_config": model.config_dict(), "vocab": vocab.to_json()}
    elif kind in ("ink-synthesis", "ink-prediction"):
        model, card = _tiny_ink_model(kind, sizes)
    else:
        raise ExportError(f"unknown model kind {kind!r}")
    card.update(step=0, metrics={}, data={"note": "tiny randomly initialised model (tests)"})
    if styles:
        card["styles"] = [{"name": s["name"], "text": s.get("text", ""),
                           "stroke3": np.asarray(s["stroke3"], dtype=np.float32).round(4).tolist()} for s in styles]
    return export_model(model.eval(), card, out_dir, name=name, seed=seed, quantize=quantize)


TINY_INK_VOCAB = " abcdefghijklmnopqrstuvwxyz.,'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _tiny_ink_model(kind: str, sizes: dict):
    from engine.models.handwriting import build

    vocab = sizes.pop("vocab", sizes.pop("charset", TINY_INK_VOCAB))
    norm = sizes.pop("norm", {"mean": [2.0, 0.1], "std": [4.0, 3.0]})
    cfg = dict(layers=2, hidden=16, mixtures=3, window_k=2)
    if kind == "ink-synthesis":
        cfg["vocab_size"] = len(vocab)
    cfg.update(sizes)
    model = build(kind, cfg)
    card = {"kind": kind, "model_config": model.config_dict(), "norm": dict(norm)}
    if kind == "ink-synthesis":
        card["vocab"] = list(vocab)
    return model, card
