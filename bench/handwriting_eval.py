"""Quality figures of a trained synthesis model: validation nats per line / per point and the runaway rate.

Runaway rate: the fraction of prompts whose sample does NOT stop by the stop rule within 1.5x the
expected length of its text. Expected = what the training data spends on such a text: points per space,
lower-case letter, capital, digit and other mark, fitted by least squares over the dataset's training lines
(:func:`expected_points`), since a line of capitals takes more points than one of small letters.
``runaway_rate_flat`` is the older, cruder rule (the data's mean points per character x the prompt's
characters), kept for comparison with earlier figures.
Prompts: validation-split transcriptions of the dataset (never trained on), then synthetic lines.
For scale, ``data_over_factor_rate`` (and ``_flat``): the share of those prompts' own (written) lines that are
longer than the same threshold; a corpus whose pen speed varies has some, and a model that writes like it will too.

    .venv/bin/python bench/handwriting_eval.py --model runs/default-ink --data runs/synth-ink-30hz \
        --prompts 100 --bias 0.5 --png docs/handwriting-samples.png
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

CHAR_CLASSES = ("space", "lower", "upper", "digit", "other")


def char_counts(text: str) -> np.ndarray:
    """How many characters of each of :data:`CHAR_CLASSES` ``text`` has."""
    return np.array([sum(c == " " for c in text), sum(c.islower() for c in text), sum(c.isupper() for c in text),
                     sum(c.isdigit() for c in text), sum(not (c.isalnum() or c == " ") for c in text)], dtype=float)


def expected_points(ds, limit: int = 5000):
    """A function text -> the points the dataset's writers spend on it: least squares of the points of up to
    ``limit`` training lines on their character-class counts (negative costs dropped and refitted)."""
    idx = [i for i in ds.indices("train") if ds.lines_meta[i]["text"]][:limit]
    X = np.stack([char_counts(ds.lines_meta[i]["text"]) for i in idx])
    y = np.array([len(ds.line(i).points) for i in idx], dtype=float)
    keep = np.ones(X.shape[1], dtype=bool)
    for _ in range(X.shape[1]):
        coef = np.zeros(X.shape[1])
        coef[keep] = np.linalg.lstsq(X[:, keep], y, rcond=None)[0]
        if (coef >= 0).all():
            break
        keep &= coef > 0
    return lambda text: float(char_counts(text) @ coef), dict(zip(CHAR_CLASSES, np.round(coef, 2).tolist()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="the ink dataset (its validation split is evaluated)")
    ap.add_argument("--prompts", type=int, default=100)
    ap.add_argument("--bias", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--factor", type=float, default=1.5, help="runaway threshold x expected length")
    ap.add_argument("--png", default=None, help="render the first --show samples here")
    ap.add_argument("--show", type=int, default=10)
    ap.add_argument("--json", default=None)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()

    import torch

    torch.set_num_threads(a.threads)
    import engine.training.checkpoint as ckpt
    from engine.core.ink_stream import ink_sample
    from engine.core.norm import NormStats
    from engine.core.vocab import Vocab
    from engine.data.ink_dataset import InkDataset
    from engine.models.torch_stepper import TorchStepper
    from engine.training.ink_task import InkTask

    model, card = ckpt.load_model(a.model)
    vocab, norm = Vocab.from_json(card["vocab"]), NormStats.from_json(card["norm"])
    ds = InkDataset.load(a.data)
    t0 = time.time()
    task = InkTask(ds, card["kind"], model=model, vocab=vocab, norm=norm, batch=32, eval_lines=10 ** 9,
                   max_points=card.get("data", {}).get("max_points", 1200) or 1200)
    with torch.no_grad():
        metrics = task.evaluate()
    print(f"validation: {metrics['val_lines']} lines, {metrics['nats_per_line']:.1f} nats/line, "
          f"{metrics['val_loss']:.4f} nats/point ({time.time() - t0:.0f} s)", flush=True)

    ppc = float(card.get("points_per_char") or task.points_per_char)
    val = [i for i in ds.indices("val") if ds.lines_meta[i]["text"] and not vocab.unknown(ds.lines_meta[i]["text"])]
    val = val[:a.prompts]
    texts = [ds.lines_meta[i]["text"] for i in val]
    expect, per_class = expected_points(ds)
    print("expected points per", ", ".join(f"{k} {v}" for k, v in per_class.items()))
    data_over = sum(len(ds.line(i).points) > a.factor * expect(ds.lines_meta[i]["text"]) for i in val)
    data_over_flat = sum(len(ds.line(i).points) > a.factor * ppc * len(ds.lines_meta[i]["text"]) for i in val)
    stepper = TorchStepper(model.step_module())
    runaway, runaway_flat, stopped_rule, lengths, rows = 0, 0, 0, [], []
    t0 = time.time()
    for i, text in enumerate(texts):
        stats: dict = {}
        pts = ink_sample(stepper, text=text, vocab=vocab, norm=norm, bias=a.bias, seed=a.seed + i, stats=stats)
        expected = expect(text)
        stopped = stats["stopped"] == "stop-rule"
        runaway += not (stopped and len(pts) <= a.factor * expected)
        runaway_flat += not (stopped and len(pts) <= a.factor * ppc * len(text))
        stopped_rule += stats["stopped"] == "stop-rule"
        lengths.append(len(pts) / expected)
        if i < a.show:
            rows.append((pts, f"bias {a.bias}: {text}  ({len(pts)} pts, {stats['stopped']})"))
    n = len(texts)
    res = {"model": a.model, "data": a.data, "bias": a.bias, "prompts": n, **metrics,
           "runaway_rate": runaway / n, "stop_rule_rate": stopped_rule / n, "data_over_factor_rate": data_over / n,
           "runaway_rate_flat": runaway_flat / n, "data_over_factor_rate_flat": data_over_flat / n,
           "expected_points_per": per_class,
           "length_ratio_median": float(np.median(lengths)), "length_ratio_p95": float(np.percentile(lengths, 95)),
           "sampling_s": time.time() - t0}
    print(f"runaway rate {runaway}/{n} = {100 * runaway / n:.1f}% (stop rule fired in {stopped_rule}/{n}; the prompts' "
          f"own lines over {a.factor}x: {data_over}/{n}; by the flat rule {runaway_flat}/{n} and {data_over_flat}/{n}); "
          f"sample length / expected: median {res['length_ratio_median']:.2f}, p95 {res['length_ratio_p95']:.2f} "
          f"({res['sampling_s']:.0f} s)")
    if a.png and rows:
        from handwriting_render import render_png

        print(render_png(rows, a.png))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
