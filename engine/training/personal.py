"""The "personal" recipe: fine-tune a handwriting synthesis model on a few lines of ONE person's hand
("Write like me"; ``scribe train ink --data COLLECTION --init-from MODEL --preset personal``).

Fine-tuning on five lines with the plain trainer drops the held-out NLL a lot, but the samples become
illegible after a few letters: the model learns the drawing and forgets the reading (its attention no
longer walks through the text). This recipe keeps what the base model knows about following text
(figures: bench/RESULTS-personal.md):

- ``freeze``: layer 1 and the attention window (``"attention"``: ``SynthesisNet.lstm1`` and ``.window``,
  the part that decides where in the text the pen is) are not trained; ``"lower"`` also freezes every upper
  LSTM layer but the top one (the preset's: with line pairs it reads as well unprimed and better primed than
  ``"attention"``, at a higher held-out NLL), ``"recurrent"`` every LSTM layer (only the mixture head learns);
  ``"none"`` trains everything;
- ``anchor`` (L2-SP): ``anchor * sum ||w - w_base||^2`` over the trained weights is added to the loss,
  pulling them back towards the base model's;
- ``rehearse``: that share of every batch is synthetic lines of the kind the base was trained on
  (``scribe synth --hz 30`` from the bundled corpus, drawn once when training starts, normalised with the
  base model's ``NormStats``), so the base's skill is rehearsed while the person's style is learnt;
- ``pairs``: that share of the person's lines (and of the rehearsed ones) is trained after another of
  their lines (of the same synthetic writer), joined the way the base's line pairs and the app's primes are
  (``ink_task.pair_row``, the base's ``ink_scale.join``): fine-tuned on single lines only, a personal model
  primed with its writer's line ran its words together or jumped off the line;
- ``augment``: each use of a personal line is slanted, scaled and re-timed a little (shear ``x += a y``,
  ``|a| <= 0.12 s``; size x ``exp(+-0.08 s)``; resampled in time at ``exp(+-0.1 s)`` x the point rate, i.e.
  the writing speed, with the pen's speed profile kept);
- validation on held-out lines (1 of fewer than 8 lines, else 2) and a validation loss that includes
  legibility: after each evaluation the model writes a few check sentences, and one passes when the
  stop rule ends it (the attention crossed the whole text) at the expected pace: 0.8-1.25 x the base model's
  points per character (its card's ``points_per_char``). Not the person's own: brought to the model's point
  rate, real lines mostly have fewer points per character than the synthetic training lines, yet personal
  models write at about the base's rate whatever the recipe (each writer's pace and the models' lengths:
  bench/RESULTS-personal.md); a base without the figure: the points per
  character of the batches' mix of the person's and the rehearsed lines. ``val_loss`` = held-out NLL + ``LEGIBILITY_WEIGHT`` x
  the share that failed, so the best checkpoint (the one exported) is the best legible one, and
  early stopping (``patience``) ends a run that stops improving or loses the text.

The person's lines are read by ``engine.data.personal_lines`` (torch-free, so the app checks them the same
way before it starts a run).
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import torch

from engine.core.errors import DataError
from engine.core.hand import hand_slant
from engine.core.ink_stream import DEFAULT_FINISH_STROKE, WINDOW_LEAD, ink_sample, prepare_line
from engine.core.translit import fit_text
from engine.core.word_space import hand_gap
from engine.data.ink_dataset import InkDataset
from engine.data.personal_lines import PersonalLines
from engine.data.prime import InkScale, resample_in_time, stroke3_to_points, strokes_to_stroke3
from engine.models import mdn
from engine.training.ink_task import InkTask, pair_row

FREEZE = {"none": (), "attention": ("lstm1.", "window."), "lower": ("lstm1.", "window.", "upper.*"),
          "recurrent": ("lstm1.", "window.", "upper.")}   # "upper.*": every upper layer but the top one
LENGTH_RANGE = (0.8, 1.25)       # a check sentence passes at 0.8-1.25 x the writer's points for its length
LEGIBILITY_WEIGHT = 10.0         # nats per point added to val_loss for each check sentence that fails
CHECK_SENTENCES = ("See you at the station.", "Thanks for the lovely tea.", "The dog ran into the garden.")
CHECK_BIAS = 0.5
REHEARSAL_LINES = 96             # synthetic lines drawn once per run (+ REHEARSAL_VAL for evaluation)
REHEARSAL_VAL = 8
REHEARSAL_HZ = 30.0              # the point rate the bundled model was trained at ('scribe synth --hz 30')
REHEARSAL_LATE_MARKS = 0.1       # the share of late dotters as in the bundled model's last corpus ('--late-marks')
MAX_STYLES = 12                  # the person's lines kept as the package's priming styles


# ---- augmentation ----------------------------------------------------------------------------------

def augment_line(stroke3, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """A slightly slanted, scaled and re-timed copy of a line (stroke-3 in model units): shear ``x += a y``,
    scale, and the points resampled evenly in time (the point index is the time, as ``prepare_prime`` leaves
    it) at a slightly different rate: the writing speed, with the pen's speed profile kept. ``strength`` 0
    returns the line."""
    a = np.asarray(stroke3, dtype=np.float32).reshape(-1, 3)
    if strength <= 0 or len(a) < 3:
        return a.copy()
    xy, up = stroke3_to_points(a)
    shear = rng.uniform(-0.12, 0.12) * strength
    size = math.exp(rng.uniform(-0.08, 0.08) * strength)
    rate = math.exp(rng.uniform(-0.1, 0.1) * strength)      # points per unit of time
    x = (xy[:, 0] + shear * xy[:, 1]) * size
    y = xy[:, 1] * size
    ends = np.flatnonzero(up) + 1
    cuts = ends[ends < len(a)]
    strokes = []
    for sx, sy in zip(np.split(x, cuts), np.split(y, cuts)):
        if len(sx):
            strokes.append(resample_in_time(sx, sy, np.arange(len(sx), dtype=np.float64), 1.0 / rate))
    out = strokes_to_stroke3(strokes)
    return prepare_line(out) if len(out) >= 2 else a.copy()


# ---- rehearsal ------------------------------------------------------------------------------------

def rehearsal_lines(n: int, vocab, seed: int = 0, hz: float = REHEARSAL_HZ) -> list[tuple[np.ndarray, str, str]]:
    """``n`` synthetic lines (stroke-3 in the synthetic units the bundled model was trained on, as they are,
    text, writer) the model can write: ``scribe synth``'s writers and corpus mix, at ``hz`` points per second.

    As they are, not resampled like the person's lines: rehearsing evenly resampled synthetic lines fitted the
    person's held-out lines better but wrote illegibly (bench/RESULTS-personal.md)."""
    from engine.core.paths import assets_dir
    from engine.data.synth import synth_corpus

    try:
        corpus = (assets_dir() / "corpora" / "tinyshakespeare.txt").read_text(encoding="utf-8")
    except OSError:
        from engine.data.prompts import PROMPTS

        corpus = " ".join(PROMPTS)
    ds = synth_corpus(corpus, n, writers=32, seed=seed, hz=hz, min_chars=8, max_chars=40, mix=0.45, caps=0.35,
                      late_marks=REHEARSAL_LATE_MARKS)
    out = []
    for line in ds:
        fitted = fit_text(line.text, vocab)    # a small model's vocabulary: characters it lacks are left out
        if fitted.text.strip() and not fitted.dropped:
            out.append((prepare_line(line.points), fitted.text, line.writer))
    return out


# ---- legibility ------------------------------------------------------------------------------------

def legibility_check(stepper, vocab, norm, points_per_char: float, sentences=CHECK_SENTENCES, *,
                     bias: float = CHECK_BIAS, seed: int = 0, length_range=LENGTH_RANGE,
                     prime_stroke3=None, prime_text: str | None = None) -> dict:
    """Write ``sentences`` and check each one: passed when the stop rule ended it (the attention crossed
    the whole text) after ``length_range`` x ``points_per_char`` x its length points (the expected pace).
    Returns legible (share passed), passed, checked, stop_rule (how many the stop rule ended) and ratios
    (points / expected, per sentence). Samples are cut at the top of the range plus a stroke's finish."""
    lo, hi = length_range
    ratios, passed, stop_rule = [], 0, 0
    checked = 0
    for k, sentence in enumerate(sentences):
        text = fit_text(sentence, vocab).text.strip()
        if not text:
            continue
        expected = points_per_char * len(text)
        st: dict = {}
        pts = ink_sample(stepper, text=text, vocab=vocab, norm=norm, bias=bias, seed=seed + k, stats=st,
                         max_steps=int(math.ceil(hi * expected)) + DEFAULT_FINISH_STROKE,
                         prime_stroke3=prime_stroke3, prime_text=prime_text)
        ratio = len(pts) / max(expected, 1e-9)
        ok = st.get("stopped") == "stop-rule"
        stop_rule += ok
        passed += bool(ok and lo <= ratio <= hi)
        ratios.append(round(ratio, 3))
        checked += 1
    return {"legible": passed / checked if checked else 0.0, "passed": passed, "checked": checked,
            "stop_rule": stop_rule, "ratios": ratios}


# ---- the task -------------------------------------------------------------------------------------

def freeze_parameters(model: torch.nn.Module, freeze: str) -> list[str]:
    """Stop training the parameters of ``FREEZE[freeze]``; returns their names."""
    if freeze not in FREEZE:
        raise DataError(f"unknown --freeze {freeze!r} (choose {', '.join(FREEZE)})")
    prefixes = []
    for pre in FREEZE[freeze]:
        if pre == "upper.*":
            upper = getattr(model, "upper", ())
            prefixes += [f"upper.{i}." for i in range(len(upper) - 1)]
        else:
            prefixes.append(pre)
    names = []
    for name, p in model.named_parameters():
        if name.startswith(tuple(prefixes)):
            p.requires_grad_(False)
            names.append(name)
    return names


def anchor_penalty(model: torch.nn.Module, reference: dict[str, torch.Tensor], weight: float) -> torch.Tensor:
    """L2-SP: ``weight * sum ||w - w_ref||^2`` over the parameters named in ``reference``."""
    params = dict(model.named_parameters())
    total = None
    for name, ref in reference.items():
        d = (params[name] - ref).pow(2).sum()
        total = d if total is None else total + d
    if total is None:
        return torch.zeros((), device=next(model.parameters()).device)
    return weight * total


class PersonalInkTask(InkTask):
    """An :class:`InkTask` over a person's prepared lines (``read_personal_lines``) for a base model
    (``model``/``vocab``/``norm``/``ink_scale`` from ``--init-from``), with the recipe of the module
    docstring. Batches: ``batch`` lines, ``round(batch * rehearse)`` of them synthetic; any number of
    personal lines is fine (drawn with replacement when there are fewer than the batch needs)."""

    def __init__(self, personal: PersonalLines, *, model, vocab, norm, ink_scale: InkScale, batch: int = 8,
                 rehearse: float = 0.5, anchor: float = 0.0, freeze: str = "attention", augment: float = 1.0,
                 pairs: float = 0.0, max_points: int = 1200, seed: int = 1337, sample_text: str | None = None,
                 rehearsal_count: int = REHEARSAL_LINES, check_sentences=CHECK_SENTENCES, base: str = "",
                 base_pace: float | None = None):
        dataset = InkDataset.from_lines(personal.lines, source=personal.source)
        super().__init__(dataset, "synthesis", None, batch=batch, buckets=1, max_points=max_points,
                         sample_text=sample_text, model=model, vocab=vocab, norm=norm, seed=seed)
        self.personal = personal
        # the base's scale with the writer's lean and word spacing, which the fine-tune does not learn (it writes about
        # as the base leans and spaces whatever the writer's: bench/RESULTS-personal.md); the card records them and
        # what the model writes without a prime is given them (InkWriter.lean, InkWriter.word_space)
        lines, xh = personal.lines, ink_scale.x_height
        self.writer_scale = dataclasses.replace(
            ink_scale, slant=hand_slant([line.points for line in lines], xh),
            hand_gap=hand_gap([(line.points, line.text) for line in lines], xh))
        self.base = base
        self.ink_scale = ink_scale              # the base model's: the lines were brought to it
        self.rehearse, self.anchor, self.freeze, self.augment = float(rehearse), float(anchor), freeze, float(augment)
        self.check_sentences = tuple(check_sentences)
        if not 0.0 <= pairs <= 1.0:
            raise DataError(f"--pairs must be between 0 and 1, not {pairs}")
        self.pairs = float(pairs)
        self.lead = np.asarray(self.vocab.encode(WINDOW_LEAD), dtype=np.int64)
        self.raw_train = [(self.norm.denormalise(p), ids) for p, ids in self.train_lines]
        self.n_rehearse = 0 if self.rehearse <= 0 else min(max(1, round(self.batch * self.rehearse)), self.batch - 1)
        self.n_personal = self.batch - self.n_rehearse
        self.rehearsal: list[tuple[np.ndarray, np.ndarray]] = []
        self.rehearsal_val: list[tuple[np.ndarray, np.ndarray]] = []
        self.rehearsal_mates: list[list[int]] = []   # for each rehearsed line, the others of its writer
        if self.n_rehearse:
            pool, writers = [], []
            for s3, text, writer in rehearsal_lines(rehearsal_count + REHEARSAL_VAL, self.vocab, seed=seed):
                if len(s3) <= max_points:
                    pool.append((self.norm.normalise(s3), np.asarray(self.vocab.encode(text), dtype=np.int64)))
                    writers.append(writer)
            if len(pool) < 2:
                raise DataError("no synthetic lines to rehearse with: the model cannot write the synthetic corpus")
            n_val = min(REHEARSAL_VAL, len(pool) // 4)
            self.rehearsal_val, self.rehearsal = pool[:n_val], pool[n_val:]
            writers = writers[n_val:]
            self.rehearsal_mates = [[j for j, v in enumerate(writers) if v == w and j != i]
                                    for i, w in enumerate(writers)]
        # the pace the legibility check expects: the base model's (personal models write at about its points per
        # character whatever the recipe, more than the person's prepared lines have: bench/RESULTS-personal.md);
        # without it, the points per character of the lines trained on, in the batches' mix
        self.writer_pace = self.points_per_char
        self.pace = self.writer_pace
        if self.rehearsal:
            reh = sum(len(p) for p, _ in self.rehearsal) / max(sum(len(i) for _, i in self.rehearsal), 1)
            self.pace = (self.n_personal * self.writer_pace + self.n_rehearse * reh) / self.batch
        if base_pace and math.isfinite(base_pace) and base_pace > 0:
            self.pace = float(base_pace)
        self.frozen = freeze_parameters(self.model, freeze)
        self.reference = {n: p.detach().clone() for n, p in self.model.named_parameters()
                          if p.requires_grad} if self.anchor > 0 else {}

    static_batches = False   # mixed personal and rehearsed lines: no fixed batch shapes for CUDA graphs

    def to(self, device) -> None:
        super().to(device)
        self.reference = {n: r.to(self.device) for n, r in self.reference.items()}

    # ---- batches ----------------------------------------------------------------------------------
    def _personal_line(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        raw, ids = self.raw_train[i]
        s3 = augment_line(raw, rng, self.augment) if self.augment > 0 else raw
        return self.norm.normalise(prepare_line(s3)[:self.max_points]), ids

    def _paired(self, prime, line) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
        """``line`` after ``prime`` (both (normalised points, ids)) as a row, or the line alone when the two are
        longer than ``2 * max_points`` (as the base's pairs)."""
        if len(prime[0]) + len(line[0]) > 2 * self.max_points:
            return line[0], -1, line[1], line[1]
        return pair_row(prime, line, self.norm, self.ink_scale.prime_gap, self.ink_scale.join, self.lead)

    def next_lines(self) -> tuple[list[tuple[np.ndarray, int, np.ndarray, np.ndarray]], list[str]]:
        """The next batch's rows (normalised points, the step where a pair's second line starts or -1, ids
        before it, ids after it; ``pair_row``) and where each comes from ("personal" | "rehearsal"). Drawn from
        (seed, batch number): a resumed run continues with the same batches; without pairs, the batches are
        those drawn before pairs were added."""
        rng = np.random.default_rng([self.seed, 0xBA7C, self.pos])
        self.pos += 1
        n = len(self.raw_train)
        pick = rng.choice(n, self.n_personal, replace=n < self.n_personal)
        rows, sources = [], []
        for i in pick:
            p, ids = line = self._personal_line(int(i), rng)
            if self.pairs > 0 and n > 1 and rng.random() < self.pairs:
                j = int(rng.integers(n - 1))
                rows.append(self._paired(self._personal_line(j + (j >= i), rng), line))
            else:
                rows.append((p, -1, ids, ids))
            sources.append("personal")
        if self.n_rehearse:
            for i in rng.choice(len(self.rehearsal), self.n_rehearse, replace=len(self.rehearsal) < self.n_rehearse):
                p, ids = line = self.rehearsal[int(i)]
                mates = self.rehearsal_mates[int(i)]
                if self.pairs > 0 and mates and rng.random() < self.pairs:
                    rows.append(self._paired(self.rehearsal[mates[int(rng.integers(len(mates)))]], line))
                else:
                    rows.append((p, -1, ids, ids))
                sources.append("rehearsal")
        return rows, sources

    def next_batch(self):
        rows, _ = self.next_lines()
        if self.pairs > 0:
            return self._row_tensors(rows)
        lines = [(p, ids) for p, _, ids, _ in rows]
        t_pad = int(math.ceil(max(len(p) for p, _ in lines) / 8) * 8)
        u_pad = max(max(len(ids) for _, ids in lines), 1)
        return list(self._tensors(lines, t_pad, u_pad))

    def train_loss(self):
        batch = self.next_batch()
        if self.pairs > 0:
            total, n = self._pair_loss(batch)
        else:
            x, tgt, mask, chars = batch
            total, n = mdn.nll(self._outputs(x, chars), tgt, self.m, mask), mask.sum()
        loss = total / n
        if self.reference:
            loss = loss + anchor_penalty(self.model, self.reference, self.anchor)
        return loss, int(n.item())

    # ---- evaluation -------------------------------------------------------------------------------
    def evaluate(self) -> dict:
        metrics = super().evaluate()            # the held-out personal lines
        nll = metrics["val_loss"]
        leg = legibility_check(self.stepper(), self.vocab, self.norm, self.pace, self.check_sentences,
                               seed=self.seed)
        metrics.update(nll=nll, legible=leg["legible"], legible_passed=leg["passed"],
                       legible_checked=leg["checked"], length_ratios=leg["ratios"],
                       val_loss=nll + LEGIBILITY_WEIGHT * (1.0 - leg["legible"]))
        if self.rehearsal_val:
            total, points = self.nll(self.rehearsal_val)
            metrics["rehearsal_nll"] = total / max(points, 1)
        if self.reference:
            with torch.no_grad():
                metrics["anchor"] = float(anchor_penalty(self.model, self.reference, self.anchor))
        return metrics

    # ---- what the checkpoint (and so the package) records -----------------------------------------
    def styles(self) -> list[dict]:
        """The person's lines as priming styles (model units), at most ``MAX_STYLES``."""
        out = []
        for k, line in enumerate(self.personal.lines[:MAX_STYLES]):
            out.append({"name": f"My line {k + 1}", "text": line.text,
                        "stroke3": np.round(np.asarray(line.points, dtype=np.float64), 3).tolist()})
        return out

    def card(self) -> dict:
        card = super().card()
        card["ink_scale"] = self.writer_scale.to_json()
        card["points_per_char"] = self.pace        # the pace it writes at (see __init__), not its lines'

        card["data"]["source"] = self.personal.source
        card["styles"] = self.styles()
        card["personal"] = {"base": os.path.basename(str(self.base).rstrip("/\\")) or str(self.base),
                            "freeze": self.freeze, "frozen": len(self.frozen), "anchor": self.anchor,
                            "rehearse": self.rehearse, "augment": self.augment, "pairs": self.pairs,
                            "train_lines": len(self.train_lines), "val_lines": len(self.val_lines),
                            "skipped": [list(s) for s in self.personal.skipped[:50]],
                            "writer_points_per_char": self.writer_pace, "check_points_per_char": self.pace,
                            "length_range": list(LENGTH_RANGE),
                            "check_sentences": list(self.check_sentences)}
        return card

    def checkpoint_state(self):
        js, ts = super().checkpoint_state()
        ts = dict(ts)
        ts.update({f"anchor.{n}": r for n, r in self.reference.items()})
        return js, ts

    def load_checkpoint_state(self, js: dict, tensors: dict) -> None:
        super().load_checkpoint_state(js, tensors)
        ref = {k[len("anchor."):]: v for k, v in tensors.items() if k.startswith("anchor.")}
        if ref and self.reference:
            self.reference = {n: ref.get(n, r).to(self.device) for n, r in self.reference.items()}
