"""``scribe train text`` and ``scribe sample text``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.cli.common import (
    COUNT,
    FINITE,
    OPEN_FRACTION,
    POSITIVE,
    POSITIVE_INT,
    SEED,
    Number,
    add_trainer_flags,
    check_model_size,
    quiet_broken_pipe,
    refuse_damaged_settings,
    saved_value_ok,
    train_command,
    trainer_config,
)


def register(groups) -> None:
    from engine.training.presets import TEXT_BASE, preset_names

    p = groups["train"].add_parser(
        "text", help="train a character language model",
        description="Train a character-level RNN language model with truncated BPTT. Settings merge as "
                    "defaults < the resumed run < --preset < the flags you give.")
    p.add_argument("--corpus", default=None, help="UTF-8 text file or folder of them (default with --resume: "
                   "the run's corpus; with --preset default-text: the bundled tinyshakespeare)")
    p.add_argument("--preset", choices=preset_names(), default=None,
                   help="a tested recipe (model size + training settings): cpu, gpu, default-text")
    m = p.add_argument_group("model")
    m.add_argument("--cell", choices=["rnn-tanh", "rnn-relu", "gru", "lstm"], help="recurrent cell (lstm)")
    m.add_argument("--layers", type=POSITIVE_INT, help="stacked layers (2)")
    m.add_argument("--hidden", type=POSITIVE_INT, help="units per layer (512)")
    m.add_argument("--embed", type=POSITIVE_INT, help="character embedding size (64)")
    m.add_argument("--skip", action="store_true", default=None,
                   help="Graves skip connections (input -> every layer -> output)")
    m.add_argument("--no-orthogonal", action="store_true", default=None, help="disable orthogonal recurrent init")
    m.add_argument("--gate-bias", type=FINITE, help="LSTM forget / GRU update gate bias init (1.0)")
    d = p.add_argument_group("data and evaluation")
    d.add_argument("--val-fraction", type=OPEN_FRACTION, help="last fraction of the corpus held out (0.1)")
    d.add_argument("--eval-blocks", type=Number(int, 1, 10**6), help="random 256-char blocks per validation (64)")
    d.add_argument("--stateful-streams", type=POSITIVE_INT, help="segments the stateful validation pass is split into "
                   "(1 = one exact pass over the whole validation text)")
    add_trainer_flags(p, batch=64, seq_len=128)
    for a in p._actions:  # leave preset-able settings unset unless given, so presets/resume can fill them
        if a.dest in TEXT_BASE:
            a.default = None
    p.set_defaults(func=cmd_train_text, build_trainer=build_text_trainer)

    s = groups["sample"].add_parser("text", help="generate text from a char model")
    s.add_argument("--model", required=True, help="run folder, checkpoint folder or exported package")
    s.add_argument("--prime", default="\n")
    s.add_argument("--length", type=COUNT, default=500, help="characters to generate after the prime")
    s.add_argument("--temperature", type=POSITIVE, default=0.8, help="> 0; lower is safer, higher wilder")
    s.add_argument("--top-k", type=COUNT, default=None, help="draw from the k likeliest characters (0: all)")
    s.add_argument("--seed", type=SEED, default=None)
    s.set_defaults(func=cmd_sample_text)


def cmd_train_text(args) -> int:
    return train_command(args, "text", build_text_trainer)


_MODEL_KEYS = ("cell", "layers", "hidden", "embed", "dropout", "skip", "no_orthogonal", "gate_bias")


def _saved(card: dict) -> tuple[dict, dict]:
    """(usable settings, damaged settings) a run was trained with, from its checkpoint card."""
    def obj(v) -> dict:
        return v if isinstance(v, dict) else {}

    out: dict = {}
    tc = obj(card.get("train_config"))
    for k in ("steps", "minutes", "lr", "min_lr", "optimizer", "weight_decay", "warmup", "schedule", "clip",
              "eval_every", "sample_every", "patience", "seed", "amp"):
        if k in tc:
            out[k] = tc[k]
    mc = obj(card.get("model_config"))
    for k in _MODEL_KEYS:
        if k == "no_orthogonal":
            if "orthogonal_init" in mc:
                out[k] = not mc["orthogonal_init"]
        elif k in mc:
            out[k] = mc[k]
    settings = obj(card.get("settings"))
    for k in ("batch", "seq_len", "val_fraction", "eval_blocks", "stateful_streams"):
        if k in settings:
            out[k] = settings[k]
        elif k in card:
            out[k] = card[k]
    corpus = obj(card.get("data")).get("corpus")
    if corpus:
        out["corpus"] = corpus
    good = {k: v for k, v in out.items() if saved_value_ok(k, v)}
    return good, {k: v for k, v in out.items() if k not in good}


def saved_settings(card: dict) -> dict:
    """The settings a run was trained with, from its checkpoint card (for --resume); damaged values left out
    (``build_text_trainer`` refuses to resume with one unless its flag is given)."""
    return _saved(card)[0]


def resolve_text_settings(args, saved: dict | None = None) -> argparse.Namespace:
    """``scribe train text``'s settings: ``engine.training.presets.merge_settings`` for text, then the
    corpus resolved (works for any namespace, e.g. one built by the app's training process)."""
    from engine.core.errors import ScribeError
    from engine.core.paths import assets_dir
    from engine.training.presets import merge_settings

    merged = merge_settings("text", args, saved)
    corpus = merged.get("corpus")
    if isinstance(corpus, str) and corpus.startswith("assets:"):
        merged["corpus"] = str(assets_dir() / corpus[len("assets:"):])
    if not merged.get("corpus"):
        raise ScribeError("give a corpus: --corpus PATH (a UTF-8 text file or a folder of them)")
    for k in ("skip", "no_orthogonal", "amp"):
        merged[k] = bool(merged.get(k))
    return argparse.Namespace(**merged)


def build_text_trainer(args):
    """The Task + Trainer that ``scribe train text`` runs (also used by the app's training process).
    With ``args.resume`` the caller then calls ``trainer.resume()`` (``run_training`` does)."""
    import torch  # noqa: F401  (heavy import only when training)

    import engine.training.checkpoint as ckpt
    from engine.core.errors import ScribeError
    from engine.core.vocab import Vocab
    from engine.data.corpus import load_corpus
    from engine.training.distributed import current
    from engine.training.text_task import TextTask
    from engine.training.trainer import Trainer, seed_everything

    resume = bool(getattr(args, "resume", False))
    init_from = getattr(args, "init_from", None)
    out = Path(args.out)
    existing = ckpt.list_checkpoints(out) if out.is_dir() else []
    card = None
    if resume:
        if not existing:
            raise ScribeError(f"nothing to resume in {out}: it holds no checkpoint (leave out --resume to start "
                              f"a new run there)")
        card = ckpt.read_card(ckpt.resolve(out, prefer="last"))
        if card.get("kind") != "text":
            raise ScribeError(f"{out} holds a {card.get('kind')} model, not a text model")
    elif existing:
        raise ScribeError(f"{out} already holds a training run (last checkpoint at step "
                          f"{existing[-1]['step']}); add --resume to continue it, or choose another --out")
    if card:
        refuse_damaged_settings(_saved(card)[1], args, out)
    settings = resolve_text_settings(args, saved_settings(card) if card else None)
    warnings: list[str] = []
    model = vocab = None
    if resume or init_from:
        source = out if resume else init_from
        model, card = ckpt.load_model(source, prefer="last" if resume else "best")
        if card["kind"] != "text":
            raise ScribeError(f"{source} is a {card['kind']} model, not a text model")
        vocab = Vocab.from_json(card["vocab"])
        model.train()
        mc = card["model_config"]
        differ = [k for k in _MODEL_KEYS if k != "no_orthogonal" and getattr(args, k, None) is not None
                  and mc.get(k) != getattr(args, k)]
        if differ:
            warnings.append(f"the model comes from {source}; ignoring --{', --'.join(k.replace('_', '-') for k in differ)}")
        if resume and settings.steps and not settings.minutes and settings.steps <= int(card.get("step", 0)):
            warnings.append(f"the run already reached step {card.get('step')}; give a higher --steps to train on")
    seed_everything(settings.seed)  # before the model is built: reproducible init
    corpus = load_corpus(settings.corpus, vocab=vocab)
    if model is None:
        from engine.core.card_schema import MAX_VOCAB

        if len(corpus.vocab) > MAX_VOCAB:   # its checkpoints could never be loaded (engine.core.card_schema)
            raise ScribeError(f"{settings.corpus} has {len(corpus.vocab):,} different characters; a model knows at "
                              f"most {MAX_VOCAB:,} (is it text in one script?)")
        check_model_size("text", settings, len(corpus.vocab))
    model_cfg = dict(cell=settings.cell, layers=settings.layers, hidden=settings.hidden, embed=settings.embed,
                     dropout=settings.dropout, skip=settings.skip, orthogonal_init=not settings.no_orthogonal,
                     gate_bias=settings.gate_bias)
    task = TextTask(corpus, model_cfg, batch=settings.batch, seq_len=settings.seq_len,
                    val_fraction=settings.val_fraction, eval_blocks=settings.eval_blocks, model=model,
                    seed=settings.seed, stateful_streams=settings.stateful_streams, corpus_path=settings.corpus,
                    dist=current())
    task.warnings = warnings + task.warnings
    return Trainer(task, trainer_config(settings), settings.out, dist=current())


def cmd_sample_text(args) -> int:
    from pathlib import Path

    from engine.core.translit import fit_text

    if (Path(args.model) / "model.onnx").exists():
        from engine.runtime import load_package  # torch-free path

        pkg = load_package(args.model)
        prime = _fit_prime(args.prime, pkg.vocab, fit_text)
        stream = pkg.generate_text(prime, args.length, temperature=args.temperature, top_k=args.top_k,
                                   seed=args.seed)
    else:
        import engine.training.checkpoint as ckpt
        from engine.core.errors import ScribeError
        from engine.core.vocab import Vocab
        from engine.training.text_task import generate_text

        model, card = ckpt.load_model(args.model)
        if card["kind"] != "text":
            raise ScribeError(f"{args.model} is a {card['kind']} model; use 'scribe sample ink'")
        vocab = Vocab.from_json(card["vocab"])
        prime = _fit_prime(args.prime, vocab, fit_text)
        stream = generate_text(model, vocab, prime, args.length, temperature=args.temperature, top_k=args.top_k,
                               seed=args.seed, context=card.get("context", ""))
    try:
        sys.stdout.write(prime)
        for ch in stream:
            sys.stdout.write(ch)
            sys.stdout.flush()
        sys.stdout.write("\n")
        sys.stdout.flush()
    except BrokenPipeError:   # the reader went away (``| head``): stop quietly
        return quiet_broken_pipe()
    return 0


def _fit_prime(prime: str, vocab, fit_text) -> str:
    """The prime with typographic/accented characters the model lacks transliterated (said in one line);
    characters with no stand-in are kept, so that the sampler refuses them by name."""
    if vocab is None:
        return prime
    fitted = fit_text(prime, vocab, drop=False)
    if fitted.replaced:
        swaps = type(fitted)(fitted.text, fitted.replaced).note()   # the ones left are refused by name
        print(f"note: the prime is written as {fitted.text!r} for this model's characters ({swaps})", file=sys.stderr)
    return fitted.text
