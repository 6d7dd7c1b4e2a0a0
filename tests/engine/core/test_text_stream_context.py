"""Sampling starts from a warmed-up state: the card's context is fed before the prime."""

import numpy as np

from engine.core.text_stream import text_stream
from engine.core.vocab import Vocab
from engine.data.corpus import load_corpus
from engine.training.text_task import TextTask, warm_context


class RecordingStepper:
    """A stepper that records the ids it is fed and always predicts id 0."""

    input_names = ["x", "h"]
    output_names = ["logits", "h_out"]

    def __init__(self, vocab_size):
        self.fed = []
        self.v = vocab_size

    def initial_state(self):
        return {"h": np.zeros((1, 1, 2), np.float32)}

    def step(self, feeds):
        self.fed.append(int(feeds["x"][0, 0]))
        logits = np.full((1, self.v), -30.0, np.float32)
        logits[0, 0] = 30.0
        return {"logits": logits, "h_out": feeds["h"]}


def test_context_is_fed_before_the_prime_and_unknown_chars_are_skipped():
    vocab = Vocab("\n abcR:")
    st = RecordingStepper(len(vocab))
    out = "".join(text_stream(st, vocab, "R:", 3, temperature=1.0, seed=0, context="ab\u00e9c\n\n"))
    assert out == "\n\n\n"  # id 0 is "\n"
    fed = vocab.decode(st.fed)
    assert fed.startswith("abc\n\nR:")  # the unknown "é" is skipped, context then prime
    assert len(st.fed) == len("abc\n\nR:") + 2  # then the two sampled chars fed back


def test_task_card_carries_a_paragraph_of_training_text(tmp_path):
    text = "".join(f"SPEAKER {i}:\nSome words for line {i}.\n\n" for i in range(200))
    (tmp_path / "c.txt").write_text(text, encoding="utf-8")
    corpus = load_corpus(tmp_path / "c.txt")
    task = TextTask(corpus, dict(cell="gru", layers=1, hidden=16, embed=8), batch=4, seq_len=16)
    ctx = task.card()["context"]
    train_text = corpus.vocab.decode(task.train_data)
    assert ctx.endswith("\n\n") and ctx.rstrip("\n") in train_text
    assert ctx.startswith("SPEAKER")  # starts at a paragraph boundary
    assert warm_context(task.train_data, corpus.vocab, max_chars=64).endswith("\n\n")
