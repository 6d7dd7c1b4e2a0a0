"""Validation nats per point over the ALL-CAPS validation lines only, for several models, same lines.

    .venv/bin/python bench/handwriting_caps_eval.py runs/synth-caps2 runs/default-ink runs/caps-ink runs/caps2-ink \
        runs/caps3-ink

(bench/RESULTS-handwriting.md section 2b: the 585 all-capitals validation lines of runs/synth-caps2.)
"""

from __future__ import annotations

import sys

import torch


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    torch.set_num_threads(1)
    import engine.training.checkpoint as ckpt
    from engine.core.norm import NormStats
    from engine.core.vocab import Vocab
    from engine.data.ink_dataset import InkDataset, InkLine
    from engine.training.ink_task import InkTask

    ds = InkDataset.load(sys.argv[1])
    val = [int(i) for i in ds.indices("val")]
    caps = [ds.line(i) for i in val
            if any(c.isalpha() for c in ds.lines_meta[i]["text"]) and ds.lines_meta[i]["text"].isupper()]
    print(f"{len(caps)} all-caps validation lines of {len(val)}")
    # InkTask wants a training split too (for its normalisation, which the loaded model's card overrides)
    sub = InkDataset.from_lines([InkLine(l.points, l.text, l.writer, "val", l.id) for l in caps] +
                                [InkLine(l.points, l.text, l.writer, "train", l.id) for l in caps[:4]])
    for m in sys.argv[2:]:
        model, card = ckpt.load_model(m)
        task = InkTask(sub, card["kind"], model=model, vocab=Vocab.from_json(card["vocab"]),
                       norm=NormStats.from_json(card["norm"]), batch=32, eval_lines=10 ** 9, max_points=1200)
        with torch.no_grad():
            r = task.evaluate()
        print(f"{m}: {r['val_loss']:.4f} nats/point over {r['val_lines']} all-caps validation lines")


if __name__ == "__main__":
    main()
