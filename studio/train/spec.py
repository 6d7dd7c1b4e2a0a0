"""Training settings as the ``scribe`` CLI sees them (torch-free).

The Train view's knobs are the CLI's own options: their types, defaults and choices come from the
CLI parser (``engine.cli.main.build_parser``), and a run is started as the argv of ``scribe train ...``, which
the training process parses with the same parser. So the app and the CLI can never train differently,
and the view can show the equivalent command.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass
from functools import lru_cache

# task shown in the view -> (CLI words, the option naming the data)
TASKS = {
    "text": (["train", "text"], "corpus"),
    "ink-prediction": (["train", "ink"], "data"),
    "ink-synthesis": (["train", "ink"], "data"),
}
TASK_LABELS = {"text": "Character language model", "ink-prediction": "Handwriting prediction",
               "ink-synthesis": "Handwriting synthesis"}

# Options the view places itself (data, run folder, start mode, device, duration, output flags).
PLACED = {"corpus", "data", "out", "resume", "init_from", "events", "quiet", "device", "steps", "minutes",
          "help", "task", "kind", "preset", "nproc"}
# Options a task's command has but does not use.
HIDDEN = {"ink-prediction": {"seq_len", "window_k", "sample_text"}, "ink-synthesis": {"seq_len"}}

# The "real knobs", in order, with labels; anything else the CLI offers is listed under "More options".
MODEL_KNOBS = [("cell", "Cell"), ("layers", "Layers"), ("hidden", "Width"), ("embed", "Embedding"),
               ("mixtures", "Mixture components"), ("window_k", "Window components"),
               ("dropout", "Dropout"), ("skip", "Skip connections"), ("no_orthogonal", "Orthogonal init"),
               ("gate_bias", "Gate bias init")]
TRAIN_KNOBS = [("seq_len", "Sequence length"), ("batch", "Batch"), ("lr", "Learning rate"),
               ("clip", "Clip threshold"), ("optimizer", "Optimizer"), ("eval_every", "Evaluate every")]
INVERTED = {"no_orthogonal"}  # shown as the positive setting

TIPS = {
    "cell": "Recurrent cell: LSTM and GRU carry gradients over long spans; a plain tanh RNN shows why they exist.",
    "layers": "Stacked recurrent layers.",
    "hidden": "Units per layer (the model's width).",
    "seq_len": "Truncated BPTT length T: gradients flow back this many steps.",
    "batch": "Parallel sequences per step.",
    "lr": "Peak learning rate (after warm-up; cosine decay to a tenth of it).",
    "clip": "Global gradient-norm threshold: larger gradients are scaled down to it (0: off).",
    "dropout": "Dropout between recurrent layers.",
    "no_orthogonal": "Initialise recurrent weights as orthogonal matrices.",
    "gate_bias": "Initial LSTM forget-gate / GRU update-gate bias.",
    "skip": "Graves' skip connections: the input feeds every layer and every layer feeds the output.",
}

# Presets: the CLI's own recipes (``--preset NAME``; engine.training.presets)
# plus a few app-only ones, which the app passes as explicit flags.
APP_PRESETS = {
    "text": {
        "quick (a minute on a CPU)": dict(cell="lstm", layers=1, hidden=128, embed=32, seq_len=64, batch=32,
                                          lr=3e-3, dropout=0.0, steps=600, minutes=None, eval_every=100,
                                          warmup=50),
    },
}


@dataclass
class Option:
    dest: str
    flag: str
    default: object
    type: type | None
    choices: list | None
    flag_only: bool
    help: str
    required: bool
    check: object = None          # the CLI's checked number type (engine.cli.common.Number: .lo, .hi), if any


@lru_cache(maxsize=8)
def _subparser(words: tuple[str, ...]) -> argparse.ArgumentParser | None:
    from engine.cli.main import build_parser

    p: argparse.ArgumentParser = build_parser()
    for w in words:
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
        if not subs or w not in subs[0].choices:
            return None
        p = subs[0].choices[w]
    return p


def available(task: str) -> bool:
    return task in TASKS and _subparser(tuple(TASKS[task][0])) is not None


def options(task: str) -> dict[str, Option]:
    """The CLI options of the ``scribe train ...`` command for ``task`` (empty if it does not exist)."""
    p = _subparser(tuple(TASKS[task][0]))
    if p is None:
        return {}
    out = {}
    for a in p._actions:  # noqa: SLF001
        if not a.option_strings or a.dest == "help":
            continue
        flag_only = isinstance(a, (argparse._StoreTrueAction, argparse._StoreFalseAction))  # noqa: SLF001
        # a checked number (engine.cli.common.Number) is shown as its base type, within its bounds
        kind = getattr(a.type, "base", a.type)
        out[a.dest] = Option(a.dest, max(a.option_strings, key=len), a.default, kind,
                             list(a.choices) if a.choices else None, flag_only,
                             (a.help or "").replace("%%", "%"), bool(a.required),
                             a.type if hasattr(a.type, "base") else None)
    return out


def check_value(o: Option, value) -> str | None:
    """Why the CLI would refuse ``value`` for option ``o`` (None: it accepts it), by the CLI's own check."""
    if value is None or o.check is None:
        return None
    try:
        o.check(_fmt(value))
    except argparse.ArgumentTypeError as exc:
        return f"{o.flag}: {exc}"
    return None


def model_knobs(task: str) -> list[tuple[str, str]]:
    opts, hidden = options(task), HIDDEN.get(task, set())
    return [(d, label) for d, label in MODEL_KNOBS if d in opts and d not in hidden]


def train_knobs(task: str) -> list[tuple[str, str]]:
    opts, hidden = options(task), HIDDEN.get(task, set())
    return [(d, label) for d, label in TRAIN_KNOBS if d in opts and d not in hidden]


def more_knobs(task: str) -> list[tuple[str, str]]:
    shown = {d for d, _ in MODEL_KNOBS} | {d for d, _ in TRAIN_KNOBS} | PLACED | HIDDEN.get(task, set())
    return [(d, d.replace("_", " ").capitalize()) for d in options(task) if d not in shown]


def recipes(task: str) -> tuple[dict, dict]:
    """(base settings, CLI presets) of a task's command: what it uses when a flag is not given."""
    from engine.training.presets import BASES, PRESETS  # torch-free

    kind = "ink" if task.startswith("ink-") else "text"
    return dict(BASES[kind]), dict(PRESETS[kind])


def preset_names(task: str) -> list[str]:
    """CLI presets first, then the app's own."""
    return sorted(recipes(task)[1]) + list(APP_PRESETS.get(task, {}))


def is_cli_preset(task: str, name: str | None) -> bool:
    return bool(name) and name in recipes(task)[1] and "preset" in options(task)


def defaults(task: str) -> dict:
    """The values the CLI uses when an option is not given (parser defaults, then the command's base)."""
    out = {d: o.default for d, o in options(task).items() if o.default is not None
           and not (isinstance(o.default, str) and o.default == "==SUPPRESS==")}
    out.update({k: v for k, v in recipes(task)[0].items() if v is not None or k not in out})
    return out


def preset_values(task: str, name: str | None) -> dict:
    """The settings a preset stands for (on top of the CLI defaults)."""
    vals = defaults(task)
    if name:
        vals.update(recipes(task)[1].get(name) or APP_PRESETS.get(task, {}).get(name) or {})
    return vals


def build_argv(task: str, values: dict, *, data: str, out: str, device: str = "auto", steps: int | None = None,
               minutes: float | None = None, resume: bool = False, init_from: str | None = None,
               preset: str | None = None, nproc: int | None = None) -> list[str]:
    """argv for ``scribe`` (without the program name). Options that equal what the CLI would use anyway
    (its default, or the preset's value when the command takes ``--preset``) are left out. ``nproc`` > 1:
    data-parallel training on that many GPUs (``--nproc``; the training process starts them)."""
    words, data_opt = TASKS[task]
    opts = options(task)
    argv = list(words)
    use_preset = is_cli_preset(task, preset)
    if use_preset:
        argv += ["--preset", preset]
    ref = preset_values(task, preset) if use_preset else defaults(task)
    if "kind" in opts and task.startswith("ink-"):  # one ink command for both ink tasks
        argv += [opts["kind"].flag, task.split("-", 1)[1]]
    argv += [opts[data_opt].flag if data_opt in opts else f"--{data_opt}", str(data)]
    argv += ["--out", str(out)]
    for dest, value in values.items():
        o = opts.get(dest)
        if o is None or dest in PLACED or value is None:
            continue
        if o.flag_only:
            if bool(value) != bool(ref.get(dest, False)):
                argv.append(o.flag)
            continue
        if dest in ref and ref[dest] is not None and _same(value, ref[dest]):
            continue
        argv += [o.flag, _fmt(value)]
    if device and device != (ref.get("device") or "auto"):
        argv += ["--device", device]
    if minutes:
        argv += ["--minutes", _fmt(minutes)]
    elif steps:
        argv += ["--steps", str(int(steps))]
    if resume:
        argv.append("--resume")
    if init_from:
        argv += ["--init-from", str(init_from)]
    if nproc and nproc > 1 and "nproc" in opts:
        argv += ["--nproc", str(int(nproc))]
    return argv


def _same(a, b) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def command_line(argv: list[str]) -> str:
    return "scribe " + shlex.join(argv)
