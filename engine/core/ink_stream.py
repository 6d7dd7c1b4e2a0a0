"""Handwriting generation as a numpy loop over a *stepper* (torch or ONNX; see ``engine.core.stepper``). No torch.

:func:`ink_stream` yields pen points (dx, dy, pen_up) in RAW units (y down), one per model step (a dropped
stroke aside, below):

- biased sampling (``engine.core.sampling.sample_mdn``: sigma = exp(sigma_hat - b), pi = softmax(pi_hat (1 + b)),
  the pen bit unbiased);
- primed sampling: the prime's points (stroke-3 in the model's raw units: ``engine.data.prime`` brings a
  person's ink there) are teacher-forced in normalised units while the window reads the prime's transcript;
  then the attention window is *placed* at the start of the new text: the window state (``kappa``, ``w``)
  is reset to its start-of-line value and the window reads only ``" " + text`` (a word boundary, then the
  new text), while the LSTM state keeps the style. So the output begins with the new text and never writes the prime's, however
  far behind the attention ended the prime or however wrong its transcript (``place_window=False`` gives the
  old behaviour: the window reads ``prime_text + " " + text`` throughout). While the prime is forced, the window
  is kept on the word of the transcript its ink is at (``engine.core.prime_guide``; ``guide_prime``): left to
  itself it loses its place on real ink, and the LSTM carries that into the new line. A stroke begun while the window is
  still on the word boundary and drawn mostly there is the prime's writing going on (a late t-bar, a tick),
  not the new text: it is dropped, its offsets carried to the next point (``drop_lead_strokes``; figures in
  bench/RESULTS-handwriting.md 2f);
- implausible strokes: a pen-down step longer than ``max_step`` (raw units; the callers that know the model's
  x-height pass ``MAX_STEP_X_HEIGHTS`` of it, longer than any pen-down step of the training corpora) is a draw
  from a mixture's wide tail, not writing (a model that hedges on real letter shapes draws one now and then:
  a giant slash through a word; bench/RESULTS-handwriting.md 2h): it is drawn again, up to
  ``MAX_STEP_TRIES`` times, then shortened to ``max_step``;
- slant: the new ink can be given a lean (``slant``, degrees; ``engine.core.hand.Slanter``): a writer's,
  which a model carries only partly and unevenly;
- word spaces (synthesis): the first stroke of a word that starts less than ``word_gap`` (raw units; the
  callers that know the model's x-height pass ``WORD_GAP_X_HEIGHTS`` of it) right of the last word's ink is
  moved right, and every blank between words can be scaled by ``word_space`` (a writer's spacing;
  ``engine.core.word_space``);
- the stop rule (synthesis): stop once phi(t, U+1) > phi(t, u) for every real character u, i.e. the
  attention has moved past the text (letting the stroke in progress finish: stop at its pen-up, at most
  ``finish_stroke`` points later); plus a step cap (``steps_per_char`` x characters) so a sample
  never scribbles on. The last point always lifts the pen.

The same seed gives the same points on every backend (all randomness is drawn here).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from engine.core.errors import ScribeError
from engine.core.hand import SLANT_SETTLE_X_HEIGHTS, Slanter
from engine.core.prime_guide import prime_alignment, steer_window
from engine.core.sampling import make_rng, sample_mdn
from engine.core.word_space import WORD_GAP_X_HEIGHTS, WordSpacer

START_ROW = np.array([0.0, 0.0, 1.0], dtype=np.float32)  # "pen was up": the first input of every line
DEFAULT_STEPS_PER_CHAR = 40
DEFAULT_PREDICTION_STEPS = 700
DEFAULT_FINISH_STROKE = 40   # after the stop rule fires, points allowed to finish the stroke in progress
MAX_STEP_X_HEIGHTS = 1.5     # a pen-down step longer than this many x-heights is redrawn (see the docstring)
MAX_STEP_TRIES = 8
WINDOW_STATES = ("kappa", "w")  # a synthesis stepper's attention-window state (position, last window)
# after a prime the window reads this before the new text: a word boundary, as in the middle of a line (with
# the window reset to the new text's first letter instead, the first letter often came out garbled; see the
# prime sheets in bench/RESULTS-handwriting.md)
WINDOW_LEAD = " "


def bounds(x_height: float, word_gap: float = WORD_GAP_X_HEIGHTS) -> dict:
    """``ink_stream``'s ``max_step``, ``word_gap`` and ``slant_settle`` (raw units) for a model whose ink has this
    x-height (raw units); word_gap in x-heights (0: no floor)."""
    return {"max_step": MAX_STEP_X_HEIGHTS * x_height, "word_gap": word_gap * x_height or None,
            "slant_settle": SLANT_SETTLE_X_HEIGHTS * x_height}


def prepare_line(stroke3) -> np.ndarray:
    """A line as the models see it (raw units): the first point at the origin (first row's offset zeroed)."""
    a = np.array(stroke3, dtype=np.float32, copy=True).reshape(-1, 3)
    if len(a):
        a[0, :2] = 0.0
    return a


def _as_vocab(vocab):
    from engine.core.vocab import Vocab

    if vocab is None or isinstance(vocab, Vocab):
        return vocab
    return Vocab.from_json(list(vocab))


def _as_norm(norm):
    from engine.core.norm import NormStats

    if norm is None or isinstance(norm, NormStats):
        return norm
    return NormStats.from_json(norm)


def check_text(text: str, vocab) -> None:
    """ScribeError naming the characters of ``text`` the model cannot write."""
    unknown = _as_vocab(vocab).unknown(text)
    if unknown:
        names = ", ".join(repr(c) for c in unknown)
        raise ScribeError(f"this handwriting model cannot write {len(unknown)} character(s) of the text: {names}")


def one_hot(text: str, vocab) -> np.ndarray:
    """(1, U, V) float32 one-hot rows of ``text``."""
    vocab = _as_vocab(vocab)
    check_text(text, vocab)
    ids = np.asarray(vocab.encode(text), dtype=np.int64)
    out = np.zeros((1, len(ids), len(vocab)), dtype=np.float32)
    out[0, np.arange(len(ids)), ids] = 1.0
    return out


def focus(phi: np.ndarray) -> int:
    """The character the attention is on: argmax of phi over the real characters (not past-the-end)."""
    phi = np.asarray(phi).reshape(-1)
    return int(np.argmax(phi[:-1])) if phi.size > 1 else 0


def past_end(phi: np.ndarray) -> bool:
    """The stop rule: attention on the past-the-end position exceeds attention on every real character."""
    phi = np.asarray(phi).reshape(-1)
    return bool(phi.size > 1 and phi[-1] > phi[:-1].max())


def window_plan(text: str, vocab, prime_text: str | None = None, primed: bool = False,
                place_window: bool = True) -> tuple[str, str | None, int]:
    """What a synthesis model's attention window reads: ``(full, placed, new_at)``.

    full: what it reads from the start of the line (the new text; when primed with window placement, the
    prime's transcript (its characters the model knows; the new text if none); when primed without, the
    transcript, a space and the new text). placed: what it reads once placed before the prime's last point
    (``WINDOW_LEAD`` + text; None when it is never placed). new_at: where the new text starts in what the
    window reads while the new points are drawn."""
    vocab = _as_vocab(vocab)
    if primed and place_window:
        prime_chars = [c for c in " ".join((prime_text or "").split()) if c in vocab] or list(text)
        lead = WINDOW_LEAD if WINDOW_LEAD in vocab else ""
        return "".join(prime_chars), lead + text, len(lead)
    if primed:
        full = (prime_text or "") + " " + text
        check_text(full, vocab)
        return full, None, len(prime_text or "") + 1
    return text, None, 0


def guided_prime(prime_stroke3, full: str, prime_text: str | None, placed: str | None, vocab,
                 guide: bool = True) -> np.ndarray | None:
    """Where the window should be at each point of a prime (``engine.core.prime_guide``): only when the window
    reads the prime's transcript (``full``, from :func:`window_plan`) and is then placed; None when it is not
    steered."""
    known = _as_vocab(vocab)
    if not guide or placed is None or not any(c in known for c in (prime_text or "") if not c.isspace()):
        return None
    return prime_alignment(prime_stroke3, full)


def place_window_at(stepper, feeds: dict, placed: str, vocab) -> None:
    """Reset the window state in ``feeds`` to its start-of-line value and let it read ``placed`` (the LSTM
    state, i.e. the style, is kept)."""
    start = stepper.initial_state()
    for n in WINDOW_STATES:
        if n in feeds:
            feeds[n] = np.asarray(start[n], dtype=np.float32)
    feeds["chars"] = one_hot(placed, vocab)


def force_prime(advance, res: dict, forced, full: str, *, stepper, feeds: dict, placed: str | None, vocab,
                guide=None) -> tuple[dict, dict]:
    """Teacher-force a prime's rows (normalised) through ``advance(row)`` (one step; returns its outputs), ``res``
    being the outputs of the step before: the window placed before the last row (:func:`place_window_at`, when
    ``placed``) and, with ``guide`` (:func:`guided_prime`), kept on the prime's ink. Returns the last step's
    outputs and ``{"steered": steps the window was moved, "prime_focus": where the attention ended the prime
    (0: on the last character of ``full``; only when placed)}``. Sampling and scoring force a prime alike."""
    info = {"steered": 0}
    last = len(forced) - 1
    for i, row in enumerate(forced):
        if i == last and placed is not None:
            if i:
                info["prime_focus"] = focus(res["phi"]) - (len(full) - 1)
            place_window_at(stepper, feeds, placed, vocab)
        res = advance(row)
        if guide is not None and i < last:
            info["steered"] += steer_window(feeds, res["phi"], guide[i])
    return res, info


def _as_prime(prime_stroke3) -> np.ndarray | None:
    """A prime as (n, 3) float32, None when there is none; ScribeError for non-finite coordinates."""
    prime = None if prime_stroke3 is None else np.asarray(prime_stroke3, dtype=np.float32).reshape(-1, 3)
    if prime is not None and len(prime) == 0:
        return None
    if prime is not None and not np.all(np.isfinite(prime)):
        raise ScribeError("the priming ink has non-finite coordinates")
    return prime


def _plan(synthesis: bool, text: str, vocab, prime, prime_text: str | None, place_window: bool):
    """:func:`window_plan` for a line to write, after the checks on what was asked (ScribeError naming the problem);
    ("", None, 0) for a prediction model."""
    if not synthesis:
        return "", None, 0
    if vocab is None:
        raise ScribeError("a synthesis model needs its character set (vocab) to write text")
    if not text:
        raise ScribeError("give some text to write")
    if prime_text and prime is None:
        raise ScribeError("a prime text was given without priming ink")
    if prime is not None and not place_window and not prime_text:
        raise ScribeError("priming without window placement needs the transcript of the priming ink")
    check_text(text, vocab)
    return window_plan(text, vocab, prime_text, prime is not None, place_window)


def start_key(stepper, text: str, prime, prime_text: str | None, place_window: bool, guide: bool) -> tuple:
    """What a :class:`Start` was forced for: the stepper, the text, the prime (its bytes) and how it was forced."""
    return (id(stepper), text, None if prime is None else prime.tobytes(), prime_text, bool(place_window), bool(guide))


class Start:
    """A stepper's state at the start of a line: the start row and the prime, if any, forced (:func:`line_start`).
    ``state()`` gives a copy to step on, so several takes of a line, and their reading back
    (``engine.core.ink_score.score_line``), force the prime once. ``info``: what forcing the prime found
    (:func:`force_prime`); ``new_at``: where the new text starts in what the window reads."""

    __slots__ = ("key", "_feeds", "_res", "info", "new_at")

    def __init__(self, key: tuple, feeds: dict, res: dict, info: dict, new_at: int):
        self.key, self._feeds, self._res, self.info, self.new_at = key, feeds, res, info, new_at

    def state(self) -> tuple[dict, dict]:
        """(feeds, last outputs): copies of the step inputs with the state after the prime, and that step's outputs."""
        return ({k: np.array(v, copy=True) for k, v in self._feeds.items()},
                {k: np.array(v, copy=True) for k, v in self._res.items()})


def stepping(stepper, feeds: dict):
    """``advance(row) -> outputs``: one step of ``stepper`` on the input row, its recurrent state carried in ``feeds``."""
    from engine.core.stepper import state_names

    states = state_names(stepper)

    def advance(row) -> dict:
        feeds["x"] = np.asarray(row, dtype=np.float32).reshape(1, 3)
        res = stepper.step(feeds)
        for n in states:
            feeds[n] = res[f"{n}_out"]
        return res

    return advance


def line_start(stepper, *, text: str = "", vocab=None, norm=None, prime_stroke3=None, prime_text: str | None = None,
               place_window: bool = True, guide_prime: bool = True) -> Start:
    """Force the start row and the prime (if any) through ``stepper`` as :func:`ink_stream` does before it writes
    (the window reading the prime's transcript, kept on its ink and placed before its last point), and keep the
    state: a :class:`Start` for ``ink_stream(start=...)`` and ``score_line(start=...)`` with the same arguments."""
    synthesis = "chars" in stepper.input_names
    norm = _as_norm(norm)
    vocab = _as_vocab(vocab)
    prime = _as_prime(prime_stroke3)
    full, placed, new_at = _plan(synthesis, text, vocab, prime, prime_text, place_window)
    feeds = {"x": np.zeros((1, 3), dtype=np.float32)}
    feeds.update({k: np.asarray(v, dtype=np.float32) for k, v in stepper.initial_state().items()})
    if synthesis:
        feeds["chars"] = one_hot(full, vocab)
    advance = stepping(stepper, feeds)

    res, info = advance(START_ROW), {}
    if prime is not None:
        forced = prepare_line(prime)
        forced = norm.normalise(forced) if norm is not None else forced
        # the window is placed before the prime's last point, so the first new point is drawn with the attention
        # on the first character of the new text
        res, info = force_prime(advance, res, forced, full, stepper=stepper, feeds=feeds, placed=placed, vocab=vocab,
                                guide=guided_prime(prime, full, prime_text, placed, vocab, guide_prime and synthesis))
    key = start_key(stepper, text if synthesis else "", prime, prime_text if synthesis else None, place_window,
                    guide_prime and synthesis)
    return Start(key, feeds, res, info, new_at)


def ink_stream(stepper, *, text: str = "", vocab=None, norm=None, bias: float = 0.5, prime_stroke3=None,
               prime_text: str | None = None, seed: int | None = None, max_steps: int | None = None,
               steps_per_char: int = DEFAULT_STEPS_PER_CHAR, include_prime: bool = False,
               finish_stroke: int = DEFAULT_FINISH_STROKE, stats: dict | None = None,
               place_window: bool = True, drop_lead_strokes: bool = True,
               max_step: float | None = None, word_gap: float | None = None,
               word_space: float = 1.0, guide_prime: bool = True, slant: float | None = None,
               slant_share: float = 1.0, slant_settle: float | None = None,
               start: Start | None = None) -> Iterator[np.ndarray]:
    """Yield (3,) float32 points (dx, dy, pen_up) in raw units.

    stepper: ``input_names``, ``output_names``, ``initial_state()``, ``step(feeds)``. A stepper with a
    ``chars`` input is a synthesis model (``text`` required, ``vocab`` = its characters).
    norm: ``NormStats`` or its JSON (None: identity). max_steps caps the NEW points (default
    ``steps_per_char`` x len(text) for synthesis, 700 for prediction). finish_stroke: once the stop rule
    fires, the stroke in progress may continue for up to this many points until the pen lifts (the
    attention often leaves the last character while its final stroke is still being drawn); 0 stops at
    once. include_prime: yield the prime's points first (unchanged). stats: if given, filled with ``steps``,
    ``stopped`` ("stop-rule" | "cap") and, for synthesis, ``first_focus`` (the character of the new text
    the attention is on when the first new point is drawn: 0 = its first character, -1 = the space before
    it, lower = the prime's text (a leak), higher = new text skipped),
    ``foci`` (the same for every new point) and ``new_text_at`` (where the new text starts in what the
    window reads). place_window: see above. drop_lead_strokes: see the module docstring (False
    yields every sampled point). max_step: the longest pen-down step (raw units; None: no bound); ``stats``
    gets ``redrawn``, how many steps were drawn again. word_gap: the least blank between words (raw units; None:
    no floor); word_space: a factor on every blank between words; ``stats`` gets ``spaced``, how many words were
    moved. guide_prime: keep the window on the prime's ink while it is forced (``engine.core.prime_guide``;
    with placement and a transcript only); ``stats`` gets ``steered``, how many prime steps it moved the
    window, and ``prime_focus``, where the attention ended the prime (0: on its last character).
    slant: the lean to give the new ink, degrees from upright, positive to the right (None: as drawn); the
    model's own lean is measured on the last ``slant_settle`` raw units of steep ink it drew (default:
    ``SLANT_SETTLE_X_HEIGHTS`` of a 25-unit x-height; the line's first points are held back until there is that
    much) and each point is sheared from it to ``slant``, or ``slant_share`` of the way
    (``engine.core.hand.Slanter``); ``stats`` gets ``slant_measured`` (the first lean measured) and ``shear`` (the
    last used). start: the stepper's state with the prime already forced (:func:`line_start`, for these same
    text, prime and options; ValueError otherwise), so that several takes force it once.
    Stopping early = closing the generator.
    """
    synthesis = "chars" in stepper.input_names
    norm = _as_norm(norm)
    vocab = _as_vocab(vocab)
    prime = _as_prime(prime_stroke3)
    full, placed, new_at = _plan(synthesis, text, vocab, prime, prime_text, place_window)
    if synthesis:
        cap = max_steps if max_steps is not None else steps_per_char * len(text)
    else:
        cap = max_steps if max_steps is not None else DEFAULT_PREDICTION_STEPS
    cap = max(int(cap), 1)

    rng = make_rng(seed)
    if start is None:
        start = line_start(stepper, text=text, vocab=vocab, norm=norm, prime_stroke3=prime, prime_text=prime_text,
                           place_window=place_window, guide_prime=guide_prime)
    elif start.key != start_key(stepper, text if synthesis else "", prime, prime_text if synthesis else None,
                                place_window, guide_prime and synthesis):
        raise ValueError("this line start was forced for another model, text or prime")
    feeds, res = start.state()
    advance = stepping(stepper, feeds)

    def to_raw(pt: np.ndarray) -> np.ndarray:
        return (norm.denormalise(pt[None])[0] if norm is not None else pt.astype(np.float32)).astype(np.float32)

    if prime is not None:
        if include_prime:
            for raw_row in prime:
                yield raw_row.copy()
        if stats is not None:
            stats.update(start.info)
    if synthesis and stats is not None:
        stats.update(first_focus=focus(res["phi"]) - new_at, new_text_at=new_at)
    stopped = "cap"
    steps = 0
    ending = False          # the attention has moved past the text: finish the current stroke, then stop
    end_at = cap            # the step by which the stroke being finished must end
    foci = [] if (synthesis and stats is not None) else None
    pen_up = prime is None or bool(prime[-1, 2] >= 0.5)     # the pen is up before the first new point
    redrawn = 0
    # after a placed prime the window first reads the word boundary (WINDOW_LEAD): a stroke begun while it is
    # still there and drawn mostly there is the prime's ink going on (a late t-bar, a tick), not the new
    # text's, so it is held back and dropped (its offsets carried to the next point); a stroke that goes on
    # into the new text is kept whole
    on_lead = drop_lead_strokes and placed is not None and new_at > 0
    held: list[tuple[np.ndarray, int]] = []     # (raw point, focus) of the stroke begun on the lead
    carry = np.zeros(2, dtype=np.float32)       # offsets of the dropped strokes
    spacer = WordSpacer(text, word_gap, word_space) if synthesis and (word_gap or word_space != 1.0) else None
    slanter = None if slant is None else Slanter(slant, slant_settle if slant_settle else SLANT_SETTLE_X_HEIGHTS * 25.0,
                                                 slant_share)

    def space(r, g):
        return spacer.feed(r, g) if spacer else [(r, g)]

    def place(r, g):
        """A point through the slant, then the word spaces (measured on the slanted ink), in order."""
        for r1, g1 in slanter.feed(r, g) if slanter else ((r, g),):
            yield from space(r1, g1)
    for i in range(cap):
        f = focus(res["phi"]) - new_at if synthesis and (on_lead or foci is not None or spacer) else 0
        pt = sample_mdn(res["y"][0], rng, bias)
        if max_step is not None and not pen_up:
            for _ in range(MAX_STEP_TRIES):
                if float(np.hypot(*to_raw(pt)[:2])) <= max_step:
                    break
                pt = sample_mdn(res["y"][0], rng, bias)
                redrawn += 1
            else:
                raw = to_raw(pt)
                length = float(np.hypot(*raw[:2]))
                if length > max_step:
                    raw[:2] *= max_step / length
                    pt = (norm.normalise(raw[None])[0] if norm is not None else raw).astype(np.float32)
        pen_up = bool(pt[2] >= 0.5)
        steps += 1
        last = i == cap - 1
        if ending and (pt[2] >= 0.5 or steps >= end_at):
            stopped, last = "stop-rule", True
        if not last:
            res = advance(pt)
            if synthesis and not ending and past_end(res["phi"]):
                ending, end_at = True, steps + finish_stroke
                if pt[2] >= 0.5 or finish_stroke <= 0:
                    stopped, last = "stop-rule", True
        if last:
            pt[2] = 1.0
        held.append((to_raw(pt), f))
        if on_lead and not last and (f < 0 or len(held) > 1):
            if pt[2] < 0.5:
                continue                      # the stroke goes on: decide at its end
            if 2 * sum(g < 0 for _, g in held) > len(held):
                carry += np.sum([r[:2] for r, _ in held], axis=0)
                held.clear()
                continue
        on_lead = False
        out = []
        for r, g in held:
            r[:2] += carry
            carry[:] = 0.0
            out += place(r, g)
        if last and slanter:                  # a line too short to settle its lean: sheared as it is
            for r, g in slanter.flush():
                out += space(r, g)
        for r, g in out:
            if foci is not None:
                foci.append(g)
            yield r
        held.clear()
        if last:
            break
    if stats is not None:
        stats.update(steps=steps, stopped=stopped, redrawn=redrawn, spaced=spacer.moved if spacer else 0)
        if slanter:
            stats.update(slant_measured=slanter.measured, shear=slanter.shear)
        if foci is not None:
            stats["foci"] = foci


def ink_sample(stepper, **kw) -> np.ndarray:
    """:func:`ink_stream` collected into an (n, 3) float32 stroke-3 array."""
    pts = list(ink_stream(stepper, **kw))
    return np.stack(pts).astype(np.float32) if pts else np.zeros((0, 3), dtype=np.float32)
