"""A person's handwritten lines, read for the "personal" recipe (engine.training.personal) and checked by the
app's collection page before it starts one. No torch.

The lines come from a folder of InkML files (the app's "My handwriting" collection) or an ink dataset; each is
brought to the base model's size and point rate the way a prime is (``engine.data.prime.prepare_prime`` with
the model's ``InkScale``) and its text fitted to the model's characters (``engine.core.translit``). A line
that cannot be used is left out with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.core.errors import DataError
from engine.core.ink_stream import prepare_line
from engine.core.translit import fit_text
from engine.data.ink import Ink
from engine.data.ink_dataset import InkDataset, InkLine
from engine.data.prime import InkScale, prepare_prime

MIN_LINES = 2                    # one to train on, one to validate with
FEW_LINES = 5                    # fewer than this: a warning (the app asks for at least this many)


def is_inkml_folder(path) -> bool:
    """A folder of InkML files (the app's collection), not an ink dataset."""
    p = Path(path)
    return p.is_dir() and not (p / "meta.json").exists() and any(p.glob("*.inkml"))


@dataclass
class PersonalLines:
    """A person's usable lines in a model's units (``stroke3`` prepared like a prime) and what was left out."""

    lines: list[InkLine]
    skipped: list[tuple[str, str]] = field(default_factory=list)    # (line or file name, reason)
    source: str = ""


def raw_inks(path) -> tuple[list[tuple[str, Ink]], list[tuple[str, str]], str]:
    """(name, ink) of every line under ``path``, the files that could not be read with their reason, and a
    description of the source."""
    p = Path(path)
    out, skipped = [], []
    if is_inkml_folder(p):
        import engine.data.xmlsafe as xmlsafe
        from engine.data.inkml import read_inkml

        for f in sorted(p.glob("*.inkml")):
            try:
                inks = read_inkml(f)
            except xmlsafe.FILE_ERRORS as exc:
                skipped.append((f.name, xmlsafe.reason(exc)))
                continue
            for j, ink in enumerate(inks):
                out.append((f.name if len(inks) == 1 else f"{f.name}#{j + 1}", ink))
        return out, skipped, f"{len(out)} handwritten lines from {p.name}"
    ds = InkDataset.load(p)   # DataError naming the folder when it is neither
    for i in range(len(ds)):
        line = ds.line(i)
        out.append((line.id or str(i), Ink.from_stroke3(line.points, text=line.text, writer=line.writer)))
    return out, skipped, ds.source or p.name


def prepare_personal_line(ink: Ink, text: str, scale: InkScale, vocab) -> tuple[np.ndarray, str]:
    """(stroke3 in the model's units, the text fitted to ``vocab``) of one line; DataError with the reason
    (in words) when it cannot be used."""
    text = " ".join((text or "").split())
    if not text:
        raise DataError("the line has no text")
    fitted = fit_text(text, vocab, drop=False)
    if fitted.dropped:
        raise DataError("characters the model cannot write: " + " ".join(repr(c) for c in fitted.dropped))
    try:
        s3 = prepare_prime(ink, scale, max_points=10 ** 9)
    except DataError as exc:
        why = str(exc)
        if "too short" in why:
            why = "too short to tell its size"
        elif "no points" in why:
            why = "the line has no ink"
        raise DataError(why) from None
    return prepare_line(s3), fitted.text


def read_personal_lines(path, scale: InkScale, vocab, *, seed: int = 1337, hold_out: int | None = None,
                        writer: str = "me") -> PersonalLines:
    """The lines of a folder of InkML files or an ink dataset, brought to a model's scale (``scale``) and
    point rate; ``hold_out`` of them (default: 1 of fewer than 8 lines, else 2; chosen by ``seed``) are
    marked "val". A dataset's own splits are not used: a person's few lines are split here."""
    if not Path(path).exists():
        raise DataError(f"{path} does not exist")
    raw, skipped, source = raw_inks(path)
    lines: list[InkLine] = []
    for name, ink in raw:
        try:
            s3, text = prepare_personal_line(ink, ink.text, scale, vocab)
        except DataError as exc:
            skipped.append((name, str(exc)))
            continue
        lines.append(InkLine(s3, text, writer, "train", name, {}))
    if not lines:
        why = "; ".join(f"{n}: {r}" for n, r in skipped[:4]) or "no lines"
        raise DataError(f"none of the lines in {path} can be used ({why})")
    if len(lines) < MIN_LINES:
        raise DataError(f"{path} has only {len(lines)} usable line; the personal recipe needs at least "
                        f"{MIN_LINES} (one is held out to check the model)")
    n_val = hold_out if hold_out is not None else (1 if len(lines) < 8 else 2)
    n_val = max(1, min(int(n_val), len(lines) - 1))
    for i in np.random.default_rng([seed, 0x9E75]).permutation(len(lines))[:n_val]:
        lines[int(i)].split = "val"
    return PersonalLines(lines, skipped, source)
