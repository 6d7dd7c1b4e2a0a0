"""Data-parallel training over several processes: ``torchrun`` (one or many machines), or
``scribe train text|ink --nproc N``, which starts torchrun's launcher itself on this machine.

Every process (a *rank*) holds the whole model and trains on its own share of each batch: the global batch
``--batch B`` is split into ``B / N`` per rank (text: rank r runs streams ``[r B/N, (r+1) B/N)`` of exactly the
streams one process with batch B would run; handwriting: every rank draws the same global batch of lines
from the shared seed and takes its slice). One all-reduce per step (:meth:`DistContext.reduce_step`) sums, in
one flat buffer, each rank's gradient weighted by its number of units (tokens or real pen points), its
loss x units, its unit count, its stop flag and rank 0's clock; dividing by the summed units gives every rank
the gradient and loss of the global batch's mean, bit for bit the same on every rank. So the global-norm
clipping, the non-finite guard (a NaN or inf on any rank makes the sums non-finite on all), the stop decision
(Ctrl-C, the app's Stop) and the time budget (``--minutes``) decide the same way everywhere.

Rank 0 alone writes checkpoints, events, the progress bar and samples, and evaluates (the full evaluation
runs on rank 0 and its metrics are broadcast, so early stopping and "best" agree). Checkpoints hold the
state of the global batch (text: the carried hidden state of all B streams, gathered), so a run resumes
with any number of processes. Without torchrun none of this is imported and training is exactly as before.

NCCL on CUDA (each process uses the GPU of its ``LOCAL_RANK``), gloo on the CPU. CUDA-graph replay
(``engine.training.step_graph``) is off under several processes: the all-reduce has to run between the
backward pass and the clipping, which are captured together (the trainer says so in a warning).
"""

from __future__ import annotations

import contextlib
import os
import sys
from datetime import timedelta

from engine.core.errors import ScribeError

LAUNCHER_ENV = "SCRIBE_LAUNCHER"        # set by :func:`launch`: workers leave the "a process died" line to it
PEER_LOST_EXIT = 3                      # a rank whose collective failed because another one ended


class PeerLost(ScribeError):
    """A collective operation failed: another process of the job ended, or the network between them failed."""

    exit_code = PEER_LOST_EXIT


def launched() -> bool:
    """Whether this process was started by torchrun (or another launcher that sets the torch.distributed
    environment: RANK, WORLD_SIZE, MASTER_ADDR)."""
    env = os.environ
    return "TORCHELASTIC_RUN_ID" in env or all(k in env for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR"))


class DistContext:
    """This process's place in the job and the few collectives training needs."""

    def __init__(self, rank: int, world: int, local_rank: int, backend: str, device):
        self.rank, self.world, self.local_rank = rank, world, local_rank
        self.backend, self.device = backend, device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def _collective(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RuntimeError as exc:   # DistBackendError and friends: a peer is gone
            why = " ".join(str(exc).split())[:160]
            raise PeerLost(f"process {self.rank} of {self.world} lost contact with the others ({why})") from None

    def reduce_step(self, params, loss, n_units, *, stop: bool, elapsed: float):
        """All-reduce one step's gradients (in place, as the gradient of the global batch's mean loss) with the
        step's bookkeeping. Returns (global mean loss, [global units, ranks asking to stop, rank 0's elapsed
        seconds]) as device tensors (no host sync here)."""
        import torch
        import torch.distributed as tdist

        grads = [p.grad for p in params if p.grad is not None]
        dev = loss.device
        n = float(n_units)
        head = torch.tensor([n, 1.0 if stop else 0.0, float(elapsed) if self.is_main else 0.0], device=dev)
        flat = torch.cat([g.reshape(-1).float() for g in grads] + [loss.detach().float().reshape(1), head])
        size = flat.numel() - 4
        flat[:size + 1].mul_(n)                      # gradient and loss x this rank's units
        self._collective(tdist.all_reduce, flat)
        flat[:size + 1].div_(flat[size + 1])         # / the global units: the global mean's gradient and loss
        offset = 0
        for g in grads:
            k = g.numel()
            g.copy_(flat[offset:offset + k].view_as(g))
            offset += k
        return flat[size], flat[size + 1:]

    def all_flags(self, *flags: bool) -> list[int]:
        """Each flag summed over the ranks (how many ranks raised it)."""
        import torch
        import torch.distributed as tdist

        t = torch.tensor([1.0 if f else 0.0 for f in flags], device=self.device)
        self._collective(tdist.all_reduce, t)
        return [int(v) for v in t.tolist()]

    def broadcast_object(self, obj):
        """Rank 0's ``obj`` (picklable) on every rank."""
        import torch.distributed as tdist

        box = [obj if self.is_main else None]
        self._collective(tdist.broadcast_object_list, box, src=0)
        return box[0]

    def broadcast_model(self, model) -> None:
        """Rank 0's weights and buffers on every rank (they start equal anyway: same seed, same checkpoint)."""
        import torch.distributed as tdist

        for t in [*model.parameters(), *model.buffers()]:
            self._collective(tdist.broadcast, t.data, src=0)

    def gather(self, t, dim: int):
        """Every rank's ``t`` (same shape on all), concatenated along ``dim`` in rank order."""
        import torch
        import torch.distributed as tdist

        t = t.contiguous()
        parts = [torch.empty_like(t) for _ in range(self.world)]
        self._collective(tdist.all_gather, parts, t)
        return torch.cat(parts, dim=dim)


_CURRENT: DistContext | None = None


def current() -> DistContext | None:
    """The job this process belongs to (None: a single-process run)."""
    return _CURRENT


def init(device: str | None = "auto") -> DistContext | None:
    """Join the job torchrun started (None when it did not start this process). ``device``: the run's device
    setting; CUDA runs use the GPU of this process's LOCAL_RANK and NCCL, CPU runs gloo."""
    global _CURRENT
    if _CURRENT is not None or not launched():
        return _CURRENT
    import torch
    import torch.distributed as tdist

    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    local = int(os.environ.get("LOCAL_RANK", 0))
    name = (device or "auto").lower()
    cuda = name.startswith("cuda") or (name == "auto" and torch.cuda.is_available())
    if cuda:
        count = torch.cuda.device_count()
        if count == 0:
            raise ScribeError("CUDA was requested but this torch build sees no GPU; use --device cpu")
        if local >= count:
            raise ScribeError(f"process {local} of this machine has no GPU of its own: the machine has {count} "
                              f"GPU(s); start at most {count} processes per machine")
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
        backend = "nccl"
    else:
        dev = torch.device("cpu")
        backend = "gloo"
    try:
        tdist.init_process_group(backend, timeout=timedelta(minutes=30))
    except (RuntimeError, ValueError) as exc:
        raise ScribeError(f"cannot join the training job ({backend}): {' '.join(str(exc).split())[:200]}") from None
    _CURRENT = DistContext(rank, world, local, backend, dev)
    return _CURRENT


def shutdown(finished: bool = False) -> None:
    """Leave the job. ``finished`` (every rank ended the run normally): wait for the others first, so no rank
    tears its connections down while another still uses them."""
    global _CURRENT
    if _CURRENT is None:
        return
    backend, _CURRENT = _CURRENT.backend, None
    import torch.distributed as tdist

    with contextlib.suppress(Exception):
        if tdist.is_initialized():
            if finished:
                if backend == "gloo":
                    tdist.monitored_barrier(timeout=timedelta(minutes=2))
                else:
                    tdist.barrier()
            tdist.destroy_process_group()


def exit_process(code: int) -> None:
    """End a process of a finished job at once: output flushed, files already closed and fsynced by the run.
    Skips the interpreter's teardown, where the communication library's threads can abort a process that
    has done its work (a gloo rank died with SIGABRT, "terminate called without an active exception", after
    a finished run on a loaded machine)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


@contextlib.contextmanager
def one_report(dist: DistContext | None, stage: str):
    """Errors of a multi-process run said once: an error every rank meets alike (bad settings, data, a
    non-finite loss) is printed by rank 0 alone; one only this rank meets is printed with its rank; a rank
    whose peer died stays quiet under ``--nproc`` (the launcher names the process that ended).

    ``stage`` "build": the ranks compare notes after building (one all-reduce), so a failure anywhere ends
    every rank at once."""
    if dist is None:
        yield
        return
    err: ScribeError | None = None
    try:
        yield
    except PeerLost as exc:
        if os.environ.get(LAUNCHER_ENV) or not dist.is_main:
            exc.quiet = True
        raise
    except ScribeError as exc:
        if stage != "build":
            if not dist.is_main and getattr(exc, "shared", False):
                exc.quiet = True
            elif not dist.is_main:
                exc.args = (f"process {dist.rank} of {dist.world}: {exc}",)
            raise
        err = exc
    if stage == "build":
        failed, main_failed = dist.all_flags(err is not None, err is not None and dist.is_main)
        if err is not None:
            if not dist.is_main and main_failed:
                err.quiet = True          # rank 0 says it
            elif not dist.is_main:
                err.args = (f"process {dist.rank} of {dist.world}: {err}",)
            raise err
        if failed:
            exc = ScribeError("another process of the job could not start")
            exc.quiet = True
            raise exc


# ---- the --nproc launcher ---------------------------------------------------------------------------------

def without_flag(argv: list[str], flag: str) -> list[str]:
    """``argv`` without ``flag VALUE`` / ``flag=VALUE``."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == flag:
            skip = True
        elif not a.startswith(flag + "="):
            out.append(a)
    return out


def strip_nproc(argv: list[str]) -> list[str]:
    """``argv`` without ``--nproc N`` / ``--nproc=N``."""
    return without_flag(argv, "--nproc")


def _signal_name(code: int) -> str:
    import signal

    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def check_launchable() -> None:
    """Several processes start as ``python -m engine.cli``: a packaged (PyInstaller) build has no such
    interpreter, so it says so instead of starting copies of itself."""
    if getattr(sys, "frozen", False):
        raise ScribeError("training in several processes (--nproc, GPUs: N) needs Scribe Studio installed with "
                          "pip (the README's setup command); this packaged build trains in one process")


def launch(nproc: int, argv: list[str], out: str, device: str | None = "auto") -> int:
    """Run ``scribe <argv>`` in ``nproc`` processes on this machine under torch's elastic launcher (what
    ``torchrun --standalone --nproc-per-node N -m engine.cli ...`` does). The workers print their own lines;
    when a process ends without saying why (killed, crashed), one line here names it. Ctrl-C reaches every
    process (torch's launcher forwards it): they stop together and rank 0 saves a checkpoint."""
    import logging
    import uuid

    import torch

    check_launchable()
    name = (device or "auto").lower()
    if name.startswith("cuda") or (name == "auto" and torch.cuda.is_available()):
        count = torch.cuda.device_count()
        if nproc > count:
            raise ScribeError(f"--nproc {nproc} needs {nproc} GPUs; this machine has {count} (give --nproc {count}, "
                              f"or --device cpu)")
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    for name in [*logging.root.manager.loggerDict, "torch.distributed.elastic"]:   # its tables: our one line instead
        if name.startswith("torch.distributed.elastic"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    os.environ[LAUNCHER_ENV] = "1"
    cfg = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=uuid.uuid4().hex,
                       rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.2)
    try:
        elastic_launch(cfg, sys.executable)("-m", "engine.cli", *argv)
    except SignalException:
        return 130                   # Ctrl-C / SIGTERM: the workers stopped (rank 0 said where)
    except ChildFailedError as exc:
        failures = exc.failures
        if any(f.exitcode == 2 for f in failures.values()):
            return 2                 # a worker said what went wrong
        import signal

        # the cause, not the casualties: a rank whose peer died (PEER_LOST_EXIT, or SIGABRT: gloo can abort the
        # process when a peer vanishes mid-collective, seen under load) or that the launcher ended while tearing
        # the job down (SIGTERM / SIGINT) is named only when nothing else failed
        teardown = {PEER_LOST_EXIT, -signal.SIGABRT, -signal.SIGTERM, -signal.SIGINT}
        real = [(r, f) for r, f in failures.items() if f.exitcode not in teardown] or list(failures.items())
        rank, f = min(real, key=lambda rf: (rf[1].timestamp, rf[0]))
        how = f"was killed by {_signal_name(f.exitcode)}" if f.exitcode < 0 else f"exited with code {f.exitcode}"
        print(f"scribe: error: training process {rank} of {nproc} {how}; all processes stopped; "
              f"{_last_checkpoint(out)}", file=sys.stderr)
        return 2
    return 0


def _last_checkpoint(out: str) -> str:
    from engine.training.checkpoint import list_checkpoints

    try:
        kept = list_checkpoints(out)
    except OSError:
        kept = []
    return f"the checkpoint of step {kept[-1]['step']} in {out} is kept (--resume continues)" if kept else \
        f"no checkpoint was written to {out}"
