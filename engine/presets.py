"""Tested recipes for ``scribe train text --preset NAME`` (torch-free, so the app can list them).

Settings are merged as: built-in defaults < the run being resumed (``--resume``) < the preset <
flags given on the command line. A preset's time budget (``steps``/``minutes``) is dropped when the
command line gives either. Figures for each recipe: bench/RESULTS-charlm.md.
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
    # the best recipe found for this project's 2-core CPU: val loss <= 1.60 on tinyshakespeare in 15 min
    "cpu": dict(_CPU),
    # the bundled tinyshakespeare model: the cpu recipe (2 x 384 LSTM, 1.9 M params = 7.6 MB of fp32 weights)
    # on the bundled corpus when --corpus is not given
    "default-text": dict(_CPU, corpus="assets:corpora/tinyshakespeare.txt"),
    # a lent H100/H200: 2 x 1024 LSTM on cuDNN, bf16 autocast, strong regularisation, best checkpoint by
    # validation loss and early stopping (it overfits tinyshakespeare within a minute or two)
    "gpu": dict(cell="lstm", layers=2, hidden=1024, embed=128, dropout=0.25, batch=128, seq_len=256,
                lr=2e-3, min_lr=2e-4, weight_decay=0.1, warmup=100, clip=1.0, eval_every=100, eval_blocks=512,
                stateful_streams=64, patience=6, sample_every=500, minutes=10.0, device="cuda", amp=True),
}


def preset_names() -> list[str]:
    return sorted(TEXT_PRESETS)
