"""``scribe train text`` and ``scribe sample text``."""

from __future__ import annotations

import sys

from .cli_common import add_trainer_flags, run_training, trainer_config


def register(groups) -> None:
    p = groups["train"].add_parser("text", help="train a character language model")
    p.add_argument("--corpus", required=True, help="UTF-8 text file or folder of them")
    p.add_argument("--cell", choices=["rnn-tanh", "rnn-relu", "gru", "lstm"], default="lstm")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--skip", action="store_true", help="Graves skip connections (input->every layer->output)")
    p.add_argument("--no-orthogonal", action="store_true", help="disable orthogonal recurrent init")
    p.add_argument("--gate-bias", type=float, default=1.0, help="LSTM forget / GRU update gate bias init")
    p.add_argument("--val-fraction", type=float, default=0.1)
    add_trainer_flags(p, batch=64, seq_len=128)
    p.set_defaults(func=cmd_train_text, build_trainer=build_text_trainer)

    s = groups["sample"].add_parser("text", help="generate text from a char model")
    s.add_argument("--model", required=True, help="run folder, checkpoint folder or exported package")
    s.add_argument("--prime", default="\n")
    s.add_argument("--length", type=int, default=500)
    s.add_argument("--temperature", type=float, default=0.8)
    s.add_argument("--top-k", type=int, default=None)
    s.add_argument("--seed", type=int, default=None)
    s.set_defaults(func=cmd_sample_text)


def cmd_train_text(args) -> int:
    run_training(build_text_trainer(args), args)
    return 0


def build_text_trainer(args):
    """The Task + Trainer that ``scribe train text`` runs (also used by the app's training process)."""
    import torch  # noqa: F401  (heavy import only when training)

    from . import checkpoint as ckpt
    from .corpus import load_corpus
    from .errors import ScribeError
    from .text_task import TextTask
    from .trainer import Trainer

    model_cfg = dict(cell=args.cell, layers=args.layers, hidden=args.hidden, embed=args.embed,
                     dropout=args.dropout, skip=args.skip, orthogonal_init=not args.no_orthogonal,
                     gate_bias=args.gate_bias)
    vocab, model = None, None
    source = None
    if args.resume:
        source = args.out
    elif args.init_from:
        source = args.init_from
    if source:
        model, card = ckpt.load_model(source, prefer="last" if args.resume else "best")
        if card["kind"] != "text":
            raise ScribeError(f"{source} is a {card['kind']} model, not a text model")
        from .vocab import Vocab

        vocab = Vocab.from_json(card["vocab"])
        model.train()
    corpus = load_corpus(args.corpus, vocab=vocab)
    for path, why in corpus.skipped:
        print(f"skipped {path}: {why}", file=sys.stderr)
    if corpus.unknown_chars:
        print(f"note: the model's vocabulary cannot represent {len(corpus.unknown_chars)} character(s) of the new "
              f"corpus; they are dropped: {''.join(corpus.unknown_chars)!r}", file=sys.stderr)
    task = TextTask(corpus, model_cfg, batch=args.batch, seq_len=args.seq_len, val_fraction=args.val_fraction,
                    model=model, seed=args.seed)
    return Trainer(task, trainer_config(args), args.out)


def cmd_sample_text(args) -> int:
    from pathlib import Path

    if (Path(args.model) / "model.onnx").exists():
        from .runtime import load_package  # torch-free path

        pkg = load_package(args.model)
        stream = pkg.generate_text(args.prime, args.length, temperature=args.temperature, top_k=args.top_k,
                                   seed=args.seed)
    else:
        from . import checkpoint as ckpt
        from .errors import ScribeError
        from .text_task import generate_text
        from .vocab import Vocab

        model, card = ckpt.load_model(args.model)
        if card["kind"] != "text":
            raise ScribeError(f"{args.model} is a {card['kind']} model; use 'scribe sample ink'")
        stream = generate_text(model, Vocab.from_json(card["vocab"]), args.prime, args.length,
                               temperature=args.temperature, top_k=args.top_k, seed=args.seed)
    sys.stdout.write(args.prime)
    for ch in stream:
        sys.stdout.write(ch)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return 0
