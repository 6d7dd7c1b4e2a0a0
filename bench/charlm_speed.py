"""Trainer throughput vs a bare nn.LSTM training loop of the same size, in the same process.

    python bench/charlm_speed.py [--steps 20] [--repeats 3] [--device cpu|cuda] [--preset cpu|gpu]

Both loops train the same char LM shape (embedding -> stacked nn.LSTM -> linear head, cross-entropy,
AdamW, global-norm clipping, truncated BPTT with the state carried) on tinyshakespeare. The bare loop is
the minimum: no events, no per-layer norms, no NaN guard, no host syncs. The trainer runs exactly what
`scribe train text` runs (TextTask + Trainer) with a JSON-lines event sink attached. The two alternate
(bare, trainer, bare, trainer, ...) so machine load hits both alike; the figure is the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.core.events import JsonlSink  # noqa: E402
from engine.data.corpus import load_corpus  # noqa: E402
from engine.training.presets import TEXT_BASE, TEXT_PRESETS  # noqa: E402
from engine.training.text_task import TextTask  # noqa: E402
from engine.training.trainer import TrainConfig, Trainer, seed_everything  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"


class Bare(torch.nn.Module):
    def __init__(self, V, E, H, L, dropout):
        super().__init__()
        self.emb = torch.nn.Embedding(V, E)
        self.rnn = torch.nn.LSTM(E, H, L, batch_first=True, dropout=dropout if L > 1 else 0.0)
        self.drop = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(H, V)

    def forward(self, x, st):
        out, st = self.rnn(self.emb(x), st)
        return self.head(self.drop(out)), st


def bare_loop(data: np.ndarray, s: dict, steps: int, device, amp: bool) -> float:
    """Tokens/s of the bare loop over ``steps`` steps (after 2 warm-up steps)."""
    V = int(data.max()) + 1
    model = Bare(V, s["embed"], s["hidden"], s["layers"], s["dropout"]).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=s["lr"], weight_decay=s["weight_decay"],
                            **({"fused": True} if device.type == "cuda" else {}))
    B, T = s["batch"], s["seq_len"]
    d = torch.from_numpy(data.astype(np.int64)).to(device)
    stream = (len(d) - 1) // B
    offs = torch.arange(B, device=device)[:, None] * stream
    ar = torch.arange(T, device=device)[None]
    st, pos = None, 0
    for i in range(steps + 2):
        if i == 2:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        if pos + T > stream:
            pos, st = 0, None
        idx = offs + ar + pos
        pos += T
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits, st = model(d[idx], st)
        st = tuple(x.detach() for x in st)
        loss = F.cross_entropy(logits.float().reshape(-1, V), d[idx + 1].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), s["clip"])
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * B * T / (time.perf_counter() - t0)


def trainer_loop(corpus, s: dict, steps: int, device: str, amp: bool, tmp: Path) -> float:
    """Tokens/s of TextTask + Trainer (what `scribe train text` runs) between its 2nd and last step."""
    seed_everything(0)
    task = TextTask(corpus, dict(cell="lstm", layers=s["layers"], hidden=s["hidden"], embed=s["embed"],
                                 dropout=s["dropout"]), batch=s["batch"], seq_len=s["seq_len"], val_fraction=0.1)
    times = []
    sink = JsonlSink(str(tmp / "events.jsonl"))
    cfg = TrainConfig(steps=steps + 2, lr=s["lr"], weight_decay=s["weight_decay"], clip=s["clip"], device=device,
                      amp=amp, eval_every=10**9, sample_every=10**9, warmup=s["warmup"])
    tr = Trainer(task, cfg, tmp / "run", callbacks=[sink, lambda e: times.append(time.perf_counter())
                                                    if e["type"] == "step" else None])
    tr._eval_and_save = lambda: {"step": tr.step}   # time the training steps only (no final eval/save)
    tr.run()
    sink.close()
    return steps * s["batch"] * s["seq_len"] / (times[-1] - times[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    ap.add_argument("--preset", default="cpu", choices=sorted(TEXT_PRESETS))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default=None, help="default: the preset's (cpu preset: cpu)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    s = dict(TEXT_BASE)
    s.update(TEXT_PRESETS[args.preset])
    dev = torch.device(args.device or s["device"] if (args.device or s["device"]) != "auto" else
                       ("cuda" if torch.cuda.is_available() else "cpu"))
    amp = bool(s["amp"]) and dev.type == "cuda"
    corpus = load_corpus(args.corpus)
    train = corpus.split(0.1)[0]
    load_before = os.getloadavg()
    bare, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            torch.manual_seed(r)
            bare.append(bare_loop(train, s, args.steps, dev, amp))
            ours.append(trainer_loop(corpus, s, args.steps, str(dev), amp, Path(tmp) / f"r{r}"))
            print(f"repeat {r}: bare {bare[-1]:,.0f} tok/s, trainer {ours[-1]:,.0f} tok/s", flush=True)
    b, o = statistics.median(bare), statistics.median(ours)
    res = {"device": str(dev) + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else
                                 f" ({torch.get_num_threads()} threads)"),
           "model": f"{s['layers']}x{s['hidden']} LSTM, embed {s['embed']}, batch {s['batch']} x {s['seq_len']}",
           "amp": amp, "bare_tok_s": b, "trainer_tok_s": o, "overhead": 1 - o / b,
           "bare_all": bare, "trainer_all": ours, "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
           "torch": torch.__version__}
    print(json.dumps(res, indent=1))
    print(f"pipeline overhead: {100 * (1 - o / b):.1f}% (trainer {o:,.0f} vs bare {b:,.0f} tokens/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
