"""``scribe train ink`` and ``scribe sample ink``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.cli.common import add_trainer_flags, run_training, trainer_config
from engine.training.presets import INK_BASE, INK_PRESETS, merge_settings


def register(groups) -> None:
    p = groups["train"].add_parser("ink", help="train a handwriting model (Graves synthesis or prediction)")
    p.add_argument("--data", required=True, help="ink dataset folder (scribe import / scribe synth)")
    p.add_argument("--kind", choices=["synthesis", "prediction"], help="text-conditioned or unconditional")
    p.add_argument("--preset", choices=sorted(INK_PRESETS), default=None,
                   help="a tested recipe (model size + training settings); explicit flags override it")
    p.add_argument("--layers", type=int, help="LSTM layers (default 3)")
    p.add_argument("--hidden", type=int, help="LSTM width (default 400)")
    p.add_argument("--mixtures", type=int, help="mixture components M (default 20)")
    p.add_argument("--window-k", type=int, dest="window_k", help="attention window Gaussians K (default 10)")
    p.add_argument("--buckets", type=int, help="padded length buckets (default 4)")
    p.add_argument("--max-points", type=int, dest="max_points", help="skip longer lines (default 1200)")
    p.add_argument("--sample-text", default=None, help="text written in the training samples")
    p.add_argument("--compile", choices=["auto", "on", "off"], default="auto",
                   help="torch.compile the attention step (auto: off; it gained 6%% on an H200)")
    add_trainer_flags(p, lr=1e-3, clip=1.0, batch=32)
    # trainer flags that presets set: leave them unset unless given, so a preset can fill them in
    for a in p._actions:
        if a.dest in INK_BASE:
            a.default = argparse.SUPPRESS
    p.set_defaults(func=cmd_train_ink, build_trainer=build_ink_trainer)

    s = groups["sample"].add_parser("ink", help="write text by hand with a synthesis model")
    s.add_argument("--model", required=True, help="run folder, checkpoint folder or exported package")
    s.add_argument("--text", default="", help="the text to write (synthesis models)")
    s.add_argument("--bias", type=float, default=0.5, help="legibility bias b >= 0 (0: unbiased)")
    s.add_argument("--prime-ink", default=None, metavar="FILE",
                   help="handwriting whose style to copy: InkML or IAM-OnDB lineStrokes XML, any units (it is "
                        "brought to the model's size and point rate)")
    s.add_argument("--prime-text", default=None,
                   help="transcript of --prime-ink (default: its truth annotation; helps, not required)")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--max-steps", type=int, default=None, help="cap on generated points")
    s.add_argument("--svg", required=True, metavar="OUT.svg")
    s.add_argument("--inkml", default=None, metavar="OUT.inkml")
    s.set_defaults(func=cmd_sample_ink)


def resolve_settings(args, saved: dict | None = None) -> argparse.Namespace:
    """``scribe train ink``'s settings: ``engine.training.presets.merge_settings`` for ink (works for any
    namespace, e.g. one built by the app's training process)."""
    return argparse.Namespace(**merge_settings("ink", args, saved))


def cmd_train_ink(args) -> int:
    args = resolve_settings(args)
    run_training(build_ink_trainer(args), args)
    return 0


def build_ink_trainer(args):
    """The Task + Trainer that ``scribe train ink`` runs (also for the app's training process)."""
    import torch  # noqa: F401

    import engine.training.checkpoint as ckpt
    from engine.core.errors import ScribeError
    from engine.core.norm import NormStats
    from engine.core.vocab import Vocab
    from engine.data.ink_dataset import InkDataset
    from engine.training.ink_task import InkTask
    from engine.training.trainer import Trainer, seed_everything

    args = resolve_settings(args)
    kind = "ink-" + args.kind
    model_cfg = dict(layers=args.layers, hidden=args.hidden, mixtures=args.mixtures, dropout=args.dropout)
    if args.kind == "synthesis":
        model_cfg["window_k"] = args.window_k
    model = vocab = norm = None
    source = args.out if getattr(args, "resume", False) else getattr(args, "init_from", None)
    if source:
        model, card = ckpt.load_model(source, prefer="last" if getattr(args, "resume", False) else "best")
        if card["kind"] != kind:
            raise ScribeError(f"{source} is a {card['kind']} model, not an {kind} model")
        vocab = Vocab.from_json(card["vocab"]) if card.get("vocab") else None
        norm = NormStats.from_json(card["norm"]) if card.get("norm") else None
        model.train()
    dataset = InkDataset.load(args.data)
    seed_everything(getattr(args, "seed", 1337))  # before the model is built: reproducible init
    task = InkTask(dataset, kind, model_cfg, batch=args.batch, buckets=args.buckets, max_points=args.max_points,
                   sample_text=getattr(args, "sample_text", None), model=model, vocab=vocab, norm=norm,
                   seed=getattr(args, "seed", 1337), compile_step=getattr(args, "compile", "auto"))
    if any(task.skipped.values()):
        print(f"note: lines skipped: {task.skipped}", file=sys.stderr)
    return Trainer(task, trainer_config(args), args.out)


# ---- sampling ------------------------------------------------------------------------------------------

def load_ink_generator(model_path: str):
    """``(generate, kind)`` for a run/checkpoint folder (torch) or an exported package folder with model.onnx
    (onnxruntime): ``generate(text, bias, prime_stroke3, prime_text, seed, max_steps)`` yields pen points."""
    if (Path(model_path) / "model.onnx").exists():
        from engine.runtime import load_package

        pkg = load_package(model_path)
        return pkg.generate_ink, pkg.kind

    import engine.training.checkpoint as ckpt
    from engine.core.errors import ScribeError
    from engine.core.ink_stream import ink_stream
    from engine.data.prime import InkScale, prepare_prime
    from engine.models.torch_stepper import TorchStepper

    model, card = ckpt.load_model(model_path)
    if not card["kind"].startswith("ink-"):
        raise ScribeError(f"{model_path} is a {card['kind']} model; use 'scribe sample text'")
    stepper = TorchStepper(model.step_module())

    def generate(text, bias=0.5, prime_stroke3=None, prime_text=None, seed=None, max_steps=None, prime_ink=None,
                 stats=None):
        if prime_ink is not None:
            prime_stroke3 = prepare_prime(prime_ink, InkScale.from_card(card, card.get("styles")))
            prime_text = prime_text if prime_text is not None else (prime_ink.text or None)
        return ink_stream(stepper, text=text, vocab=card.get("vocab"), norm=card.get("norm"), bias=bias,
                          prime_stroke3=prime_stroke3, prime_text=prime_text, seed=seed, max_steps=max_steps,
                          stats=stats)

    return generate, card["kind"]


def cmd_sample_ink(args) -> int:
    import numpy as np

    from engine.core.errors import ScribeError
    from engine.data.ink import Ink

    prime_ink, prime_text = None, args.prime_text
    if args.prime_ink:
        from engine.data.prime import read_prime_ink

        prime_ink = read_prime_ink(args.prime_ink)   # InkML or IAM-OnDB XML, any units
        prime_text = prime_text or prime_ink.text or None
    elif args.prime_text:
        raise ScribeError("--prime-text needs --prime-ink")
    generate, kind = load_ink_generator(args.model)
    if kind == "ink-synthesis" and not args.text:
        raise ScribeError("give the text to write with --text")
    pts = list(generate(args.text, bias=args.bias, prime_ink=prime_ink, prime_text=prime_text, seed=args.seed,
                        max_steps=args.max_steps))
    if not pts:
        raise ScribeError("the model produced no points")
    ink = Ink.from_stroke3(np.stack(pts), text=args.text)
    from engine.data.svg import ink_to_svg

    Path(args.svg).write_text(ink_to_svg(ink), encoding="utf-8")
    print(f"wrote {args.svg} ({len(pts)} points)", file=sys.stderr)
    if args.inkml:
        from engine.data.inkml import write_inkml

        write_inkml(args.inkml, [ink])
        print(f"wrote {args.inkml}", file=sys.stderr)
    return 0
