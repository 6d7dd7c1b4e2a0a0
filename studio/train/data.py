"""What the Train view needs to know about data, runs and checkpoints, without torch.

- ``summarize_text`` / ``summarize_ink``: the short summary shown before training starts (size,
  vocabulary, lines, what was skipped and why). They can take a while on big data: call them off the
  GUI thread.
- Runs live in ``<user dir>/runs/<name>/`` (the same layout ``scribe train ... --out`` writes); their
  checkpoints are read from the JSON files beside the weights (``engine.training.checkpoint`` needs torch, which
  the GUI process never imports), validated by ``engine.core.card_schema``; pointers stay inside the run.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

from engine.core.card_schema import PACKAGE_FORMAT, read_json, validate_card
from engine.core.errors import DataError, ScribeError
from engine.core.paths import runs_dir


def new_run_dir(kind: str, detail: str = "") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{kind}-{detail}".strip("-"))[:48].strip("-")
    base = runs_dir() / f"{stamp}-{slug}"
    path, i = base, 1
    while path.exists():
        i += 1
        path = base.with_name(f"{base.name}-{i}")
    return path


# ---- runs and checkpoints (JSON only) -----------------------------------------------------------------
# Nothing read from a run folder is trusted (the same rules as engine.training.checkpoint, which needs torch):
# cards are read with size and depth limits and validated by engine.core.card_schema, pointer files
# (last.json / best.json) are never followed out of their run folder, linked checkpoint folders are skipped.
MAX_POINTER_BYTES = 64 * 1024


def _read_card(path: Path) -> dict:
    """The validated card at ``path`` (a checkpoint's, or a package's when it says so); DataError if unusable."""
    try:
        card = read_json(path, error=DataError)
        package = isinstance(card, dict) and card.get("format") == PACKAGE_FORMAT
        return validate_card(card, str(path), package=package, error=DataError)
    except ScribeError as exc:
        raise DataError(str(exc)) from None


def _card_or_none(path: Path) -> dict | None:
    try:
        return _read_card(path)
    except DataError:
        return None


def _pointer(run: Path, which: str) -> Path | None:
    """The checkpoint folder ``which``.json of ``run`` points at; None for no pointer, a damaged one, or one
    that leads out of the run folder (an absolute path, ``..``, a link)."""
    p = run / f"{which}.json"
    if not p.is_file():
        return None
    try:
        d = read_json(p, max_bytes=MAX_POINTER_BYTES, error=DataError)
    except ScribeError:
        return None
    rel = d.get("path") if isinstance(d, dict) else None
    if not isinstance(rel, str) or not rel:
        return None
    try:
        root = run.resolve()
        target = (run / rel).resolve()
        inside = not Path(rel).is_absolute() and not Path(rel).drive and target.is_relative_to(root) \
            and target != root
    except (OSError, ValueError, RuntimeError):  # a NUL byte, a link loop
        return None
    return run / target.relative_to(root) if inside else None


def list_checkpoints(run: str | Path) -> list[dict]:
    """A run's complete checkpoints, oldest first: path, step, metrics, best, last, kind (only those whose
    card is valid; linked folders, which could lead out of the run folder, are skipped)."""
    run = Path(run)
    ck = run / "checkpoints"
    if not ck.is_dir():
        return []
    best, last = _pointer(run, "best"), _pointer(run, "last")
    out = []
    for p in sorted(ck.iterdir()):
        if p.name.startswith(".") or p.is_symlink() or not (p / "model.safetensors").is_file():
            continue
        card = _card_or_none(p / "card.json")
        if card is None:
            continue
        out.append({"path": str(p), "step": card.get("step"), "metrics": card.get("metrics") or {},
                    "best": p == best, "last": p == last, "kind": card.get("kind")})
    return out


def model_card(path: str | Path) -> dict:
    """The validated card of a checkpoint folder, a run folder (its last checkpoint) or an exported package;
    DataError when there is none or it is damaged."""
    path = Path(path).expanduser()
    if (path / "card.json").exists():
        return _read_card(path / "card.json")
    for which in ("last", "best"):
        p = _pointer(path, which)
        if p is not None and (p / "card.json").exists():
            card = _card_or_none(p / "card.json")
            if card is not None:
                return card
    cks = list_checkpoints(path)
    if cks:
        return _read_card(Path(cks[-1]["path"]) / "card.json")
    raise DataError(f"{path} holds no model (expected a run folder, a checkpoint or an exported package)")


def list_runs(base: Path | None = None) -> list[dict]:
    """Runs under ``base`` (default: the user's runs folder), newest first."""
    base = base or runs_dir()
    out = []
    for run in sorted(base.iterdir(), reverse=True) if base.is_dir() else []:
        if not run.is_dir():
            continue
        cks = list_checkpoints(run)
        if not cks:
            continue
        last = next((c for c in cks if c["last"]), cks[-1])
        out.append({"path": str(run), "name": run.name, "kind": last.get("kind"), "step": last.get("step"),
                    "val_loss": (last.get("metrics") or {}).get("val_loss"), "checkpoints": len(cks)})
    return out


# ---- data summaries -----------------------------------------------------------------------------------
def _vocab_preview(chars: list[str], limit: int = 80) -> str:
    shown = "".join({"\n": "⏎", "\t": "⇥", " ": "␣"}.get(c, c) for c in chars[:limit])
    return shown + ("…" if len(chars) > limit else "")


def summarize_text(path: str | Path, vocab_chars: list[str] | None = None, val_fraction: float = 0.1) -> dict:
    """Load a text corpus as training would and describe it. Raises DataError when unusable."""
    from engine.core.vocab import Vocab
    from engine.data.corpus import load_corpus

    vocab = Vocab.from_json(vocab_chars) if vocab_chars else None
    corpus = load_corpus(path, vocab=vocab)
    s = corpus.summary()
    nl = corpus.vocab.index.get("\n")
    lines = int((corpus.data == nl).sum()) + 1 if nl is not None else 1
    n_val = int(len(corpus.data) * val_fraction)
    return {"kind": "text", "path": str(path), "characters": s["characters"], "bytes": s["bytes"],
            "vocab_size": s["vocab_size"], "vocab": _vocab_preview(corpus.vocab.chars), "lines": lines,
            "files": s["files"], "skipped": [list(x) for x in corpus.skipped],
            "unknown_chars": s["unknown_chars"], "train_characters": s["characters"] - n_val,
            "val_characters": n_val}


def detect_ink_source(path: str | Path) -> str:
    """"dataset" (a Scribe ink dataset), "iam" (an IAM-OnDB folder), "inkml" (InkML files) or ""."""
    p = Path(path)
    if (p / "meta.json").exists() and (p / "data.npz").exists():
        return "dataset"
    if not p.is_dir():
        return "inkml" if p.suffix.lower() == ".inkml" else ""
    if (p / "lineStrokes").is_dir() or any(p.glob("**/lineStrokes*")):
        return "iam"
    if next(p.glob("**/*.inkml"), None) is not None:
        return "inkml"
    return ""


def summarize_ink(path: str | Path) -> dict:
    """Describe an ink dataset folder (or say that a raw folder must be imported first)."""
    import numpy as np

    from engine.data.ink_dataset import InkDataset

    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"not found: {p}")
    source = detect_ink_source(p)
    if source in ("iam", "inkml"):
        n = sum(1 for _ in p.glob("**/*.xml" if source == "iam" else "**/*.inkml")) if p.is_dir() else 1
        return {"kind": "ink", "path": str(p), "needs_import": source, "files": n}
    if source != "dataset":
        raise DataError(f"{p} is not an ink dataset, an IAM-OnDB folder or a folder of InkML files")
    ds = InkDataset.load(p)
    lengths = ds.lengths()
    splits: dict[str, int] = {}
    for m in ds.lines_meta:
        splits[m.get("split", "train")] = splits.get(m.get("split", "train"), 0) + 1
    charset = ds.charset()
    from engine.data.prime import InkScale

    scale = InkScale.from_lines([ds.line(i).points for i in range(min(len(ds), 50))])
    return {"x_height": scale.x_height, "spacing": scale.spacing,
            "kind": "ink", "path": str(p), "lines": len(ds), "points": int(lengths.sum()),
            "mean_points": float(np.mean(lengths)) if len(lengths) else 0.0,
            "max_points": int(lengths.max()) if len(lengths) else 0,
            "writers": len({m.get("writer", "") for m in ds.lines_meta} - {""}),
            "vocab_size": len(charset), "vocab": _vocab_preview(charset), "charset": charset, "splits": splits,
            "skipped": [list(x) for x in ds.skipped], "source": ds.source}


def _n(x) -> str:
    return f"{x:,}" if isinstance(x, int) else str(x)


def summary_html(s: dict, max_skipped: int = 4) -> str:
    """A few lines of rich text for the summary label."""
    e = html.escape
    if s.get("needs_import"):
        what = {"iam": "an IAM-OnDB folder", "inkml": "InkML files"}[s["needs_import"]]
        return (f"{e(what)}: {_n(s.get('files', 0))} files. <b>Import</b> turns them into a dataset "
                f"(stroke offsets + transcriptions) before training.")
    parts = []
    if s["kind"] == "text":
        parts.append(f"<b>{_n(s['characters'])}</b> characters ({_n(s['bytes'])} bytes) · "
                     f"<b>{s['vocab_size']}</b> symbols · {_n(s['lines'])} lines · {s['files']} file"
                     f"{'s' if s['files'] != 1 else ''}")
        parts.append(f"train {_n(s['train_characters'])} / validation {_n(s['val_characters'])} characters")
    else:
        sp = ", ".join(f"{k} {_n(v)}" for k, v in sorted(s.get("splits", {}).items()))
        parts.append(f"<b>{_n(s['lines'])}</b> lines · {_n(s['points'])} points (mean {s['mean_points']:.0f}, "
                     f"max {_n(s['max_points'])} per line) · {s['writers']} writers")
        parts.append(f"{s['vocab_size']} characters in transcriptions · {e(sp)}")
    vocab = "\u200b".join(s.get("vocab", ""))  # let the label wrap anywhere in it
    parts.append(f"vocabulary: <tt>{e(vocab)}</tt>")
    if s.get("unknown_chars"):
        parts.append(f"<span style='color:#c0392b'>the model cannot represent {len(s['unknown_chars'])} "
                     f"character(s); they are dropped: <tt>{e(''.join(s['unknown_chars'])[:40])}</tt></span>")
    sk = s.get("skipped") or []
    if sk:
        items = "; ".join(f"{e(Path(p).name)}: {e(str(why))}" for p, why in sk[:max_skipped])
        more = f" and {len(sk) - max_skipped} more" if len(sk) > max_skipped else ""
        parts.append(f"<span style='color:#b06a00'>skipped {len(sk)}: {items}{more}</span>")
    return "<br>".join(parts)
