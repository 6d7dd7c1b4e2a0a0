"""``scribe train ink`` and ``scribe sample ink``."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from engine.cli.common import (
    AUTO_WORD_SPACE,
    FRACTION,
    NON_NEGATIVE,
    POSITIVE_INT,
    SEED,
    SLANT,
    Number,
    add_trainer_flags,
    check_model_size,
    check_output,
    train_command,
    trainer_config,
    write_output,
)
from engine.core.ink_score import TRAIN_JOINS
from engine.core.takes import MAX_TAKES
from engine.core.word_space import WORD_GAP_X_HEIGHTS
from engine.training.presets import INK_BASE, INK_PRESETS, merge_settings

TAKES = Number(int, 1, MAX_TAKES)
FREEZE = ("attention", "lower", "none", "recurrent")   # engine.training.personal.FREEZE (that module imports torch)
PERSONAL_KEYS = ("freeze", "anchor", "rehearse", "augment", "hold_out")


def register(groups) -> None:
    p = groups["train"].add_parser("ink", help="train a handwriting model (Graves synthesis or prediction)")
    p.add_argument("--data", required=True,
                   help="ink dataset folder (scribe import / scribe synth), or a folder of InkML lines such as the "
                        "app's 'My handwriting' collection (brought to the --init-from model's size and point "
                        "rate, as a prime is; fine-tunes with the personal recipe's settings below)")
    p.add_argument("--kind", choices=["synthesis", "prediction"], help="text-conditioned or unconditional")
    p.add_argument("--preset", choices=sorted(INK_PRESETS), default=None,
                   help="a tested recipe (model size + training settings); explicit flags override it")
    p.add_argument("--layers", type=POSITIVE_INT, help="LSTM layers (default 3)")
    p.add_argument("--hidden", type=POSITIVE_INT, help="LSTM width (default 400)")
    p.add_argument("--mixtures", type=POSITIVE_INT, help="mixture components M (default 20)")
    p.add_argument("--window-k", type=POSITIVE_INT, dest="window_k", help="attention window Gaussians K (default 10)")
    p.add_argument("--buckets", type=POSITIVE_INT, help="padded length buckets (default 4)")
    p.add_argument("--max-points", type=Number(int, 2), dest="max_points", help="skip longer lines (default 1200)")
    p.add_argument("--sample-text", default=None, help="text written in the training samples")
    p.add_argument("--compile", choices=["auto", "on", "off"], default="auto",
                   help="torch.compile the attention step (auto: off; it gained 6%% on an H200)")
    add_trainer_flags(p, lr=1e-3, clip=1.0, batch=32)
    p.add_argument("--pairs", type=FRACTION, default=None, metavar="SHARE",
                   help="train priming too: this share of each batch's lines follow another line of the same "
                        "writer, joined as a prime is (the window placed at the second line's text); default 0")
    p.add_argument("--join", choices=TRAIN_JOINS, default=None,
                   help="where a paired line starts after its prime (the card records it; the app and scribe eval "
                        "place a line after a prime the same way): pen = a word space right of where the prime's "
                        "pen stopped, baseline = right of the prime's rightmost ink (default; "
                        "bench/RESULTS-handwriting.md 2j)")
    g = p.add_argument_group("fine-tuning on one person's lines (--preset personal sets all of these; "
                             "engine/training/personal.py)")
    g.add_argument("--freeze", choices=sorted(FREEZE), default=None,
                   help="weights that stay as the --init-from model has them: attention = layer 1 and the attention "
                        "window (what follows the text), lower = those and every LSTM layer but the top one, "
                        "recurrent = every LSTM layer (only the output mixture learns), none (default)")
    g.add_argument("--anchor", type=NON_NEGATIVE, default=None, metavar="LAMBDA",
                   help="pull the trained weights towards the --init-from model's: adds LAMBDA x sum (w - w_base)^2 "
                        "to the loss (L2-SP; default 0: off)")
    g.add_argument("--rehearse", type=FRACTION, default=None, metavar="SHARE",
                   help="share of every batch made of synthetic lines of the kind the base model learnt from "
                        "('scribe synth --hz 30'), so it keeps following text (default 0: off)")
    g.add_argument("--augment", type=NON_NEGATIVE, default=None, metavar="STRENGTH",
                   help="jitter each use of a line: slant, size and writing speed (1: up to 0.12 shear, 8%% size, "
                        "10%% point rate; default 0: off)")
    g.add_argument("--hold-out", type=POSITIVE_INT, default=None, dest="hold_out", metavar="N",
                   help="lines held out to validate on (default: 1 of fewer than 8 lines, else 2)")
    # trainer flags that presets set: leave them unset unless given, so a preset can fill them in
    for a in p._actions:
        if a.dest in INK_BASE:
            a.default = argparse.SUPPRESS
    p.set_defaults(func=cmd_train_ink, build_trainer=build_ink_trainer)

    s = groups["sample"].add_parser("ink", help="write text by hand with a synthesis model")
    s.add_argument("--model", required=True, help="run folder, checkpoint folder or exported package")
    s.add_argument("--text", default="", help="the text to write (synthesis models)")
    s.add_argument("--bias", type=NON_NEGATIVE, default=0.5, help="legibility bias b >= 0 (0: unbiased)")
    s.add_argument("--prime-ink", default=None, metavar="FILE",
                   help="handwriting whose style to copy: InkML or IAM-OnDB lineStrokes XML, any units (it is "
                        "brought to the model's size and point rate)")
    s.add_argument("--prime-text", default=None,
                   help="transcript of --prime-ink (default: its truth annotation; helps, not required)")
    s.add_argument("--seed", type=SEED, default=None)
    s.add_argument("--max-steps", type=POSITIVE_INT, default=None, help="cap on generated points")
    s.add_argument("--word-gap", type=NON_NEGATIVE, default=WORD_GAP_X_HEIGHTS, dest="word_gap", metavar="X_HEIGHTS",
                   help="the least blank between words, in x-heights of the model's ink; a word that starts closer "
                        f"to the last is moved right (default {WORD_GAP_X_HEIGHTS}; 0: as the model draws it)")
    s.add_argument("--word-space", type=AUTO_WORD_SPACE, default=None, dest="word_space", metavar="auto|F",
                   help="a factor on every space between words; auto (the default): the spacing of --prime-ink, "
                        "whose transcript (--prime-text or the file's) counts its words (1 without them)")
    s.add_argument("--slant", type=SLANT, default=None, metavar="auto|off|DEGREES",
                   help="the lean of the writing, degrees from upright (positive: to the right); auto (the "
                        "default): half-way from the model's own lean to that of --prime-ink (as the model writes "
                        "it without one); off: as the model writes it")
    s.add_argument("--takes", type=TAKES, default=1, metavar="N",
                   help="write the text N times and keep the take the model finds likeliest when it reads it back "
                        f"(1 to {MAX_TAKES}; default 1; N times the time; bench/RESULTS-handwriting.md 2p)")
    s.add_argument("--svg", required=True, metavar="OUT.svg")
    s.add_argument("--inkml", default=None, metavar="OUT.inkml")
    s.set_defaults(func=cmd_sample_ink)


def resolve_settings(args, saved: dict | None = None) -> argparse.Namespace:
    """``scribe train ink``'s settings: ``engine.training.presets.merge_settings`` for ink (works for any
    namespace, e.g. one built by the app's training process)."""
    return argparse.Namespace(**merge_settings("ink", args, saved))


_TRAIN_KEYS = ("steps", "minutes", "lr", "min_lr", "optimizer", "weight_decay", "warmup", "schedule", "clip",
               "eval_every", "sample_every", "patience", "seed", "amp")
_MODEL_KEYS = ("layers", "hidden", "mixtures", "window_k", "dropout")


def saved_settings(card: dict) -> dict:
    """The settings an ink run was trained with, from its checkpoint card (for --resume)."""
    out: dict = {}
    tc = card.get("train_config") or {}
    out.update({k: tc[k] for k in _TRAIN_KEYS if k in tc})
    mc = card.get("model_config") or {}
    out.update({k: mc[k] for k in _MODEL_KEYS if k in mc})
    if str(card.get("kind", "")).startswith("ink-"):
        out["kind"] = card["kind"][len("ink-"):]
    settings = card.get("settings") or {}
    for k in ("batch", "buckets", "max_points", "sample_text", "pairs", "join", *PERSONAL_KEYS):
        if k in settings:
            out[k] = settings[k]
    # cards written before "settings" was recorded
    if "batch" not in out and isinstance(card.get("batch"), int):
        out["batch"] = card["batch"]
    if "max_points" not in out and (card.get("data") or {}).get("max_points"):
        out["max_points"] = card["data"]["max_points"]
    if "buckets" not in out and isinstance(card.get("buckets"), list) and card["buckets"]:
        out["buckets"] = len(card["buckets"])
    return out


def cmd_train_ink(args) -> int:
    return train_command(args, "ink", build_ink_trainer)


_SKIP_REASONS = {"long": "longer than --max-points {max_points}", "short": "with fewer than 2 points",
                 "no_text": "without a transcript", "unknown_chars": "with characters outside the vocabulary"}


def skipped_message(skipped: dict, total: int, max_points) -> str:
    """One line: how many of the dataset's lines training leaves out, and why."""
    n = sum(skipped.values())
    why = ", ".join(f"{v} {_SKIP_REASONS.get(k, k).format(max_points=max_points)}"
                    for k, v in skipped.items() if v)
    msg = f"{n} of {total} lines ({n / max(total, 1):.0%}) are left out of training: {why}"
    if skipped.get("long"):
        msg += (". Raise --max-points, or use data with fewer points per line (the presets were tuned on "
                "'scribe synth --hz 30')")
    return msg


def build_ink_trainer(args):
    """The Task + Trainer that ``scribe train ink`` runs (also for the app's training process).

    Like ``scribe train text``: ``--resume`` continues the run in ``--out`` with its saved settings (flags
    given win), and a new run into a folder that holds one is refused."""
    import torch  # noqa: F401

    import engine.training.checkpoint as ckpt
    from engine.core.errors import ScribeError
    from engine.core.norm import NormStats
    from engine.core.vocab import Vocab
    from engine.data.ink_dataset import InkDataset
    from engine.training.distributed import current
    from engine.training.ink_task import InkTask, PairedInkTask
    from engine.training.trainer import Trainer, seed_everything

    resume = bool(getattr(args, "resume", False))
    out = Path(args.out)
    existing = ckpt.list_checkpoints(out) if out.is_dir() else []
    saved = None
    if resume:
        if not existing:
            raise ScribeError(f"nothing to resume in {out}: it holds no checkpoint (leave out --resume to start "
                              f"a new run there)")
        card = ckpt.read_card(ckpt.resolve(out, prefer="last"))
        if not str(card.get("kind", "")).startswith("ink-"):
            raise ScribeError(f"{out} holds a {card.get('kind')} model, not a handwriting model")
        saved = saved_settings(card)
    elif existing:
        raise ScribeError(f"{out} already holds a training run (last checkpoint at step "
                          f"{existing[-1]['step']}); add --resume to continue it, or choose another --out")
    given = vars(args)
    args = resolve_settings(args, saved)
    kind = "ink-" + args.kind
    model_cfg = dict(layers=args.layers, hidden=args.hidden, mixtures=args.mixtures, dropout=args.dropout)
    if args.kind == "synthesis":
        model_cfg["window_k"] = args.window_k
    model = vocab = norm = None
    warnings: list[str] = []
    source = args.out if resume else getattr(args, "init_from", None)
    if source:
        if not resume and (Path(source) / "model.onnx").is_file():
            from engine.training.from_package import load_package_model  # an exported package, e.g. the bundled one

            model, card = load_package_model(source)
        else:
            model, card = ckpt.load_model(source, prefer="last" if resume else "best")
        if card["kind"] != kind:
            raise ScribeError(f"{source} is a {card['kind']} model, not an {kind} model")
        vocab = Vocab.from_json(card["vocab"]) if card.get("vocab") else None
        norm = NormStats.from_json(card["norm"]) if card.get("norm") else None
        model.train()
        mc = card.get("model_config") or {}
        differ = [k for k in _MODEL_KEYS if given.get(k) is not None and k in mc and mc[k] != given[k]]
        if differ:
            warnings.append(f"the model comes from {source}; ignoring "
                            f"--{', --'.join(k.replace('_', '-') for k in differ)}")
        if resume and args.steps and not args.minutes and args.steps <= int(card.get("step", 0)):
            warnings.append(f"the run already reached step {card.get('step')}; give a higher --steps to train on")
    if _personal(args):
        if current() is not None:
            raise ScribeError("fine-tuning on a person's lines runs in one process (a few lines: nothing to "
                              "share out); leave out --nproc / torchrun")
        return _personal_trainer(args, model, card if source else None, vocab, norm, source, warnings)
    if model is None:
        check_model_size(kind, args)
    dataset = InkDataset.load(args.data)
    seed_everything(getattr(args, "seed", 1337))  # before the model is built: reproducible init
    pairs = getattr(args, "pairs", None) or 0.0
    join = getattr(args, "join", None) or "baseline"
    if join != "baseline" and not pairs > 0:
        raise ScribeError(f"--join {join} places the second line of a training pair: give --pairs too")
    paired = {"pairs": pairs, "join": join}
    task_type, extra = (PairedInkTask, paired) if pairs > 0 else (InkTask, {})
    task = task_type(dataset, kind, model_cfg, batch=args.batch, buckets=args.buckets, max_points=args.max_points,
                     sample_text=getattr(args, "sample_text", None), model=model, vocab=vocab, norm=norm,
                     seed=getattr(args, "seed", 1337), compile_step=getattr(args, "compile", "auto"),
                     dist=current(), **extra)
    task.run_settings = {"batch": args.batch, "buckets": args.buckets, "max_points": args.max_points,
                         "sample_text": task.sample_text or None, **(paired if pairs > 0 else {})}
    n_skipped = sum(task.skipped.values())
    if n_skipped:
        msg = skipped_message(task.skipped, len(dataset), args.max_points)
        if n_skipped >= 0.1 * len(dataset):
            warnings.append(msg)   # a "warning" event: the app shows it in its banner
        elif current() is None or current().is_main:
            print(f"note: {msg}", file=sys.stderr)
    task.warnings = warnings
    return Trainer(task, trainer_config(args), args.out, dist=current())


def _personal(args) -> bool:
    """Whether ``args`` (resolved settings) ask for the personal recipe: a folder of InkML lines, or any of
    its settings given."""
    from engine.data.personal_lines import is_inkml_folder

    return bool(is_inkml_folder(args.data) or args.freeze != "none" or args.anchor or args.rehearse
                or args.augment or args.hold_out)


def _personal_trainer(args, model, card, vocab, norm, source, warnings: list[str]):
    """The Trainer for fine-tuning on one person's lines (``engine.training.personal``)."""
    from engine.core.errors import ScribeError
    from engine.data.personal_lines import FEW_LINES, read_personal_lines
    from engine.data.prime import InkScale
    from engine.training.personal import PersonalInkTask
    from engine.training.trainer import Trainer, seed_everything

    if model is None:
        raise ScribeError("fine-tuning on a person's lines starts from a trained model: give --init-from (a "
                          "package such as assets/models/handwriting-script, or a run or checkpoint folder)")
    if card["kind"] != "ink-synthesis":
        raise ScribeError(f"{source} is a {card['kind']} model; fine-tuning on a person's lines needs a "
                          f"synthesis model (it writes text)")
    seed = getattr(args, "seed", 1337)
    scale = InkScale.from_card(card, card.get("styles"))
    lines = read_personal_lines(args.data, scale, vocab, seed=seed, hold_out=args.hold_out)
    if lines.skipped:
        shown = "; ".join(f"{n} ({r})" for n, r in lines.skipped[:5]) + ("; ..." if len(lines.skipped) > 5 else "")
        warnings.append(f"{len(lines.skipped)} line(s) left out: {shown}")
    if len(lines.lines) < FEW_LINES:
        warnings.append(f"only {len(lines.lines)} usable lines: the model learns your hand better from "
                        f"{FEW_LINES} or more")
    resume = getattr(args, "resume", False)
    base = (card.get("personal") or {}).get("base") if resume else source
    base_pace = (card.get("personal") or {}).get("check_points_per_char") if resume else card.get("points_per_char")
    seed_everything(seed)
    task = PersonalInkTask(lines, model=model, vocab=vocab, norm=norm, ink_scale=scale, batch=args.batch,
                           rehearse=args.rehearse, anchor=args.anchor, freeze=args.freeze, augment=args.augment,
                           pairs=getattr(args, "pairs", None) or 0.0, max_points=args.max_points, seed=seed,
                           sample_text=getattr(args, "sample_text", None),
                           base=str(base or ""), base_pace=base_pace)
    task.run_settings = {"batch": args.batch, "max_points": args.max_points, "sample_text": task.sample_text,
                         "pairs": task.pairs, **{k: getattr(args, k) for k in PERSONAL_KEYS}}
    if task.skipped.get("long"):
        warnings.append(f"{task.skipped['long']} line(s) longer than --max-points {args.max_points} are left out")
    task.warnings = warnings
    return Trainer(task, trainer_config(args), args.out)


# ---- sampling ------------------------------------------------------------------------------------------

def load_ink_generator(model_path: str):
    """``(generate, kind)`` for a run/checkpoint folder (torch) or an exported package folder with model.onnx
    (onnxruntime): ``generate(text, bias, prime_stroke3, prime_text, seed, max_steps)`` yields pen points."""
    if (Path(model_path) / "model.onnx").exists():
        from engine.runtime import load_package

        pkg = load_package(model_path)
        generate = functools.partial(pkg.generate_ink)
        generate.vocab = pkg.vocab   # the characters it writes (None: a prediction model)
        return generate, pkg.kind

    import engine.training.checkpoint as ckpt
    from engine.core.errors import ScribeError
    from engine.data.ink_writer import InkWriter
    from engine.data.prime import InkScale
    from engine.models.torch_stepper import TorchStepper

    model, card = ckpt.load_model(model_path)
    if not card["kind"].startswith("ink-"):
        raise ScribeError(f"{model_path} is a {card['kind']} model; use 'scribe sample text'")
    styles = card.get("styles")
    writer = InkWriter(TorchStepper(model.step_module()), synthesis=card["kind"] == "ink-synthesis",
                       vocab=card.get("vocab"), norm=card.get("norm"), scale=InkScale.from_card(card, styles),
                       styles=styles)
    generate = functools.partial(writer.generate)
    generate.vocab = set(card["vocab"]) if card.get("vocab") else None
    return generate, card["kind"]


def cmd_sample_ink(args) -> int:
    import numpy as np

    from engine.core.errors import ScribeError
    from engine.core.translit import Fitted, fit_text
    from engine.data.ink import Ink

    check_output(args.svg, "--svg")   # before the model writes anything: nothing is generated in vain
    if args.inkml:
        check_output(args.inkml, "--inkml")
    prime_ink, prime_text = None, args.prime_text
    if args.prime_ink:
        from engine.data.prime import read_prime_ink

        prime_ink = read_prime_ink(args.prime_ink)   # InkML or IAM-OnDB XML, any units
        prime_text = prime_text or prime_ink.text or None
    elif args.prime_text:
        raise ScribeError("--prime-text needs --prime-ink")
    generate, kind = load_ink_generator(args.model)
    text = args.text
    if kind == "ink-synthesis":
        if not text:
            raise ScribeError("give the text to write with --text")
        vocab = getattr(generate, "vocab", None)
        if vocab is not None:
            fitted = fit_text(text, vocab, drop=False)   # characters with no stand-in are refused by name below
            if fitted.replaced:
                print(f"note: writing {fitted.text!r} ({Fitted(fitted.text, fitted.replaced).note()})",
                      file=sys.stderr)
            text = fitted.text
    stats = {}
    pts = list(generate(text, bias=args.bias, prime_ink=prime_ink, prime_text=prime_text, seed=args.seed,
                        max_steps=args.max_steps, word_gap=args.word_gap, word_space=args.word_space, slant=args.slant,
                        takes=args.takes, stats=stats))
    if not pts:
        raise ScribeError("the model produced no points")
    if args.word_space is None and stats.get("word_space", 1.0) != 1.0:
        print(f"note: word spaces x{stats['word_space']:.2f}, the spacing of --prime-ink (--word-space 1: the "
              f"model's own)", file=sys.stderr)
    if args.slant is None and stats.get("slant") is not None:
        print(f"note: leaning towards {stats['slant']:+.0f} degrees, the slant of --prime-ink (--slant off: the "
              f"model's own; --slant {stats['slant']:.0f}: all the way)", file=sys.stderr)
    if args.takes > 1:
        print(f"note: kept take {stats['take'] + 1} of {args.takes}, the likeliest as the model reads them back",
              file=sys.stderr)
    ink = Ink.from_stroke3(np.stack(pts), text=text)
    from engine.data.svg import ink_to_svg

    write_output(args.svg, ink_to_svg(ink), "--svg")
    print(f"wrote {args.svg} ({len(pts)} points)", file=sys.stderr)
    if args.inkml:
        from engine.data.inkml import write_inkml

        try:
            write_inkml(args.inkml, [ink])
        except OSError as exc:
            raise ScribeError(f"cannot write --inkml {args.inkml}: {exc.strerror or exc} (the SVG "
                              f"{args.svg} was written)") from None
        print(f"wrote {args.inkml}", file=sys.stderr)
    return 0
