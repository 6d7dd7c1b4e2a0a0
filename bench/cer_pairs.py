"""Two runs of the real-writer bench compared sample by sample: primed CER of B against A.

``bench/handwriting_real_writers.py --seed S --json F`` keeps every sample's CER in the same order for every
run of a seed (the same sentences, primes and seeds), so two runs of one seed (two models, or one model sampled
two ways) pair up sample by sample. Give the runs as A:B pairs, one per seed; each file's model is picked by
the end of its path (``--model-a``, ``--model-b``; default: the file's first model).

    .venv/bin/python bench/cer_pairs.py /tmp/free-s0.json:/tmp/steered-s0.json /tmp/free-s1.json:/tmp/steered-s1.json

Prints, per pair and pooled: the median and mean primed CER of A and B, the samples B reads better and worse,
and a 95 % bootstrap interval of the mean difference (B - A). Figures: bench/RESULTS-handwriting.md 2m.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def primed_samples(path: str, model: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(unprimed CERs, primed CERs writer by writer in name order) of one model of a ``--json`` file."""
    results = json.loads(open(path, encoding="utf-8").read())
    r = next((x for x in results if model is None or x["model"].rstrip("/").endswith(model)), None)
    if r is None:
        raise SystemExit(f"{path}: no model ending in {model!r}")
    per_writer = r["cer_primed_samples"]
    return np.asarray(r["cer_samples"]), np.concatenate([per_writer[w] for w in sorted(per_writer)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pairs", nargs="+", metavar="A.json:B.json")
    ap.add_argument("--model-a", default=None)
    ap.add_argument("--model-b", default=None)
    ap.add_argument("--seed", type=int, default=0, help="of the bootstrap")
    args = ap.parse_args()
    diffs = []
    print("| pair | A median / mean | B median / mean | B better / worse / same | unprimed mean A / B |")
    print("|---|---|---|---|---|")
    for pair in args.pairs:
        a_path, _, b_path = pair.partition(":")
        ua, pa = primed_samples(a_path, args.model_a)
        ub, pb = primed_samples(b_path, args.model_b)
        if len(pa) != len(pb):
            raise SystemExit(f"{pair}: {len(pa)} against {len(pb)} primed samples (not runs of one seed?)")
        d = pb - pa
        diffs.append(d)
        print(f"| {pair} | {np.median(pa):.3f} / {pa.mean():.4f} | {np.median(pb):.3f} / {pb.mean():.4f} | "
              f"{(d < 0).sum()} / {(d > 0).sum()} / {(d == 0).sum()} | {ua.mean():.4f} / {ub.mean():.4f} |")
    d = np.concatenate(diffs)
    rng = np.random.default_rng(args.seed)
    boot = d[rng.integers(0, len(d), (5000, len(d)))].mean(1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    print(f"\npooled over {len(d)} primed samples: B - A mean {d.mean():+.4f} (95 % interval {lo:+.4f} to "
          f"{hi:+.4f}); B better in {(d < 0).sum()}, worse in {(d > 0).sum()}")


if __name__ == "__main__":
    main()
