"""Model cards from disk are untrusted: read them with limits and validate them against a schema before
anything is built or allocated from them (torch-free: the runtime, the app and the checkpoint loader share it).

A card is a package's ``card.json`` or a checkpoint's ``card.json``. Everything in it is checked before use:

- the file itself: at most ``MAX_CARD_BYTES``, UTF-8 JSON nested at most ``MAX_JSON_DEPTH`` levels (measured on
  the raw bytes *before* ``json.loads``, whose recursion a deeply nested file would otherwise exhaust);
- the fields the engine reads (pydantic v2, strict: no bool for an int, no string for a number, finite
  floats): kind, vocabulary (unique one-character strings, at most ``MAX_VOCAB``), normalisation statistics,
  ``model_config`` per kind (no unknown keys, sizes capped: ``MAX_HIDDEN``, ``MAX_LAYERS``, ...), the
  package's input/output description and state shapes (bounded dimensions and element counts), bundled
  styles, the text context;
- consistency: ``model_config.vocab_size`` = the vocabulary's size, the parameter count the config implies at
  most ``MAX_PARAMS``, a package's state names and vocabulary-sized dimensions agree with its io description.

Every failure is one ``ScribeError`` (the caller's class: ``CheckpointError`` or ``PackageError``) with a one-line
message naming the file. Other fields (metrics, data, recipe, ...) are free-form and only displayed.
Checking a card against the weights it describes (safetensors header, ONNX graph) is the loaders' job
(``engine.training.checkpoint``, ``engine.runtime.package``).
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationError, create_model

from engine.core.errors import CheckpointError, ScribeError

PACKAGE_FORMAT = "scribe-package"
CHECKPOINT_FORMAT = "scribe-checkpoint"
KINDS = ("text", "ink-synthesis", "ink-prediction")
CELLS = ("rnn-tanh", "rnn-relu", "gru", "lstm")            # engine.models.rnn.CELLS
_GATES = {"rnn-tanh": 1, "rnn-relu": 1, "gru": 3, "lstm": 4}

MAX_CARD_BYTES = 64 * 2**20      # a card with bundled styles is ~100 KB
MAX_JSON_DEPTH = 64              # a real card nests 4 levels
MAX_VOCAB = 100_000
MAX_HIDDEN = 8192
MAX_EMBED = 8192
MAX_LAYERS = 16
MAX_MIXTURES = 256
MAX_WINDOW_K = 256
MAX_PARAMS = 200_000_000         # 800 MB of float32 weights
MAX_STATE_DIM = 1 << 20
MAX_STATE_ELEMENTS = 1 << 24     # per state tensor: 64 MB of float32
MAX_IO = 64                      # inputs, outputs, states
MAX_CONTEXT = 20_000             # characters of text context (fed through the model once per package load)
MAX_STYLES = 256
MAX_STYLE_POINTS = 50_000

# ---------------------------------------------------------------------------------------------- reading JSON

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_TO_SQUARE = bytes.maketrans(b"{}", b"[]")


def json_depth(raw: bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """How deeply the JSON text ``raw`` nests arrays and objects, counted up to ``limit + 1`` (a value above
    ``limit`` means "too deep"). Linear-time byte operations, no recursion: strings are cut out, the brackets
    kept, and innermost ``[]`` pairs removed once per level. (Malformed text may be under-counted; json.loads
    rejects it anyway.)"""
    s = _JSON_STRING.sub(b"", bytes(raw)).translate(_TO_SQUARE, _NOT_BRACKET)
    depth = 0
    while s:
        t = s.replace(b"[]", b"")
        if len(t) == len(s):   # unbalanced: not JSON
            return depth
        depth += 1
        if depth > limit:
            return depth
        s = t
    return depth


def parse_json(raw: bytes | str, source: str, *, max_depth: int = MAX_JSON_DEPTH,
               error: type[ScribeError] = CheckpointError) -> Any:
    """``json.loads`` for untrusted text: ``error`` naming ``source`` for anything unusable, never a
    RecursionError. NaN and infinities are accepted (metrics may hold them); the schema rejects them where
    it matters."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if json_depth(raw, max_depth) > max_depth:
        raise error(f"{source} is damaged: JSON nested deeper than {max_depth} levels")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{source} is damaged: not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise error(f"{source} is damaged: JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or an integer with too many digits
        raise error(f"{source} is damaged: {_one_line(exc)}") from None


def read_json(path: str | os.PathLike, *, max_bytes: int = MAX_CARD_BYTES, max_depth: int = MAX_JSON_DEPTH,
              error: type[ScribeError] = CheckpointError) -> Any:
    """Read and parse a JSON file from disk with a size and a depth limit (see :func:`parse_json`)."""
    path = Path(path)
    try:  # non-blocking open: a FIFO named card.json must not hang the reader
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with open(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise error(f"{path} is not a regular file")
            raw = fh.read(max_bytes + 1)
    except IsADirectoryError:
        raise error(f"{path} is not a regular file") from None
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise error(f"{path} is too large to be a card (over {max_bytes // 2**20} MB)")
    return parse_json(raw, str(path), max_depth=max_depth, error=error)


def _one_line(exc: BaseException, limit: int = 300) -> str:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return msg if len(msg) <= limit else msg[:limit - 1] + "…"


# ------------------------------------------------------------------------------------------------ the schema

_STRICT = ConfigDict(strict=True, extra="forbid")
_OPEN = ConfigDict(strict=True, extra="allow")


def _int(lo: int, hi: int | None = None):
    return Annotated[int, Field(ge=lo, le=hi)]


_Finite = Annotated[float, Field(allow_inf_nan=False)]
_Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
_Dropout = Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]
_Char = Annotated[str, StringConstraints(min_length=1, max_length=1)]
_Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def _text(n: int):
    return Annotated[str, StringConstraints(max_length=n)]


def _list(item, lo: int = 0, hi: int | None = None):
    return Annotated[list[item], Field(min_length=lo, max_length=hi)]


# model_config per kind: the fields and defaults of engine.models.charlm.CharLMConfig and
# engine.models.handwriting.HandwritingConfig (a test keeps them equal)
TEXT_CONFIG_DEFAULTS = dict(cell="lstm", layers=2, hidden=512, embed=64, dropout=0.0, skip=False,
                            orthogonal_init=True, gate_bias=1.0)
INK_CONFIG_DEFAULTS = dict(layers=3, hidden=400, mixtures=20, window_k=10, vocab_size=0, dropout=0.0, gate_bias=1.0,
                           orthogonal_init=True, kappa_init=0.05)

_TextConfig = create_model(
    "text_model_config", __config__=_STRICT,
    vocab_size=(_int(1, MAX_VOCAB), ...),
    cell=(Literal[CELLS], "lstm"),
    layers=(_int(1, MAX_LAYERS), 2),
    hidden=(_int(1, MAX_HIDDEN), 512),
    embed=(_int(1, MAX_EMBED), 64),
    dropout=(_Dropout, 0.0),
    skip=(bool, False),
    orthogonal_init=(bool, True),
    gate_bias=(_Finite, 1.0),
)
_InkConfig = create_model(
    "ink_model_config", __config__=_STRICT,
    layers=(_int(1, MAX_LAYERS), 3),
    hidden=(_int(1, MAX_HIDDEN), 400),
    mixtures=(_int(1, MAX_MIXTURES), 20),
    window_k=(_int(1, MAX_WINDOW_K), 10),
    vocab_size=(_int(0, MAX_VOCAB), 0),
    dropout=(_Dropout, 0.0),
    gate_bias=(_Finite, 1.0),
    orthogonal_init=(bool, True),
    kappa_init=(_Finite, 0.05),
)
_Norm = create_model("norm", __config__=_STRICT,
                     mean=(_list(_Finite, 2, 2), ...), std=(_list(_Positive, 2, 2), ...))
_IOSpec = create_model("io_spec", __config__=_OPEN,
                       name=(_Name, ...), dtype=(_text(40), ...),
                       shape=(_list(_int(0, 2**31) | _text(200), 0, 8), ...))
_IO = create_model("io", __config__=_OPEN,
                   inputs=(_list(_IOSpec, 1, MAX_IO), ...),
                   outputs=(_list(_IOSpec, 1, MAX_IO), ...),
                   state=(Annotated[dict[_Name, _list(_int(1, MAX_STATE_DIM), 1, 8)], Field(max_length=MAX_IO)], ...))
_Style = create_model("style", __config__=_OPEN,
                      name=(_text(200), ...), text=(_text(MAX_CONTEXT), ""),
                      stroke3=(_list(_list(_Finite, 3, 3), 0, MAX_STYLE_POINTS), ...))
_Card = create_model(
    "card", __config__=_OPEN,
    format=(str, ...),
    format_version=(_int(1), ...),
    kind=(Literal[KINDS], ...),
    name=(_text(500) | None, None),
    description=(_text(20_000) | None, None),
    license=(_text(2_000) | None, None),
    vocab=(_list(_Char, 1, MAX_VOCAB) | None, None),
    norm=(_Norm | None, None),
    styles=(_list(_Style, 0, MAX_STYLES) | None, None),
    context=(_text(MAX_CONTEXT) | None, None),
    step=(_int(0) | None, None),
    metrics=(dict[str, Any] | None, None),
    io=(_IO | None, None),
)
_CONFIGS = {"text": _TextConfig, "ink-synthesis": _InkConfig, "ink-prediction": _InkConfig}
_REQUIRED_IO = {"text": {"x", "logits"}, "ink-prediction": {"x", "y"}, "ink-synthesis": {"x", "chars", "y", "phi"}}


def _describe(err: ValidationError, prefix: str = "") -> str:
    e = err.errors(include_url=False)[0]
    where = prefix
    for part in e.get("loc", ()):
        if isinstance(part, int):
            where += f"[{part}]"
        elif not str(part).startswith(("function-", "union[", "nullable[", "list[", "dict[")) and \
                str(part) not in ("int", "str", "constrained-int", "constrained-str"):
            where += ("." if where else "") + str(part)
    msg = e.get("msg", "invalid")
    if "input" in e and e.get("type") not in ("missing", "extra_forbidden") and not isinstance(e["input"], dict):
        got = repr(e["input"])
        msg += f" (got {got if len(got) <= 40 else got[:39] + '…'})"
    elif e.get("type") == "missing":
        msg = "missing"
    elif e.get("type") == "extra_forbidden":
        msg = "unknown setting"
    return f"{where or 'card'}: {_one_line(msg)}"


def parameter_count(kind: str, model_config: dict) -> int:
    """The number of weights the model ``model_config`` describes (exact for the engine's models; the
    config must have passed the schema)."""
    if kind == "text":
        c = dict(TEXT_CONFIG_DEFAULTS, **model_config)
        V, E, H, L, g = c["vocab_size"], c["embed"], c["hidden"], c["layers"], _GATES[c["cell"]]
        n = V * E
        for i in range(L):
            inp = (E + (H if i else 0)) if c["skip"] else (H if i else E)
            n += g * H * (inp + H) + 2 * g * H
        return n + (H * L if c["skip"] else H) * V + V
    c = dict(INK_CONFIG_DEFAULTS, **model_config)
    V, H, L, K, out = c["vocab_size"], c["hidden"], c["layers"], c["window_k"], 6 * c["mixtures"] + 1

    def lstm(inp: int) -> int:
        return 4 * H * (inp + H) + 8 * H

    if kind == "ink-prediction":
        return sum(lstm(3 + (H if i else 0)) for i in range(L)) + L * H * out + out
    return lstm(3 + V) + 3 * K * (H + 1) + (L - 1) * lstm(3 + H + V) + (L * H + V) * out + out


def validate_card(card: Any, source: str, *, package: bool, error: type[ScribeError] = CheckpointError) -> dict:
    """Check a parsed card (a package's when ``package``, else a checkpoint's) and return it unchanged;
    ``error`` with a one-line message naming ``source`` if anything is unusable."""

    def fail(msg: str):
        return error(f"{source} is damaged: {msg}")

    if not isinstance(card, dict):
        raise fail(f"not a JSON object (a {type(card).__name__})")
    try:
        _Card.model_validate(card)
    except ValidationError as exc:
        raise fail(_describe(exc)) from None
    fmt = PACKAGE_FORMAT if package else CHECKPOINT_FORMAT
    if card["format"] != fmt:
        raise fail(f"format is {card['format'][:60]!r}, not {fmt!r}")
    kind, vocab = card["kind"], card.get("vocab")
    if vocab is not None and len(set(vocab)) != len(vocab):
        seen: set[str] = set()
        dup = next(c for c in vocab if c in seen or seen.add(c))
        raise fail(f"vocab lists {dup!r} twice")
    if vocab is None and (kind == "text" or (package and kind == "ink-synthesis")):
        raise fail("no usable vocabulary (vocab)")
    if package and kind != "text" and card.get("norm") is None:
        raise fail("no normalisation statistics (norm)")
    cfg = card.get("model_config")
    if cfg is None and not package:
        raise fail("no model_config")
    if cfg is not None:
        if not isinstance(cfg, dict):
            raise fail(f"model_config is not a JSON object (a {type(cfg).__name__})")
        try:
            _CONFIGS[kind].model_validate(cfg)
        except ValidationError as exc:
            raise fail(_describe(exc, "model_config")) from None
        if kind == "ink-synthesis" and cfg.get("vocab_size", 0) < 1:
            raise fail("model_config.vocab_size: a synthesis model needs at least 1 character")
        if vocab is not None and kind != "ink-prediction" and cfg.get("vocab_size") != len(vocab):
            raise fail(f"model_config.vocab_size is {cfg.get('vocab_size')} but vocab has {len(vocab)} characters")
        n = parameter_count(kind, cfg)
        if n > MAX_PARAMS:
            raise fail(f"model_config describes {n:,} weights, more than the {MAX_PARAMS:,} Scribe loads")
    if package:
        if card.get("io") is None:
            raise fail("no input/output description (io)")
        _check_io(card["io"], kind, vocab, fail)
    return card


def _check_io(io: dict, kind: str, vocab: list | None, fail) -> None:
    ins = {s["name"]: s["shape"] for s in io["inputs"]}
    outs = {s["name"]: s["shape"] for s in io["outputs"]}
    if len(ins) != len(io["inputs"]) or len(outs) != len(io["outputs"]):
        raise fail("io lists an input or output name twice")
    missing = _REQUIRED_IO[kind] - set(ins) - set(outs)
    if missing:
        raise fail(f"io lacks the {kind} inputs/outputs {sorted(missing)}")
    for name, shape in io["state"].items():
        if name not in ins or f"{name}_out" not in outs:
            raise fail(f"io.state: state {name!r} is not an input/output pair in io")
        n = 1
        for d in shape:
            n *= d
        if n > MAX_STATE_ELEMENTS:
            raise fail(f"io.state: state {name!r} {shape} has more than {MAX_STATE_ELEMENTS:,} elements")
        for spec in (ins[name], outs[f"{name}_out"]):
            if len(spec) != len(shape) or any(isinstance(a, int) and a != b for a, b in zip(spec, shape)):
                raise fail(f"io.state: state {name!r} is {shape} but io says {spec}")
    sized = {"text": [outs.get("logits")], "ink-synthesis": [ins.get("chars"), ins.get("w")]}.get(kind, [])
    for shape in sized:
        if vocab is not None and shape and isinstance(shape[-1], int) and shape[-1] != len(vocab):
            raise fail(f"io: a vocabulary-sized dimension is {shape[-1]} but vocab has {len(vocab)} characters")
