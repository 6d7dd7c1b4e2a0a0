"""What int8 packages cost in quality: float vs int8 export of trained checkpoints, in one run.

    .venv/bin/python bench/runtime_int8_quality.py --text RUN_OR_CHECKPOINT --ink RUN_OR_CHECKPOINT \
        [--corpus ../shared/data/tinyshakespeare.txt] [--png float-vs-int8.png]

Text: teacher-forced over 2,000 characters of the corpus (from its last tenth, the validation part):
mean KL(float || int8) of the next-character distributions, the loss of both, how often their most
likely characters agree, and the same-seed samples side by side. Ink (synthesis): statistics of 8 lines
from both packages with the same seeds (points, pen lifts, width).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def text_quality(f, q, corpus: str, n: int = 2000) -> list[str]:
    from engine.core.sampling import softmax

    text = corpus[int(len(corpus) * 0.9):][:n + 1]
    text = "".join(c for c in text if c in f.vocab)
    ids = f.vocab.encode(text)
    ff = {"x": np.zeros((1, 1), np.int64), **f.stepper.initial_state()}
    fq = dict(ff)
    states = list(f.card["io"]["state"])
    kl, nll_f, nll_q, agree = [], [], [], 0
    for t in range(len(ids) - 1):
        ff["x"] = fq["x"] = np.array([[int(ids[t])]], np.int64)
        a, b = f.stepper.step(ff), q.stepper.step(fq)
        for k in states:
            ff[k], fq[k] = a[k + "_out"], b[k + "_out"]
        p, r = softmax(a["logits"][0]), softmax(b["logits"][0])
        kl.append(float(np.sum(p * (np.log(p) - np.log(r)))))
        nll_f.append(-np.log(p[ids[t + 1]]))
        nll_q.append(-np.log(r[ids[t + 1]]))
        agree += int(p.argmax() == r.argmax())
    out = [f"- {len(kl)} characters: mean KL(float || int8) = {np.mean(kl):.2e} nats/char (max {np.max(kl):.2e}); "
           f"loss float {np.mean(nll_f):.4f}, int8 {np.mean(nll_q):.4f} nats/char; most likely next character "
           f"agrees {agree / len(kl):.1%}",
           f"- recorded drift (card): {q.card['quantization']['drift']['max_diff']:.3g} (largest output "
           f"difference over 50 steps from random inputs)"]
    prime = text[:40]
    out.append(f"- same seed, prime {prime[-20:]!r}:")
    out.append(f"  - float: {''.join(f.generate_text(prime, 160, seed=1))!r}")
    out.append(f"  - int8:  {''.join(q.generate_text(prime, 160, seed=1))!r}")
    return out


def ink_quality(f, q, text: str = "hello world") -> list[str]:
    out = [f"- recorded drift (card): {q.card['quantization']['drift']['max_diff']:.3g}"]
    text = "".join(c for c in text if c in (f.vocab or [])) or f.vocab.chars[0]
    for name, pk in (("float", f), ("int8", q)):
        lens, ups, widths = [], [], []
        for seed in range(8):
            pts = np.stack(list(pk.generate_ink(text, bias=0.5, seed=seed)))
            lens.append(len(pts))
            ups.append(pts[:, 2].sum())
            widths.append(np.cumsum(pts[:, 0]).max())
        out.append(f"- {name}: {text!r}, 8 seeds: {np.mean(lens):.0f} ± {np.std(lens):.0f} points, "
                   f"{np.mean(ups):.1f} pen lifts, width {np.mean(widths):.0f} units")
    return out


def ink_png(f, q, path: str, text: str = "hello world", seeds=(1, 2, 3), bias: float = 0.8) -> None:
    """Float (left) and int8 (right) lines, same seeds, rendered with Qt's SVG renderer."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QByteArray, QRectF
    from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    from engine.data.ink import Ink
    from engine.data.svg import ink_to_svg

    app = QGuiApplication.instance() or QGuiApplication([])
    img = QImage(1400, 40 + 220 * len(seeds), QImage.Format_RGB32)
    img.fill(QColor("white"))
    painter = QPainter(img)
    for row, seed in enumerate(seeds):
        for col, pk in enumerate((f, q)):
            pts = np.stack(list(pk.generate_ink(text, bias=bias, seed=seed)))
            svg = ink_to_svg(Ink.from_stroke3(pts))
            QSvgRenderer(QByteArray(svg.encode())).render(painter, QRectF(20 + col * 700, 20 + row * 220, 640, 180))
    painter.end()
    img.convertToFormat(QImage.Format_Grayscale8).save(path)
    del app


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--text", help="text run or checkpoint folder")
    ap.add_argument("--ink", help="ink-synthesis run or checkpoint folder")
    ap.add_argument("--png", default=None, help="also draw float (left) vs int8 (right) lines to this PNG")
    ap.add_argument("--corpus", default=str(Path(__file__).resolve().parents[2] / "shared/data/tinyshakespeare.txt"))
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    from engine.export.exporter import export_package
    from engine.runtime import load_package

    with tempfile.TemporaryDirectory(prefix="scribe-int8-") as d:
        if args.text:
            f = load_package(export_package(args.text, Path(d) / "text-float"))
            q = load_package(export_package(args.text, Path(d) / "text-int8", quantize="int8"))
            print(f"### Text: {args.text} ({f.card['model_config']}, val_loss {f.card['metrics'].get('val_loss')})\n")
            print("\n".join(text_quality(f, q, Path(args.corpus).read_text(encoding="utf-8"))) + "\n")
        if args.ink:
            f = load_package(export_package(args.ink, Path(d) / "ink-float"))
            q = load_package(export_package(args.ink, Path(d) / "ink-int8", quantize="int8"))
            print(f"### Ink: {args.ink} ({f.card['model_config']}, val_loss {f.card['metrics'].get('val_loss')})\n")
            print("\n".join(ink_quality(f, q)) + "\n")
            if args.png:
                ink_png(f, q, args.png)
                print(f"float (left) vs int8 (right), bias 0.8, seeds 1-3: {args.png}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
