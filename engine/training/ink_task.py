"""Training task for the handwriting networks (kinds "ink-synthesis" and "ink-prediction") on the shared
trainer (``engine.training.trainer``; task interface in its docstring).

- Whole lines per sequence: input = [start row (0, 0, 1), p_1 .. p_{n-1}], target = p_1 .. p_n, where a
  line's first point is moved to the origin (``engine.core.ink_stream.prepare_line``) and offsets are
  normalised with statistics of the training split (``engine.core.norm``; stored in the card).
- Lines are bucketed by length into a few fixed padded lengths (and per-bucket fixed text lengths), every
  batch has exactly ``batch`` lines, padding is masked: fixed shapes (cuDNN / CUDA-graph friendly) and
  little wasted compute. Epochs follow a plan derived from (seed, epoch), so resume is exact.
- ``evaluate`` reports validation nats per point (``val_loss``) and per line (``nats_per_line``).
- Data parallel (``dist``, engine.training.distributed): every process draws the same plan from the seed and
  trains on its slice of each global batch of ``batch`` lines (``batch / ranks`` lines each).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from engine.core.errors import DataError
from engine.core.ink_score import TRAIN_JOINS, after_prime
from engine.core.ink_stream import START_ROW, WINDOW_LEAD, ink_sample, prepare_line
from engine.core.norm import NormStats, stats_from_lines
from engine.core.vocab import Vocab
from engine.data.ink_dataset import InkDataset
from engine.data.prime import InkScale
from engine.models import mdn
from engine.models.handwriting import build

DEFAULT_SAMPLE_TEXT = "Scribe Studio writes by hand"


def _kind(kind: str) -> str:
    k = kind.removeprefix("ink-")
    if k not in ("synthesis", "prediction"):
        raise DataError(f"unknown handwriting model kind {kind!r} (synthesis or prediction)")
    return "ink-" + k


class InkTask:
    unit = "points"
    static_batches = True   # next_static_batch: every batch of a bucket has the same shapes (CUDA graphs)

    def __init__(self, dataset: InkDataset, kind: str = "synthesis", model_cfg: dict | None = None,
                 batch: int = 32, buckets: int = 4, max_points: int = 1200, eval_lines: int = 256,
                 val_fraction: float = 0.05, sample_text: str | None = None, sample_bias: float = 0.5,
                 model: torch.nn.Module | None = None, vocab: Vocab | None = None, norm: NormStats | None = None,
                 seed: int = 1337, compile_step: str = "auto", dist=None):
        self.kind = _kind(kind)
        self.dist = dist
        self.synthesis = self.kind == "ink-synthesis"
        self.dataset = dataset
        self.batch = int(batch)
        ranks = dist.world if dist is not None else 1
        if self.batch % ranks:
            raise DataError(f"a batch of {self.batch} lines cannot be split evenly over {ranks} processes: give a "
                            f"--batch that is a multiple of {ranks}")
        self.local = self.batch // ranks                              # lines this process trains on per batch
        self.first = (dist.rank if dist is not None else 0) * self.local
        self.max_points = max_points
        self.seed = seed
        self.sample_bias = sample_bias
        self.compile_step = compile_step
        self.device = torch.device("cpu")

        # ---- lines --------------------------------------------------------------------------------
        self.skipped = {"short": 0, "long": 0, "no_text": 0, "unknown_chars": 0}
        train_idx, val_idx = list(dataset.indices("train")), list(dataset.indices("val"))
        if not train_idx:
            raise DataError("the dataset has no training lines")
        if not val_idx:  # hold out a deterministic slice of the training lines
            rng = np.random.default_rng(seed)
            perm = rng.permutation(train_idx)
            n_val = max(1, int(round(len(perm) * val_fraction))) if len(perm) > 1 else 0
            val_idx, train_idx = sorted(perm[:n_val].tolist()), sorted(perm[n_val:].tolist())
        texts = [dataset.lines_meta[i].get("text", "") for i in train_idx + val_idx]
        if self.synthesis:
            self.vocab = vocab if vocab is not None else Vocab.from_text("".join(texts))
            if len(self.vocab) == 0:
                raise DataError("the dataset's lines have no transcriptions; a synthesis model needs text "
                                "(train a prediction model instead)")
        else:
            self.vocab = vocab
        self.train_lines, kept = self._select(train_idx, max_points)
        self.train_writers = [str(dataset.lines_meta[i].get("writer", "")) for i in kept]
        self.val_lines = self._select(val_idx, max_points)[0][:eval_lines]
        if not self.train_lines:
            raise DataError(f"no usable training lines (skipped: {self.skipped})")
        if not self.val_lines:
            raise DataError(f"no usable validation lines (skipped: {self.skipped})")
        self.norm = norm if norm is not None else stats_from_lines([p for p, _ in self.train_lines])
        # what a prime must look like for this model (engine.data.prime): measured on raw training lines
        self.ink_scale = InkScale.from_lines([p for p, _ in self.train_lines[::max(1, len(self.train_lines) // 500)]])
        self.train_lines = [(self.norm.normalise(p), ids) for p, ids in self.train_lines]
        self.val_lines = [(self.norm.normalise(p), ids) for p, ids in self.val_lines]
        n_pts = sum(len(p) for p, _ in self.train_lines)
        n_chars = sum(len(ids) for _, ids in self.train_lines)
        self.points_per_char = n_pts / n_chars if n_chars else None
        self.sample_text = self._pick_sample_text(sample_text)

        # ---- model --------------------------------------------------------------------------------
        if model is None:
            cfg = dict(model_cfg or {})
            if self.synthesis:
                cfg["vocab_size"] = len(self.vocab)
                if self.points_per_char and "kappa_init" not in cfg:
                    cfg["kappa_init"] = 1.0 / self.points_per_char
            else:
                cfg.pop("vocab_size", None)
            model = build(self.kind, cfg)
        self.model = model
        self.m = model.cfg.mixtures

        # ---- buckets ------------------------------------------------------------------------------
        self.bucket_of, self.bucket_shapes = self._make_buckets(buckets)
        self.epoch, self.pos = 0, 0
        self.plan = self._plan(self.epoch)

    # ---- data preparation ----------------------------------------------------------------------
    def _select(self, idx, max_points: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[int]]:
        """(the usable lines of ``idx`` as (points, ids), the dataset index of each)."""
        out, kept = [], []
        for i in idx:
            line = self.dataset.line(int(i))
            if len(line.points) < 2:
                self.skipped["short"] += 1
                continue
            if max_points and len(line.points) > max_points:
                self.skipped["long"] += 1
                continue
            ids = np.zeros(0, dtype=np.int64)
            if self.synthesis:
                if not line.text:
                    self.skipped["no_text"] += 1
                    continue
                if self.vocab.unknown(line.text):
                    self.skipped["unknown_chars"] += 1
                    continue
                ids = np.asarray(self.vocab.encode(line.text), dtype=np.int64)
            out.append((prepare_line(line.points), ids))
            kept.append(int(i))
        return out, kept

    def _pick_sample_text(self, text: str | None) -> str:
        if not self.synthesis:
            return ""
        for cand in (text, DEFAULT_SAMPLE_TEXT, DEFAULT_SAMPLE_TEXT.lower()):
            if cand and not self.vocab.unknown(cand):
                return cand
        ids = self.val_lines[0][1]
        return self.vocab.decode(ids[:40])

    def _make_buckets(self, n_buckets: int):
        lens = np.array([len(p) for p, _ in self.train_lines])
        n_buckets = max(1, min(int(n_buckets), len(lens) // max(self.batch, 1) or 1))
        edges = np.unique(np.quantile(lens, np.linspace(0, 1, n_buckets + 1)[1:], method="higher"))
        bucket_of = np.searchsorted(edges, lens, side="left")
        shapes = []
        for b in range(len(edges)):
            members = np.flatnonzero(bucket_of == b)
            t_pad = int(math.ceil(lens[members].max() / 8) * 8) if len(members) else 8
            u_pad = max((len(self.train_lines[i][1]) for i in members), default=1) if self.synthesis else 0
            shapes.append((t_pad, max(u_pad, 1) if self.synthesis else 0))
        return bucket_of, shapes

    def _plan(self, epoch: int) -> list[tuple[int, np.ndarray]]:
        """This epoch's batches: (bucket, line indices), every line once, each batch exactly ``batch``
        lines (a bucket's last batch is topped up from the same bucket)."""
        rng = np.random.default_rng([self.seed, epoch])
        plan = []
        for b in range(len(self.bucket_shapes)):
            members = np.flatnonzero(self.bucket_of == b)
            if len(members) == 0:
                continue
            members = rng.permutation(members)
            for s in range(0, len(members), self.batch):
                chunk = members[s:s + self.batch]
                if len(chunk) < self.batch:
                    chunk = np.concatenate([chunk, rng.choice(members, self.batch - len(chunk))])
                plan.append((b, chunk))
        order = rng.permutation(len(plan))
        return [plan[i] for i in order]

    def _tensors(self, lines, t_pad: int, u_pad: int):
        B = len(lines)
        x = np.zeros((B, t_pad, 3), dtype=np.float32)
        tgt = np.zeros((B, t_pad, 3), dtype=np.float32)
        mask = np.zeros((B, t_pad), dtype=np.float32)
        chars = np.zeros((B, u_pad, len(self.vocab)), dtype=np.float32) if self.synthesis else None
        for i, (p, ids) in enumerate(lines):
            n = len(p)
            x[i, 0] = START_ROW
            x[i, 1:n] = p[:-1]
            tgt[i, :n] = p
            mask[i, :n] = 1.0
            if chars is not None:
                chars[i, np.arange(len(ids)), ids] = 1.0
        dev = self.device
        out = [torch.from_numpy(a).to(dev, non_blocking=True) for a in (x, tgt, mask)]
        return (*out, torch.from_numpy(chars).to(dev, non_blocking=True) if chars is not None else None)

    def _outputs(self, x, chars):
        if self.synthesis:
            y, _ = self.model(x, chars)
        else:
            y, _ = self.model(x)
        return y

    def _row_tensors(self, rows) -> list:
        """Batch tensors ``[x, tgt, mask, chars, chars2, at]`` of rows (points (normalised), switch step or -1,
        text ids before the switch, text ids after it): lines, and line pairs (:func:`pair_row`), padded to the
        batch's own length. ``self.model(x, chars, switch=(at, chars2))`` reads them (:meth:`_pair_loss`)."""
        t_pad = int(math.ceil(max(len(r[0]) for r in rows) / 8) * 8)
        u_pad = max(max(len(r[2]), len(r[3]), 1) for r in rows)
        x, tgt, mask, chars = self._tensors([(p, ids) for p, _, ids, _ in rows], t_pad, u_pad)
        chars2 = np.zeros((len(rows), u_pad, len(self.vocab)), dtype=np.float32)
        for k, (_, _, _, ids2) in enumerate(rows):
            chars2[k, np.arange(len(ids2)), ids2] = 1.0
        at = np.array([sw for _, sw, _, _ in rows], dtype=np.int64)
        return [x, tgt, mask, chars, *(torch.from_numpy(a).to(self.device) for a in (chars2, at))]

    def _pair_loss(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(summed NLL, points) of a batch made by :meth:`_row_tensors`."""
        x, tgt, mask, chars, chars2, at = batch
        y, _ = self.model(x, chars, switch=(at, chars2))
        return mdn.nll(y, tgt, self.m, mask), mask.sum()

    # ---- task interface ------------------------------------------------------------------------
    def to(self, device) -> None:
        self.device = torch.device(device)
        self.model.to(self.device)
        if self.synthesis and hasattr(self.model, "compile_step"):
            # "auto" is off: on an H200 compiling the step gained little and recompiles for every bucket shape
            # (bench/RESULTS-handwriting.md); "on" asks for it anyway
            self.model.compile_step(self.compile_step == "on")

    def _next_planned(self) -> tuple[int, np.ndarray]:
        """The plan's next (bucket, global batch's line indices), starting a new epoch's plan when one ends."""
        if self.pos >= len(self.plan):
            self.epoch += 1
            self.pos = 0
            self.plan = self._plan(self.epoch)
        self.pos += 1
        return self.plan[self.pos - 1]

    def next_static_batch(self):
        """(bucket, [x, tgt, mask, chars]): every batch of a bucket has the same shapes (for CUDA graphs)."""
        b, idx = self._next_planned()
        idx = idx[self.first:self.first + self.local]   # this process's share of the global batch
        t_pad, u_pad = self.bucket_shapes[b]
        return b, list(self._tensors([self.train_lines[i] for i in idx], t_pad, u_pad))

    def next_batch(self):
        return self.next_static_batch()[1]

    def static_loss(self, x, tgt, mask, chars):
        """(mean loss per real point, number of real points) as tensors: no host sync."""
        y = self._outputs(x, chars)
        n = mask.sum()
        return mdn.nll(y, tgt, self.m, mask) / n, n

    def train_loss(self):
        loss, n = self.static_loss(*self.next_batch())
        return loss, int(n.item())

    def reset_state(self) -> None:
        pass  # whole lines: no state carried between batches

    def nll(self, lines) -> tuple[float, int]:
        """(summed NLL, points) of ``lines`` (normalised points, ids), teacher-forced in batches of similar
        length."""
        order = sorted(range(len(lines)), key=lambda i: len(lines[i][0]))
        total, points = 0.0, 0
        for s in range(0, len(order), self.batch):
            chunk = [lines[i] for i in order[s:s + self.batch]]
            t_pad = max(len(p) for p, _ in chunk)
            u_pad = max((len(ids) for _, ids in chunk), default=1) if self.synthesis else 0
            x, tgt, mask, chars = self._tensors(chunk, t_pad, max(u_pad, 1) if self.synthesis else 0)
            total += float(mdn.nll(self._outputs(x, chars), tgt, self.m, mask))
            points += int(mask.sum().item())
        return total, points

    def evaluate(self) -> dict:
        total, points = self.nll(self.val_lines)
        n_lines = len(self.val_lines)
        return {"val_loss": total / points, "nats_per_line": total / n_lines, "nats_per_point": total / points,
                "val_lines": n_lines, "val_points": points}

    def stepper(self):
        from engine.models.torch_stepper import TorchStepper

        return TorchStepper(self.model.step_module(), device=self.device)

    def sample(self, seed: int) -> dict:
        if self.synthesis:
            cap = min(40 * len(self.sample_text), 1500)
            pts = ink_sample(self.stepper(), text=self.sample_text, vocab=self.vocab, norm=self.norm,
                             bias=self.sample_bias, seed=seed, max_steps=cap)
        else:
            pts = ink_sample(self.stepper(), norm=self.norm, bias=self.sample_bias, seed=seed, max_steps=400)
        return {"kind": self.kind, "text": self.sample_text, "bias": self.sample_bias,
                "points": np.round(pts.astype(np.float64), 3).tolist()}

    def card(self) -> dict:
        card = {"model_config": self.model.config_dict(), "norm": self.norm.to_json(),
                "ink_scale": self.ink_scale.to_json(),
                "data": {"source": self.dataset.source, "lines": len(self.dataset),
                         "train_lines": len(self.train_lines), "val_lines": len(self.val_lines),
                         "train_points": int(sum(len(p) for p, _ in self.train_lines)),
                         "max_points": self.max_points, "skipped": dict(self.skipped)},
                "batch": self.batch, "buckets": [list(s) for s in self.bucket_shapes],
                "generation": {"bias": self.sample_bias, "steps_per_char": 40}}
        if self.synthesis:
            card.update(vocab=self.vocab.to_json(), points_per_char=self.points_per_char,
                        sample_text=self.sample_text)
        return card

    def checkpoint_state(self):
        return {"epoch": self.epoch, "pos": self.pos}, {}

    def load_checkpoint_state(self, js: dict, tensors: dict) -> None:
        self.epoch = int(js.get("epoch", 0))
        self.pos = int(js.get("pos", 0))
        self.plan = self._plan(self.epoch)


def pair_row(prime, line, norm: NormStats, gap: float, join: str, lead: np.ndarray
             ) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """(points (normalised), switch step, prime text ids, line text ids) of ``line`` written after ``prime``
    (each (normalised points, text ids)), joined as ``engine.core.ink_stream`` primes and ``engine.core.ink_score``
    scores a primed line: the line's first point (its origin) moves to where ``join`` puts it a word space
    ``gap`` right of the prime (``ink_score.after_prime``), and it reads ``lead`` (the ids of ``WINDOW_LEAD``) +
    its text. Training pairs of :class:`PairedInkTask` and of the personal fine-tune."""
    a_norm, a_ids = prime
    b_norm, b_ids = line
    jump = np.array([[*after_prime(norm.denormalise(a_norm), gap, norm.denormalise(b_norm), join), 0.0]])
    b = b_norm.copy()
    b[0, :2] = norm.normalise(jump)[0, :2]
    return np.concatenate([a_norm, b]), len(a_norm), a_ids, np.concatenate([lead, b_ids])


class PairedInkTask(InkTask):
    """An :class:`InkTask` that also trains priming: in each batch a share ``pairs`` of the lines follow
    another line of the same writer, joined the way ``engine.core.ink_stream`` primes and
    ``engine.core.ink_score`` scores a primed line: the first line is teacher-forced with its own text, then
    (before its last point) the window state is reset and reads ``WINDOW_LEAD`` + the line's text, and the
    line starts a word space right of the first, on its baseline, where the ``join`` puts it
    (``ink_score.after_prime``; kept in ``ink_scale.join``, which the card records). Both lines' points are trained
    on. Single-line models never see the state a prime leaves behind; with pairs they learn to carry the
    writer's hand across it. Batches are padded to their own length (no CUDA graphs)."""

    def __init__(self, *args, pairs: float = 0.5, join: str = "baseline", **kw):
        super().__init__(*args, **kw)
        if not self.synthesis:
            raise DataError("--pairs trains priming of a synthesis model (text-conditioned)")
        if not 0.0 <= pairs <= 1.0:
            raise DataError(f"--pairs must be between 0 and 1, not {pairs}")
        if join not in TRAIN_JOINS:
            raise DataError(f"unknown --join {join!r} (choose {', '.join(TRAIN_JOINS)})")
        self.pairs = float(pairs)
        self.ink_scale = dataclasses.replace(self.ink_scale, join=join)
        by_writer: dict[str, list[int]] = {}
        for i, w in enumerate(self.train_writers):
            if w:
                by_writer.setdefault(w, []).append(i)
        self.same_writer = [by_writer.get(w, []) if w else [] for w in self.train_writers]
        self.lead = np.asarray(self.vocab.encode(WINDOW_LEAD), dtype=np.int64)
        self.gap = self.ink_scale.prime_gap

    static_batches = False   # batches differ in length: the trainer's CUDA-graph path does not apply

    def pair(self, prime: int, line: int) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
        """(points (normalised), switch step, prime text ids, line text ids) of line ``line`` after ``prime``."""
        return pair_row(self.train_lines[prime], self.train_lines[line], self.norm, self.gap, self.ink_scale.join,
                        self.lead)

    def next_batch(self):
        _, idx = self._next_planned()
        rng = np.random.default_rng([self.seed, 0x9A1B, self.epoch, self.pos - 1])   # the same for every process
        primes = []   # the line each row of the global batch follows, or None (drawn for all: any process count)
        for i in idx:
            i = int(i)
            mates = self.same_writer[i]
            paired = rng.random() < self.pairs and len(mates) > 1
            j = int(mates[rng.integers(len(mates))]) if paired else i
            if paired and j == i:
                j = int(mates[(mates.index(i) + 1) % len(mates)])
            fits = paired and len(self.train_lines[j][0]) + len(self.train_lines[i][0]) <= 2 * self.max_points
            primes.append((i, j if fits else None))
        rows = []   # (points, switch step or -1, ids before, ids after): this process's share only
        for i, j in primes[self.first:self.first + self.local]:
            if j is not None:
                rows.append(self.pair(j, i))
            else:
                p, ids = self.train_lines[i]
                rows.append((p, -1, ids, ids))
        return self._row_tensors(rows)

    def train_loss(self):
        total, n = self._pair_loss(self.next_batch())
        return total / n, int(n.item())

    def card(self) -> dict:
        card = super().card()
        card["data"]["pairs"] = self.pairs
        return card
