"""Char LM quality on tinyshakespeare with nanoGPT's protocol.

Train (the arguments after ``--`` go to ``scribe train text``) and/or evaluate a run folder:

    python bench/charlm_quality.py --out runs/default-text -- --preset default-text
    python bench/charlm_quality.py --out runs/default-text --eval-only

Protocol (nanoGPT shakespeare_char): the corpus is split contiguously 90/10; the validation loss is the
mean cross-entropy (nats/char) over random 256-character blocks of the validation text, each from a fresh
(zero) state. Also reported: the stateful loss, one pass over the whole validation text with the state
carried (how the model is used for generation), and from the run's eval events the training time at
which the (in-training) validation loss first reached given thresholds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import checkpoint as ckpt  # noqa: E402
from engine.cli.main import main as scribe  # noqa: E402
from engine.core.vocab import Vocab  # noqa: E402
from engine.data.corpus import load_corpus  # noqa: E402
from engine.training.text_task import evaluate_text  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"


@torch.no_grad()
def stateful_loss(model, val: np.ndarray, device) -> float:
    """One pass over the whole validation text, state carried (exact: a single stream)."""
    x = torch.from_numpy(val[:-1].astype(np.int64)).to(device)[None]
    y = torch.from_numpy(val[1:].astype(np.int64)).to(device)[None]
    st, tot = None, 0.0
    for j in range(0, x.shape[1], 4096):
        logits, st = model(x[:, j:j + 4096], st)
        tot += float(F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y[:, j:j + 4096].reshape(-1),
                                     reduction="sum"))
    return tot / x.shape[1]


def first_reach(events: list[dict], thresholds) -> dict:
    start = next((e["time"] for e in events if e["type"] == "start"), None)
    out = {}
    for th in thresholds:
        hit = next((e for e in events if e["type"] == "eval" and (e.get("val_loss") or math.inf) <= th), None)
        out[f"{th:.2f}"] = None if hit is None or start is None else {"step": hit["step"],
                                                                       "seconds": round(hit["time"] - start, 1)}
    return out


def main() -> int:
    argv = sys.argv[1:]
    train_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="run folder")
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--blocks", type=int, default=2000, help="random 256-char validation blocks (default 2000)")
    ap.add_argument("--seed", type=int, default=1234, help="seed of the block positions")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    out = Path(args.out)
    events_path = out / "events.jsonl"
    load = {"before": os.getloadavg()}
    if not args.eval_only:
        t0 = time.time()
        rc = scribe(["train", "text", "--corpus", args.corpus, "--out", str(out), "--events", str(events_path),
                     "--quiet", *train_args])
        if rc:
            return rc
        load["after_training"] = os.getloadavg()
        print(f"trained in {time.time() - t0:.0f} s", flush=True)
    device = torch.device(args.device)
    results = {"host": platform.node(), "cpu_threads": torch.get_num_threads(), "torch": torch.__version__}
    events = [json.loads(l) for l in open(events_path, encoding="utf-8")] if events_path.exists() else []
    if events:
        start = next(e for e in events if e["type"] == "start")
        done = next((e for e in reversed(events) if e["type"] in ("done", "error")), None)
        steps = [e for e in events if e["type"] == "step"]
        results["training"] = {
            "device": start.get("device"), "params": start.get("params"), "config": start.get("config"),
            "status": done.get("status") if done else None, "steps": done.get("step") if done else None,
            "train_seconds": round(done["time"] - start["time"], 1) if done else None,
            "median_tokens_per_s": float(np.median([e["rate"] for e in steps[5:]])) if len(steps) > 5 else None,
            "in_training_evals": [(e["step"], round(e["time"] - start["time"]), round(e["val_loss"], 4))
                                  for e in events if e["type"] == "eval"],
            "first_reach": first_reach(events, (1.80, 1.60, 1.50, 1.47, 1.40)),
        }
    for which in ("best", "last"):
        model, card = ckpt.load_model(out, prefer=which)
        model.to(device)
        vocab = Vocab.from_json(card["vocab"])
        corpus = load_corpus(args.corpus, vocab=vocab)
        _, val = corpus.split(0.1)
        t = time.time()
        blocks = evaluate_text(model, val, device, blocks=args.blocks, block_len=256, seed=args.seed,
                               stateful_max=None, stateful_streams=32)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # batch-1 steps: one thread avoids barrier stalls on a busy machine
        try:
            exact = stateful_loss(model, val, device)
        finally:
            torch.set_num_threads(threads)
        size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
        results[which] = {"checkpoint": card["checkpoint_path"], "step": card["step"],
                          "val_loss_nanogpt": round(blocks["val_loss"], 4), "blocks": args.blocks,
                          "val_loss_stateful": round(exact, 4), "bpc_stateful": round(exact / math.log(2), 4),
                          "weights_mb": round(size / 1e6, 2), "eval_seconds": round(time.time() - t, 1)}
        print(json.dumps({which: results[which]}), flush=True)
    load["after_eval"] = os.getloadavg()
    results["loadavg"] = load
    (out / "bench-quality.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
