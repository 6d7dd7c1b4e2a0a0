"""``scribe probe``: the vanishing-gradient curve ||dL_t/dh_{t-k}|| of a trained or fresh model."""

from __future__ import annotations

import argparse
import json
import sys

from engine.cli.common import BATCH, COUNT, FINITE, POSITIVE_INT, SEED, check_model_size


def register(groups) -> None:
    p = groups[""].add_parser(
        "probe", help="measure how the gradient decays with distance (vanishing gradients)",
        description="Print ||dL_t/dh_{t-k}|| for k = 0..K, averaged over a batch of windows from the corpus, "
                    "for a trained model (--model) and/or fresh models of the given cell types (--cell).")
    p.add_argument("--model", default=None, help="run folder or checkpoint folder of a text model")
    p.add_argument("--cell", default=None, help="fresh model(s): a cell type or a comma-separated list "
                   "(rnn-tanh, rnn-relu, gru, lstm)")
    p.add_argument("--corpus", required=True, help="UTF-8 text file or folder the windows are drawn from")
    p.add_argument("-k", "--distance", dest="k", type=POSITIVE_INT, default=50, help="largest distance K (default 50)")
    p.add_argument("--batch", type=BATCH, default=16, help="windows averaged over (default 16)")
    p.add_argument("--warmup", type=COUNT, default=100, help="steps run before the measured ones (default 100)")
    p.add_argument("--seed", type=SEED, default=0)
    g = p.add_argument_group("fresh models (--cell)")
    g.add_argument("--layers", type=POSITIVE_INT, default=1)
    g.add_argument("--hidden", type=POSITIVE_INT, default=128)
    g.add_argument("--embed", type=POSITIVE_INT, default=32)
    g.add_argument("--skip", action="store_true", help="Graves skip connections")
    g.add_argument("--no-orthogonal", action="store_true", help="PyTorch's default recurrent init instead")
    g.add_argument("--gate-bias", type=FINITE, default=1.0)
    p.add_argument("--json", action="store_true", help="print the curves as JSON instead of a table")
    p.set_defaults(func=cmd_probe)


def cmd_probe(args) -> int:
    import torch

    import engine.training.checkpoint as ckpt
    from engine.core.errors import ScribeError
    from engine.core.vocab import Vocab
    from engine.data.corpus import load_corpus
    from engine.models.charlm import CharLM, CharLMConfig
    from engine.models.rnn import CELLS
    from engine.training.probe import decay_summary, format_curve, gradient_flow, probe_batch

    if not args.model and not args.cell:
        raise ScribeError("give --model DIR (a trained model) and/or --cell CELL[,CELL...] (fresh models)")
    models: dict[str, torch.nn.Module] = {}
    vocab = None
    if args.model:
        model, card = ckpt.load_model(args.model)
        if card["kind"] != "text":
            raise ScribeError(f"{args.model} is a {card['kind']} model; the probe measures text models")
        vocab = Vocab.from_json(card["vocab"])
        models[f"{card['model_config']['cell']} (trained)"] = model
    corpus = load_corpus(args.corpus, vocab=vocab)
    if corpus.unknown_chars:
        print(f"note: {corpus.n_dropped} character(s) the model does not know are left out: "
              f"{''.join(corpus.unknown_chars)!r}", file=sys.stderr)
    for cell in [c.strip() for c in (args.cell or "").split(",") if c.strip()]:
        if cell not in CELLS:
            raise ScribeError(f"unknown cell {cell!r}; choose from {', '.join(CELLS)}")
        check_model_size("text", argparse.Namespace(**{**vars(args), "cell": cell}), len(corpus.vocab))
        torch.manual_seed(args.seed)
        models[f"{cell} (fresh)"] = CharLM(CharLMConfig(
            vocab_size=len(corpus.vocab), cell=cell, layers=args.layers, hidden=args.hidden, embed=args.embed,
            skip=args.skip, orthogonal_init=not args.no_orthogonal, gate_bias=args.gate_bias))
    ids = probe_batch(corpus.data, args.k, batch=args.batch, warmup=args.warmup, seed=args.seed)
    curves = {name: gradient_flow(m, ids, args.k) for name, m in models.items()}
    if args.json:
        print(json.dumps({name: {"curve": c.tolist(), **decay_summary(c)} for name, c in curves.items()}))
        return 0
    print(format_curve(curves))
    print()
    for name, c in curves.items():
        s = decay_summary(c)
        below = ", ".join(f"1/{t} at k={s['k_' + t]}" if s["k_" + t] is not None else f"never 1/{t}"
                          for t in ("10", "100", "1000"))
        print(f"{name}: |dL/dh_(t-{args.k})| / |dL/dh_t| = {s['ratio_at_K']:.3g}; "
              f"mean decay per step {s['decay_per_step']:.3f}; falls below {below}")
    return 0
