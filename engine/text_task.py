"""Training task for character language models: truncated BPTT over B parallel streams."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .corpus import Corpus
from .models.charlm import CharLM, CharLMConfig
from .models.rnn import detach_state, state_from_tensors, state_tensors
from .vocab import Vocab


class StreamBatcher:
    """B contiguous streams through ``data``; chunk i of every stream is fed in order so the hidden
    state carried from chunk to chunk is the state of the preceding text (forward state flows
    forever, gradients flow T steps)."""

    def __init__(self, data: np.ndarray, batch: int, seq_len: int):
        n = len(data) - 1
        self.stream_len = n // batch
        if self.stream_len < seq_len:
            batch = max(1, n // seq_len)
            self.stream_len = n // batch
        if self.stream_len < 1:
            raise ValueError("corpus too small for one training chunk")
        self.seq_len = min(seq_len, self.stream_len)
        self.batch = batch
        self.data = data
        self.offsets = np.arange(batch, dtype=np.int64) * self.stream_len
        self.pos = 0  # position within every stream
        self.epoch = 0

    def next(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """(x, y, wrapped): ``wrapped`` means streams restarted, so carried state must be reset."""
        wrapped = False
        if self.pos + self.seq_len > self.stream_len:
            self.pos = 0
            self.epoch += 1
            wrapped = True
        idx = self.offsets[:, None] + self.pos + np.arange(self.seq_len)[None, :]
        self.pos += self.seq_len
        return self.data[idx].astype(np.int64), self.data[idx + 1].astype(np.int64), wrapped


class TextTask:
    kind = "text"
    unit = "tokens"

    def __init__(self, corpus: Corpus, model_cfg: dict, batch: int = 64, seq_len: int = 128,
                 val_fraction: float = 0.1, eval_blocks: int = 64, eval_block_len: int = 256,
                 sample_len: int = 300, sample_prime: str = "\n", sample_temperature: float = 0.8,
                 model: CharLM | None = None, seed: int = 1337):
        self.corpus = corpus
        self.vocab: Vocab = corpus.vocab
        self.train_data, self.val_data = corpus.split(val_fraction)
        self.batcher = StreamBatcher(self.train_data, batch, seq_len)
        cfg = dict(model_cfg, vocab_size=len(self.vocab))
        self.model = model if model is not None else CharLM(CharLMConfig(**cfg))
        self.eval_blocks = eval_blocks
        self.eval_block_len = eval_block_len
        self.sample_len = sample_len
        self.sample_prime = sample_prime if all(c in self.vocab for c in sample_prime) else self.vocab.chars[0]
        self.sample_temperature = sample_temperature
        self.seed = seed
        self.hidden = None
        self.device = torch.device("cpu")

    def to(self, device) -> None:
        self.device = torch.device(device)
        self.model.to(self.device)

    def train_loss(self):
        x, y, wrapped = self.batcher.next()
        if wrapped:
            self.hidden = None
        x = torch.from_numpy(x).to(self.device, non_blocking=True)
        y = torch.from_numpy(y).to(self.device, non_blocking=True)
        logits, state = self.model(x, self.hidden)
        self.hidden = detach_state(state)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        return loss, y.numel()

    def reset_state(self) -> None:
        self.hidden = None

    # ---- evaluation: nanoGPT's protocol + stateful loss ------------------------------------------
    def evaluate(self) -> dict:
        return evaluate_text(self.model, self.val_data, self.device, blocks=self.eval_blocks,
                             block_len=self.eval_block_len, seed=self.seed)

    def sample(self, seed: int) -> dict:
        text = "".join(generate_text(self.model, self.vocab, self.sample_prime, self.sample_len,
                                     temperature=self.sample_temperature, seed=seed, device=self.device))
        return {"text": text, "prime": self.sample_prime}

    def card(self) -> dict:
        return {"model_config": self.model.config_dict(), "vocab": self.vocab.to_json(),
                "data": {"files": self.corpus.files[:50], "characters": int(len(self.corpus.data)),
                         "train_characters": int(len(self.train_data)),
                         "val_characters": int(len(self.val_data))},
                "seq_len": self.batcher.seq_len, "batch": self.batcher.batch}

    def checkpoint_state(self):
        js = {"pos": self.batcher.pos, "epoch": self.batcher.epoch, "has_state": self.hidden is not None}
        return js, (state_tensors(self.hidden) if self.hidden is not None else {})

    def load_checkpoint_state(self, js: dict, tensors: dict) -> None:
        self.batcher.pos = int(js.get("pos", 0))
        self.batcher.epoch = int(js.get("epoch", 0))
        if js.get("has_state") and tensors:
            with torch.no_grad():
                _, template = self.model(torch.zeros(1, 1, dtype=torch.long, device=self.device))
            self.hidden = state_from_tensors(template, tensors)
        else:
            self.hidden = None


def evaluate_text(model, val_data: np.ndarray, device, blocks: int = 64, block_len: int = 256,
                  seed: int = 1337, stateful_max: int | None = 200_000, batch: int = 32) -> dict:
    """Validation loss two ways.

    - ``val_loss``: nanoGPT's protocol, mean cross-entropy over ``blocks`` random blocks of
      ``block_len`` characters, each from a fresh (zero) state (same blocks every call: fixed seed).
    - ``val_loss_stateful``: the whole validation text (up to ``stateful_max`` chars) in one pass with
      the state carried, as the model is used for generation.
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
    x = torch.from_numpy(val_data[:m].astype(np.int64)).to(device)[None]
    y = torch.from_numpy(val_data[1:m + 1].astype(np.int64)).to(device)[None]
    st, tot = None, 0.0
    for j in range(0, m, 4096):
        logits, st = model(x[:, j:j + 4096], st)
        tot += float(F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y[:, j:j + 4096].reshape(-1),
                                     reduction="sum"))
    stateful = tot / m
    return {"val_loss": block_loss, "val_loss_stateful": stateful, "bpc": stateful / math.log(2)}


def generate_text(model, vocab: Vocab, prime: str, length: int, temperature: float = 1.0,
                  top_k: int | None = None, seed: int | None = None, device="cpu"):
    """Stream characters: teacher-force ``prime`` then sample ``length`` characters.
    The loop is ``engine.generate.text_stream``, the same one the ONNX runtime runs, so the same seed
    gives the same text on both."""
    from .generate import TorchStepper, text_stream
    from .models.charlm import CharLMStep

    was_training = model.training
    try:
        yield from text_stream(TorchStepper(CharLMStep(model), device), vocab, prime, length,
                               temperature=temperature, top_k=top_k, seed=seed)
    finally:
        model.train(was_training)
