"""``scribe export MODEL_DIR --out PACKAGE``: a checkpoint -> an ONNX model package."""

from __future__ import annotations


def register(groups) -> None:
    p = groups[""].add_parser("export", help="export a trained model as an ONNX model package",
                              description="Write a model package (model.onnx + card.json) that the app and "
                                          "'scribe sample' run with onnxruntime, without torch.")
    p.add_argument("model", metavar="MODEL_DIR", help="run folder or checkpoint folder")
    p.add_argument("--out", required=True, metavar="PACKAGE", help="package folder to write")
    p.add_argument("--name", default=None, help="display name (default: the package folder's name)")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best",
                   help="which checkpoint of a run folder to export")
    p.add_argument("--exporter", choices=["dynamo", "legacy"], default="dynamo",
                   help="torch's ONNX exporter (default: dynamo)")
    p.add_argument("--quantize", choices=["int8"], default=None,
                   help="int8 weights: ~4x smaller and faster on the CPU; samples drift slightly from the "
                        "float model's (the same seed no longer reproduces the torch sample)")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    from engine.export.exporter import export_package

    out = export_package(args.model, args.out, name=args.name, prefer=args.checkpoint, exporter=args.exporter,
                         quantize=args.quantize)
    import json

    card = json.loads((out / "card.json").read_text(encoding="utf-8"))
    size = (out / "model.onnx").stat().st_size
    print(f"exported {card['kind']} model to {out} ({size / 1e6:.1f} MB; parity over "
          f"{card['parity']['steps']} steps: max difference {card['parity']['max_diff']:.2g})")
    if "quantization" in card:
        q = card["quantization"]
        print(f"int8 weights: outputs drift from the float model by up to {q['drift']['max_diff']:.2g} over "
              f"{q['drift']['steps']} steps")
    return 0
