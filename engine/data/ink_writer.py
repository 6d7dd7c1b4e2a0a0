"""Writing with one handwriting model, whichever backend steps it (the runtime's onnxruntime package, the CLI's
torch run folder). No torch.

One place for what happens around ``engine.core.ink_stream``: the prime brought to the model's scale
(``engine.data.prime``), the longest pen-down step, the floor on the blank between words, the writer's word
spacing taken from the prime (``engine.core.word_space``; the model's own spacing after a prime is measured once,
with its bundled styles, on first use), the writer's slant taken from the prime (``engine.core.hand``), or for a
personal model written without one the lean and spacing its card records for its writer, and, when
asked, several takes of the line with the likeliest kept (``engine.core.takes``).
"""

from __future__ import annotations

import threading
from typing import Iterator

import numpy as np

from engine.core.hand import PRIME_SLANT_SHARE, prime_slant
from engine.core.ink_score import score_line
from engine.core.ink_stream import Start, bounds, ink_sample, ink_stream, line_start
from engine.core.takes import best_take, check_takes
from engine.core.vocab import Vocab
from engine.core.word_space import (
    REFERENCE_TEXTS,
    WORD_GAP_X_HEIGHTS,
    prime_word_space,
    reference_gap,
    space_factor,
)
from engine.data.prime import InkScale, prepare_prime

UNPRIMED_REFERENCE_SEEDS = 3   # unprimed lines of each reference text a model's own spacing is measured on


class InkWriter:
    """stepper: a synthesis or prediction stepper (``engine.core.stepper``); vocab (a ``Vocab`` or the card's
    list), norm: the card's; scale: the model's :class:`InkScale`; styles: its bundled styles (dicts with
    ``stroke3`` and ``text``)."""

    def __init__(self, stepper, *, synthesis: bool, vocab, norm, scale: InkScale, styles=None):
        self.stepper, self.synthesis, self.norm = stepper, synthesis, norm
        self.vocab = vocab if vocab is None or isinstance(vocab, Vocab) else Vocab.from_json(list(vocab))
        self.scale, self.styles = scale, list(styles or [])
        self._reference: float | None = None
        self._measured = False
        self._own: float | None = None
        self._own_measured = False
        self._lock = threading.Lock()

    @property
    def reference_gap(self) -> float | None:
        """The model's median word gap after a prime, in x-heights: the card's (``ink_scale.word_gap``), else
        :meth:`measure_reference_gap`, once."""
        if self.scale.word_gap:
            return self.scale.word_gap
        with self._lock:
            if not self._measured:
                self._reference, self._measured = self.measure_reference_gap(), True
            return self._reference

    @property
    def own_gap(self) -> float | None:
        """The model's median word gap without a prime, in x-heights: :meth:`measure_reference_gap` unprimed, once."""
        with self._lock:
            if not self._own_measured:
                self._own, self._own_measured = self.measure_reference_gap(primed=False), True
            return self._own

    def measure_reference_gap(self, primed: bool = True) -> float | None:
        """Measure the model's median word gap after each of its styles (``engine.core.word_space.reference_gap``;
        None for a prediction model or one that can write none of the texts); ``primed=False``: without a prime,
        :data:`UNPRIMED_REFERENCE_SEEDS` lines of each text."""
        def write(text, prime_stroke3, prime_text, seed):
            return ink_sample(self.stepper, text=text, vocab=self.vocab, norm=self.norm, bias=0.5,
                              prime_stroke3=prime_stroke3, prime_text=prime_text, seed=seed,
                              max_step=bounds(self.scale.x_height)["max_step"])

        if not self.synthesis or self.vocab is None:
            return None
        styles = [{"stroke3": np.asarray(s["stroke3"], dtype=np.float32).reshape(-1, 3),
                   "text": str(s.get("text") or "")} for s in self.styles]
        # what it writes: the reference texts it can write, else its styles' own texts (a model with another
        # alphabet); none: no spacing of its own to compare a prime's with
        known = [t for t in REFERENCE_TEXTS if not self.vocab.unknown(t)]
        known = known or [t for t in (s["text"] for s in styles) if len(t.split()) > 1 and not self.vocab.unknown(t)]
        if not primed:
            styles = [None] * UNPRIMED_REFERENCE_SEEDS
        return reference_gap(write, styles, self.scale.x_height, known[:2]) if known else None

    def word_space(self, prime_stroke3, prime_text: str | None) -> float:
        """The factor on the model's word spaces that gives the prime's spacing; without a prime, the spacing its
        card records for the hand it learnt (``InkScale.hand_gap``: a personal model's writer's), against its own
        spacing without a prime (:attr:`own_gap`); else 1."""
        if not self.synthesis:
            return 1.0
        if prime_stroke3 is None or len(prime_stroke3) == 0:
            return space_factor(self.scale.hand_gap, self.own_gap) if self.scale.hand_gap else 1.0
        return prime_word_space(prime_stroke3, prime_text, self.scale.x_height, self.reference_gap)

    def lean(self, prime_stroke3, slant: float | str | None) -> tuple[float | None, float]:
        """(the lean to give the new ink in degrees, or None for as drawn; the share of the way to go there):
        ``slant`` itself, all the way, when it is a number; for None the prime's (``engine.core.hand.prime_slant``),
        :data:`~engine.core.hand.PRIME_SLANT_SHARE` of the way; without a prime, the lean of the hand the model
        learnt where its card records one (``InkScale.slant``: a personal model's writer's), as far."""
        if isinstance(slant, str):
            if slant.strip().lower() != "off":
                raise ValueError(f"slant must be a number of degrees, None (the prime's) or 'off', not {slant!r}")
            return None, 1.0
        if slant is not None:
            return float(slant), 1.0
        if prime_stroke3 is None or not len(prime_stroke3):
            return (None, 1.0) if self.scale.slant is None else (self.scale.slant, PRIME_SLANT_SHARE)
        return prime_slant(prime_stroke3, self.scale.x_height), PRIME_SLANT_SHARE

    def generate(self, text: str = "", bias: float = 0.5, prime_stroke3=None, prime_text: str | None = None,
                 seed: int | None = None, max_steps: int | None = None, prime_ink=None, stats: dict | None = None,
                 word_gap: float = WORD_GAP_X_HEIGHTS, word_space: float | None = None,
                 guide_prime: bool = True, slant: float | str | None = None, takes: int = 1) -> Iterator[np.ndarray]:
        """Stream points (dx, dy, pen_up), raw units, y down. Prime with ``prime_ink`` (an ``engine.data.ink.Ink``
        in any units) or ``prime_stroke3`` (model units). word_gap: the least blank between words, x-heights (0:
        as drawn). word_space: a factor on every blank between words; None: the prime's spacing (without a prime,
        the spacing the card records for the hand the model learnt, else 1; 1 with a one-word prime: :meth:`word_space`). ``stats`` also gets ``word_space``, the factor used. guide_prime: keep the
        window on the prime's words while it is forced (``engine.core.prime_guide``). slant: the lean of the new ink,
        degrees from upright, positive to the right; None: half-way to the prime's; without a prime, half-way to
        the lean its card records for the hand it learnt (a personal model's writer's), else as drawn (:meth:`lean`);
        "off": as drawn. ``stats`` also gets ``slant``, the lean aimed at (None: as drawn), and ``slant_share``, how
        far. takes: write the line this many times and yield the
        take the model reads back as likeliest (``engine.core.takes``; the points come once every take is
        written); ``stats`` then also gets ``take``, ``take_seed`` and ``take_scores``."""
        takes = check_takes(takes)
        if prime_ink is not None:
            prime_stroke3 = prepare_prime(prime_ink, self.scale)
            prime_text = prime_text if prime_text is not None else (prime_ink.text or None)
        if prime_stroke3 is not None:
            prime_stroke3 = np.asarray(prime_stroke3, dtype=np.float32).reshape(-1, 3)
        factor = self.word_space(prime_stroke3, prime_text) if word_space is None else float(word_space)
        lean, share = self.lean(prime_stroke3, slant)
        if stats is not None:
            stats.update(word_space=factor, slant=lean, slant_share=share)
        text, prime_text = (text, prime_text) if self.synthesis else ("", None)
        kw = dict(text=text, vocab=self.vocab, norm=self.norm, bias=bias, prime_stroke3=prime_stroke3,
                  prime_text=prime_text, max_steps=max_steps, word_space=factor, guide_prime=guide_prime,
                  slant=lean if self.synthesis else None, slant_share=share, **bounds(self.scale.x_height, word_gap))
        if takes == 1:
            return ink_stream(self.stepper, seed=seed, stats=stats, **kw)
        return self._best_of(takes, seed, stats, kw)

    def _best_of(self, takes: int, seed: int | None, stats: dict | None, kw: dict) -> Iterator[np.ndarray]:
        """:func:`engine.core.takes.best_take` over ``ink_stream``, each take scored by :meth:`read_back`."""
        # every take starts from the same state after the prime: it is forced once, for the writing and the reading
        start = line_start(self.stepper, text=kw["text"], vocab=self.vocab, norm=self.norm,
                           prime_stroke3=kw["prime_stroke3"], prime_text=kw["prime_text"], guide_prime=kw["guide_prime"])

        def write(s, st):
            return ink_stream(self.stepper, seed=s, stats=st, start=start, **kw)

        def score(points) -> float:
            return self.read_back(points, kw["text"], kw["prime_stroke3"], kw["prime_text"], kw["guide_prime"], start)

        yield from best_take(write, score, takes, seed, stats)

    def read_back(self, points, text: str = "", prime_stroke3=None, prime_text: str | None = None,
                  guide_prime: bool = True, start: Start | None = None) -> float:
        """How likely the model finds a line it wrote (raw units) when it reads it back after the same prime
        (model units): the mean negative log-likelihood per point (``engine.core.ink_score.score_line``), without
        the line's first point (its placement, which says nothing of the hand). start: the state after the prime
        (``engine.core.ink_stream.line_start``), when the caller has it."""
        nll = score_line(self.stepper, np.asarray(points, dtype=np.float32).reshape(-1, 3),
                         text=text if self.synthesis else "", vocab=self.vocab, norm=self.norm,
                         prime_stroke3=prime_stroke3, prime_text=prime_text if self.synthesis else None,
                         gap=self.scale.prime_gap, join=self.scale.join, guide_prime=guide_prime, start=start)
        return float(nll[1:].mean() if len(nll) > 1 else nll.mean())
