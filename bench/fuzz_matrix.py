"""Fuzz matrix: hostile inputs against the real ``scribe`` command line, one subprocess per case.

The harness builds its own bad inputs in a scratch folder (nothing is downloaded):

- corpus      corpora: binary, empty, BOM only, invalid / truncated UTF-8, CESU surrogates, NUL after 4 MiB,
              a 5 MiB line, every Unicode code point, FIFOs, /dev/zero, folders of mixed files, link loops
              -> ``train text``, ``probe``, ``synth``
- inkml       InkML files: malformed, truncated, entity bombs, external entities, absurd / infinite
              coordinates, huge hex values, difference-encoding overflow, empty traces, bad channels, huge
              traces and annotations -> ``import inkml`` and ``sample ink --prime-ink``
- iam         IAM-OnDB lineStrokes XML and trees: the same file damage plus FIFOs, link loops, dangling
              links, odd names, broken transcriptions, a corrupt import cache -> ``import iam``, ``--prime-ink``
- dataset     ink datasets with damaged meta.json / data.npz -> ``eval ink``, ``train ink``
- package     tiny exported packages (``engine.export.fixtures.make_tiny_package``) with card.json fields
              deleted / retyped / nested / oversized, model.onnx truncated / zeroed / bit-flipped / swapped
              between models, bad SCRIBE_ORT_* settings -> ``sample text``, ``sample ink``, ``eval ink``
- checkpoint  run folders of tiny ``scribe train`` runs with damaged cards, model.safetensors truncated /
              zeroed / bit-flipped / with a hostile header / swapped between runs, damaged resume state, and
              pointer files (last.json / best.json) with ``..``, absolute paths, links, garbage
              -> ``sample text``, ``probe``, ``export``, ``train text --resume``
- app-reader  the same run folders through the app's torch-free reader (studio.train.data)
- cli         every numeric flag of every command with 0, -1, nan, inf, -inf, 1e30, 0.5, text and ''
- pipe        every command writing to stdout with the reader gone (``| head``)
- concurrency two runs / imports / exports / syntheses on one --out, sampling while a run saves
- kill        kill -9 (and Ctrl-C) at random moments of training (checkpoint writes), import, synth, export
              and sampling; then the folder must load and the run resume

Every case is ``python -m engine.cli ...`` with a timeout (and a memory limit), classified as

    ok             exit 0 with valid output
    clean-error    non-zero exit with a one-line message, no traceback
    traceback      a Python traceback on stderr, or a death by a signal / an exit without a message
    hang           no exit before the timeout
    data-loss      a file or checkpoint that should survive is gone, changed or unloadable
    silent-accept  exit 0 for an input that must be refused, or exit 0 with invalid output

Usage::

    python bench/fuzz_matrix.py --quick                       # ~100 cases, a few minutes
    python bench/fuzz_matrix.py --out bench/fuzz-report.md    # the full matrix (~1600 cases)
    python bench/fuzz_matrix.py --fraction 0.3 --out F        # a third of each family (~540 cases)
    python bench/fuzz_matrix.py --family inkml --only bomb --keep -v   # one group, inputs kept

Cases run one at a time (the training ones with ``--threads 1``); the harness itself never imports torch.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import select
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback as tb
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CLASSES = ("ok", "clean-error", "traceback", "hang", "data-loss", "silent-accept")
FAMILIES = ("corpus", "inkml", "iam", "dataset", "package", "checkpoint", "app-reader", "cli", "pipe",
            "outputs", "concurrency", "kill")
BAD_CLASSES = ("traceback", "hang", "data-loss", "silent-accept")
MEMORY_LIMIT = 6 * 2**30          # address space per case: a runaway allocation fails instead of the machine

TEXT_TINY = ["--batch", "2", "--seq-len", "8", "--layers", "1", "--hidden", "8", "--embed", "4", "--eval-blocks",
             "2", "--stateful-streams", "8", "--warmup", "1", "--threads", "1", "--quiet"]
INK_TINY = ["--batch", "2", "--layers", "1", "--hidden", "8", "--mixtures", "2", "--window-k", "2", "--warmup", "1",
            "--max-points", "5000", "--threads", "1", "--quiet"]


# ============================================================================================ running cases

@dataclass
class Run:
    """One finished subprocess."""
    argv: list[str]
    rc: int | None
    out: bytes
    err: str
    seconds: float
    timed_out: bool = False
    signalled: str = ""          # what the harness did to it: "pipe", "interrupt", "kill"
    timeout: float = 0.0


@dataclass
class Case:
    family: str
    name: str
    make: Callable[[Path], list] | None = None         # builds the inputs in the case folder, returns argv
    expect: str = "any"                                  # "error": must be refused; "ok" / "any": may run
    timeout: float = 45.0
    valid: Callable[[Path, Run], str | None] | None = None   # exit 0: the output is valid (None) or why not
    check: Callable[[Path, Run], str | None] | None = None   # afterwards: what was lost (None: nothing)
    interrupt_after: float | None = None                 # Ctrl-C after this long (long work asked for)
    stdout_limit: int | None = None                      # the reader goes away after this many bytes
    env: dict | None = None
    python: str | None = None                            # run ``python -c CODE argv`` instead of scribe
    fsize: int | None = None                             # a full disk: no file may grow past this many bytes
    driver: Callable | None = None                       # a multi-process case: driver(d, runner) -> Outcome


@dataclass
class Outcome:
    cls: str
    note: str = ""
    command: str = ""
    seconds: float = 0.0


def _quote(argv) -> str:
    return " ".join(shlex.quote(str(a)) for a in argv)


class _Drain:
    """A pipe read to its end in a thread, then read like the temporary file the other cases get."""

    def __init__(self, pipe, cap: int = 1 << 20):
        self.buf = bytearray()
        self.pipe = pipe
        self.thread = threading.Thread(target=self._run, args=(cap,), daemon=True)
        self.thread.start()

    def _run(self, cap: int) -> None:
        fd = self.pipe.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            if len(self.buf) < cap:
                self.buf += chunk[: cap - len(self.buf)]

    def seek(self, _pos: int) -> None:
        self.thread.join(timeout=10)

    def read(self, n: int) -> bytes:
        return bytes(self.buf[:n])

    def close(self) -> None:
        self.pipe.close()


class Runner:
    """Runs ``python -m engine.cli ARGV`` (or ``python -c CODE``) with a timeout, a memory limit and one
    thread, in its own process group (so the harness can end it and its children)."""

    def __init__(self, work: Path, verbose: bool = False, timeout_scale: float = 1.0):
        self.work = work
        self.verbose = verbose
        self.timeout_scale = timeout_scale
        home = work / "home"
        home.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                        SCRIBE_ORT_THREADS="1", SCRIBE_STUDIO_HOME=str(home), PYTHONUNBUFFERED="1",
                        PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.env.pop("PYTHONWARNINGS", None)

    @staticmethod
    def _limits(fsize: int | None = None):
        def apply() -> None:
            try:
                resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
                if fsize is not None:   # a full disk: writing past fsize bytes fails with EFBIG (SIGXFSZ ignored)
                    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
            except (ValueError, OSError):
                pass
        return apply

    def command(self, argv, python: str | None = None) -> list[str]:
        argv = [str(a) for a in argv]
        return [sys.executable, "-c", python, *argv] if python else [sys.executable, "-m", "engine.cli", *argv]

    def start(self, argv, *, env: dict | None = None, python: str | None = None, stdout=None,
              fsize: int | None = None) -> subprocess.Popen:
        e = dict(self.env, **(env or {}))
        if fsize is not None:
            e["PYTHONDONTWRITEBYTECODE"] = "1"
        if fsize is None:
            out_f = tempfile.TemporaryFile() if stdout is None else None
            err_f = tempfile.TemporaryFile()
            p = subprocess.Popen(self.command(argv, python), stdin=subprocess.DEVNULL,
                                 stdout=stdout if stdout is not None else out_f, stderr=err_f, cwd=self.work, env=e,
                                 start_new_session=True, preexec_fn=self._limits(fsize))
        else:   # the case's own stdout / stderr must not be files: the size limit would cut its messages
            p = subprocess.Popen(self.command(argv, python), stdin=subprocess.DEVNULL,
                                 stdout=stdout if stdout is not None else subprocess.PIPE, stderr=subprocess.PIPE,
                                 cwd=self.work, env=e, start_new_session=True, preexec_fn=self._limits(fsize))
            out_f = _Drain(p.stdout) if stdout is None else None
            err_f = _Drain(p.stderr)
        p.out_f, p.err_f = out_f, err_f
        p.t0 = time.monotonic()
        p.argv = [str(a) for a in argv]
        return p

    @staticmethod
    def _killgroup(p: subprocess.Popen, sig=signal.SIGKILL) -> None:
        try:
            os.killpg(p.pid, sig)       # its own group (start_new_session): the case and its children only
        except (ProcessLookupError, PermissionError):
            pass

    def finish(self, p: subprocess.Popen, timeout: float, signalled: str = "") -> Run:
        """Wait for ``p`` until ``timeout`` seconds after its start; kill its group when it is over."""
        timed_out = False
        try:
            p.wait(timeout=max(0.1, p.t0 + timeout - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            self._killgroup(p)
            p.wait()
        self._killgroup(p)           # children it left behind (a pool's workers)
        out = b""
        if p.out_f is not None:
            p.out_f.seek(0)
            out = p.out_f.read(1 << 20)
            p.out_f.close()
        p.err_f.seek(0)
        err = p.err_f.read(1 << 18).decode("utf-8", "replace")
        p.err_f.close()
        return Run(p.argv, None if timed_out else p.returncode, out, err, time.monotonic() - p.t0, timed_out,
                   signalled, timeout)

    def run(self, argv, *, timeout: float = 45.0, interrupt_after: float | None = None,
            kill_after: float | None = None, stdout_limit: int | None = None, env: dict | None = None,
            python: str | None = None, fsize: int | None = None) -> Run:
        timeout *= self.timeout_scale
        p = self.start(argv, env=env, python=python, stdout=subprocess.PIPE if stdout_limit is not None else None,
                       fsize=fsize)
        signalled = ""
        if stdout_limit is not None:
            got = 0
            fd = p.stdout.fileno()
            while got < stdout_limit and time.monotonic() - p.t0 < timeout:
                r, _, _ = select.select([fd], [], [], 0.2)
                if r:
                    chunk = os.read(fd, stdout_limit - got)
                    if not chunk:
                        break
                    got += len(chunk)
            p.stdout.close()        # the reader goes away, like `| head -c N`
            signalled = "pipe"
        after = interrupt_after if interrupt_after is not None else kill_after
        if after is not None:
            try:
                p.wait(timeout=max(0.0, p.t0 + after - time.monotonic()))
            except subprocess.TimeoutExpired:
                if kill_after is not None:
                    self._killgroup(p)
                    signalled = "kill"
                else:
                    try:
                        os.kill(p.pid, signal.SIGINT)
                    except ProcessLookupError:
                        pass
                    signalled = "interrupt"
        r = self.finish(p, timeout, signalled)
        if self.verbose:
            print(f"    $ scribe {_quote(argv)[:300]}\n    -> rc={r.rc} {r.seconds:.1f}s "
                  f"{r.err.strip().splitlines()[-1][:200] if r.err.strip() else ''}", flush=True)
        return r

    def python_code(self, code: str, *args, timeout: float = 300.0) -> Run:
        return self.run(list(args), python=code, timeout=timeout)


def classify(case: Case, d: Path, r: Run) -> tuple[str, str]:
    """The class of one run (before the case's data-loss check)."""
    err = r.err
    if r.timed_out:
        return "hang", f"no exit within {r.timeout:.0f} s"
    if "Traceback (most recent call last)" in err:
        lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(" ")]
        return "traceback", (lines[-1] if lines else "Traceback")[:300]
    if r.rc is not None and r.rc < 0 and r.signalled != "kill":
        try:
            name = signal.Signals(-r.rc).name
        except ValueError:
            name = str(-r.rc)
        return "traceback", f"died of signal {name}"
    lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
    if r.signalled == "pipe" and r.rc in (0, 141):
        return "ok", "quiet after the reader went away" if r.rc else ""
    if r.signalled == "interrupt" and r.rc in (0, 130):
        return "ok", "stopped cleanly by Ctrl-C"
    if r.rc == 0:
        if case.expect == "error":
            return "silent-accept", "exit 0 for an input that must be refused" + (f" ({lines[-1][:160]})" if lines else "")
        problem = case.valid(d, r) if case.valid else None
        if problem:
            return "silent-accept", f"exit 0 but {problem}"
        return "ok", ""
    msg = next((ln for ln in reversed(lines) if "error" in ln.lower() or "interrupted" in ln.lower()), "")
    if not msg:
        return "traceback", f"exit {r.rc} without an error message" + (f" (last: {lines[-1][:160]})" if lines else "")
    note = msg[:300]
    if lines and msg != lines[-1]:
        note += " [message is not the last line]"
    return "clean-error", note


# ============================================================================================ small helpers

def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _copy(src: Path, dst: Path) -> Path:
    if src.is_dir():
        shutil.copytree(src, dst, symlinks=True)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    return dst


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def _symlink(path: Path, target) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)
    return path


def _bitflip(data: bytes, n: int, seed: int, start: int = 0) -> bytes:
    b = bytearray(data)
    rng = random.Random(seed)
    for _ in range(n):
        i = rng.randrange(start, len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder``: relative path -> (size, mtime_ns)."""
    out = {}
    for dirpath, _dirs, files in os.walk(folder):
        for f in files:
            p = Path(dirpath) / f
            try:
                st = p.lstat()
            except OSError:
                continue
            out[str(p.relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return out


def _changed(before: dict, after: dict, ignore=()) -> list[str]:
    def skip(k):
        return any(part in k for part in ignore)
    lost = [k for k in before if k not in after and not skip(k)]
    changed = [k for k in before if k in after and before[k] != after[k] and not skip(k)]
    return [f"{k} deleted" for k in lost] + [f"{k} changed" for k in changed]


def safetensors_ok(path: Path) -> str | None:
    """A torch-free check of a safetensors file: header length, JSON header, data offsets within the file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return f"{path.name} unreadable ({exc.strerror})"
    if len(raw) < 8:
        return f"{path.name} truncated"
    n = struct.unpack("<Q", raw[:8])[0]
    if n > len(raw) - 8:
        return f"{path.name} header longer than the file"
    try:
        header = json.loads(raw[8:8 + n])
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return f"{path.name} header is damaged"
    if 8 + n + end != len(raw):
        return f"{path.name} data size disagrees with its header"
    return None


def checkpoint_ok(ck: Path) -> str | None:
    """A torch-free check that a checkpoint folder is complete: a valid card and sane weights files."""
    from engine.core.card_schema import read_json, validate_card
    from engine.core.errors import ScribeError

    try:
        validate_card(read_json(ck / "card.json"), str(ck / "card.json"), package=False)
    except ScribeError as exc:
        return f"its checkpoint card is invalid ({str(exc)[:200]})"
    for f in ("model.safetensors", "state.safetensors"):
        problem = safetensors_ok(ck / f)
        if problem:
            return f"checkpoint {ck.name}: {problem}"
    return None


def run_last(run: Path) -> Path | None:
    """The checkpoint folder run/last.json names (read plainly: the harness's own view), or None."""
    try:
        rel = json.loads((run / "last.json").read_text())["path"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    p = run / rel
    return p if p.is_dir() else None


def run_step(run: Path) -> int:
    ck = run_last(run)
    if ck is None:
        return -1
    try:
        return int(json.loads((ck / "card.json").read_text()).get("step", -1))
    except (OSError, ValueError):
        return -1


def v_run(folder: str):
    def valid(d: Path, r: Run) -> str | None:
        run = d / folder
        ck = run_last(run)
        if ck is None:
            return f"{folder}/last.json names no checkpoint"
        return checkpoint_ok(ck)
    return valid


def v_text(d: Path, r: Run) -> str | None:
    if not r.out:
        return "nothing on stdout"
    try:
        r.out.decode("utf-8")
    except UnicodeDecodeError:
        return "stdout is not UTF-8"
    return None


def v_svg(name: str = "o.svg"):
    def valid(d: Path, r: Run) -> str | None:
        p = d / name
        if not p.is_file():
            return f"{name} not written"
        try:
            root = ET.parse(p).getroot()
        except ET.ParseError as exc:
            return f"{name} is not XML ({exc})"
        return None if root.tag.endswith("svg") else f"{name} is not an SVG"
    return valid


def dataset_ok(folder: Path) -> str | None:
    from engine.core.errors import ScribeError
    from engine.data.ink_dataset import InkDataset

    try:
        ds = InkDataset.load(folder)
    except ScribeError as exc:
        return f"the dataset does not load ({str(exc)[:200]})"
    except Exception as exc:   # noqa: BLE001 - the harness reports anything
        return f"the dataset does not load ({type(exc).__name__}: {str(exc)[:200]})"
    if len(ds) == 0:
        return "the dataset is empty"
    return None


def v_dataset(folder: str = "ds"):
    return lambda d, r: dataset_ok(d / folder)


def package_ok(folder: Path) -> str | None:
    from engine.core.errors import ScribeError
    from engine.runtime.package import check_package_files, read_card

    try:
        check_package_files(folder, read_card(folder))
    except ScribeError as exc:
        return f"the package does not load ({str(exc)[:200]})"
    return None


def v_all(*checks):
    def valid(d, r):
        for c in checks:
            problem = c(d, r)
            if problem:
                return problem
        return None
    return valid


def unchanged(*folders: str, ignore=(".run.lock",)):
    """A case check: the named folders (relative to the case folder) keep every file as it was before the
    command (snapshot taken when the case's inputs are built: see :func:`_snap`)."""
    def check(d: Path, r: Run) -> str | None:
        problems = []
        for f in folders:
            before = json.loads((d / f".snap-{f.replace('/', '_')}.json").read_text())
            problems += _changed(before, {k: list(v) for k, v in _snapshot(d / f).items()}, ignore)
        return "; ".join(problems[:4]) or None
    return check


def _snap(d: Path, *folders: str) -> None:
    for f in folders:
        (d / f".snap-{f.replace('/', '_')}.json").write_text(json.dumps(_snapshot(d / f)))


# ============================================================================================ fixtures

GOOD_TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
             "First Citizen:\nYou are all resolved rather to die than to famish?\n")


def wave(n: int = 80, x0: float = 0.0, scale: float = 1.0) -> list[tuple[float, float]]:
    """Handwriting-like points: a wavy line, tall enough for its x-height to be measured."""
    return [(x0 + i * 2.0 * scale, 10.0 * scale * math.sin(i / 3.0) + (i % 7) * scale) for i in range(n)]


def trace_text(points) -> str:
    return ", ".join(f"{x:.2f} {y:.2f}" for x, y in points)


def inkml_doc(traces: list[str] | None = None, truth: str = "ab", channels=("X", "Y"), prolog: str = "",
              extra: str = "", root: str = "ink") -> str:
    traces = traces if traces is not None else [trace_text(wave(40)), trace_text(wave(40, 90))]
    fmt = "".join(f'<channel name="{c}" type="decimal"/>' for c in channels)
    body = "".join(f"<trace>{t}</trace>" for t in traces)
    ann = f'<annotation type="truth">{truth}</annotation>' if truth is not None else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<{root} xmlns="http://www.w3.org/2003/InkML">'
            f"<traceFormat>{fmt}</traceFormat>{ann}{extra}{body}</{root}>")


def iam_doc(strokes: list[list[tuple]] | None = None, root: str = "WhiteboardCaptureSession",
            prolog: str = "") -> str:
    if strokes is None:
        strokes = [[(f"{x:.0f}", f"{y:.0f}", f"{i * 0.01:.2f}") for i, (x, y) in enumerate(wave(40, 0, 20))],
                   [(f"{x:.0f}", f"{y:.0f}", f"{0.5 + i * 0.01:.2f}") for i, (x, y) in enumerate(wave(40, 1800, 20))]]
    body = "".join("<Stroke>" + "".join(
        "<Point" + "".join(f' {k}="{v}"' for k, v in zip(("x", "y", "time"), pt) if v is not None) + "/>"
        for pt in s) + "</Stroke>" for s in strokes)
    return (f'<?xml version="1.0" encoding="ISO-8859-1"?>{prolog}<{root}><StrokeSet>{body}</StrokeSet>'
            f"</{root}>")


IAM_ASCII = "OCR:\n\nsome text\n\nCSR:\n\nabc de\nfgh ij\n"


def iam_tree(d: Path, xml: bytes | str | None = None, ascii_text: bytes | str | None = IAM_ASCII,
             name: str = "a01-000u-01") -> Path:
    root = d / "iam"
    form = name.rsplit("-", 1)[0]
    form_dir = form[:-1] if form[-1].isalpha() else form
    _write(root / "lineStrokes" / "a01" / form_dir / f"{name}.xml", iam_doc() if xml is None else xml)
    _write(root / "lineStrokes" / "a01" / form_dir / "a01-000u-02.xml", iam_doc())
    if ascii_text is not None:
        _write(root / "ascii" / "a01" / form_dir / f"{form}.txt", ascii_text)
    else:
        (root / "ascii").mkdir(parents=True, exist_ok=True)
    return root


class Fixtures:
    """Valid inputs, each built once on first use (real ``scribe`` runs where the CLI can make them)."""

    def __init__(self, runner: Runner, root: Path):
        self.r, self.root = runner, root
        self._built: dict[str, Path] = {}

    def __getattr__(self, name: str) -> Path:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._built:
            maker = getattr(type(self), "make_" + name)
            t0 = time.monotonic()
            path = maker(self, self.root / name)
            print(f"  [fixture {name}: {time.monotonic() - t0:.1f} s]", flush=True)
            self._built[name] = path
        return self._built[name]

    def _scribe(self, argv, timeout=300) -> None:
        r = self.r.run(argv, timeout=timeout)
        if r.rc != 0:
            raise RuntimeError(f"building a fixture failed: scribe {_quote(argv)}\n{r.err[-3000:]}")

    def _tiny(self, out: Path, kind: str, **kw) -> Path:
        code = ("import sys, json; from engine.export.fixtures import make_tiny_package as m; "
                "m(sys.argv[1], sys.argv[2], **json.loads(sys.argv[3]))")
        r = self.r.python_code(code, kind, out, json.dumps(kw))
        if r.rc != 0:
            raise RuntimeError(f"make_tiny_package({kind}) failed:\n{r.err[-3000:]}")
        return out

    def make_corpus(self, p: Path) -> Path:
        src = ROOT / "assets" / "corpora" / "tinyshakespeare.txt"
        text = src.read_text(encoding="utf-8")[:3000] if src.is_file() else GOOD_TEXT * 12
        return _write(p.with_suffix(".txt"), text)

    def make_text_pkg(self, p):
        return self._tiny(p, "text", name="tiny text")

    def make_text_pkg_seed(self, p):             # same architecture, other weights
        return self._tiny(p, "text", seed=1)

    def make_text_pkg_small(self, p):            # other vocabulary and state sizes
        return self._tiny(p, "text", hidden=8, layers=1, vocab="abc \n")

    def make_synth_pkg(self, p):
        return self._tiny(p, "ink-synthesis")

    def make_pred_pkg(self, p):
        return self._tiny(p, "ink-prediction")

    def make_ink_ds(self, p):
        self._scribe(["synth", "--lines", "12", "--writers", "2", "--min-chars", "5", "--max-chars", "15", "--hz",
                      "30", "--mix", "0", "--out", p])
        return p

    def make_text_run(self, p):
        self._scribe(["train", "text", "--corpus", self.corpus, "--out", p, "--steps", "3", "--eval-every", "1",
                      *TEXT_TINY])
        return p

    def make_text_run_big(self, p):               # other hidden size: its weights do not fit text_run's card
        self._scribe(["train", "text", "--corpus", self.corpus, "--out", p, "--steps", "1", "--eval-every", "1",
                      *[v if v != "8" else "12" for v in TEXT_TINY]])
        return p

    def make_ink_run(self, p):
        self._scribe(["train", "ink", "--data", self.ink_ds, "--out", p, "--kind", "synthesis", "--steps", "2",
                      "--eval-every", "1", *INK_TINY])
        return p

    def make_inkml_dir(self, p):
        for i in range(3):
            _write(p / f"line{i}.inkml", inkml_doc(truth=f"line {i}"))
        return p

    def make_inkml_many(self, p):                 # enough files for an import to take a few seconds
        for i in range(400):
            _write(p / f"l{i:04d}.inkml", inkml_doc([trace_text(wave(300, j * 700)) for j in range(3)],
                                                    truth=f"line {i}"))
        return p

    def make_iam(self, p):
        return iam_tree(p)


# ============================================================================================ families

def _corpus_variants():
    rng = random.Random(1)
    binary = bytes(rng.randrange(256) for _ in range(4096))
    good = GOOD_TEXT.encode()
    all_cp = "".join(chr(c) for c in range(0x20, 0x110000) if not 0xD800 <= c < 0xE000).encode("utf-8")

    def f(content: bytes):
        return lambda d: _write(d / "c.txt", content)

    def mixed(d):
        m = d / "mixed"
        _write(m / "good.txt", good)
        _write(m / "bin.txt", binary)
        _write(m / "empty.txt", b"")
        _write(m / "latin1.txt", "café naïve".encode("latin-1"))
        _write(m / "sub" / "deep.md", "# notes\nmore text here\n")
        _write(m / ".hidden.txt", b"\x00\x01")
        _write(m / "image.png", b"\x89PNG\r\n\x1a\n" + binary)
        _fifo(m / "fifo.txt")
        _symlink(m / "dangling.txt", m / "nowhere.txt")
        _symlink(m / "loop.txt", m / "loop.txt")
        _symlink(m / "zero.txt", "/dev/zero")
        return m

    def folder(files: dict):
        def make(d):
            m = d / "folder"
            m.mkdir()
            for name, content in files.items():
                _write(m / name, content)
            return m
        return make

    def deep(d):
        p = d / "deep"
        q = p
        for i in range(120):
            q = q / f"d{i}"
        _write(q / "t.txt", good)
        return p

    def fifo(d):
        return _fifo(d / "c.txt")

    def loop(d):
        return _symlink(d / "c.txt", d / "c.txt")

    def dir_named_txt(d):
        (d / "c.txt").mkdir()
        return d / "c.txt"

    # name, builder, must be refused by train text / probe
    return [
        ("binary", f(binary), True),
        ("empty", f(b""), True),
        ("bom-only", f(b"\xef\xbb\xbf"), True),
        ("bom-text", f(b"\xef\xbb\xbf" + good), False),
        ("invalid-utf8", f(good + b"\xff\xfe" + good), True),
        ("truncated-utf8", f(good + "é".encode()[:1]), True),
        ("latin1", f("café naïve résumé\n".encode("latin-1") * 20), True),
        ("cesu-surrogate", f(good + b"\xed\xa0\x80" + good), True),
        ("nul-after-4mib", f(b"a" * (4 * 2**20 + 10) + b"\x00" + b"b"), True),
        ("huge-line-5mib", f(b"ab" * (5 * 2**19)), False),
        ("single-char", f(b"a"), True),
        ("two-chars", f(b"ab"), True),
        ("whitespace", f(b"   \n\n  \t"), False),
        ("crlf", f(good.replace(b"\n", b"\r\n") * 5), False),
        ("control-chars", f(bytes(range(1, 32)) * 50), False),
        ("all-codepoints", f(all_cp), False),
        ("mixed-folder", mixed, False),
        ("empty-folder", folder({}), True),
        ("folder-all-bad", folder({"a.txt": binary, "b.txt": b"", "c.txt": b"\xff" * 10}), True),
        ("folder-only-hidden", folder({".a.txt": good}), True),
        ("deep-folder", deep, False),
        ("fifo", fifo, True),
        ("symlink-loop", loop, True),
        ("dir-named-txt", dir_named_txt, True),
        ("dev-zero", lambda d: Path("/dev/zero"), True),
        ("missing", lambda d: d / "nowhere.txt", True),
    ]


def corpus_family(fx: Fixtures) -> list[Case]:
    cases = []
    for name, build, bad in _corpus_variants():
        def train(d, build=build):
            return ["train", "text", "--corpus", build(d), "--out", d / "run", "--steps", "2", "--eval-every", "2",
                    *TEXT_TINY]

        def probe(d, build=build):
            return ["probe", "--corpus", build(d), "--cell", "lstm", "--hidden", "4", "--embed", "2", "-k", "3",
                    "--batch", "2", "--warmup", "2"]

        def synth(d, build=build):
            return ["synth", "--corpus", build(d), "--lines", "2", "--writers", "1", "--out", d / "ds",
                    "--min-chars", "2", "--max-chars", "20", "--hz", "30"]

        expect = "error" if bad else "any"
        cases.append(Case("corpus", f"train-text/{name}", train, expect, 150, v_run("run")))
        cases.append(Case("corpus", f"probe/{name}", probe, expect, 90, v_text))
        synth_bad = bad and name not in ("two-chars", "single-char", "whitespace")
        cases.append(Case("corpus", f"synth/{name}", synth, "error" if synth_bad else "any", 90, v_dataset()))
    return cases


def _inkml_variants():
    good = inkml_doc()
    pts = trace_text(wave(40))
    bomb = ('<!DOCTYPE ink [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
            '<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">'
            '<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">]>')
    ext = '<!DOCTYPE ink [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    big_trace = trace_text(wave(200_000))
    # name, document (str / bytes), must be refused
    return [
        ("good", good, False),
        ("malformed", "<ink><trace>1 2, 3 4</ink>", True),
        ("truncated", good[: len(good) // 2], True),
        ("empty-file", "", True),
        ("binary", bytes(random.Random(2).randrange(256) for _ in range(3000)), True),
        ("entity-bomb", inkml_doc(truth="&h;", prolog=bomb), True),
        ("external-entity", inkml_doc(truth="&x;", prolog=ext), True),
        ("dtd-only", inkml_doc(prolog="<!DOCTYPE ink>"), False),
        ("wrong-root", inkml_doc(root="svg"), True),
        ("coord-1e300", inkml_doc([pts + ", 1e300 5"]), True),
        ("coord-inf", inkml_doc([pts + ", inf 5"]), True),
        ("coord-1e400", inkml_doc([pts + ", 1e400 5"]), True),
        ("coord-nan", inkml_doc([pts + ", nan nan", trace_text(wave(40, 90))]), False),
        ("coord-neg-huge", inkml_doc(["-1e308 -1e308, " + pts]), True),
        ("hex-1000-digits", inkml_doc([pts + ", #" + "F" * 1000 + " 5"]), True),
        ("hex-64-bit", inkml_doc([pts + ", #FFFFFFFFFFFFFFFF 5"]), True),
        ("hex-small", inkml_doc(["#0A #0B, #1A #2B, " + pts]), False),
        ("second-diff-overflow", inkml_doc(['!0 0 "' + ", ".join(["1e307 1e307"] * 50)]), True),
        ("first-diff-no-start", inkml_doc(["'1 '2, 3 4"]), True),
        ("empty-traces", inkml_doc(["", " ", ""]), True),
        ("odd-value-count", inkml_doc(["1 2 3"]), True),
        ("too-many-values", inkml_doc(["1 2 3, 4 5 6"]), True),
        ("no-xy-channels", inkml_doc(channels=("T",)), True),
        ("x-channel-only", inkml_doc(["1, 2, 3"], channels=("X",)), True),
        ("zero-channels", inkml_doc(channels=()), False),
        ("single-point", inkml_doc(["5 5"]), True),
        ("all-unknown", inkml_doc(["? ?, ? ?, ? ?"]), True),
        ("star-first", inkml_doc(["* *, " + pts]), False),
        ("garbage-values", inkml_doc(["1 2, foo bar, 3 4"]), True),
        ("sign-apart", inkml_doc(["- 5 3, -\t7 4, -\n9 5, " + pts]), False),
        ("time-force-ms", inkml_doc([", ".join(f"{x:.1f} {y:.1f} {i * 10} 0.5" for i, (x, y) in enumerate(wave(60)))],
                                     channels=("X", "Y", "T", "F")).replace('name="T" type="decimal"',
                                                                            'name="T" type="decimal" units="ms"'),
         False),
        ("tf-values", inkml_doc(["1 2 T, 3 4 F, " + ", ".join(f"{x} {y} T" for x, y in wave(40))],
                                channels=("X", "Y", "F")), False),
        ("200k-points", inkml_doc([big_trace]), False),
        ("10k-traces", inkml_doc([trace_text(wave(3, i * 10)) for i in range(10_000)]), False),
        ("deep-nesting", inkml_doc(extra="<traceGroup>" * 50_000 + "</traceGroup>" * 50_000), False),
        ("long-truth", inkml_doc(truth="word " * 100_000), False),
        ("control-char-truth", inkml_doc(truth="a\x01b"), True),
        ("utf16-declared", inkml_doc().replace('encoding="UTF-8"', 'encoding="UTF-16"'), True),
        ("utf16-real", inkml_doc().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"), False),
        ("prefixed-root", good.replace("<ink xmlns=", "<i:ink xmlns:i=").replace("</ink>", "</i:ink>"), False),
        ("nested-groups", inkml_doc(extra="<traceGroup><annotation type=\"truth\">x</annotation><traceGroup>"
                                          f"<trace>{pts}</trace></traceGroup></traceGroup>"), False),
    ]


def inkml_family(fx: Fixtures) -> list[Case]:
    cases = []
    for name, doc, bad in _inkml_variants():
        def imp(d, doc=doc):
            return ["import", "inkml", _write(d / "f.inkml", doc), "--out", d / "ds"]

        def prime(d, doc=doc):
            return ["sample", "ink", "--model", fx.synth_pkg, "--text", "ab", "--prime-ink",
                    _write(d / "f.inkml", doc), "--svg", d / "o.svg", "--max-steps", "20", "--seed", "1"]

        expect = "error" if bad else "any"
        cases.append(Case("inkml", f"import/{name}", imp, expect, 90, v_dataset()))
        prime_bad = bad or name in ("zero-channels",)
        cases.append(Case("inkml", f"prime/{name}", prime, "error" if prime_bad and name != "zero-channels" else "any",
                          90, v_svg()))
    # folder-level cases
    def fifo_dir(d):
        _write(d / "in" / "good.inkml", inkml_doc())
        _fifo(d / "in" / "fifo.inkml")
        _symlink(d / "in" / "loop.inkml", d / "in" / "loop.inkml")
        _symlink(d / "in" / "dangling.inkml", d / "in" / "nowhere.inkml")
        return ["import", "inkml", d / "in", "--out", d / "ds"]

    def out_is_file(d):
        return ["import", "inkml", fx.inkml_dir, "--out", _write(d / "ds", "x")]

    def prime_fifo(d):
        return ["sample", "ink", "--model", fx.synth_pkg, "--text", "ab", "--prime-ink", _fifo(d / "f.inkml"),
                "--svg", d / "o.svg", "--max-steps", "5"]

    cases += [Case("inkml", "import/folder-fifo-links", fifo_dir, "any", 60, v_dataset()),
              Case("inkml", "import/out-is-a-file", out_is_file, "error", 60),
              Case("inkml", "prime/fifo", prime_fifo, "error", 60)]
    return cases


def _iam_variants():
    def pts(vals):
        return [[(x, y, t) for x, y, t in vals]]
    wav = [(f"{x:.0f}", f"{y:.0f}", f"{i * 0.01:.2f}") for i, (x, y) in enumerate(wave(40, 0, 20))]
    bomb = ('<!DOCTYPE WhiteboardCaptureSession [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">'
            '<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;">]>')
    good = iam_doc()
    return [
        ("good", good, False),
        ("malformed", "<WhiteboardCaptureSession><StrokeSet><Stroke><Point x='1'></Stroke>", True),
        ("truncated", good[: len(good) // 2], True),
        ("empty-file", "", True),
        ("binary", bytes(random.Random(3).randrange(256) for _ in range(3000)), True),
        ("entity-bomb", iam_doc(prolog=bomb).replace("<StrokeSet>", "<StrokeSet><Info>&f;</Info>"), True),
        ("external-entity", iam_doc(prolog='<!DOCTYPE W [<!ENTITY x SYSTEM "file:///etc/passwd">]>')
         .replace("<StrokeSet>", "<StrokeSet><Info>&x;</Info>"), True),
        ("wrong-root", iam_doc(root="Session"), True),
        ("no-strokes", iam_doc([]), True),
        ("empty-strokes", iam_doc([[], []]), True),
        ("missing-x", iam_doc([[(None, "20", "0.1")] * 30]), True),
        ("text-x", iam_doc([[("abc", "20", "0.1")] * 30]), True),
        ("x-inf", iam_doc([wav + [("inf", "5", "1.0")]]), True),
        ("x-1e400", iam_doc([wav + [("1e400", "5", "1.0")]]), True),
        ("x-1000-digits", iam_doc([wav + [("1" + "0" * 1000, "5", "1.0")]]), True),
        ("x-nan", iam_doc([wav + [("nan", "nan", "1.0")]]), False),
        ("x-neg-huge", iam_doc([[("-1e308", "5", "0")] + wav]), True),
        ("time-garbage", iam_doc([[(x, y, "soon") for x, y, _ in wav]]), False),
        ("single-point", iam_doc([[("1", "2", "0")]]), True),
        ("100k-points", iam_doc([[(str(i), str(i % 50), f"{i * 0.001:.3f}") for i in range(100_000)]]), False),
        ("stroke-set-missing", "<WhiteboardCaptureSession><Point x='1' y='2'/></WhiteboardCaptureSession>", True),
        ("odd-points", iam_doc(pts([("1", "2", "0"), ("3", "4", None)] * 20)), False),
    ]


def iam_family(fx: Fixtures) -> list[Case]:
    cases = []
    for name, doc, bad in _iam_variants():
        def imp(d, doc=doc):
            return ["import", "iam", iam_tree(d, doc), "--out", d / "ds", "--jobs", "1"]

        def prime(d, doc=doc):
            return ["sample", "ink", "--model", fx.synth_pkg, "--text", "ab", "--prime-ink",
                    _write(d / "a01-000u-01.xml", doc), "--svg", d / "o.svg", "--max-steps", "20", "--seed", "1"]

        # an import skips a bad file and keeps the good one beside it: it succeeds either way
        cases.append(Case("iam", f"import/{name}", imp, "any", 90, v_dataset()))
        cases.append(Case("iam", f"prime/{name}", prime, "error" if bad else "any", 90, v_svg()))

    def tree(mutate, expect="any"):
        def make(d):
            root = iam_tree(d)
            mutate(root, d)
            return ["import", "iam", root, "--out", d / "ds", "--jobs", "1"]
        return make, expect

    ls = "lineStrokes/a01/a01-000"
    trees = {
        "fifo-xml": tree(lambda r, d: _fifo(r / ls / "a01-000u-03.xml")),
        "loop-xml": tree(lambda r, d: _symlink(r / ls / "a01-000u-03.xml", r / ls / "a01-000u-03.xml")),
        "dangling-xml": tree(lambda r, d: _symlink(r / ls / "a01-000u-03.xml", r / ls / "nowhere")),
        "dir-named-xml": tree(lambda r, d: (r / ls / "a01-000u-03.xml").mkdir()),
        "dir-named-txt": tree(lambda r, d: (r / "ascii/a01/a01-000/a01-000x.txt").mkdir()),
        "fifo-txt": tree(lambda r, d: (os.unlink(r / "ascii/a01/a01-000/a01-000u.txt"),
                                       _fifo(r / "ascii/a01/a01-000/a01-000u.txt"))),
        "loop-dir": tree(lambda r, d: _symlink(r / ls / "again", r / "lineStrokes")),
        "bad-names": tree(lambda r, d: _write(r / ls / "notes.xml", iam_doc())),
        "lineStrokes-is-file": tree(lambda r, d: (shutil.rmtree(r / "lineStrokes"), _write(r / "lineStrokes", "x")),
                                    "error"),
        "no-xml": tree(lambda r, d: [p.unlink() for p in (r / ls).glob("*.xml")], "error"),
        "ascii-missing": tree(lambda r, d: shutil.rmtree(r / "ascii"), "error"),
        "ascii-no-csr": tree(lambda r, d: _write(r / "ascii/a01/a01-000/a01-000u.txt", "OCR:\nabc\n"), "error"),
        "ascii-binary": tree(lambda r, d: _write(r / "ascii/a01/a01-000/a01-000u.txt",
                                                 bytes(random.Random(4).randrange(256) for _ in range(500))), "error"),
        "ascii-one-line": tree(lambda r, d: _write(r / "ascii/a01/a01-000/a01-000u.txt", "CSR:\n\nonly one\n")),
        "ascii-crossed": tree(lambda r, d: _write(r / "ascii/a01/a01-000/a01-000u.txt", "CSR:\n#a\n#b\n"), "error"),
        "root-missing": tree(lambda r, d: shutil.rmtree(r), "error"),
    }
    for name, (make, expect) in trees.items():
        cases.append(Case("iam", f"tree/{name}", make, expect, 90, v_dataset()))

    def cache(mutate):
        def make(d):
            root = iam_tree(d)
            r = fx.r.run(["import", "iam", root, "--out", d / "ds", "--jobs", "1"], timeout=90)
            if r.rc != 0:
                raise RuntimeError(f"first import failed: {r.err[-500:]}")
            mutate(d / "ds")
            return ["import", "iam", root, "--out", d / "ds", "--jobs", "1"]
        return make

    caches = {
        "manifest-garbage": lambda ds: _write(ds / "import-manifest.json", "{garbage"),
        "manifest-list": lambda ds: _write(ds / "import-manifest.json", "[1, 2]"),
        "manifest-wrong-types": lambda ds: _write(ds / "import-manifest.json", json.dumps(
            {**json.loads((ds / "import-manifest.json").read_text()), "xml": [], "errors": 5, "clean": "x"})),
        "meta-garbage": lambda ds: _write(ds / "meta.json", "{"),
        "meta-no-lines": lambda ds: _write(ds / "meta.json", json.dumps(
            {k: v for k, v in json.loads((ds / "meta.json").read_text()).items() if k != "lines"})),
        "data-truncated": lambda ds: _write(ds / "data.npz", (ds / "data.npz").read_bytes()[:100]),
    }
    for name, mutate in caches.items():
        cases.append(Case("iam", f"cache/{name}", cache(mutate), "any", 120, v_dataset()))
    return cases


def _dataset_mutations():
    def meta(fn):
        def mut(ds: Path):
            m = json.loads((ds / "meta.json").read_text())
            out = fn(m)
            _write(ds / "meta.json", out if isinstance(out, (str, bytes)) else json.dumps(out))
        return mut

    def npz(**arrays):
        def mut(ds: Path):
            import numpy as np

            with np.load(ds / "data.npz") as z:
                cur = {k: z[k] for k in z.files}
            cur.update({k: (v(cur) if callable(v) else v) for k, v in arrays.items()})
            with open(ds / "data.npz", "wb") as fh:
                np.savez(fh, **cur)
        return mut

    def raw(fn):
        return lambda ds: _write(ds / "data.npz", fn((ds / "data.npz").read_bytes()))

    import numpy as np  # the harness's own use: building damaged arrays (no torch)

    return {
        "meta-missing": lambda ds: (ds / "meta.json").unlink(),
        "meta-empty": meta(lambda m: ""),
        "meta-list": meta(lambda m: [1, 2]),
        "meta-wrong-format": meta(lambda m: {**m, "format": "other"}),
        "meta-version-text": meta(lambda m: {**m, "format_version": "abc"}),
        "meta-version-99": meta(lambda m: {**m, "format_version": 99}),
        "meta-no-lines": meta(lambda m: {k: v for k, v in m.items() if k != "lines"}),
        "meta-lines-dict": meta(lambda m: {**m, "lines": {"a": 1}}),
        "meta-lines-numbers": meta(lambda m: {**m, "lines": list(range(len(m["lines"])))}),
        "meta-lines-short": meta(lambda m: {**m, "lines": m["lines"][:-1]}),
        "meta-text-number": meta(lambda m: {**m, "lines": [{**ln, "text": 5} for ln in m["lines"]]}),
        "meta-split-odd": meta(lambda m: {**m, "lines": [{**ln, "split": ["x"]} for ln in m["lines"]]}),
        "meta-deep": meta(lambda m: '{"format": "scribe-ink-dataset", "lines": ' + "[" * 100_000 + "]" * 100_000
                          + "}"),
        "meta-write-id-other": meta(lambda m: {**m, "write_id": "0" * 32}),
        "npz-missing": lambda ds: (ds / "data.npz").unlink(),
        "npz-truncated": raw(lambda b: b[: len(b) // 2]),
        "npz-zeroed": raw(lambda b: bytes(len(b))),
        "npz-bitflip": raw(lambda b: _bitflip(b, 20, 5)),
        "points-2-columns": npz(points=lambda c: c["points"][:, :2].copy()),
        "points-nan": npz(points=lambda c: np.full_like(c["points"], np.nan)),
        "points-inf": npz(points=lambda c: np.where(np.arange(c["points"].size).reshape(c["points"].shape) % 7 == 0,
                                                    np.inf, c["points"]).astype(np.float32)),
        "points-int": npz(points=lambda c: c["points"].astype(np.int64)),
        "points-empty": npz(points=np.zeros((0, 3), np.float32), offsets=lambda c: np.zeros_like(c["offsets"])),
        "offsets-decreasing": npz(offsets=lambda c: c["offsets"][::-1].copy()),
        "offsets-negative": npz(offsets=lambda c: -c["offsets"]),
        "offsets-2d": npz(offsets=lambda c: np.stack([c["offsets"], c["offsets"]])),
        "offsets-float": npz(offsets=lambda c: c["offsets"].astype(np.float64) + 0.5),
        "object-dtype": raw(lambda b: b.replace(b"'descr': '<f4'", b"'descr': '|O8'")),
    }


def dataset_family(fx: Fixtures) -> list[Case]:
    cases = []
    muts = _dataset_mutations()
    for i, (name, mut) in enumerate(muts.items()):
        def base(d, mut=mut):
            ds = _copy(fx.ink_ds, d / "ds")
            mut(ds)
            return ds

        def ev(d, base=base):
            return ["eval", "ink", "--model", fx.synth_pkg, "--data", base(d), "--limit", "2"]

        def train(d, base=base):
            return ["train", "ink", "--data", base(d), "--out", d / "run", "--kind", "synthesis", "--steps", "1",
                    "--eval-every", "1", *INK_TINY]

        expect = "any" if name in ("meta-write-id-other", "npz-bitflip", "meta-text-number", "meta-split-odd",
                                   "points-int") \
            else "error"
        cases.append(Case("dataset", f"eval/{name}", ev, expect, 90, v_text))
        if i % 2 == 0:
            cases.append(Case("dataset", f"train/{name}", train, expect, 150, v_run("run")))
    return cases


def _card_mutations(card: dict, package: bool) -> list[tuple[str, Callable[[dict], object], bool]]:
    """(name, card -> new card (dict or raw bytes/str), must be refused) for one card."""
    muts: list = []
    nested = json.loads("[" * 40 + "]" * 40)
    critical = ["format", "format_version", "kind", "vocab", "model_config", "io", "norm"]
    for key in critical:
        if key not in card:
            continue
        optional = key in ("model_config",) and package
        muts.append((f"{key}-deleted", lambda c, k=key: {x: v for x, v in c.items() if x != k}, not optional))
        for label, val in (("null", None), ("string", "x"), ("negative", -1), ("huge-int", 10**30),
                           ("list", []), ("object", {}), ("bool", True), ("nested", nested)):
            if key == "model_config" and label == "null" and package:
                continue
            muts.append((f"{key}-{label}", lambda c, k=key, v=val: {**c, k: v}, True))
    for key in ("name", "description", "metrics", "step", "data", "parity", "context", "styles"):
        if key in card:
            muts.append((f"{key}-deleted", lambda c, k=key: {x: v for x, v in c.items() if x != k}, False))
        muts.append((f"{key}-huge-string", lambda c, k=key: {**c, k: "x" * 3_000_000}, key != "data"
                     and key not in ("metrics", "parity")))
        muts.append((f"{key}-nested-70", lambda c, k=key: {**c, k: json.loads("[" * 70 + "]" * 70)}, True))
    mc = card.get("model_config") or {}
    for key in mc:
        for label, val in (("negative", -1), ("huge", 10**9), ("string", "8"), ("float", 1.5), ("null", None)):
            ok_values = {(k, lab) for k in ("gate_bias", "kappa_init") for lab in ("negative", "huge", "float")}
            if isinstance(mc[key], bool) and label == "bool":
                continue
            bad = (key, label) not in ok_values
            muts.append((f"model_config.{key}-{label}",
                         lambda c, k=key, v=val: {**c, "model_config": {**c["model_config"], k: v}}, bad))
    if mc:
        muts.append(("model_config-unknown-key", lambda c: {**c, "model_config": {**c["model_config"], "evil": 1}}, True))
    if "vocab" in card:
        v = card["vocab"]
        muts += [("vocab-duplicate", lambda c: {**c, "vocab": c["vocab"][:-1] + [c["vocab"][0]]}, True),
                 ("vocab-multichar", lambda c: {**c, "vocab": ["ab"] + c["vocab"][1:]}, True),
                 ("vocab-empty", lambda c: {**c, "vocab": []}, True),
                 ("vocab-numbers", lambda c: {**c, "vocab": list(range(len(v)))}, True),
                 ("vocab-200k", lambda c: {**c, "vocab": [chr(0x4E00 + i) if 0x4E00 + i < 0xD800 else chr(0xE000 + i)
                                                          for i in range(200_000)]}, True),
                 ("vocab-one-less", lambda c: {**c, "vocab": c["vocab"][:-1]}, True)]
    if "norm" in card:
        muts += [("norm-std-zero", lambda c: {**c, "norm": {"mean": [0, 0], "std": [0, 0]}}, True),
                 ("norm-std-negative", lambda c: {**c, "norm": {"mean": [0, 0], "std": [-1, 1]}}, True),
                 ("norm-std-nan", lambda c: {**c, "norm": {"mean": [0, 0], "std": [float("nan"), 1]}}, True),
                 ("norm-mean-inf", lambda c: {**c, "norm": {"mean": [float("inf"), 0], "std": [1, 1]}}, True),
                 ("norm-mean-text", lambda c: {**c, "norm": {"mean": ["a", 0], "std": [1, 1]}}, True),
                 ("norm-three", lambda c: {**c, "norm": {"mean": [0, 0, 0], "std": [1, 1, 1]}}, True)]
    if "io" in card:
        muts += [("io-inputs-empty", lambda c: {**c, "io": {**c["io"], "inputs": []}}, True),
                 ("io-input-renamed", lambda c: {**c, "io": {**c["io"], "inputs": [{**c["io"]["inputs"][0], "name": "zz"}]
                                                                    + c["io"]["inputs"][1:]}}, True),
                 ("io-state-negative", lambda c: {**c, "io": {**c["io"], "state": {k: [1, -1] for k in c["io"]["state"]}}},
                  True),
                 ("io-state-huge", lambda c: {**c, "io": {**c["io"], "state": {k: [1, 10**6, 10**6]
                                                                                for k in c["io"]["state"]}}}, True),
                 ("io-state-extra", lambda c: {**c, "io": {**c["io"], "state": {**c["io"]["state"], "q": [1, 4]}}}, True),
                 ("io-output-duplicate", lambda c: {**c, "io": {**c["io"], "outputs": c["io"]["outputs"] * 2}}, True)]
    if card.get("styles") is not None or card.get("kind") == "ink-synthesis":
        muts += [("styles-bad-stroke3", lambda c: {**c, "styles": [{"name": "s", "stroke3": [[1, 2]]}]}, True),
                 ("styles-name-number", lambda c: {**c, "styles": [{"name": 5, "stroke3": [[1, 2, 0]]}]}, True),
                 ("styles-nan-points", lambda c: {**c, "styles": [{"name": "s", "stroke3": [[float("nan"), 1, 0]]}]},
                  True)]
    text = json.dumps(card)
    muts += [("raw-empty", lambda c: "", True), ("raw-null", lambda c: "null", True), ("raw-list", lambda c: "[]", True),
             ("raw-truncated", lambda c: text[: len(text) // 2], True),
             ("raw-not-utf8", lambda c: text.encode()[:20] + b"\xff\xfe" + text.encode()[20:], True),
             ("raw-bom", lambda c: b"\xef\xbb\xbf" + text.encode(), False),
             ("raw-nesting-100k", lambda c: "[" * 100_000 + "]" * 100_000, True),
             ("raw-number-1e999", lambda c: text.replace('"format_version": 1', '"format_version": 1e999'), True),
             ("raw-int-100k-digits", lambda c: text.replace('"format_version": 1',
                                                              '"format_version": ' + "9" * 100_000), True),
             ("raw-duplicate-kind", lambda c: text[:-1] + ', "kind": "nonsense"}', True),
             ("raw-65mb", lambda c: text + " " * (65 * 2**20), True)]
    return muts


def _write_card(path: Path, new) -> None:
    if isinstance(new, (str, bytes)):
        _write(path, new)
    else:
        _write(path, json.dumps(new))


def _file_mutations(kind: str) -> list[tuple[str, Callable[[bytes], bytes], bool]]:
    """(name, bytes -> bytes, must be refused) for a weights file."""
    muts = [("truncate-0", lambda b: b"", True), ("truncate-10pct", lambda b: b[: len(b) // 10], True),
            ("truncate-half", lambda b: b[: len(b) // 2], True), ("truncate-minus-1", lambda b: b[:-1], True),
            ("zero-all", lambda b: bytes(len(b)), True), ("zero-head", lambda b: bytes(100) + b[100:], True),
            ("random", lambda b: bytes(random.Random(9).randrange(256) for _ in range(len(b))), True),
            ("append-garbage", lambda b: b + b"\x07garbage" * 10, False)]
    for n in (1, 16, 256):
        for seed in (1, 2, 3):
            muts.append((f"bitflip-{n}-s{seed}", lambda b, n=n, s=seed: _bitflip(b, n, s), False))
    if kind == "safetensors":
        def header(fn):
            def mut(b):
                n = struct.unpack("<Q", b[:8])[0]
                h = json.loads(b[8:8 + n])
                fn(h)
                hb = json.dumps(h).encode()
                return struct.pack("<Q", len(hb)) + hb + b[8 + n:]
            return mut

        def first(h):
            return h[next(k for k in h if k != "__metadata__")]
        muts += [("header-len-huge", lambda b: struct.pack("<Q", 2**63 - 1) + b[8:], True),
                 ("header-len-zero", lambda b: struct.pack("<Q", 0) + b[8:], True),
                 ("header-garbage", lambda b: b[:8] + b"{" + b" " * (struct.unpack("<Q", b[:8])[0] - 1)
                  + b[8 + struct.unpack("<Q", b[:8])[0]:], True),
                 ("header-offsets-beyond", header(lambda h: first(h).update(data_offsets=[0, 10**12])), True),
                 ("header-dtype-bogus", header(lambda h: first(h).update(dtype="Z9")), True),
                 ("header-shape-wrong", header(lambda h: first(h).update(shape=[1])), True),
                 ("header-shape-huge", header(lambda h: first(h).update(shape=[2**40, 2**40])), True),
                 ("header-tensor-renamed", header(lambda h: h.update({"evil": h.pop(next(k for k in h
                                                                                         if k != "__metadata__"))})),
                  True),
                 ("data-bitflip-64", lambda b: _bitflip(b, 64, 7, start=8 + struct.unpack("<Q", b[:8])[0]), False)]
    return muts


def package_family(fx: Fixtures) -> list[Case]:
    cases = []

    def text_cmd(d):
        return ["sample", "text", "--model", d / "pkg", "--length", "20", "--seed", "1"]

    def ink_cmd(d):
        return ["sample", "ink", "--model", d / "pkg", "--text", "ab", "--svg", d / "o.svg", "--max-steps", "20",
                "--seed", "1"]

    def eval_cmd(d):
        return ["eval", "ink", "--model", d / "pkg", "--data", fx.ink_ds, "--limit", "2"]

    def pred_cmd(d):
        return ["sample", "ink", "--model", d / "pkg", "--svg", d / "o.svg", "--max-steps", "20", "--seed", "1"]

    kinds = [("text", "text_pkg", text_cmd, v_text), ("synth", "synth_pkg", ink_cmd, v_svg()),
             ("pred", "pred_pkg", pred_cmd, v_svg())]
    # the base cards (read without building anything: the fixtures are built when a case runs)
    for label, fixture, cmd, valid in kinds:
        sample_card = _example_card(label)
        muts = _card_mutations(sample_card, package=True)
        muts = muts[::{"text": 1, "synth": 2, "pred": 5}[label]]
        for name, mut, bad in muts:
            def make(d, fixture=fixture, mut=mut, cmd=cmd):
                pkg = _copy(getattr(fx, fixture), d / "pkg")
                _write_card(pkg / "card.json", mut(json.loads((pkg / "card.json").read_text())))
                return cmd(d)
            cases.append(Case("package", f"{label}/card/{name}", make, "error" if bad else "any", 60, valid))
        for name, mut, bad in _file_mutations("onnx"):
            def make(d, fixture=fixture, mut=mut, cmd=cmd):
                pkg = _copy(getattr(fx, fixture), d / "pkg")
                _write(pkg / "model.onnx", mut((pkg / "model.onnx").read_bytes()))
                return cmd(d)
            cases.append(Case("package", f"{label}/onnx/{name}", make, "error" if bad else "any", 60, valid))

    def swap(fixture, other, cmd):
        def make(d):
            pkg = _copy(getattr(fx, fixture), d / "pkg")
            shutil.copy2(getattr(fx, other) / "model.onnx", pkg / "model.onnx")
            return cmd(d)
        return make
    swaps = [("text/swap/other-vocab-and-size", "text_pkg", "text_pkg_small", text_cmd, "error", v_text),
             ("text/swap/same-architecture", "text_pkg", "text_pkg_seed", text_cmd, "any", v_text),
             ("text/swap/from-synthesis", "text_pkg", "synth_pkg", text_cmd, "error", v_text),
             ("synth/swap/from-prediction", "synth_pkg", "pred_pkg", ink_cmd, "error", v_svg()),
             ("synth/swap/from-text", "synth_pkg", "text_pkg", ink_cmd, "error", v_svg()),
             ("pred/swap/from-synthesis", "pred_pkg", "synth_pkg", pred_cmd, "error", v_svg())]
    for name, a, b, cmd, expect, valid in swaps:
        cases.append(Case("package", name, swap(a, b, cmd), expect, 60, valid))

    def special(build, cmd=text_cmd, fixture="text_pkg"):
        def make(d):
            pkg = _copy(getattr(fx, fixture), d / "pkg")
            build(pkg, d)
            return cmd(d)
        return make

    specials = {
        "card-is-dir": lambda p, d: ((p / "card.json").unlink(), (p / "card.json").mkdir()),
        "card-fifo": lambda p, d: ((p / "card.json").unlink(), _fifo(p / "card.json")),
        "card-dev-zero": lambda p, d: ((p / "card.json").unlink(), _symlink(p / "card.json", "/dev/zero")),
        "card-link-loop": lambda p, d: ((p / "card.json").unlink(), _symlink(p / "card.json", p / "card.json")),
        "card-missing": lambda p, d: (p / "card.json").unlink(),
        "onnx-missing": lambda p, d: (p / "model.onnx").unlink(),
        "onnx-is-dir": lambda p, d: ((p / "model.onnx").unlink(), (p / "model.onnx").mkdir()),
        "onnx-fifo": lambda p, d: ((p / "model.onnx").unlink(), _fifo(p / "model.onnx")),
        "onnx-dev-zero": lambda p, d: ((p / "model.onnx").unlink(), _symlink(p / "model.onnx", "/dev/zero")),
        "styles-npz-garbage": lambda p, d: _write(p / "styles.npz", b"PK\x03\x04garbage"),
    }
    for name, build in specials.items():
        cases.append(Case("package", f"text/file/{name}", special(build), "any" if "styles" in name else "error", 60,
                          v_text))
    cases.append(Case("package", "synth/file/styles-npz-garbage",
                      special(specials["styles-npz-garbage"], ink_cmd, "synth_pkg"), "any", 60, v_svg()))
    for name in ("card-fifo", "onnx-fifo", "onnx-dev-zero"):
        cases.append(Case("package", f"synth/eval/{name}", special(specials[name], eval_cmd, "synth_pkg"), "error", 60))
    for name, mut, bad in _card_mutations(_example_card("synth"), package=True)[::12]:
        def make(d, mut=mut):
            pkg = _copy(fx.synth_pkg, d / "pkg")
            _write_card(pkg / "card.json", mut(json.loads((pkg / "card.json").read_text())))
            return eval_cmd(d)
        cases.append(Case("package", f"synth/eval/card/{name}", make, "error" if bad else "any", 60, v_text))

    # onnxruntime settings from the environment
    for var, val in (("SCRIBE_ORT_THREADS", "-1"), ("SCRIBE_ORT_THREADS", "abc"), ("SCRIBE_ORT_THREADS", "1e30"),
                     ("SCRIBE_ORT_THREADS", "99999999999"), ("SCRIBE_ORT_INTER_THREADS", "nan"),
                     ("SCRIBE_ORT_OPT", "bogus"), ("SCRIBE_ORT_PARALLEL", "maybe"), ("SCRIBE_ORT_SPIN", "-5")):
        cases.append(Case("package", f"env/{var}={val}", lambda d: ["sample", "text", "--model", fx.text_pkg,
                                                                     "--length", "5"],
                          "any", 60, v_text, env={var: val}))
    return cases


def _example_card(label: str) -> dict:
    """The shape of a tiny package's card (or a checkpoint's), for listing the mutations without building it."""
    io_text = {"inputs": [{"name": "x", "dtype": "int64", "shape": [1, 1]},
                          {"name": "h", "dtype": "float32", "shape": [2, 1, 16]},
                          {"name": "c", "dtype": "float32", "shape": [2, 1, 16]}],
               "outputs": [{"name": "logits", "dtype": "float32", "shape": [1, 59]},
                           {"name": "h_out", "dtype": "float32", "shape": [2, 1, 16]},
                           {"name": "c_out", "dtype": "float32", "shape": [2, 1, 16]}],
               "state": {"h": [2, 1, 16], "c": [2, 1, 16]}}
    base = {"format": "scribe-package", "format_version": 1, "name": "n", "metrics": {}, "step": 0, "data": {},
            "parity": {}}
    if label == "text":
        return {**base, "kind": "text", "vocab": list("ab"), "io": io_text,
                "model_config": {"vocab_size": 59, "cell": "lstm", "layers": 2, "hidden": 16, "embed": 8,
                                 "dropout": 0.0, "skip": False, "orthogonal_init": True, "gate_bias": 1.0}}
    if label == "ckpt":
        c = _example_card("text")
        c = {k: v for k, v in c.items() if k not in ("io", "parity")}
        return {**c, "format": "scribe-checkpoint", "train_config": {}, "settings": {}}
    ink_cfg = {"layers": 2, "hidden": 16, "mixtures": 3, "window_k": 2, "vocab_size": 65, "dropout": 0.0,
               "gate_bias": 1.0, "orthogonal_init": True, "kappa_init": 0.05}
    card = {**base, "kind": "ink-synthesis" if label == "synth" else "ink-prediction",
            "norm": {"mean": [2.0, 0.1], "std": [4.0, 3.0]}, "io": {"inputs": [], "outputs": [], "state": {"h": [1]}},
            "model_config": ink_cfg}
    if label == "synth":
        card["vocab"] = list("ab")
    return card


def checkpoint_family(fx: Fixtures) -> list[Case]:
    cases = []

    def best_ck(run: Path) -> Path:
        rel = json.loads((run / "best.json").read_text())["path"]
        return run / rel

    def sample(d):
        return ["sample", "text", "--model", d / "run", "--length", "10", "--seed", "1"]

    def resume(d):
        return ["train", "text", "--resume", "--out", d / "run", "--steps", str(_max_step(d / "run") + 1),
                "--eval-every", "1", *TEXT_TINY]

    def damaged(mutate, cmd=sample, fixture="text_run"):
        def make(d):
            run = _copy(getattr(fx, fixture), d / "run")
            mutate(run, d)
            _snap(d, "run")
            _write(d / ".loadable.json", json.dumps(_loadable(run)))
            return cmd(d)
        return make

    # card mutations: the checkpoint `sample` loads (best.json's)
    for name, mut, bad in _card_mutations(_example_card("ckpt"), package=False)[::2]:
        def m(run, d, mut=mut):
            ck = best_ck(run)
            _write_card(ck / "card.json", mut(json.loads((ck / "card.json").read_text())))
        cases.append(Case("checkpoint", f"card/{name}", damaged(m), "error" if bad else "any", 60, v_text,
                          unchanged("run")))
    for name, mut, bad in _file_mutations("safetensors"):
        def m(run, d, mut=mut):
            ck = best_ck(run)
            _write(ck / "model.safetensors", mut((ck / "model.safetensors").read_bytes()))
        cases.append(Case("checkpoint", f"weights/{name}", damaged(m), "error" if bad else "any", 60, v_text,
                          unchanged("run")))

    def swap_from(fixture):
        def m(run, d):
            other = getattr(fx, fixture)
            src = best_ck(other) if (other / "best.json").exists() else other
            shutil.copy2(src / "model.safetensors", best_ck(run) / "model.safetensors")
        return m
    cases.append(Case("checkpoint", "weights/swap-other-size", damaged(swap_from("text_run_big")), "error", 60, v_text,
                      unchanged("run")))
    cases.append(Case("checkpoint", "weights/swap-ink-run", damaged(swap_from("ink_run")), "error", 60, v_text,
                      unchanged("run")))

    # pointer files
    def victim(d: Path) -> Path:
        if (d / "victim").exists():
            return d / "victim"
        v = _copy(best_ck(fx.text_run), d / "victim")
        card = json.loads((v / "card.json").read_text())
        card["name"] = "VICTIM"
        _write(v / "card.json", json.dumps(card))
        _snap(d, "victim")
        return v

    def pointer(content_fn, which=("best", "last")):
        def m(run, d):
            c = content_fn(run, d)
            for w in which:
                if isinstance(c, Path):
                    (run / f"{w}.json").unlink()
                    _symlink(run / f"{w}.json", c)
                else:
                    _write(run / f"{w}.json", c if isinstance(c, (str, bytes)) else json.dumps(c))
        return m

    def link_inside(run, d):
        _symlink(run / "checkpoints" / "step-9999999", victim(d))
        return {"path": "checkpoints/step-9999999"}

    pointers = {
        "dotdot": (lambda r, d: (victim(d), {"path": "../victim"})[1], "error"),
        "absolute": (lambda r, d: {"path": str(victim(d))}, "error"),
        "dotdot-inside": (lambda r, d: (victim(d), {"path": "checkpoints/../../victim"})[1], "error"),
        "symlinked-checkpoint": (link_inside, "error"),
        "empty-path": (lambda r, d: {"path": ""}, "any"),
        "dot": (lambda r, d: {"path": "."}, "any"),
        "checkpoints-dir": (lambda r, d: {"path": "checkpoints"}, "any"),
        "number": (lambda r, d: {"path": 5}, "any"),
        "list": (lambda r, d: {"path": ["a"]}, "any"),
        "not-object": (lambda r, d: "[]", "any"),
        "garbage": (lambda r, d: b"\xff\x00garbage", "any"),
        "nul-byte": (lambda r, d: {"path": "checkpoints/a\u0000b"}, "any"),
        "path-100k": (lambda r, d: {"path": "a" * 100_000}, "any"),
        "missing-target": (lambda r, d: {"path": "checkpoints/step-0000099"}, "any"),
        "file-target": (lambda r, d: {"path": json.loads((r / "best.json").read_text())["path"]
                                      + "/model.safetensors"}, "any"),
        "temp-folder": (lambda r, d: (_copy(best_ck(r), r / "checkpoints" / ".step-0000009.tmp-99999-x"),
                                      {"path": "checkpoints/.step-0000009.tmp-99999-x"})[1], "any"),
        "pointer-symlink-out": (lambda r, d: (victim(d), _write(d / "ptr.json", json.dumps({"path": "../victim"})))[1],
                                "error"),
        "nested-deep": (lambda r, d: '{"path": ' + "[" * 100_000 + "]" * 100_000 + "}", "any"),
    }
    for name, (fn, expect) in pointers.items():
        outside = expect == "error"
        check = unchanged("run", "victim") if outside else unchanged("run")
        cases.append(Case("checkpoint", f"pointer/{name}", damaged(pointer(fn)), expect, 60, v_text, check))
        if name in ("dotdot", "absolute", "symlinked-checkpoint", "garbage", "missing-target", "empty-path"):
            cases.append(Case("checkpoint", f"pointer-resume/{name}", damaged(pointer(fn), resume), expect, 120,
                              v_run("run"), _resume_check(outside)))
    cases.append(Case("checkpoint", "pointer/both-deleted",
                      damaged(lambda r, d: ((r / "best.json").unlink(), (r / "last.json").unlink())), "any", 60,
                      v_text, unchanged("run")))

    # resume state
    def last_ck(run):
        return run_last(run)

    states = {
        "state-safetensors-truncated": lambda r, d: _write(last_ck(r) / "state.safetensors",
                                                           (last_ck(r) / "state.safetensors").read_bytes()[:50]),
        "state-safetensors-missing": lambda r, d: (last_ck(r) / "state.safetensors").unlink(),
        "state-json-garbage": lambda r, d: _write(last_ck(r) / "state.json", "{"),
        "state-json-list": lambda r, d: _write(last_ck(r) / "state.json", "[]"),
        "state-json-trainer-list": lambda r, d: _write(last_ck(r) / "state.json", json.dumps(
            {**json.loads((last_ck(r) / "state.json").read_text()), "trainer": []})),
        "state-json-optimizer-bad": lambda r, d: _write(last_ck(r) / "state.json", json.dumps(
            {**json.loads((last_ck(r) / "state.json").read_text()), "optimizer": {"state": {"0": {"x": "tensor"}},
                                                                                   "param_groups": "no"}})),
        "state-json-task-odd": lambda r, d: _write(last_ck(r) / "state.json", json.dumps(
            {**json.loads((last_ck(r) / "state.json").read_text()), "task": {"pos": "x", "stream": [None]}})),
        "state-json-nested": lambda r, d: _write(last_ck(r) / "state.json", "[" * 100_000 + "]" * 100_000),
        "card-train-config-odd": lambda r, d: _write(last_ck(r) / "card.json", json.dumps(
            {**json.loads((last_ck(r) / "card.json").read_text()), "train_config": {"lr": "x", "steps": -4}})),
        "card-settings-odd": lambda r, d: _write(last_ck(r) / "card.json", json.dumps(
            {**json.loads((last_ck(r) / "card.json").read_text()), "settings": {"batch": 0, "seq_len": "x"}})),
        "card-corpus-missing": lambda r, d: _write(last_ck(r) / "card.json", json.dumps(
            {**json.loads((last_ck(r) / "card.json").read_text()), "data": {"corpus": str(d / "gone.txt")}})),
        "weights-truncated": lambda r, d: _write(last_ck(r) / "model.safetensors",
                                                 (last_ck(r) / "model.safetensors").read_bytes()[:100]),
        "state-json-best-text": lambda r, d: _write(last_ck(r) / "state.json", json.dumps(
            {**json.loads((last_ck(r) / "state.json").read_text()),
             "trainer": {**json.loads((last_ck(r) / "state.json").read_text()).get("trainer", {}), "best": "x"}})),
        "state-json-elapsed-text": lambda r, d: _write(last_ck(r) / "state.json", json.dumps(
            {**json.loads((last_ck(r) / "state.json").read_text()),
             "trainer": {**json.loads((last_ck(r) / "state.json").read_text()).get("trainer", {}),
                         "elapsed": "soon"}})),
    }
    for name, fn in states.items():
        cases.append(Case("checkpoint", f"resume/{name}", damaged(fn, resume), "any", 120, v_run("run"),
                          _resume_check(False)))

    def resume_ink(d):
        return ["train", "ink", "--resume", "--data", fx.ink_ds, "--out", d / "run", "--steps",
                str(_max_step(d / "run") + 1), "--eval-every", "1", *INK_TINY]
    for name in ("card-train-config-odd", "card-settings-odd", "state-json-task-odd", "state-json-best-text"):
        cases.append(Case("checkpoint", f"resume-ink/{name}", damaged(states[name], resume_ink, "ink_run"), "any",
                          150, v_run("run"), _resume_check(False)))

    # other readers of a run
    def probe(d):
        return ["probe", "--model", d / "run", "--corpus", fx.corpus, "-k", "3", "--batch", "2", "--warmup", "2"]

    def export(d):
        return ["export", d / "run", "--out", d / "pkg", "--exporter", "legacy"]

    for name, fn, expect in (("ok", lambda r, d: None, "any"),
                             ("card-garbage", lambda r, d: _write(best_ck(r) / "card.json", "{"), "error"),
                             ("pointer-dotdot", pointer(pointers["dotdot"][0]), "error"),
                             ("weights-swapped", swap_from("text_run_big"), "error")):
        cases.append(Case("checkpoint", f"probe/{name}", damaged(fn, probe), expect, 90, v_text, unchanged("run")))
        cases.append(Case("checkpoint", f"export/{name}", damaged(fn, export), expect, 180,
                          lambda d, r: package_ok(d / "pkg"), unchanged("run")))
    cases.append(Case("checkpoint", "export/out-is-the-run", lambda d: (_copy(fx.text_run, d / "run"), _snap(d, "run"),
                                                                       ["export", d / "run", "--out", d / "run"])[2],
                      "error", 180, None, unchanged("run")))
    return cases


def _max_step(run: Path) -> int:
    """The highest step among the run's checkpoint folder names (whatever its pointers say)."""
    steps = [int(m.group(1)) for p in (run / "checkpoints").glob("step-*") for m in [re.match(r"step-(\d+)", p.name)]
             if m] if (run / "checkpoints").is_dir() else []
    return max(steps, default=0)


def _loadable(run: Path) -> list[int]:
    """Steps of the run's checkpoints that pass the torch-free check."""
    good = []
    for ck in sorted((run / "checkpoints").glob("step-*")) if (run / "checkpoints").is_dir() else []:
        if not ck.is_symlink() and checkpoint_ok(ck) is None:
            good.append(int(ck.name.split("-")[1]))
    return good


def _resume_check(outside: bool):
    """After ``train --resume``: the run still has a good checkpoint at least as far as the furthest good one
    before the command (torch-free check), and anything outside the run is untouched."""
    def check(d: Path, r: Run) -> str | None:
        before = json.loads((d / ".loadable.json").read_text())
        good = _loadable(d / "run")
        if before and (not good or max(good) < max(before)):
            return f"the run's good checkpoints (steps {before}) are gone or damaged (now good: {good})"
        if outside:
            return unchanged("victim")(d, r)
        return None
    return check


APP_READER = """
import json, sys
from pathlib import Path
from engine.core.errors import ScribeError
from studio.train import data as D
run = Path(sys.argv[1])
cks = D.list_checkpoints(run)
runs = D.list_runs(run.parent)
try:
    card = D.model_card(run)
except ScribeError as exc:
    print(f"scribe: error: {exc}", file=sys.stderr)
    sys.exit(2)
print(json.dumps({"checkpoints": [c["path"] for c in cks], "runs": len(runs), "name": card.get("name"),
                  "kind": card.get("kind"), "card": card}))
"""


def app_reader_family(fx: Fixtures) -> list[Case]:
    """The app's torch-free view of runs (studio.train.data) on the damaged run folders."""
    cases = []
    base = [c for c in checkpoint_family(fx) if c.name.split("/")[0] in ("card", "pointer")]

    def valid(d: Path, r: Run) -> str | None:
        from engine.core.card_schema import validate_card
        from engine.core.errors import ScribeError

        try:
            info = json.loads(r.out.decode())
        except ValueError:
            return "no JSON on stdout"
        if info.get("name") == "VICTIM" or any("victim" in p for p in info["checkpoints"]):
            return "followed a pointer out of the run folder"
        try:
            validate_card(info["card"], "card", package=False)
        except ScribeError as exc:
            return f"returned an invalid card ({str(exc)[:160]})"
        return None

    for c in base[::2]:
        def make(d, c=c):
            argv = c.make(d)
            return [argv[argv.index("--model") + 1]]
        # the reader may fall back to another good checkpoint of the run: what it returns is judged by valid()
        cases.append(Case("app-reader", c.name, make, "any", 60, valid, c.check, python=APP_READER))
    return cases


# ---- CLI values --------------------------------------------------------------------------------------------

INT_GE1 = {"--steps", "--batch", "--seq-len", "--layers", "--hidden", "--embed", "--mixtures", "--window-k",
           "--buckets", "--eval-every", "--eval-blocks", "--stateful-streams", "--threads", "--distance", "--lines",
           "--writers", "--jobs", "--limit", "--max-steps", "--min-chars", "--max-chars", "--hold-out"}
INT_GE0 = {"--warmup", "--sample-every", "--patience", "--length", "--top-k"}
INT_GE2 = {"--max-points"}
FLOAT_GT0 = {"--minutes", "--lr", "--temperature", "--resample", "--hz"}
FLOAT_GE0 = {"--min-lr", "--weight-decay", "--clip", "--bias", "--max-jump", "--anchor", "--augment"}
FRACTION = {"--dropout", "--val", "--test", "--rehearse"}           # [0, 1)
OPEN_FRACTION = {"--val-fraction"}                    # (0, 1)
CLOSED_FRACTION = {"--mix", "--caps"}                 # [0, 1]
ANY_FINITE = {"--gate-bias"}
WORK = {"--steps", "--minutes", "--length", "--max-steps", "--lines"}   # a huge value is a long run: Ctrl-C it
VALUES = [("zero", "0"), ("neg", "-1"), ("nan", "nan"), ("inf", "inf"), ("-inf", "-inf"), ("huge", "1" + "0" * 30),
          ("half", "0.5"), ("text", "abc"), ("empty", "")]


def value_ok(flag: str, value: str, parser_type=None) -> bool:
    """The harness's own idea of a valid value for ``flag`` (written from the flags' meaning, not read from
    the parser; a flag the tables do not know yet falls back to the bounds its ``Number`` type states)."""
    try:
        v = float(value)
    except ValueError:
        return False
    if not math.isfinite(v):
        return False
    is_int = flag in INT_GE1 | INT_GE0 | INT_GE2 or flag == "--seed"
    if is_int and not re.fullmatch(r"-?\d+", value.strip()):
        return False
    if flag == "--seed":
        return 0 <= v < 2**32
    if flag in INT_GE1:
        return v >= 1
    if flag in INT_GE0:
        return v >= 0
    if flag in INT_GE2:
        return v >= 2
    if flag in FLOAT_GT0:
        return v > 0
    if flag in FLOAT_GE0:
        return v >= 0
    if flag in FRACTION:
        return 0 <= v < 1
    if flag in OPEN_FRACTION:
        return 0 < v < 1
    if flag in CLOSED_FRACTION:
        return 0 <= v <= 1
    if flag in ANY_FINITE:
        return True
    lo, hi = getattr(parser_type, "lo", None), getattr(parser_type, "hi", None)
    if getattr(parser_type, "base", float) is int and not re.fullmatch(r"-?\d+", value.strip()):
        return False
    return ((lo is None or v > lo or (v == lo and not parser_type.lo_open))
            and (hi is None or v < hi or (v == hi and not parser_type.hi_open)))


def numeric_flags() -> dict[tuple[str, ...], list[tuple[str, object]]]:
    """Every command and its numeric flags (options with a ``type``: (flag, type)), from the real parser."""
    from engine.cli.main import build_parser

    out: dict[tuple[str, ...], list[str]] = {}

    def walk(p, path):
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        for a in subs:
            for name, sp in a.choices.items():
                walk(sp, path + (name,))
        if not subs:
            out[path] = [(max(a.option_strings, key=len), a.type) for a in p._actions
                         if a.option_strings and a.type is not None and a.type is not str]
    walk(build_parser(), ())
    return out


def cli_family(fx: Fixtures) -> list[Case]:
    bases = {
        ("train", "text"): (lambda d: ["train", "text", "--corpus", fx.corpus, "--out", d / "run", "--steps", "2",
                                       "--eval-every", "2", *TEXT_TINY], v_run("run"), 120),
        ("train", "ink"): (lambda d: ["train", "ink", "--data", fx.ink_ds, "--out", d / "run", "--kind", "synthesis",
                                      "--steps", "2", "--eval-every", "2", *INK_TINY], v_run("run"), 120),
        ("sample", "text"): (lambda d: ["sample", "text", "--model", fx.text_pkg, "--length", "20", "--seed", "1"],
                             v_text, 45),
        ("sample", "ink"): (lambda d: ["sample", "ink", "--model", fx.synth_pkg, "--text", "ab", "--svg", d / "o.svg",
                                       "--max-steps", "20", "--seed", "1"], v_svg(), 45),
        ("import", "iam"): (lambda d: ["import", "iam", fx.iam, "--out", d / "ds", "--jobs", "1"], v_dataset(), 60),
        ("import", "inkml"): (lambda d: ["import", "inkml", fx.inkml_dir, "--out", d / "ds"], v_dataset(), 60),
        ("eval", "ink"): (lambda d: ["eval", "ink", "--model", fx.synth_pkg, "--data", fx.ink_ds, "--limit", "2"],
                          v_text, 60),
        ("probe",): (lambda d: ["probe", "--corpus", fx.corpus, "--cell", "lstm", "--hidden", "4", "--embed", "2",
                                "-k", "3", "--batch", "2", "--warmup", "2"], v_text, 60),
        ("synth",): (lambda d: ["synth", "--lines", "2", "--writers", "1", "--out", d / "ds", "--min-chars", "5",
                                "--max-chars", "20", "--hz", "30"], v_dataset(), 60),
        ("export",): (lambda d: ["export", fx.text_run, "--out", d / "pkg", "--exporter", "legacy"],
                      lambda d, r: package_ok(d / "pkg"), 180),
    }
    cases = []
    for path, flags in numeric_flags().items():
        if path not in bases:
            raise KeyError(f"the harness has no base command for 'scribe {' '.join(path)}': add one to cli_family")
        base, valid, timeout = bases[path]
        for flag, ptype in flags:
            for label, value in VALUES:
                ok = value_ok(flag, value, ptype)

                def make(d, base=base, flag=flag, value=value):
                    argv = [str(a) for a in base(d)]
                    short = {"--distance": "-k"}.get(flag)
                    for f in (flag, short):
                        if f in argv:
                            i = argv.index(f)
                            del argv[i:i + 2]
                    return argv + [f"{flag}={value}"]
                interrupt = 8.0 if ok and label == "huge" and flag in WORK else None
                cases.append(Case("cli", f"{' '.join(path)} {flag}={label}", make, "any" if ok else "error",
                                  timeout + (30 if interrupt else 0), valid, interrupt_after=interrupt))
    return cases


# ---- pipes ---------------------------------------------------------------------------------------------------

def pipe_family(fx: Fixtures) -> list[Case]:
    def c(name, make, limit=0, timeout=60, check=None):
        return Case("pipe", name, make, "any", timeout, None, check, stdout_limit=limit)

    return [
        c("sample-text-package/after-100-bytes", lambda d: ["sample", "text", "--model", fx.text_pkg, "--length",
                                                             "1000000"], 100),
        c("sample-text-package/at-once", lambda d: ["sample", "text", "--model", fx.text_pkg, "--length", "5"]),
        c("sample-text-run/after-100-bytes", lambda d: ["sample", "text", "--model", fx.text_run, "--length",
                                                         "1000000"], 100),
        c("probe-table", lambda d: ["probe", "--corpus", fx.corpus, "--cell", "lstm,gru", "--hidden", "4", "--embed",
                                    "2", "-k", "3", "--batch", "2", "--warmup", "2"]),
        c("probe-json", lambda d: ["probe", "--corpus", fx.corpus, "--cell", "lstm", "--hidden", "4", "--embed", "2",
                                   "-k", "3", "--batch", "2", "--warmup", "2", "--json"]),
        c("synth", lambda d: ["synth", "--lines", "3", "--writers", "1", "--out", d / "ds", "--hz", "30"],
          check=lambda d, r: dataset_ok(d / "ds") if r.rc == 0 else None),
        c("import-inkml", lambda d: ["import", "inkml", fx.inkml_dir, "--out", d / "ds"]),
        c("import-iam", lambda d: ["import", "iam", fx.iam, "--out", d / "ds", "--jobs", "1"]),
        c("eval-ink", lambda d: ["eval", "ink", "--model", fx.synth_pkg, "--data", fx.ink_ds, "--limit", "2"]),
        c("export", lambda d: ["export", fx.text_run, "--out", d / "pkg", "--exporter", "legacy"], timeout=180),
        c("help", lambda d: ["--help"]),
        c("train-help", lambda d: ["train", "text", "--help"]),
        c("usage-error", lambda d: ["sample", "text"]),
        c("train-text-events-stdout", lambda d: ["train", "text", "--corpus", fx.corpus, "--out", d / "run", "--steps",
                                                 "3", "--eval-every", "1", "--events", "-", *TEXT_TINY], 50,
          timeout=120),
    ]


# ---- a full disk ------------------------------------------------------------------------------------------------

_TEMP_NAME = re.compile(r"\.(tmp|part)$|^\.saving-|\.tmp-\d+-|\.old-\d+-|\.export-\d+-|\.tmp$")


def leftovers(folder: Path) -> list[str]:
    """Temporary files and folders of a write that failed, under ``folder``."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if _TEMP_NAME.search(p.name))


def outputs_family(fx: Fixtures) -> list[Case]:
    """Output paths that cannot be written (a folder, a missing folder, a file where a folder belongs) and writes
    that fail part-way (every file limited to a few kB, as on a full disk): one clean line, the earlier output
    untouched, no temporary file left behind."""
    def dataset_kept(d: Path, r: Run) -> str | None:
        left = leftovers(d / "ds")
        if left:
            return f"temporary files left behind: {left[:3]}"
        return unchanged("ds")(d, r) if r.rc != 0 else dataset_ok(d / "ds")

    def existing_ds(argv_fn):
        def make(d):
            _copy(fx.ink_ds, d / "ds")
            _snap(d, "ds")
            return argv_fn(d)
        return make

    def file_kept(name: str, old: str):
        def check(d: Path, r: Run) -> str | None:
            left = leftovers(d)
            if left:
                return f"temporary files left behind: {left[:3]}"
            if r.rc != 0 and (d / name).read_text() != old:
                return f"the earlier {name} was replaced although the command failed"
            return None
        return check

    def run_kept(d: Path, r: Run) -> str | None:
        left = [x for x in leftovers(d / "run") if not x.startswith(".run.lock")]
        if left:
            return f"temporary files left behind: {left[:3]}"
        return _resume_check(False)(d, r)

    def existing_run(argv_fn):
        def make(d):
            _copy(fx.text_run, d / "run")
            _write(d / ".loadable.json", json.dumps(_loadable(d / "run")))
            return argv_fn(d)
        return make

    cases = [
        Case("outputs", "synth/over-a-dataset", existing_ds(
            lambda d: ["synth", "--lines", "200", "--writers", "2", "--out", d / "ds", "--hz", "30"]), "any", 90,
             v_dataset(), dataset_kept, fsize=20_000),
        Case("outputs", "import-inkml/over-a-dataset", existing_ds(
            lambda d: ["import", "inkml", fx.inkml_many, "--out", d / "ds"]), "any", 90, v_dataset(), dataset_kept,
             fsize=20_000),
        Case("outputs", "import-iam/over-a-dataset", existing_ds(
            lambda d: ["import", "iam", fx.iam, "--out", d / "ds", "--jobs", "1", "--no-cache"]), "any", 90,
             v_dataset(), dataset_kept, fsize=200),
        Case("outputs", "synth/with-svg-preview", lambda d: ["synth", "--lines", "60", "--out", d / "ds", "--hz", "30",
                                                           "--svg-preview", _write(d / "p.svg", "old")],
             "any", 90, None, file_kept("p.svg", "old"), fsize=9_000),
        Case("outputs", "sample-ink/svg", lambda d: ["sample", "ink", "--model", fx.pred_pkg, "--svg",
                                                        _write(d / "o.svg", "old"), "--max-steps", "3000",
                                                        "--seed", "1"],
             "any", 90, v_svg(), file_kept("o.svg", "old"), fsize=8_000),
        Case("outputs", "export/over-a-package", lambda d: (_copy(fx.text_pkg, d / "pkg"), _snap(d, "pkg"),
                                                               ["export", fx.text_run, "--out", d / "pkg",
                                                                "--exporter", "legacy"])[2],
             "any", 180, lambda d, r: package_ok(d / "pkg"),
             lambda d, r: (f"temporary files left behind: {leftovers(d)[:3]}" if leftovers(d) else
                           (unchanged("pkg")(d, r) if r.rc != 0 else None)), fsize=4_000),
        Case("outputs", "train-text/new-run", lambda d: ["train", "text", "--corpus", fx.corpus, "--out", d / "run",
                                                           "--steps", "2", "--eval-every", "1", *TEXT_TINY],
             "any", 120, v_run("run"),
             lambda d, r: (f"temporary files left behind: {leftovers(d / 'run')[:3]}"
                           if [x for x in leftovers(d / "run") if not x.startswith(".run.lock")] else None),
             fsize=2_000),
        Case("outputs", "train-text/resume", existing_run(
            lambda d: ["train", "text", "--resume", "--out", d / "run", "--steps", str(_max_step(d / "run") + 2),
                       "--eval-every", "1", *TEXT_TINY]), "any", 120, v_run("run"), run_kept, fsize=2_000),
        # the events file is already at the limit, the checkpoints still fit: events stop, training goes on
        Case("outputs", "train-text/events-file", lambda d: ["train", "text", "--corpus", fx.corpus, "--out",
                                                               d / "run", "--steps", "3", "--eval-every", "1",
                                                               "--events", _write(d / "ev.jsonl", "{}\n" * 35_000),
                                                               *TEXT_TINY],
             "ok", 120, v_run("run"), None, fsize=64_000),
        Case("outputs", "eval-ink/json", lambda d: ["eval", "ink", "--model", fx.synth_pkg, "--data", fx.ink_ds,
                                                      "--limit", "2", "--json", _write(d / "o.json", "old")],
             "any", 90, None, file_kept("o.json", "old"), fsize=100),
    ]

    def folder(d: Path) -> Path:
        (d / "a-folder").mkdir(exist_ok=True)
        return d / "a-folder"

    def a_file(d: Path) -> Path:
        return _write(d / "a-file", "x")

    def sample_ink(flag):
        return lambda where: lambda d: ["sample", "ink", "--model", fx.synth_pkg, "--text", "ab", "--svg", d / "o.svg",
                                        "--max-steps", "5", flag, where(d)]
    paths = {"folder": folder, "missing-folder": lambda d: d / "nowhere" / "x.out"}
    commands = {
        "sample-ink --svg": lambda where: lambda d: ["sample", "ink", "--model", fx.synth_pkg, "--text", "ab",
                                                     "--svg", where(d), "--max-steps", "5"],
        "sample-ink --inkml": sample_ink("--inkml"),
        "eval-ink --json": lambda where: lambda d: ["eval", "ink", "--model", fx.synth_pkg, "--data", fx.ink_ds,
                                                    "--limit", "1", "--json", where(d)],
        "train-text --events": lambda where: lambda d: ["train", "text", "--corpus", fx.corpus, "--out", d / "run",
                                                        "--steps", "1", "--events", where(d), *TEXT_TINY],
        "synth --svg-preview": lambda where: lambda d: ["synth", "--lines", "2", "--out", d / "ds", "--hz", "30",
                                                        "--svg-preview", where(d)],
        "import-inkml --svg-preview": lambda where: lambda d: ["import", "inkml", fx.inkml_dir, "--out", d / "ds",
                                                               "--svg-preview", where(d)],
    }
    for cname, cmd in commands.items():
        for pname, where in paths.items():
            if pname == "missing-folder" and ("preview" in cname or "events" in cname):
                continue   # these create their folder
            cases.append(Case("outputs", f"{cname}/{pname}", cmd(where), "error", 90))
    for cname, argv in {
        "export --out": lambda d: ["export", fx.text_run, "--out", a_file(d), "--exporter", "legacy"],
        "synth --out": lambda d: ["synth", "--lines", "2", "--out", a_file(d), "--hz", "30"],
        "import-inkml --out": lambda d: ["import", "inkml", fx.inkml_dir, "--out", a_file(d)],
        "train-text --out": lambda d: ["train", "text", "--corpus", fx.corpus, "--out", a_file(d), "--steps", "1",
                                       *TEXT_TINY],
    }.items():
        cases.append(Case("outputs", f"{cname}/a-file", argv, "error", 120))
    return cases


# ---- concurrency -----------------------------------------------------------------------------------------------

def _together(runner: Runner, argvs: list[list], timeout: float, stagger: float = 0.05) -> list[Run]:
    ps = []
    for a in argvs:
        ps.append(runner.start(a))
        time.sleep(stagger)
    return [runner.finish(p, timeout * runner.timeout_scale) for p in ps]


def _worst(runs: list[Run], case: Case, d: Path) -> tuple[str, str]:
    order = {k: i for i, k in enumerate(("ok", "clean-error", "silent-accept", "data-loss", "hang", "traceback"))}
    res = [classify(case, d, r) for r in runs]
    return max(res, key=lambda x: order[x[0]])


def concurrency_family(fx: Fixtures) -> list[Case]:
    def two_new_runs(d: Path, runner: Runner) -> Outcome:
        argv = ["train", "text", "--corpus", fx.corpus, "--out", d / "run", "--steps", "4", "--eval-every", "1",
                *TEXT_TINY]
        runs = _together(runner, [argv, argv], 150)
        cls, note = _worst(runs, Case("concurrency", "x"), d)
        if cls in ("ok", "clean-error"):
            if all(r.rc == 0 for r in runs):
                cls, note = "silent-accept", "both new runs trained into one --out"
            elif not any(r.rc == 0 for r in runs):
                cls, note = "data-loss", "neither run finished"
            else:
                problem = _loads(runner, d / "run")
                if problem:
                    cls, note = "data-loss", problem
        return Outcome(cls, note, "2x scribe " + _quote(argv))

    def two_resumes(d: Path, runner: Runner) -> Outcome:
        run = _copy(fx.text_run, d / "run")
        argv = ["train", "text", "--resume", "--out", run, "--steps", str(run_step(run) + 3), "--eval-every", "1",
                *TEXT_TINY]
        runs = _together(runner, [argv, argv], 150)
        cls, note = _worst(runs, Case("concurrency", "x"), d)
        if cls in ("ok", "clean-error"):
            problem = _loads(runner, run) or _resumes(runner, run)
            if problem:
                cls, note = "data-loss", problem
        return Outcome(cls, note, "2x scribe " + _quote(argv))

    def two_writers(argv_fn, verify, n=2):
        def driver(d: Path, runner: Runner) -> Outcome:
            argvs = [argv_fn(d, i) for i in range(n)]
            runs = _together(runner, argvs, 150)
            cls, note = _worst(runs, Case("concurrency", "x"), d)
            if cls in ("ok", "clean-error"):
                problem = verify(d)
                if problem:
                    cls, note = "data-loss", problem
            return Outcome(cls, note, " & ".join("scribe " + _quote(a) for a in argvs))
        return driver

    def sample_while_training(d: Path, runner: Runner) -> Outcome:
        run = _copy(fx.text_run, d / "run")
        train = runner.start(["train", "text", "--resume", "--out", run, "--steps", str(run_step(run) + 12),
                              "--eval-every", "1", *TEXT_TINY])
        worst = ("ok", "")
        order = ("ok", "clean-error", "silent-accept", "data-loss", "hang", "traceback")
        for _ in range(4):
            r = runner.run(["sample", "text", "--model", run, "--length", "3"], timeout=60)
            got = classify(Case("concurrency", "x", valid=v_text), d, r)
            if order.index(got[0]) > order.index(worst[0]):
                worst = got
        t = runner.finish(train, 200)
        got = classify(Case("concurrency", "x"), d, t)
        if order.index(got[0]) > order.index(worst[0]):
            worst = got
        if worst[0] in ("ok", "clean-error"):
            problem = _loads(runner, run)
            if problem:
                worst = ("data-loss", problem)
        return Outcome(*worst, command=f"scribe train text --resume --out {run} ... & 4x scribe sample text --model {run}")

    return [
        Case("concurrency", "train-text/two-new-runs", driver=two_new_runs),
        Case("concurrency", "train-text/two-resumes", driver=two_resumes),
        Case("concurrency", "train-text/sample-while-saving", driver=sample_while_training),
        Case("concurrency", "import-inkml/same-out", driver=two_writers(
            lambda d, i: ["import", "inkml", fx.inkml_many, "--out", d / "ds"], lambda d: dataset_ok(d / "ds"))),
        Case("concurrency", "import-iam/same-out", driver=two_writers(
            lambda d, i: ["import", "iam", fx.iam, "--out", d / "ds", "--jobs", "1"], lambda d: dataset_ok(d / "ds"))),
        Case("concurrency", "synth/same-out", driver=two_writers(
            lambda d, i: ["synth", "--lines", "60", "--writers", "2", "--seed", str(i), "--out", d / "ds", "--hz", "30"],
            lambda d: dataset_ok(d / "ds"))),
        Case("concurrency", "synth/three-same-out", driver=two_writers(
            lambda d, i: ["synth", "--lines", "20", "--writers", "2", "--seed", str(i), "--out", d / "ds", "--hz", "30"],
            lambda d: dataset_ok(d / "ds"), n=3)),
        Case("concurrency", "export/same-out", driver=two_writers(
            lambda d, i: ["export", fx.text_run, "--out", d / "pkg", "--exporter", "legacy"],
            lambda d: package_ok(d / "pkg"))),
    ]


def _loads(runner: Runner, run: Path) -> str | None:
    r = runner.run(["sample", "text", "--model", run, "--length", "2", "--seed", "1"], timeout=90)
    if r.rc != 0 or r.timed_out:
        return f"the run folder no longer loads: {(r.err.strip().splitlines() or ['?'])[-1][:200]}"
    return None


def _resumes(runner: Runner, run: Path, kind: str = "text", data: Path | None = None) -> str | None:
    step = run_step(run)
    if kind == "text":
        argv = ["train", "text", "--resume", "--out", run, "--steps", str(step + 1), "--eval-every", "1", *TEXT_TINY]
    else:
        argv = ["train", "ink", "--resume", "--data", data, "--out", run, "--steps", str(step + 1), "--eval-every",
                "1", *INK_TINY]
    r = runner.run(argv, timeout=150)
    if r.rc != 0 or r.timed_out:
        return f"the run does not resume: {(r.err.strip().splitlines() or ['?'])[-1][:200]}"
    return None


# ---- kill -9 and Ctrl-C ----------------------------------------------------------------------------------------

def kill_family(fx: Fixtures, n_train: int = 10) -> list[Case]:
    rng = random.Random(42)

    def train_kill(kind: str, delay: float, sig: str):
        def driver(d: Path, runner: Runner) -> Outcome:
            run = _copy(fx.text_run if kind == "text" else fx.ink_run, d / "run")
            before = run_step(run)
            if kind == "text":
                argv = ["train", "text", "--resume", "--out", run, "--steps", str(before + 200), "--eval-every", "1",
                        *TEXT_TINY]
            else:
                argv = ["train", "ink", "--resume", "--data", fx.ink_ds, "--out", run, "--steps", str(before + 200),
                        "--eval-every", "1", *INK_TINY]
            if sig == "kill":
                r = runner.run(argv, timeout=150, kill_after=delay)
            else:
                r = runner.run(argv, timeout=150, interrupt_after=delay)
            cls, note = classify(Case("kill", "x"), d, r)
            if r.signalled == "kill" and cls in ("clean-error", "traceback") and "Traceback" not in r.err:
                cls, note = "ok", ""
            if cls in ("ok", "clean-error"):
                after = run_step(run)
                problem = None
                if after < before:
                    problem = f"last.json went back from step {before} to {after}"
                problem = problem or (_loads(runner, run) if kind == "text" else _loads_ink(runner, run))
                problem = problem or _resumes(runner, run, kind, fx.ink_ds if kind == "ink" else None)
                if problem:
                    cls, note = "data-loss", problem
                else:
                    note = note or f"{'killed' if sig == 'kill' else 'interrupted'} after {delay:.1f} s at step " \
                                   f"{run_step(run)}; loads and resumes"
            return Outcome(cls, note, f"scribe {_quote(argv)}  # {'kill -9' if sig == 'kill' else 'Ctrl-C'} after "
                                      f"{delay:.1f} s")
        return driver

    durations: dict[str, float] = {}

    def writer_kill(key, make_argv, verify, prepare, frac):
        """kill -9 a writer at ``frac`` of the time an undisturbed run of it takes (measured once per writer,
        in a folder of its own), so the kill lands while it works and often while it saves."""
        def driver(d: Path, runner: Runner) -> Outcome:
            if key not in durations:
                m = d / "measure"
                m.mkdir()
                prepare(m)
                t = runner.run(make_argv(m), timeout=150)
                durations[key] = t.seconds if t.rc == 0 else 5.0
                shutil.rmtree(m, ignore_errors=True)
            delay = max(0.2, frac * durations[key])
            prepare(d)
            argv = make_argv(d)
            r = runner.run(argv, timeout=150, kill_after=delay)
            cls, note = classify(Case("kill", "x"), d, r)
            if (r.signalled == "kill" and "Traceback" not in r.err) or cls in ("ok", "clean-error"):
                cls = "ok"
                note = (f"killed after {delay:.2f} s of ~{durations[key]:.2f} s; the earlier output loads"
                        if r.signalled == "kill" else "finished before the kill")
                problem = verify(d)
                if problem:
                    cls, note = "data-loss", problem
            return Outcome(cls, note, f"scribe {_quote(argv)}  # kill -9 after {delay:.2f} s")
        return driver

    cases = []
    for i in range(n_train):
        delay = rng.uniform(2.5, 12.0)
        cases.append(Case("kill", f"train-text/kill-9-{i}", driver=train_kill("text", delay, "kill")))
    for i in range(max(1, n_train // 3)):
        cases.append(Case("kill", f"train-ink/kill-9-{i}", driver=train_kill("ink", rng.uniform(3.0, 14.0), "kill")))
    for i in range(2):
        cases.append(Case("kill", f"train-text/ctrl-c-{i}", driver=train_kill("text", rng.uniform(3.0, 9.0), "int")))
    for i in range(4):
        frac = rng.uniform(0.4, 1.0)
        cases.append(Case("kill", f"import-inkml/kill-9-{i}", driver=writer_kill(
            "import-inkml", lambda d: ["import", "inkml", fx.inkml_many, "--out", d / "ds"],
            lambda d: dataset_ok(d / "ds"), lambda d: _copy(fx.ink_ds, d / "ds"), frac)))
        cases.append(Case("kill", f"import-iam/kill-9-{i}", driver=writer_kill(
            "import-iam", lambda d: ["import", "iam", fx.iam, "--out", d / "ds", "--jobs", "1", "--no-cache"],
            lambda d: dataset_ok(d / "ds"), lambda d: _copy(fx.ink_ds, d / "ds"), rng.uniform(0.4, 1.0))))
        cases.append(Case("kill", f"synth/kill-9-{i}", driver=writer_kill(
            "synth", lambda d: ["synth", "--lines", "400", "--writers", "3", "--out", d / "ds", "--hz", "30"],
            lambda d: dataset_ok(d / "ds"), lambda d: _copy(fx.ink_ds, d / "ds"), rng.uniform(0.4, 1.0))))
    for i in range(3):
        cases.append(Case("kill", f"export/kill-9-{i}", driver=writer_kill(
            "export", lambda d: ["export", fx.text_run, "--out", d / "pkg", "--exporter", "legacy"],
            lambda d: package_ok(d / "pkg"), lambda d: _copy(fx.text_pkg, d / "pkg"), rng.uniform(0.4, 1.0))))
    cases.append(Case("kill", "sample-ink-svg/kill-9", driver=writer_kill(
        "sample-ink", lambda d: ["sample", "ink", "--model", fx.pred_pkg, "--svg", d / "o.svg", "--max-steps", "3000"],
        lambda d: None if (d / "o.svg").read_text() in ("<svg>old</svg>", "") or v_svg()(d, None) is None
        else "the --svg file is neither the earlier one nor a complete new one",
        lambda d: _write(d / "o.svg", "<svg>old</svg>"), 0.95)))
    return cases


def _loads_ink(runner: Runner, run: Path) -> str | None:
    r = runner.run(["sample", "ink", "--model", run, "--text", "ab", "--svg", run.parent / "check.svg",
                    "--max-steps", "5"], timeout=90)
    if r.rc != 0 or r.timed_out:
        return f"the run folder no longer loads: {(r.err.strip().splitlines() or ['?'])[-1][:200]}"
    return None


# ============================================================================================ the matrix

BUILDERS = {"corpus": corpus_family, "inkml": inkml_family, "iam": iam_family, "dataset": dataset_family,
            "package": package_family, "checkpoint": checkpoint_family, "app-reader": app_reader_family,
            "cli": cli_family, "pipe": pipe_family, "outputs": outputs_family, "concurrency": concurrency_family,
            "kill": kill_family}
QUICK_CAP = {"corpus": 9, "inkml": 10, "iam": 8, "dataset": 5, "package": 12, "checkpoint": 10, "app-reader": 4,
             "cli": 24, "pipe": 5, "outputs": 6, "concurrency": 2, "kill": 2}
FRACTION_ALL = 30     # --fraction keeps every case of a family this small


def _spread(cases: list, n: int) -> list:
    """``n`` of ``cases``, evenly spread over the list (every kind of damage gets its share)."""
    if len(cases) <= n:
        return cases
    step = len(cases) / n
    return [cases[int(i * step)] for i in range(n)]


def build_cases(fx: Fixtures, families, quick: bool = False, only: str | None = None,
                fraction: float | None = None) -> list[Case]:
    cases = []
    for fam in families:
        got = BUILDERS[fam](fx) if fam != "kill" else kill_family(fx, 3 if quick else 6)
        if quick:
            got = _spread(got, QUICK_CAP[fam])
        elif fraction is not None and len(got) > FRACTION_ALL:
            got = _spread(got, max(FRACTION_ALL, math.ceil(fraction * len(got))))
        cases += got
    if only:
        cases = [c for c in cases if only in f"{c.family}/{c.name}"]
    return cases


def run_case(case: Case, idx: int, runner: Runner, work: Path, keep: bool) -> Outcome:
    slug = re.sub(r"[^A-Za-z0-9_.=-]+", "_", f"{case.family}-{case.name}")[:80]
    d = work / "cases" / f"{idx:04d}-{slug}"
    d.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        if case.driver is not None:
            out = case.driver(d, runner)
        else:
            argv = case.make(d)
            r = runner.run(argv, timeout=case.timeout, interrupt_after=case.interrupt_after,
                           stdout_limit=case.stdout_limit, env=case.env, python=case.python, fsize=case.fsize)
            cls, note = classify(case, d, r)
            if case.check is not None and cls != "hang":
                problem = case.check(d, r)
                if problem:
                    cls, note = "data-loss", problem
            env = " ".join(f"{k}={shlex.quote(v)}" for k, v in (case.env or {}).items())
            prog = "python -c <app reader>" if case.python else "scribe"
            pipe = f" | head -c {case.stdout_limit}" if case.stdout_limit is not None else ""
            out = Outcome(cls, note, f"{env + ' ' if env else ''}{prog} {_quote(argv)}{pipe}")
    except Exception as exc:   # noqa: BLE001 - a harness failure is reported, not fatal
        out = Outcome("harness-error", f"{type(exc).__name__}: {exc}"[:400], "")
        if runner.verbose:
            tb.print_exc()
    out.seconds = time.monotonic() - t0
    if not keep and out.cls in ("ok", "clean-error"):
        shutil.rmtree(d, ignore_errors=True)
    return out


def report_markdown(results, started: str, seconds: float, argv: list[str]) -> str:
    counts = Counter(o.cls for _, o in results)
    fams = [f for f in FAMILIES if any(c.family == f for c, _ in results)]
    per = defaultdict(Counter)
    for c, o in results:
        per[c.family][o.cls] += 1
    cols = list(CLASSES) + (["harness-error"] if counts.get("harness-error") else [])
    lines = [f"# Fuzz matrix: {len(results)} cases", "",
             f"`{' '.join(argv)}` — started {started}, {seconds / 60:.1f} min, one case at a time.", "",
             "| class | cases |", "|---|---:|"]
    lines += [f"| {k} | {counts.get(k, 0)} |" for k in cols]
    lines += ["", "| family | " + " | ".join(cols) + " | total |", "|---|" + "---:|" * (len(cols) + 1)]
    for f in fams:
        lines.append(f"| {f} | " + " | ".join(str(per[f].get(k, 0)) for k in cols) + f" | {sum(per[f].values())} |")
    lines.append("| **all** | " + " | ".join(f"**{counts.get(k, 0)}**" for k in cols) + f" | **{len(results)}** |")
    bad = [(c, o) for c, o in results if o.cls in BAD_CLASSES or o.cls == "harness-error"]
    lines += ["", "## Findings", ""]
    if not bad:
        lines.append("None: no traceback, hang, data loss or silent acceptance.")
    for c, o in bad:
        lines += [f"- **{o.cls}** `{c.family}/{c.name}`: {o.note}", f"  - `{o.command[:600]}`"]
    timed = [(c, o) for c, o in results if c.family in ("kill", "concurrency") and o.cls not in BAD_CLASSES]
    if timed:
        lines += ["", "## Kill and concurrency cases", ""]
        lines += [f"- `{c.family}/{c.name}`: {o.cls}{' - ' + o.note[:200] if o.note else ''}" for c, o in timed]
    refused = [(c, o) for c, o in results if o.cls == "clean-error" and c.expect != "error"]
    if refused:
        lines += ["", "## Refused inputs the matrix did not insist on refusing", "",
                  "Not failures (a clean one-line refusal); listed to catch over-strict checks.", ""]
        lines += [f"- `{c.family}/{c.name}`: {o.note[:200]}" for c, o in refused]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short run: a sample of every family")
    ap.add_argument("--fraction", type=float, default=None, metavar="F",
                    help=f"that share of every family's cases, evenly spread (families of up to {FRACTION_ALL} "
                         f"cases run whole)")
    ap.add_argument("--family", action="append", choices=FAMILIES, help="only these families (repeatable)")
    ap.add_argument("--only", default=None, metavar="TEXT", help="only cases whose family/name contains TEXT")
    ap.add_argument("--out", default=None, metavar="FILE", help="write a markdown report")
    ap.add_argument("--work", default=None, metavar="DIR", help="scratch folder (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep every case's inputs (failed ones are always kept)")
    ap.add_argument("--timeout-scale", type=float, default=1.0, help="multiply every timeout (slow machines)")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="scribe-fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    runner = Runner(work, verbose=args.verbose, timeout_scale=args.timeout_scale)
    fx = Fixtures(runner, work / "fixtures")
    (work / "fixtures").mkdir(exist_ok=True)
    cases = build_cases(fx, args.family or FAMILIES, args.quick, args.only, args.fraction)
    if args.list:
        for c in cases:
            print(f"{c.family}/{c.name}  expect={c.expect}")
        print(f"{len(cases)} cases")
        return 0
    print(f"{len(cases)} cases; scratch folder {work}", flush=True)
    started = time.strftime("%Y-%m-%d %H:%M")
    t0 = time.monotonic()
    results = []
    for i, case in enumerate(cases, 1):
        out = run_case(case, i, runner, work, args.keep)
        results.append((case, out))
        flag = "" if out.cls in ("ok", "clean-error") else "   <-- " + out.note[:160]
        print(f"[{i}/{len(cases)}] {case.family}/{case.name}: {out.cls} ({out.seconds:.1f} s){flag}", flush=True)
    seconds = time.monotonic() - t0
    counts = Counter(o.cls for _, o in results)
    print("\nper class: " + ", ".join(f"{k} {counts.get(k, 0)}" for k in CLASSES)
          + (f", harness-error {counts['harness-error']}" if counts.get("harness-error") else ""))
    per = defaultdict(Counter)
    for c, o in results:
        per[c.family][o.cls] += 1
    for f in FAMILIES:
        if per[f]:
            print(f"  {f:12} " + ", ".join(f"{k} {v}" for k, v in sorted(per[f].items())))
    for c, o in results:
        if o.cls in BAD_CLASSES or o.cls == "harness-error":
            print(f"{o.cls}: {c.family}/{c.name}: {o.note}\n    {o.command[:400]}")
    if args.out:
        Path(args.out).write_text(report_markdown(results, started, seconds, ["python", "bench/fuzz_matrix.py",
                                                                              *(argv or sys.argv[1:])]),
                                  encoding="utf-8")
        print(f"report: {args.out}")
    if not args.work and not args.keep and not any(o.cls not in ("ok", "clean-error") for _, o in results):
        shutil.rmtree(work, ignore_errors=True)
    return 1 if any(counts.get(k) for k in ("traceback", "hang", "data-loss", "harness-error")) else 0


if __name__ == "__main__":
    sys.exit(main())
