"""Tested recipes for ``scribe train text|ink --preset NAME`` (torch-free, so the app can list them).

Settings are merged as: built-in defaults < the run being resumed (``--resume``) < the preset <
flags given on the command line. A preset's time budget (``steps``/``minutes``) is dropped when the
command line gives either. Figures for each recipe: bench/RESULTS-charlm.md (text) and bench/RESULTS-handwriting.md (ink).
"""

from __future__ import annotations

# every setting a text preset may set, with the value used when nothing else sets it
TEXT_BASE: dict = dict(
    # model
    cell="lstm", layers=2, hidden=512, embed=64, dropout=0.0, skip=False, no_orthogonal=False, gate_bias=1.0,
    # data
    batch=64, seq_len=128, val_fraction=0.1, eval_blocks=64, stateful_streams=32,
    # optimisation
    lr=2e-3, min_lr=None, optimizer="adamw", weight_decay=0.01, warmup=50, schedule="cosine", clip=1.0,
    # cadence and budget
    eval_every=200, sample_every=0, patience=0, steps=None, minutes=None,
    device="auto", amp=False, seed=1337,
)

_CPU = dict(cell="lstm", layers=2, hidden=384, embed=64, dropout=0.1, batch=32, seq_len=64,
            lr=3e-3, min_lr=3e-4, weight_decay=0.01, warmup=100, clip=1.0, eval_every=400, eval_blocks=256,
            patience=0, minutes=15.0, device="cpu")

TEXT_PRESETS: dict[str, dict] = {
    # the best recipe found for this project's 2-core CPU in 15 min (figures: bench/RESULTS-charlm.md)
    "cpu": dict(_CPU),
    # the bundled tinyshakespeare model: the cpu recipe (2 x 384 LSTM) on the bundled corpus when --corpus is
    # not given
    "default-text": dict(_CPU, corpus="assets:corpora/tinyshakespeare.txt"),
    # a lent H100/H200: 2 x 1024 LSTM on cuDNN, bf16 autocast, strong regularisation, best checkpoint by
    # validation loss and early stopping (it overfits tinyshakespeare quickly)
    "gpu": dict(cell="lstm", layers=2, hidden=1024, embed=128, dropout=0.25, batch=128, seq_len=256,
                lr=2e-3, min_lr=2e-4, weight_decay=0.1, warmup=100, clip=1.0, eval_every=100, eval_blocks=512,
                stateful_streams=64, patience=6, sample_every=500, minutes=10.0, device="cuda", amp=True),
}


# handwriting: model/trainer settings per preset (flags given on the command line win)
INK_PRESETS: dict[str, dict] = {
    # the bundled default handwriting model: a 3 x 192 synthesis net trained on 'scribe synth --hz 30' data
    # (time and quality: bench/RESULTS-handwriting.md)
    "default-ink": dict(kind="synthesis", layers=3, hidden=192, mixtures=20, window_k=10, batch=24,
                        lr=3e-3, clip=1.0, warmup=100, weight_decay=0.0, eval_every=200, buckets=8,
                        max_points=1200, steps=2600),
    # Graves (2013) size: 3 x 400 LSTM, K = 10, M = 20
    "graves": dict(kind="synthesis", layers=3, hidden=400, mixtures=20, window_k=10, batch=32, lr=1e-3,
                   clip=1.0, warmup=200, weight_decay=0.0, eval_every=500, buckets=6, max_points=1200),
    # Graves size on a GPU: bigger batches. lr 1e-3, not 1.5e-3: a 3 x 400 run at 1.5e-3 blew up on an H200
    # (bench/RESULTS-handwriting.md); 1e-3 is a precaution, not yet run to convergence on a GPU
    "gpu": dict(kind="synthesis", layers=3, hidden=400, mixtures=20, window_k=10, batch=64, lr=1e-3,
                clip=1.0, warmup=200, weight_decay=0.0, eval_every=500, buckets=6, max_points=1200,
                device="cuda"),
    # a small, fast model for trying things out
    "tiny": dict(kind="synthesis", layers=2, hidden=64, mixtures=10, window_k=5, batch=16, lr=3e-3,
                 clip=1.0, warmup=20, weight_decay=0.0, eval_every=100, buckets=3, max_points=800),
    # "Write like me": fine-tune a model (--init-from) on a few lines of one person's hand (--data: a folder
    # of InkML lines or an ink dataset) and keep it legible: every layer but the top LSTM layer and the mixture
    # head frozen (layer 1 and the attention window decide what follows the text), the other weights anchored to
    # the base (L2-SP), three quarters of every batch
    # rehearsed synthetic lines, light augmentation, most lines trained after another line of the same hand (as
    # a prime is written), early stopping on held-out NLL + a legibility check (engine/training/personal.py).
    # Measured on the seven real IAM-OnDB writers (held-out NLL, Tesseract CER, the stop rule, time on one CPU
    # thread) against other recipes: bench/RESULTS-personal.md.
    "personal": dict(kind="synthesis", batch=8, lr=5e-4, warmup=10, clip=1.0, weight_decay=0.0, eval_every=25,
                     patience=3, steps=150, minutes=6.0, sample_every=1000, buckets=1, max_points=1200,
                     freeze="lower", anchor=0.1, rehearse=0.75, augment=1.0, pairs=0.9),
}

# settings a preset may set, with the values used when neither the preset nor the command line does
INK_BASE: dict = dict(kind="synthesis", layers=3, hidden=400, mixtures=20, window_k=10, dropout=0.0, batch=32, lr=1e-3,
            clip=1.0, warmup=100, weight_decay=0.0, eval_every=250, buckets=4, max_points=1200, minutes=None,
            device="auto", optimizer="adamw", schedule="cosine", steps=None, patience=0, sample_every=0,
            # line pairs (priming) and where a pair's second line starts (engine/core/ink_score.py TRAIN_JOINS)
            pairs=0.0, join="baseline",
            # fine-tuning on one person's lines (engine/training/personal.py): off unless set
            freeze="none", anchor=0.0, rehearse=0.0, augment=0.0, hold_out=None)


BASES = {"text": TEXT_BASE, "ink": INK_BASE}
PRESETS = {"text": TEXT_PRESETS, "ink": INK_PRESETS}


def preset_names(kind: str = "text") -> list[str]:
    return sorted(PRESETS[kind])


def merge_settings(kind: str, args, saved: dict | None = None) -> dict:
    """One run's settings for ``kind`` ("text" | "ink"): built-in defaults < ``saved`` (the run being
    resumed) < the preset (``args.preset``) < flags given (not None in ``args``). Keys of ``args`` that
    no layer sets are kept. An explicit ``--steps``/``--minutes`` replaces the budget of the preset and of
    the saved run; a preset's budget replaces the saved run's; with no budget at all, 1000 steps."""
    from engine.core.errors import ScribeError

    base, presets = BASES[kind], PRESETS[kind]
    name = getattr(args, "preset", None)
    if name and name not in presets:
        raise ScribeError(f"unknown {kind} preset {name!r} (choose from {', '.join(sorted(presets))})")
    preset = dict(presets.get(name, {})) if name else {}
    saved = dict(saved or {})
    given = {k: v for k, v in vars(args).items() if v is not None}
    for layer in (saved, preset):
        if "steps" in given or "minutes" in given:
            layer.pop("steps", None)
            layer.pop("minutes", None)
    if "steps" in preset or "minutes" in preset:
        saved.pop("steps", None)
        saved.pop("minutes", None)
    merged = dict(base)
    merged.update({k: v for k, v in vars(args).items() if k not in base})
    merged.update(saved)
    merged.update(preset)
    merged.update(given)
    if not merged.get("steps") and not merged.get("minutes"):
        merged["steps"] = 1000
    return merged
