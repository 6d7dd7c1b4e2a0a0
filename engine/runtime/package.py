"""Model packages: validate a package folder and generate from it. numpy + onnxruntime only."""

from __future__ import annotations

import mmap
import os
import threading
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np

from engine.core.card_schema import KINDS, PACKAGE_FORMAT, read_json, validate_card
from engine.core.errors import CheckpointError
from engine.core.onnx_scan import OnnxFormatError, OnnxSummary, scan_onnx
from engine.core.vocab import Vocab
from engine.core.word_space import WORD_GAP_X_HEIGHTS

FORMAT = PACKAGE_FORMAT
FORMAT_VERSION = 1


class PackageError(CheckpointError):
    """A model package that is missing, damaged, of the wrong kind or from a newer Scribe."""


def _describe_non_package(path: Path) -> str:
    if (path / "model.safetensors").exists() or (path / "last.json").exists() or (path / "checkpoints").is_dir():
        return (f"{path} is a training checkpoint, not a model package; export it first "
                f"(scribe export {path} --out PACKAGE)")
    return f"{path} is not a Scribe model package (no card.json)"


def read_card(path, kind: str | tuple[str, ...] | None = None) -> dict:
    """Read and validate ``card.json`` of the package folder ``path`` (``engine.core.card_schema``: size and
    depth limits, types, size caps, consistency); PackageError naming the file if unusable."""
    path = Path(path)
    card_path = path / "card.json"
    if not card_path.is_file():
        raise PackageError(_describe_non_package(path))
    card = read_json(card_path, error=PackageError)
    if not isinstance(card, dict):
        raise PackageError(f"{card_path} is damaged: not a JSON object")
    fmt = card.get("format")
    if fmt != FORMAT:
        if fmt == "scribe-checkpoint":
            raise PackageError(_describe_non_package(path).replace("(no card.json)", ""))
        raise PackageError(f"{path} is not a Scribe model package (card format {str(fmt)[:60]!r})")
    version = card.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise PackageError(f"{card_path} is damaged: format_version {str(version)[:40]!r}")
    if version > FORMAT_VERSION:
        raise PackageError(f"{path} was written by a newer Scribe Studio (package format {version}); this "
                           f"version reads up to format {FORMAT_VERSION}. Update Scribe Studio to use it.")
    if version < 1:
        raise PackageError(f"{card_path} is damaged: format_version {version}")
    k = card.get("kind")
    if k not in KINDS:
        raise PackageError(f"{path} holds an unknown kind of model ({str(k)[:60]!r}); known: {', '.join(KINDS)}")
    wanted = (kind,) if isinstance(kind, str) else tuple(kind or ())
    if wanted and k not in wanted:
        raise PackageError(f"{path} is a {k} model, not {' or '.join(wanted)}")
    return validate_card(card, str(card_path), package=True, error=PackageError)


def check_onnx(summary: OnnxSummary, card: dict, onnx_path: Path) -> None:
    """Check a scanned ``model.onnx`` (``engine.core.onnx_scan``) against its validated card, before
    onnxruntime opens it: no external data, the card's inputs/outputs and shapes, the vocabulary's size."""
    if summary.external:
        names = ", ".join(repr(n) for n in summary.external[:3]) + (" ..." if len(summary.external) > 3 else "")
        raise PackageError(f"{onnx_path} keeps tensors in external data files ({names}); Scribe packages embed "
                           f"their weights, so it is refused")
    graph_in, graph_out = dict(summary.graph_inputs()), dict(summary.outputs)
    io = card["io"]
    expect_in, expect_out = [s["name"] for s in io["inputs"]], [s["name"] for s in io["outputs"]]
    if list(graph_in) != expect_in or list(graph_out) != expect_out:
        raise PackageError(f"{onnx_path.parent}: model.onnx does not match its card (inputs {list(graph_in)} vs "
                           f"{expect_in}, outputs {list(graph_out)} vs {expect_out})")
    for what, specs, graph in (("input", io["inputs"], graph_in), ("output", io["outputs"], graph_out)):
        for spec in specs:
            dims = graph[spec["name"]]
            if len(dims) != len(spec["shape"]) or any(
                    isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(dims, spec["shape"])):
                raise PackageError(f"{onnx_path.parent}: model.onnx does not match its card ({what} "
                                   f"{spec['name']!r} is {dims} in the graph, {spec['shape']} in the card)")
    vocab = card.get("vocab")
    sized = {"text": graph_out.get("logits"), "ink-synthesis": graph_in.get("chars")}.get(card["kind"])
    if vocab and sized and isinstance(sized[-1], int) and sized[-1] != len(vocab):
        raise PackageError(f"{onnx_path.parent}: model.onnx is for a vocabulary of {sized[-1]} characters, "
                           f"its card lists {len(vocab)} (a model.onnx from another model?)")


def check_package_files(path, card: dict) -> None:
    """The checks :func:`load_package` makes before starting onnxruntime, on the files of a package whose
    card passed :func:`read_card` (the app lists packages with this: no session, the model file is mapped,
    not read)."""
    onnx_path = Path(path) / "model.onnx"
    if not onnx_path.is_file():
        raise PackageError(f"{path} is incomplete: model.onnx is missing")
    try:
        with open(onnx_path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            summary = _scan(mm, onnx_path)
    except (OSError, ValueError) as exc:  # ValueError: an empty file cannot be mapped
        raise PackageError(f"{onnx_path} is damaged or not a model onnxruntime can run: {exc}") from None
    check_onnx(summary, card, onnx_path)


def _scan(data, onnx_path: Path) -> OnnxSummary:
    try:
        return scan_onnx(data)
    except OnnxFormatError as exc:
        raise PackageError(f"{onnx_path} is damaged or not a model onnxruntime can run: not an ONNX model "
                           f"({exc})") from None


def load_package(path, kind: str | tuple[str, ...] | None = None, *, threads: int | None = None,
                 inter_threads: int | None = None, optimization: str | None = None) -> "ModelPackage":
    """Load a package folder (``model.onnx`` + ``card.json``). ``kind`` restricts the accepted kinds.
    Session options: see ``engine.runtime.session`` (keyword arguments override SCRIBE_ORT_* env vars).

    Nothing in the folder is trusted: the card is validated (``read_card``), ``model.onnx`` is read once and
    checked against it (no external data, matching inputs/outputs and vocabulary size) before onnxruntime
    gets the bytes, and one trial step must give outputs of the card's shapes."""
    path = Path(path).expanduser()
    if path.is_file() and path.name in ("card.json", "model.onnx"):
        path = path.parent
    if not path.exists():
        raise PackageError(f"model package not found: {path}")
    if not path.is_dir():
        raise PackageError(f"{path} is not a Scribe model package (a package is a folder)")
    card = read_card(path, kind)
    onnx_path = path / "model.onnx"
    if not onnx_path.is_file():
        raise PackageError(f"{path} is incomplete: model.onnx is missing")
    try:
        model_bytes = onnx_path.read_bytes()
    except OSError as exc:
        raise PackageError(f"cannot read {onnx_path}: {exc.strerror or exc}") from None
    check_onnx(_scan(model_bytes, onnx_path), card, onnx_path)
    from engine.runtime.session import OrtStepper, make_session, session_options

    try:
        so = session_options(threads, inter_threads, optimization, model_bytes=len(model_bytes))
    except ValueError as exc:
        raise PackageError(str(exc)) from None
    try:
        session = make_session(model_bytes, so)
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        msg = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise PackageError(f"{onnx_path} is damaged or not a model onnxruntime can run: {msg}") from None
    del model_bytes
    names_in = [i.name for i in session.get_inputs()]
    names_out = [o.name for o in session.get_outputs()]
    expect_in = [i["name"] for i in card["io"]["inputs"]]
    expect_out = [o["name"] for o in card["io"]["outputs"]]
    if names_in != expect_in or names_out != expect_out:
        raise PackageError(f"{path}: model.onnx does not match its card (inputs {names_in} vs {expect_in}, "
                           f"outputs {names_out} vs {expect_out})")
    stepper = OrtStepper(session, card["io"]["state"], source=str(onnx_path))
    _trial_step(stepper, session, card, onnx_path)
    return ModelPackage(path, card, stepper)


_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
               "tensor(double)": np.float64, "tensor(float16)": np.float16, "tensor(bool)": np.bool_}


def _trial_step(stepper, session, card: dict, onnx_path: Path) -> None:
    """Run one step from zeros: the outputs must have the card's shapes (so generation never meets a
    graph that disagrees with its card at its first step)."""
    feeds = stepper.initial_state()
    for i in session.get_inputs():
        if i.name not in feeds:
            dims = [d if isinstance(d, int) and d >= 0 else 1 for d in i.shape]
            feeds[i.name] = np.zeros(dims, dtype=_ORT_DTYPES.get(i.type, np.float32))
    out = stepper.step(feeds)
    specs = {s["name"]: s["shape"] for s in card["io"]["outputs"]}
    specs.update({f"{k}_out": v for k, v in card["io"]["state"].items()})
    for name, shape in specs.items():
        got = list(np.shape(out[name]))
        if len(got) != len(shape) or any(isinstance(b, int) and a != b for a, b in zip(got, shape)):
            raise PackageError(f"{onnx_path} does not match its card: a trial step gave {name!r} the shape "
                               f"{got}, the card says {shape}")


class ModelPackage:
    """A loaded package. Generation methods return generators; stop by closing them."""

    def __init__(self, path: Path, card: dict, stepper):
        self.path = Path(path)
        self.card = card
        self.kind: str = card["kind"]
        self.name: str = card.get("name") or self.path.name
        self.vocab = Vocab.from_json(card["vocab"]) if card.get("vocab") else None  # None: ink-prediction
        self.stepper = stepper
        self._styles: list[dict] | None = None
        self._ink_scale = None
        self._ink_writer = None
        self._warm: dict | None = None   # text: the state after the card's context
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ModelPackage({self.name!r}, kind={self.kind!r}, path={str(self.path)!r})"

    def unknown_chars(self, text: str) -> list[str]:
        """Characters of ``text`` the model cannot write, in order of first appearance (a prediction
        model writes no text: always empty)."""
        return self.vocab.unknown(text) if self.vocab is not None else []

    def generate_text(self, prime: str, length: int, temperature: float = 0.8, top_k: int | None = None,
                      seed: int | None = None) -> Iterator[str]:
        """Stream ``length`` characters (one per item) after ``prime``."""
        if self.kind != "text":
            raise PackageError(f"{self.name} is a {self.kind} model; it writes handwriting, not text")
        from engine.core.text_stream import text_stream

        # the card's context (a paragraph of training text, fed before the prime) always leads to the same
        # state: run it once per package, not once per sample
        return text_stream(self._warm_stepper(), self.vocab, prime, length, temperature=temperature,
                           top_k=top_k, seed=seed)

    def _warm_stepper(self):
        context = "".join(c for c in (self.card.get("context") or "") if c in self.vocab)
        if not context:
            return self.stepper
        with self._lock:
            if self._warm is None:
                from engine.core.stepper import state_names

                states = state_names(self.stepper)
                feeds = {"x": np.zeros((1, 1), dtype=np.int64), **self.stepper.initial_state()}
                for i in self.vocab.encode(context):
                    feeds["x"][0, 0] = int(i)
                    res = self.stepper.step(feeds)
                    for n in states:
                        feeds[n] = res[f"{n}_out"]
                self._warm = {n: feeds[n] for n in states}
        return _StartFrom(self.stepper, self._warm)

    def generate_ink(self, text: str = "", bias: float = 0.5, prime_stroke3=None, prime_text: str | None = None,
                     seed: int | None = None, max_steps: int | None = None, prime_ink=None,
                     stats: dict | None = None, word_gap: float = WORD_GAP_X_HEIGHTS,
                     word_space: float | None = None, guide_prime: bool = True,
                     slant: float | str | None = None, takes: int = 1) -> Iterator[np.ndarray]:
        """Stream points, each (3,) float32 (dx, dy, pen_up) in raw units, y down, through
        ``engine.core.ink_stream.ink_stream`` (the loop the torch path runs; ``engine.data.ink_writer``). A
        prediction model ignores ``text``; it writes until ``max_steps`` (default 700). Prime with ``prime_ink``
        (an ``engine.data.ink.Ink`` in any units: a tablet file, an IAM line, a drawing; brought to the model's
        scale and point rate by ``engine.data.prime``) or with ``prime_stroke3`` already in model units.
        word_gap: the least blank between words, in x-heights (0: as the model draws it). word_space: a factor
        on every blank between words (None: the prime's own spacing; ``engine.core.word_space``). guide_prime: keep
        the window on the prime's words while it is forced (``engine.core.prime_guide``). slant: the lean of the new ink
        in degrees (None: the prime's; "off": as the model draws it; ``engine.core.hand``). takes: write the line this
        many times and keep the likeliest (``engine.core.takes``)."""
        if self.kind == "text":
            raise PackageError(f"{self.name} is a text model; it cannot write handwriting")
        return self.ink_writer.generate(text, bias=bias, prime_stroke3=prime_stroke3, prime_text=prime_text,
                                        seed=seed, max_steps=max_steps, prime_ink=prime_ink, stats=stats,
                                        word_gap=word_gap, word_space=word_space, guide_prime=guide_prime,
                                        slant=slant, takes=takes)

    @property
    def ink_writer(self):
        """The package's ``engine.data.ink_writer.InkWriter`` (made once: it keeps the model's measured spacing)."""
        with self._lock:
            if self._ink_writer is None:
                from engine.data.ink_writer import InkWriter

                self._ink_writer = InkWriter(self.stepper, synthesis=self.kind == "ink-synthesis", vocab=self.vocab,
                                             norm=self.card["norm"], scale=self.ink_scale, styles=self.styles)
            return self._ink_writer

    @property
    def ink_scale(self):
        """The x-height and point spacing of the ink the model was trained on (``engine.data.prime.InkScale``;
        worked out once: an older card's is measured on its styles)."""
        if self._ink_scale is None:
            from engine.data.prime import InkScale

            self._ink_scale = InkScale.from_card(self.card, self.styles)
        return self._ink_scale

    @property
    def styles(self) -> list[dict]:
        """Bundled priming styles: dict(name, text, stroke3 (n, 3) float32), from card["styles"] or
        ``styles.npz`` beside the model (arrays ``names``, ``texts`` (unicode) and ``stroke3_<i>``)."""
        if self._styles is None:
            self._styles = self._load_styles()
        return self._styles

    def _load_styles(self) -> list[dict]:
        out = []
        for s in self.card.get("styles") or []:
            try:
                out.append({"name": str(s["name"]), "text": str(s.get("text", "")),
                            "stroke3": np.asarray(s["stroke3"], dtype=np.float32).reshape(-1, 3)})
            except (KeyError, TypeError, ValueError) as exc:
                raise PackageError(f"{self.path / 'card.json'}: a bundled style is damaged: {exc}") from None
        npz = self.path / "styles.npz"
        if npz.is_file():
            try:
                with np.load(npz, allow_pickle=False) as z:
                    names, texts = [str(x) for x in z["names"]], [str(x) for x in z["texts"]]
                    for i, (n, t) in enumerate(zip(names, texts)):
                        out.append({"name": n, "text": t,
                                    "stroke3": np.asarray(z[f"stroke3_{i}"], dtype=np.float32).reshape(-1, 3)})
            except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
                raise PackageError(f"{npz} is damaged: {exc}") from None
        return out


class _StartFrom:
    """A stepper that starts from a given state instead of zeros."""

    def __init__(self, inner, state: dict):
        self.inner, self.state = inner, state
        self.input_names, self.output_names = inner.input_names, inner.output_names
        self.step = inner.step

    def initial_state(self) -> dict:
        return {k: v.copy() for k, v in self.state.items()}


def save_styles_npz(path: os.PathLike, styles: list[dict]) -> None:
    """Write priming styles in the ``styles.npz`` layout ``ModelPackage.styles`` reads."""
    arrays = {"names": np.array([s["name"] for s in styles], dtype=str),
              "texts": np.array([s.get("text", "") for s in styles], dtype=str)}
    for i, s in enumerate(styles):
        arrays[f"stroke3_{i}"] = np.asarray(s["stroke3"], dtype=np.float32).reshape(-1, 3)
    np.savez(path, **arrays)
