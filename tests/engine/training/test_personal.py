"""The personal recipe ("Write like me", engine/training/personal.py): a few lines of one person's hand, as a
folder of InkML files, fine-tuned on through ``scribe train ink --preset personal``."""

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.core.errors import DataError, ScribeError
from engine.data.ink import Ink, Stroke
from engine.data.inkml import write_inkml
from engine.data.prime import InkScale
from engine.data.synth import make_writers, render_line
from engine.export.fixtures import make_tiny_package

TEXTS = ["the quick brown fox", "jumps over the dog", "hello world again", "a small line here",
         "write like me now", "one more line"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_package("ink-synthesis", tmp_path_factory.mktemp("base") / "tiny", seed=2)


def write_collection(folder: Path, texts=TEXTS, seed: int = 3) -> Path:
    """A person's lines as the app's collection stores them: one InkML file per line."""
    folder.mkdir(parents=True, exist_ok=True)
    w = make_writers(1, seed=seed)[0]
    for i, t in enumerate(texts):
        write_inkml(folder / f"{i + 1:04d}-line.inkml", [render_line(t, w, seed=i, hz=30)])
    return folder


def personal_task(tiny: Path, folder: Path, **kw):
    from engine.core.norm import NormStats
    from engine.core.vocab import Vocab
    from engine.data.personal_lines import read_personal_lines
    from engine.training.from_package import load_package_model
    from engine.training.personal import PersonalInkTask

    model, card = load_package_model(tiny)
    vocab, norm = Vocab.from_json(card["vocab"]), NormStats.from_json(card["norm"])
    scale = InkScale.from_card(card)
    lines = read_personal_lines(folder, scale, vocab)
    settings = dict(batch=4, rehearse=0.5, anchor=0.01, freeze="attention", augment=1.0, rehearsal_count=12)
    settings.update(kw)
    return PersonalInkTask(lines, model=model, vocab=vocab, norm=norm, ink_scale=scale, **settings)


def test_a_personal_fine_tune_through_the_cli_gives_an_exportable_package(tiny, tmp_path, run_cli):
    import engine.training.checkpoint as ckpt
    from engine.export.exporter import export_package
    from engine.runtime import load_package

    col = write_collection(tmp_path / "my-handwriting")
    run = tmp_path / "run"
    rc = run_cli("train", "ink", "--data", col, "--init-from", tiny, "--preset", "personal", "--steps", 4,
                 "--eval-every", 2, "--threads", 1, "--quiet", "--out", run)
    assert rc == 0
    _, card = ckpt.load_model(run)
    p = card["personal"]
    assert p["freeze"] == "lower" and p["rehearse"] == 0.75 and p["anchor"] > 0 and p["augment"] > 0
    assert p["pairs"] == 0.9 and card["settings"]["pairs"] == 0.9     # most lines trained after another one
    assert p["train_lines"] + p["val_lines"] == len(TEXTS) and p["val_lines"] == 1
    assert {"nll", "legible", "legible_checked", "rehearsal_nll", "anchor"} <= set(card["metrics"])
    assert card["settings"]["freeze"] == "lower" and p["frozen"] > 0
    assert [s["text"] for s in card["styles"]] == TEXTS            # the person's lines: the package's styles
    pkg = load_package(export_package(run, tmp_path / "pkg", name="My handwriting — test"))
    assert pkg.card["name"] == "My handwriting — test" and len(pkg.styles) == len(TEXTS)
    # the base model's scale, which the lines were brought to, with the lean of the person's lines, which the
    # fine-tune does not learn: what it writes without a prime is given it (InkWriter.lean)
    from dataclasses import replace

    from engine.core.hand import PRIME_SLANT_SHARE, hand_slant
    from engine.core.word_space import hand_gap, space_factor
    from engine.data.personal_lines import read_personal_lines

    base_scale = load_package(tiny).ink_scale
    lines = read_personal_lines(col, base_scale, pkg.vocab).lines
    scale, xh = pkg.ink_scale, base_scale.x_height
    assert base_scale.slant is None and base_scale.hand_gap is None
    assert scale.slant is not None and scale.hand_gap is not None
    assert replace(scale, slant=None, hand_gap=None) == base_scale
    assert scale.slant == pytest.approx(hand_slant([ln.points for ln in lines], xh), abs=0.01)
    assert scale.hand_gap == pytest.approx(hand_gap([(ln.points, ln.text) for ln in lines], xh), abs=1e-3)
    stats = {}
    list(pkg.generate_ink("hello you", seed=0, max_steps=20, stats=stats))
    assert stats["slant"] == scale.slant and stats["slant_share"] == PRIME_SLANT_SHARE
    writer = pkg.ink_writer
    assert stats["word_space"] == pytest.approx(space_factor(scale.hand_gap, writer.own_gap)) and writer.own_gap > 0
    pts = list(pkg.generate_ink("hello", seed=0, max_steps=20, prime_stroke3=pkg.styles[0]["stroke3"],
                                prime_text=pkg.styles[0]["text"]))
    assert len(pts) > 0


def test_frozen_parameters_do_not_change(tiny, tmp_path):
    from engine.training.trainer import TrainConfig, Trainer

    task = personal_task(tiny, write_collection(tmp_path / "col"), anchor=0.0)
    before = {n: p.detach().clone() for n, p in task.model.named_parameters()}
    assert task.frozen and all(n.startswith(("lstm1.", "window.")) for n in task.frozen)
    Trainer(task, TrainConfig(steps=3, eval_every=100, lr=1e-2, warmup=0, device="cpu", threads=1),
            tmp_path / "run").run()
    for n, p in task.model.named_parameters():
        same = torch.equal(p.detach(), before[n])
        assert same == (n in task.frozen), n


def test_the_anchor_pulls_moved_weights_back(tiny, tmp_path):
    from engine.training.personal import anchor_penalty

    task = personal_task(tiny, write_collection(tmp_path / "col"), anchor=0.5, augment=0.0)
    assert set(task.reference) == {n for n, p in task.model.named_parameters() if p.requires_grad}
    assert float(anchor_penalty(task.model, task.reference, 0.5).detach()) == 0.0   # at the base: no pull
    torch.manual_seed(0)
    with torch.no_grad():
        for n, p in task.model.named_parameters():
            if n in task.reference:
                p.add_(0.05 * torch.randn_like(p))
    pos, ref = task.pos, task.reference
    with_anchor, _ = task.train_loss()
    task.pos, task.reference = pos, {}
    without, _ = task.train_loss()                                  # the same batch
    assert float(with_anchor.detach()) > float(without.detach())
    # its gradient points back towards the base weights
    task.reference = ref
    task.model.zero_grad()
    anchor_penalty(task.model, task.reference, 0.5).backward()
    for n, p in task.model.named_parameters():
        if n in task.reference:
            assert torch.sum(p.grad * (p.detach() - task.reference[n])) > 0


def test_every_batch_mixes_the_persons_lines_and_rehearsed_ones(tiny, tmp_path):
    task = personal_task(tiny, write_collection(tmp_path / "col"), batch=6, rehearse=0.5)
    assert (task.n_personal, task.n_rehearse) == (3, 3) and task.rehearsal and task.rehearsal_val
    for _ in range(3):
        lines, sources = task.next_lines()
        assert sources.count("personal") == 3 and sources.count("rehearsal") == 3 and len(lines) == 6
    x, tgt, mask, chars = task.next_batch()
    assert x.shape[0] == 6 and chars.shape[0] == 6
    # the same batch number gives the same batch (resume is exact)
    task.pos = 1
    a, _ = task.next_lines()
    task.pos = 1
    b, _ = task.next_lines()
    assert all(np.array_equal(p, q) for (p, *_), (q, *_) in zip(a, b))
    assert all(at == -1 for _, at, _, _ in a)                        # no pairs unless asked for
    assert personal_task(tiny, tmp_path / "col", rehearse=0.0).n_rehearse == 0


def test_pairs_train_a_persons_line_after_another_of_theirs(tiny, tmp_path):
    """With ``pairs``, lines follow another line of the same hand (the person's, or one synthetic writer's),
    joined as the app primes: the window switches to the line's text at the second line's first point."""
    from engine.core.ink_stream import WINDOW_LEAD

    task = personal_task(tiny, write_collection(tmp_path / "col"), batch=6, rehearse=0.5, pairs=1.0,
                         rehearsal_count=96)
    assert task.rehearsal_mates and any(task.rehearsal_mates)
    personal = {tuple(ids) for _, ids in task.train_lines}
    lead = task.vocab.encode(WINDOW_LEAD)
    seen = {"personal": 0, "rehearsal": 0}
    for _ in range(4):
        rows, sources = task.next_lines()
        for (p, at, before, after), src in zip(rows, sources):
            if at < 0:
                continue
            seen[src] += 1
            assert 0 < at < len(p) and list(after[:len(lead)]) == lead
            if src == "personal":       # a line of theirs after another line of theirs, never itself
                assert tuple(before) in personal and tuple(after[len(lead):]) in personal
                assert tuple(before) != tuple(after[len(lead):])
            # the second line starts to the right of the first: its first offset jumps right, pen up
            raw = task.norm.denormalise(p)
            assert raw[at, 0] > 0 and raw[at - 1, 2] == 1
    assert seen["personal"] >= 8 and seen["rehearsal"] >= 4
    x, tgt, mask, chars, chars2, at = task.next_batch()
    assert x.shape[0] == 6 and chars2.shape == chars.shape and int((at >= 0).sum()) >= 1
    loss, n = task.train_loss()
    assert torch.isfinite(loss) and n > 0
    # without pairs the batches are the ones drawn before pairs existed
    a = personal_task(tiny, tmp_path / "col", batch=6, rehearse=0.5)
    b = personal_task(tiny, tmp_path / "col", batch=6, rehearse=0.5, pairs=0.0)
    for _ in range(2):
        (ra, _), (rb, _) = a.next_lines(), b.next_lines()
        assert all(np.array_equal(p, q) for (p, *_), (q, *_) in zip(ra, rb))
    with pytest.raises(DataError, match="--pairs"):
        personal_task(tiny, tmp_path / "col", pairs=1.5)


def test_augmentation_is_light_and_keeps_the_line(tiny):
    from engine.training.personal import augment_line

    ink = render_line("hello there", seed=1, hz=30)
    s3 = ink.to_stroke3()
    s3[0, :2] = 0
    rng = np.random.default_rng(0)
    assert np.array_equal(augment_line(s3, rng, 0.0), s3)
    for _ in range(5):
        out = augment_line(s3, rng, 1.0)
        assert out[-1, 2] == 1 and np.all(np.isfinite(out))
        assert int(out[:, 2].sum()) == int(s3[:, 2].sum())          # the same strokes
        assert 0.6 < len(out) / len(s3) < 1.6
        w0, w1 = np.ptp(np.cumsum(s3[:, 0])), np.ptp(np.cumsum(out[:, 0]))
        assert 0.75 < w1 / w0 < 1.3


def test_unusable_lines_are_left_out_with_their_reason(tiny, tmp_path):
    from engine.core.vocab import Vocab
    from engine.data.personal_lines import read_personal_lines
    from engine.runtime import load_package

    col = write_collection(tmp_path / "col", TEXTS[:3])
    write_inkml(col / "0010-unknown.inkml", [Ink(render_line("hello world", seed=9, hz=30).strokes, "hello 漢字")])
    write_inkml(col / "0011-dot.inkml", [Ink([Stroke(np.array([1.0, 1.2]), np.array([1.0, 1.1]))], "a dot")])
    (col / "0012-broken.inkml").write_text("<ink><trace>1 2, oops</ink", encoding="utf-8")
    card = load_package(tiny).card
    got = read_personal_lines(col, InkScale.from_card(card), Vocab.from_json(card["vocab"]), hold_out=1)
    assert [ln.text for ln in got.lines] == TEXTS[:3]
    assert sum(ln.split == "val" for ln in got.lines) == 1
    reasons = dict(got.skipped)
    assert "cannot write" in reasons["0010-unknown.inkml"] and "漢" in reasons["0010-unknown.inkml"]
    assert "too short" in reasons["0011-dot.inkml"]
    assert "0012-broken.inkml" in reasons
    with pytest.raises(DataError, match="at least 2"):
        read_personal_lines(write_collection(tmp_path / "one", TEXTS[:1]), InkScale.from_card(card),
                            Vocab.from_json(card["vocab"]))


def test_the_cli_explains_what_a_personal_fine_tune_needs(tiny, tmp_path, run_cli):
    from engine.cli.ink import build_ink_trainer
    from engine.cli.main import build_parser

    col = write_collection(tmp_path / "col", TEXTS[:3])
    args = build_parser().parse_args(["train", "ink", "--data", str(col), "--preset", "personal",
                                      "--out", str(tmp_path / "run")])
    with pytest.raises(ScribeError, match="--init-from"):
        build_ink_trainer(args)
    args = build_parser().parse_args(["train", "ink", "--data", str(col), "--init-from", str(tiny), "--preset",
                                      "personal", "--freeze", "none", "--anchor", "0", "--out", str(tmp_path / "r2")])
    trainer = build_ink_trainer(args)
    assert trainer.task.freeze == "none" and not trainer.task.frozen and not trainer.task.reference
    assert any("only 3 usable lines" in w for w in trainer.task.warnings)
    assert trainer.cfg.patience == 3 and trainer.cfg.steps == 150     # the preset's budget and early stopping


def test_the_legibility_check_measures_the_pace(tiny):
    from engine.core.vocab import Vocab
    from engine.runtime import load_package
    from engine.training.personal import legibility_check

    pkg = load_package(tiny)
    res = legibility_check(pkg.stepper, Vocab.from_json(pkg.card["vocab"]), pkg.card["norm"], 8.0,
                           ["hello there", "abc"], seed=0)
    assert res["checked"] == 2 and len(res["ratios"]) == 2 and 0.0 <= res["legible"] <= 1.0
    # a sample is cut just past the top of the range: a model that never stops fails quickly
    assert max(res["ratios"]) <= 1.25 + 40 / (8.0 * 3) + 1e-6


def test_a_resumed_personal_run_keeps_its_settings_and_anchors_to_the_base(tiny, tmp_path, run_cli):
    from engine.cli.ink import build_ink_trainer
    from engine.cli.main import build_parser
    from engine.training.from_package import load_package_model

    col = write_collection(tmp_path / "col")
    run = tmp_path / "run"
    assert run_cli("train", "ink", "--data", col, "--init-from", tiny, "--preset", "personal", "--freeze", "recurrent",
                   "--pairs", 0.3, "--steps", 3, "--eval-every", 3, "--lr", 0.05, "--threads", 1, "--quiet",
                   "--out", run) == 0
    args = build_parser().parse_args(["train", "ink", "--data", str(col), "--resume", "--steps", "4", "--out", str(run)])
    trainer = build_ink_trainer(args)
    trainer.resume()
    task = trainer.task
    assert task.freeze == "recurrent" and task.anchor == 0.1 and task.rehearse == 0.75 and task.pos == 3
    assert task.pairs == 0.3
    base = dict(load_package_model(tiny)[0].named_parameters())
    assert task.reference and all(torch.equal(r, base[n].detach()) for n, r in task.reference.items())
    moved = dict(task.model.named_parameters())
    assert any(not torch.equal(moved[n].detach(), r) for n, r in task.reference.items())   # it had trained


def test_rehearsed_lines_are_written_by_the_bundled_models_last_corpus_writers():
    # the writers rehearsed are drawn as the base's last corpus drew them: most dot and cross at the letter
    from engine.core.ink_stream import prepare_line
    from engine.core.vocab import Vocab
    from engine.data.synth import synth_corpus
    from engine.training.personal import REHEARSAL_LATE_MARKS, rehearsal_lines

    vocab = Vocab.from_json([chr(c) for c in range(32, 127)])
    lines = rehearsal_lines(6, vocab, seed=3)
    corpus = (Path(__file__).resolve().parents[3] / "assets" / "corpora" / "tinyshakespeare.txt").read_text()
    ds = synth_corpus(corpus, 6, writers=32, seed=3, min_chars=8, max_chars=40, mix=0.45, caps=0.35, hz=30.0,
                      late_marks=REHEARSAL_LATE_MARKS)
    assert REHEARSAL_LATE_MARKS < 0.5
    assert [t for _, t, _ in lines] == [line.text for line in ds]
    for (s3, _, _), line in zip(lines, ds):        # point for point (at the old share of half, one line differs)
        assert np.array_equal(s3, prepare_line(line.points))
    late = sum(w.late_marks > 0 for w in make_writers(32, seed=3, late_marks=REHEARSAL_LATE_MARKS))
    assert late < sum(w.late_marks > 0 for w in make_writers(32, seed=3))
