"""Training task for character language models: truncated BPTT over B parallel streams."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from engine.core.errors import DataError
from engine.core.vocab import Vocab
from engine.data.corpus import Corpus
from engine.models.charlm import CharLM, CharLMConfig
from engine.models.rnn import detach_state, state_tensors, unflatten_state


class StreamBatcher:
    """B contiguous streams through ``data``; chunk i of every stream is fed in order so the hidden
    state carried from chunk to chunk is the state of the preceding text (forward state flows
    forever, gradients flow T steps).

    The data stays a compact uint8/uint16 array; on a GPU it is copied there once (when it fits) and
    batches are gathered on the device.

    ``shard`` = (rank, ranks): this process of a data-parallel job runs streams [rank b, (rank + 1) b) of the
    ``batch`` streams (b = batch / ranks), exactly those one process with ``batch`` streams would run."""

    def __init__(self, data: np.ndarray, batch: int, seq_len: int, shard: tuple[int, int] = (0, 1)):
        if batch < 1 or seq_len < 1:
            raise DataError(f"batch and sequence length must be positive (got {batch} x {seq_len})")
        n = len(data) - 1
        requested = batch
        self.stream_len = n // batch
        if self.stream_len < seq_len:
            batch = max(1, n // seq_len)
            self.stream_len = n // batch
        if self.stream_len < 1:
            raise DataError(f"the training text ({len(data)} characters) is too small for one training chunk")
        self.seq_len = min(seq_len, self.stream_len)
        self.batch = batch
        rank, ranks = shard
        if batch % ranks:
            raise DataError(f"the batch of {batch} streams cannot be split evenly over {ranks} processes"
                            + (f" (the training text fits only {batch} streams of {seq_len} characters)"
                               if self.batch != requested else "") + f": give a --batch that is a multiple of {ranks}")
        self.local = batch // ranks            # streams this process runs
        self.first = rank * self.local         # its first stream
        self.data = data
        self.pos = 0  # position within every stream
        self.epoch = 0
        self.to("cpu")

    def to(self, device) -> None:
        device = torch.device(device)
        src = self.data
        if src.dtype not in (np.uint8, np.int16, np.int32, np.int64):  # torch has no uint16 indexing
            src = src.astype(np.int32)
        t = torch.from_numpy(np.ascontiguousarray(src))
        if device.type != "cpu":
            try:
                t = t.to(device)
            except (RuntimeError, torch.cuda.OutOfMemoryError):
                device = torch.device("cpu")  # too big for the GPU: gather on the CPU, copy batches
        self._data = t
        self._offsets = torch.arange(self.first, self.first + self.local, device=t.device,
                                     dtype=torch.long)[:, None] * self.stream_len
        self._steps = torch.arange(self.seq_len, device=t.device, dtype=torch.long)[None, :]

    def next(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """(x, y, wrapped) as int64 tensors on the gather device; ``wrapped`` means the streams restarted
        from their beginnings, so the carried state must be reset."""
        wrapped = False
        if self.pos + self.seq_len > self.stream_len:
            self.pos = 0
            self.epoch += 1
            wrapped = True
        idx = self._offsets + (self._steps + self.pos)
        self.pos += self.seq_len
        return self._data[idx].long(), self._data[idx + 1].long(), wrapped


class TextTask:
    """Character LM training task (see ``engine.training.trainer`` for the task interface)."""

    kind = "text"
    unit = "tokens"

    def __init__(self, corpus: Corpus, model_cfg: dict, batch: int = 64, seq_len: int = 128,
                 val_fraction: float = 0.1, eval_blocks: int = 64, eval_block_len: int = 256,
                 sample_len: int = 300, sample_prime: str = "\n", sample_temperature: float = 0.8,
                 model: CharLM | None = None, seed: int = 1337, stateful_max: int | None = 200_000,
                 stateful_streams: int = 32, corpus_path: str | None = None, dist=None):
        self.corpus = corpus
        self.dist = dist   # engine.training.distributed.DistContext: this process runs its share of the streams
        self.vocab: Vocab = corpus.vocab
        self.train_data, self.val_data = corpus.split(val_fraction)
        self.val_fraction = val_fraction
        self.batcher = StreamBatcher(self.train_data, batch, seq_len,
                                     shard=(dist.rank, dist.world) if dist is not None else (0, 1))
        if model is None:
            model = CharLM(CharLMConfig(**dict(model_cfg, vocab_size=len(self.vocab))))
        elif model.cfg.vocab_size != len(self.vocab):
            raise DataError(f"the model has {model.cfg.vocab_size} characters but the vocabulary has {len(self.vocab)}")
        self.model = model
        self.eval_blocks = eval_blocks
        self.eval_block_len = eval_block_len
        self.stateful_max = stateful_max
        self.stateful_streams = max(1, int(stateful_streams or 1))
        self.corpus_path = corpus_path
        self.sample_len = sample_len
        self.sample_prime = sample_prime if all(c in self.vocab for c in sample_prime) else self.vocab.chars[0]
        self.context = warm_context(self.train_data, self.vocab)
        self.sample_temperature = sample_temperature
        self.seed = seed
        self.hidden = None
        self.device = torch.device("cpu")
        self.warnings: list[str] = []
        for path, why in corpus.skipped:
            self.warnings.append(f"skipped {path}: {why}")
        if corpus.unknown_chars:
            self.warnings.append(unknown_chars_message(corpus))

    def to(self, device) -> None:
        self.device = torch.device(device)
        self.model.to(self.device)
        self.batcher.to(self.device)

    def train_loss(self):
        x, y, wrapped = self.batcher.next()
        if wrapped:
            self.hidden = None
        if x.device != self.device:
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
        logits, state = self.model(x, self.hidden)
        self.hidden = detach_state(state)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        return loss, y.numel()

    def reset_state(self) -> None:
        self.hidden = None

    # ---- evaluation: nanoGPT's protocol + stateful loss ------------------------------------------
    def evaluate(self) -> dict:
        return evaluate_text(self.model, self.val_data, self.device, blocks=self.eval_blocks,
                             block_len=self.eval_block_len, seed=self.seed, stateful_max=self.stateful_max,
                             stateful_streams=self.stateful_streams)

    def sample(self, seed: int) -> dict:
        text = "".join(generate_text(self.model, self.vocab, self.sample_prime, self.sample_len,
                                     temperature=self.sample_temperature, seed=seed, device=self.device,
                                     context=self.context))
        return {"text": text, "prime": self.sample_prime}

    def card(self) -> dict:
        data = {"files": self.corpus.files[:50], "n_files": len(self.corpus.files),
                "characters": int(len(self.corpus.data)), "train_characters": int(len(self.train_data)),
                "val_characters": int(len(self.val_data))}
        if self.corpus_path:
            data["corpus"] = str(self.corpus_path)
        settings = {"batch": self.batcher.batch, "seq_len": self.batcher.seq_len, "val_fraction": self.val_fraction,
                    "eval_blocks": self.eval_blocks, "eval_block_len": self.eval_block_len,
                    "stateful_streams": self.stateful_streams}
        return {"model_config": self.model.config_dict(), "vocab": self.vocab.to_json(), "data": data,
                "context": self.context,
                "settings": settings, "seq_len": self.batcher.seq_len, "batch": self.batcher.batch}

    def checkpoint_state(self):
        """The data position and the carried state of all ``batch`` streams (several processes: gathered from
        every rank, a collective), so any number of processes can resume it."""
        js = {"pos": self.batcher.pos, "epoch": self.batcher.epoch, "has_state": self.hidden is not None,
              "batch": self.batcher.batch, "seq_len": self.batcher.seq_len}
        tensors = state_tensors(self.hidden) if self.hidden is not None else {}
        if self.dist is not None:   # states are (layers, streams, hidden): streams of rank r at [r b, (r+1) b)
            tensors = {k: self.dist.gather(v, dim=1) for k, v in tensors.items()}
        return js, tensors

    def load_checkpoint_state(self, js: dict, tensors: dict) -> None:
        self.batcher.pos = int(js.get("pos", 0))
        self.batcher.epoch = int(js.get("epoch", 0))
        state = unflatten_state(tensors) if js.get("has_state") else None
        if state is not None and js.get("batch", self.batcher.batch) != self.batcher.batch:
            state = None  # a different batch size: the carried state no longer fits the streams
        if state is not None and self.batcher.local != self.batcher.batch:   # this process's streams
            b = self.batcher
            state = unflatten_state({k: v[:, b.first:b.first + b.local].contiguous()
                                     for k, v in state_tensors(state).items()})
        self.hidden = state


def unknown_chars_message(corpus: Corpus) -> str:
    chars = "".join(corpus.unknown_chars)
    return (f"the model's vocabulary cannot represent {len(corpus.unknown_chars)} character(s) of this corpus; "
            f"{corpus.n_dropped} occurrence(s) are left out of training: {chars!r}")


@torch.no_grad()
def evaluate_text(model, val_data: np.ndarray, device, blocks: int = 64, block_len: int = 256,
                  seed: int = 1337, stateful_max: int | None = 200_000, batch: int = 32,
                  stateful_streams: int = 1) -> dict:
    """Validation loss two ways (call with the model in eval mode; no gradient is recorded).

    - ``val_loss``: nanoGPT's protocol, mean cross-entropy over ``blocks`` random blocks of
      ``block_len`` characters, each from a fresh (zero) state (same blocks every call: fixed seed).
    - ``val_loss_stateful``: the whole validation text (up to ``stateful_max`` chars) in one pass with
      the state carried, as the model is used for generation. ``stateful_streams`` > 1 splits the text
      into up to that many contiguous segments of >= 2048 characters, run side by side (each from a fresh
      state): many times faster, and within a few thousandths of the single pass.
    Both in nats per character; ``bpc`` is the stateful loss in bits per character.
    """
    n = len(val_data)
    L = min(block_len, n - 1)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n - L - 1 + 1, size=blocks) if n - L - 1 > 0 else np.zeros(blocks, dtype=np.int64)
    total, count = 0.0, 0
    for i in range(0, blocks, batch):
        s = starts[i:i + batch]
        idx = s[:, None] + np.arange(L)[None, :]
        x = torch.from_numpy(val_data[idx].astype(np.int64)).to(device)
        y = torch.from_numpy(val_data[idx + 1].astype(np.int64)).to(device)
        logits, _ = model(x)
        total += float(F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"))
        count += y.numel()
    block_loss = total / count
    m = min(n - 1, stateful_max or n - 1)
    S = max(1, min(int(stateful_streams), m // 2048))  # segments of at least 2048 characters
    seg = m // S
    x = torch.from_numpy(val_data[:S * seg].astype(np.int64)).to(device).reshape(S, seg)
    y = torch.from_numpy(val_data[1:S * seg + 1].astype(np.int64)).to(device).reshape(S, seg)
    st, tot = None, 0.0
    for j in range(0, seg, 4096):
        logits, st = model(x[:, j:j + 4096], st)
        tot += float(F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y[:, j:j + 4096].reshape(-1),
                                     reduction="sum"))
    stateful = tot / (S * seg)
    return {"val_loss": block_loss, "val_loss_stateful": stateful, "bpc": stateful / math.log(2)}


def generate_text(model, vocab: Vocab, prime: str, length: int, temperature: float = 1.0,
                  top_k: int | None = None, seed: int | None = None, device="cpu", context: str = ""):
    """Stream characters: teacher-force ``prime`` then sample ``length`` characters.
    The loop is ``engine.core.text_stream``, the same one the ONNX runtime runs, so the same seed
    gives the same text on both."""
    from engine.core.text_stream import text_stream
    from engine.models.charlm import CharLMStep
    from engine.models.torch_stepper import TorchStepper

    was_training = model.training
    try:
        yield from text_stream(TorchStepper(CharLMStep(model), device), vocab, prime, length,
                               temperature=temperature, top_k=top_k, seed=seed, context=context)
    finally:
        model.train(was_training)


def warm_context(data, vocab: Vocab, max_chars: int = 256) -> str:
    """A paragraph of training text to feed before a prime (see engine.core.text_stream): the
    last ``max_chars`` characters of ``data`` (vocabulary ids), starting after a blank line when
    there is one, so sampling starts from the state the model has between paragraphs."""
    tail = vocab.decode(data[-max_chars:])
    cut = tail.find("\n\n")
    tail = tail[cut + 2:] if 0 <= cut < len(tail) - 2 else tail
    return tail if tail.endswith("\n\n") else tail.rstrip("\n") + "\n\n"
