"""``scribe``: the command-line interface.

Commands are registered by small modules (``engine.cli.text``, ``engine.cli.ink``, ``engine.cli.export`` ...): each has
``register(groups)`` where ``groups`` maps "train", "sample", "import", "eval" and "" (top level) to argparse
subparser collections. User errors (ScribeError) print one line and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from engine.core.errors import ScribeError

COMMAND_MODULES = ["engine.cli.text", "engine.cli.probe", "engine.cli.data", "engine.cli.ink", "engine.cli.export",
                   "engine.cli.evaluate"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scribe", description="Scribe Studio engine: train, sample, import, export.")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    top.required = True
    groups = {"": top}
    for name, help_ in (("train", "train a model"), ("sample", "generate from a model"),
                        ("import", "import handwriting data"), ("eval", "score a model on data")):
        p = top.add_parser(name, help=help_)
        sub = p.add_subparsers(dest="what", metavar="WHAT")
        sub.required = True
        groups[name] = sub
    for mod in COMMAND_MODULES:
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:
                continue
            raise
        m.register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. A reader that goes away (``scribe ... | head``) ends any command quietly, with the
    status of a command ended by SIGPIPE, whether it was printing help, a summary or a sample."""
    try:
        return _main(argv)
    except BrokenPipeError:
        from engine.cli.common import quiet_broken_pipe

        return quiet_broken_pipe()


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit:
        sys.stdout.flush()   # --help into a closed pipe: the BrokenPipeError here, not at interpreter exit
        raise
    args.argv = list(argv if argv is not None else sys.argv[1:])   # what ``--nproc`` starts again in each process
    try:
        rc = args.func(args)
    except ScribeError as exc:
        if not getattr(exc, "quiet", False):   # quiet: another process of a multi-process run says it
            print(f"scribe: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except KeyboardInterrupt:
        print("scribe: interrupted", file=sys.stderr)
        return 130
    sys.stdout.flush()       # what is still buffered: written (or found unwanted) before we return
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
