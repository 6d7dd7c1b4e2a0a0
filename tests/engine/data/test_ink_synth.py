"""Synthetic handwriting corpus: coverage, timing, writer styles, hand families, datasets."""

import dataclasses

import numpy as np
import pytest

from engine.core.errors import DataError
from engine.data.ink_dataset import InkDataset
from engine.data.synth import (
    DEFAULT_HANDS,
    HANDS,
    REQUIRED_CHARS,
    SHAPE_FIELDS,
    WriterStyle,
    corpus_lines,
    make_writers,
    parse_hands,
    render_line,
    supported_chars,
    synth_corpus,
    synth_dataset,
)

TEXT = ("It was the best of times, it was the worst of times; it was the age of wisdom. Was it? "
        "Yes! 'Quite' so - (they said) & then Zoe, Xavier and Jake left at 10:45.\n" * 5)


def slant(ink) -> float:
    """Median shear of the near-vertical pen-down movements (x moves right as y goes up => positive)."""
    r = []
    for s in ink.strokes:
        dx, dy = np.diff(s.x), np.diff(s.y)
        m = np.abs(dy) > 3 * np.maximum(np.abs(dx), 1e-9) * 0.5
        r.append(-dx[m] / dy[m])
    return float(np.median(np.concatenate(r)))


def test_every_required_character_renders():
    assert set(REQUIRED_CHARS) <= set(supported_chars())
    w = WriterStyle()
    for c in REQUIRED_CHARS.replace(" ", ""):
        ink = render_line(c, w, seed=0)
        assert len(ink) >= 3, c
        x0, y0, x1, y1 = ink.bounds()
        assert (x1 - x0) + (y1 - y0) > 2.0, c               # a visible mark, not a dot at the origin
    assert render_line("a b", w, seed=0).text == "a b"


def test_units_time_and_density_are_iam_like():
    w = WriterStyle(x_height=24.0)
    ink = render_line("minimum waves", w, seed=1)
    y = np.concatenate([s.y for s in ink.strokes])
    assert -60 < y.min() < -15 and 0 < y.max() < 40         # y down: ascenders negative, baseline 0
    t = np.concatenate([s.t for s in ink.strokes])
    assert np.all(np.diff(t) > 0)                            # monotonic clock
    per_letter = len(ink) / len("minimumwaves")
    assert 15 < per_letter < 45
    # few long strokes, not hundreds of tiny segments: "minimum" is written in one or two pen strokes + dots
    assert len(render_line("minimum", w, seed=1).strokes) <= 5


def test_writers_differ_and_are_reproducible():
    base = dict(x_height=24.0, width=0.8, jitter=0.1, drift=0.0)
    upright = render_line("the quick brown fox jumps", WriterStyle(slant=-0.15, **base), seed=3)
    leaning = render_line("the quick brown fox jumps", WriterStyle(slant=0.4, **base), seed=3)
    assert slant(leaning) - slant(upright) > 0.3
    big = render_line("hello", WriterStyle(x_height=28.0, **{k: v for k, v in base.items() if k != "x_height"}), seed=3)
    small = render_line("hello", WriterStyle(x_height=20.0, **{k: v for k, v in base.items() if k != "x_height"}), seed=3)
    hb, hs = big.bounds(), small.bounds()
    assert (hb[3] - hb[1]) / (hs[3] - hs[1]) == pytest.approx(1.4, rel=0.1)
    ws = make_writers(8, seed=5)
    assert make_writers(8, seed=5) == ws and make_writers(8, seed=6) != ws
    assert len({tuple(w.to_json().values()) for w in ws}) == 8
    assert np.std([w.slant for w in ws]) > 0.05 and np.std([w.x_height for w in ws]) > 1.0
    a = render_line("same text", ws[0], seed=9).to_stroke3()
    np.testing.assert_array_equal(a, render_line("same text", ws[0], seed=9).to_stroke3())
    assert not np.array_equal(a, render_line("same text", ws[0], seed=10).to_stroke3())


def test_unknown_character_is_a_clear_error():
    with pytest.raises(DataError, match="cannot write"):
        render_line("caf\u00e9", WriterStyle())
    with pytest.raises(DataError, match="cannot write"):
        synth_dataset(["ok", "na\u00efve"], writers=1)


def test_corpus_lines_lengths_and_mix():
    lines = corpus_lines(TEXT, 200, seed=1, min_chars=20, max_chars=50, mix=0.3)
    assert len(lines) == 200
    assert all(len(l) <= 50 for l in lines)
    assert np.mean([len(l) >= 20 for l in lines]) > 0.95
    assert corpus_lines(TEXT, 200, seed=1, mix=0.3) == lines
    joined = "".join(lines)
    assert set("0123456789") <= set(joined)                 # the mixed lines bring in all digits
    plain = corpus_lines(TEXT, 50, seed=1, mix=0.0)
    assert all(l in " ".join(TEXT.split()) for l in plain)  # plain lines are corpus text
    with pytest.raises(DataError):
        corpus_lines("\u00e9\u00e9\u00e9", 3)


def test_corpus_lines_caps_fraction_keeps_the_other_lines():
    base = corpus_lines(TEXT, 400, seed=4, mix=0.3)
    caps = corpus_lines(TEXT, 400, seed=4, mix=0.3, caps=0.25)
    changed = [i for i, (a, b) in enumerate(zip(base, caps)) if a != b]
    assert all(caps[i] in (base[i], base[i].upper()) for i in range(400))   # same lines, some in capitals
    assert 0.15 < len(changed) / 400 < 0.35
    assert all(any(c.isalpha() for c in caps[i]) and caps[i] == caps[i].upper() for i in changed)
    assert corpus_lines(TEXT, 400, seed=4, mix=0.3, caps=0.0) == base
    with pytest.raises(DataError):
        corpus_lines(TEXT, 3, caps=1.5)


def test_synth_dataset_covers_charset_splits_and_writers(tmp_path):
    ds = synth_corpus(TEXT, 120, writers=4, seed=2, mix=0.5)
    assert len(ds) == 120
    assert {m["writer"] for m in ds.lines_meta} == {f"synth-{i:03d}" for i in range(4)}
    assert set(ds.indices("train")) and len(ds.indices("train")) > 90
    for line in ds:
        assert line.points.dtype == np.float32 and line.points[-1, 2] == 1
        np.testing.assert_array_equal(line.points[0, :2], [0, 0])
    assert {c for c in "0123456789" if c in "".join(ds.charset())} == set("0123456789")
    ds.save(tmp_path / "syn")
    assert len(type(ds).load(tmp_path / "syn")) == 120
    ds2 = synth_dataset([ds.line(i).text for i in range(len(ds))], writers=4, seed=2, jobs=1)
    np.testing.assert_array_equal(ds.points, ds2.points)


def test_sampling_rate_and_parallel_rendering_are_consistent():
    lines = corpus_lines(TEXT, 90, seed=3)
    fast = synth_dataset(lines, writers=3, seed=1)
    slow = synth_dataset(lines, writers=3, seed=1, hz=35)
    ratio = slow.lengths().sum() / fast.lengths().sum()
    assert 0.4 < ratio < 0.6                                # half the rate, about half the points
    par = synth_dataset(lines, writers=3, seed=1, jobs=2)
    np.testing.assert_array_equal(par.points, fast.points)
    assert par.lines_meta == fast.lines_meta
    with pytest.raises(DataError):
        synth_dataset(lines, hz=0)


# ------------------------------------------------------------------------------------------ hand families
def family_writers(hand: str, n: int = 6, seed: int = 0):
    ws = make_writers(n, seed, hands=hand)
    assert {w.hand for w in ws} == {hand}
    return ws


def test_writers_are_drawn_per_family_with_a_mix():
    ws = make_writers(32, seed=0)
    counts = {h: sum(w.hand == h for w in ws) for h in HANDS}
    assert counts == {h: round(32 * DEFAULT_HANDS[h]) for h in HANDS} and sum(counts.values()) == 32
    assert make_writers(32, seed=0) == ws                       # reproducible
    assert {w.font for w in ws if w.hand == "print"} <= {"futural", "rowmans"}
    assert {w.font for w in ws if w.hand == "cursive"} == {"cursive"}
    only = make_writers(5, seed=1, hands="print,cursive")
    assert {w.hand for w in only} == {"print", "cursive"}
    assert [w.hand for w in make_writers(10, seed=2, hands="italic=1")] == ["italic"] * 10
    assert parse_hands("print=3,script=1") == {"print": 0.75, "script": 0.25}
    assert parse_hands(None) == DEFAULT_HANDS and parse_hands("all") == DEFAULT_HANDS
    assert parse_hands(["italic", "cursive"]) == {"italic": 0.5, "cursive": 0.5}
    for bad in ("gothic", "print=-1", "print=x", "print=0"):
        with pytest.raises(DataError):
            parse_hands(bad)
    # italic writers slant more and write narrower than print writers
    many = make_writers(80, seed=3)
    by = {h: [w for w in many if w.hand == h] for h in HANDS}
    assert np.mean([w.slant for w in by["italic"]]) > np.mean([w.slant for w in by["print"]]) + 0.15
    assert np.mean([w.width for w in by["italic"]]) < np.mean([w.width for w in by["print"]]) - 0.1


@pytest.mark.parametrize("hand", HANDS)
def test_every_family_renders_every_required_character(hand):
    for w in family_writers(hand, 3, seed=7):
        for c in REQUIRED_CHARS.replace(" ", ""):
            ink = render_line(c, w, seed=0)
            assert len(ink) >= 2, (w.name, c)
            x0, y0, x1, y1 = ink.bounds()
            assert (x1 - x0) + (y1 - y0) > 2.0, (w.name, c)        # a visible mark
        ink = render_line(REQUIRED_CHARS, w, seed=1)
        pts = ink.to_stroke3()
        assert np.isfinite(pts).all() and ink.meta["hand"] == hand


def test_determinism_and_no_nan_in_every_family():
    ws = make_writers(12, seed=4)
    assert {w.hand for w in ws} == set(HANDS)
    text = "Jazz quiz: 42 fixed (tiny) jet-lag, Quiet & 'blithe' mix; 7/9?"
    for w in ws:
        a = render_line(text, w, seed=5)
        b = render_line(text, w, seed=5)
        np.testing.assert_array_equal(a.to_stroke3(), b.to_stroke3())
        t = np.concatenate([s.t for s in a.strokes])
        assert np.isfinite(a.to_stroke3()).all() and np.isfinite(t).all()
        assert np.all(np.diff(t) > 0)
        assert not np.array_equal(a.to_stroke3(), render_line(text, w, seed=6).to_stroke3())


def test_xheight_and_baseline_units_in_every_family():
    for w in make_writers(24, seed=8):
        assert 20.0 <= w.x_height <= 28.0
        flat = dataclasses.replace(w, drift=0.0, tilt=0.0)
        ink = render_line("xnumo wave", flat, seed=2)          # x-height letters only
        y = np.concatenate([s.y for s in ink.strokes])
        assert 0.8 < -np.percentile(y, 1) / w.x_height < 1.3, (w.name, w.hand)     # top of the x-height
        assert abs(np.percentile(y, 99)) / w.x_height < 0.2, (w.name, w.hand)      # on the baseline (y = 0)
        asc = render_line("Hd", flat, seed=2).bounds()
        assert asc[1] < -1.2 * w.x_height                      # capitals and ascenders stand above


def test_print_writers_lift_the_pen_between_letters():
    word = "minimum summit"
    letters = len(word.replace(" ", ""))
    cursive = [len(render_line(word, w, seed=1).strokes) for w in family_writers("cursive", 6)]
    printed = [len(render_line(word, w, seed=1).strokes) for w in family_writers("print", 6)]
    assert min(printed) > max(cursive)
    assert np.mean(printed) >= 0.8 * letters                 # the pen lifts between most letters
    assert max(cursive) <= 0.8 * letters                     # cursive: a few long strokes per word (+ dots, bars)
    # a print writer who never joins lifts between every pair of letters (and inside some letters)
    w = dataclasses.replace(family_writers("print", 1)[0], join=0.0, lift=0.0, late_marks=0.0)
    assert len(render_line("mum", w, seed=0).strokes) >= 3
    assert len(render_line("kxE", dataclasses.replace(w, lift=1.0), seed=0).strokes) > \
        len(render_line("kxE", w, seed=0).strokes)          # lifting inside letters: more strokes


def _dots(ink, x_height):
    """Indices of the dot strokes (tiny marks above the x-height)."""
    return [k for k, s in enumerate(ink.strokes)
            if np.ptp(s.x) + np.ptp(s.y) < 0.4 * x_height and s.y.mean() < -1.1 * x_height]


@pytest.mark.parametrize("hand", HANDS)
def test_late_dot_writers_dot_after_the_word(hand):
    base = family_writers(hand, 1, seed=9)[0]
    late = dataclasses.replace(base, late_marks=1.0)
    now = dataclasses.replace(base, late_marks=0.0)
    mean_x = lambda s: float(np.mean(s.x))  # noqa: E731
    # one word: the dots are its last strokes, although the first one sits left of the letters after it
    ink = render_line("minim", late, seed=3)
    dots = _dots(ink, late.x_height)
    assert dots == list(range(len(ink.strokes) - 2, len(ink.strokes)))
    assert mean_x(ink.strokes[dots[0]]) < mean_x(ink.strokes[dots[0] - 1])
    # two words: the first word's dot is written after that word, before the second word
    ink = render_line("pin lip", late, seed=3)
    dots = _dots(ink, late.x_height)
    assert len(dots) == 2
    before, between = ink.strokes[:dots[0]], ink.strokes[dots[0] + 1:dots[1]]
    assert before and between and max(map(mean_x, before)) < min(map(mean_x, between))
    assert mean_x(ink.strokes[dots[0]]) < max(s.x.max() for s in before)        # ... inside the first word
    assert dots[1] == len(ink.strokes) - 1
    # a writer who dots at once dots the i before writing the letters after it
    ink = render_line("minim", now, seed=3)
    dots = _dots(ink, now.x_height)
    assert len(dots) == 2 and dots[0] < len(ink.strokes) - 2
    assert any(mean_x(s) > mean_x(ink.strokes[dots[0]]) for s in ink.strokes[dots[0] + 1:] if s is not ink.strokes[dots[1]])
    # t bars and x crossings are late too: the last three strokes of "tax" are the bar of t... and x's crossing
    strokes = render_line("tit", late, seed=1).strokes
    assert all(np.ptp(s.y) < 0.25 * base.x_height for s in strokes[-3:])       # bar, dot, bar come last
    assert np.ptp(strokes[-4].y) > 0.5 * base.x_height


def _shape(ink, n=300):
    """The pen path resampled to n points by arc length, first point at the origin."""
    p = np.concatenate([np.stack([s.x, s.y], 1) for s in ink.strokes])
    d = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])
    u = np.linspace(0, d[-1], n)
    q = np.stack([np.interp(u, d, p[:, 0]), np.interp(u, d, p[:, 1])], 1)
    return q - q[0]


@pytest.mark.parametrize("hand", HANDS)
def test_writer_deformation_is_consistent_within_a_writer_and_differs_between_writers(hand):
    base = dataclasses.replace(family_writers(hand, 1, seed=10)[0], deform=0.8, letter_var=0.08, slant_var=0.0,
                               jitter=0.0, glyph_var=0.0, drift=0.0, tilt=0.0, late_marks=0.0, join=1.0,
                               lift=0.0, x_height=24.0)
    a, b = dataclasses.replace(base, seed=111), dataclasses.replace(base, seed=222)
    for letter in "agty":
        a1, a2 = _shape(render_line(letter, a, seed=1)), _shape(render_line(letter, a, seed=2))
        b1 = _shape(render_line(letter, b, seed=1))
        same = np.abs(a1 - a2).mean()
        other = np.abs(a1 - b1).mean()
        assert same < 0.5 * other, (hand, letter, same, other)
    # and with no deformation two writers write the same letter shape
    plain_a, plain_b = dataclasses.replace(a, deform=0.0, letter_var=0.0), dataclasses.replace(b, deform=0.0,
                                                                                                letter_var=0.0)
    np.testing.assert_allclose(_shape(render_line("g", plain_a, seed=1)), _shape(render_line("g", plain_b, seed=1)),
                               atol=1e-6)


def test_dataset_records_hand_and_writer_per_line(tmp_path):
    ds = synth_corpus(TEXT, 40, writers=8, seed=3)
    ws = {w.name: w.hand for w in make_writers(8, 3)}
    assert {m["hand"] for m in ds.lines_meta} == set(HANDS)
    assert all(m["hand"] == ws[m["writer"]] for m in ds.lines_meta)
    assert ds.extra["hands"] == {h: sum(v == h for v in ws.values()) for h in HANDS}
    only = synth_corpus(TEXT, 10, writers=3, seed=3, hands="italic")
    assert {m["hand"] for m in only.lines_meta} == {"italic"} and "italic" in only.source
    ds.save(tmp_path / "d")
    assert InkDataset.load(tmp_path / "d").line(0).meta["hand"] == ds.lines_meta[0]["hand"]


def test_synth_cli_hands(run_cli, tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("Now is the winter of our discontent made glorious summer by this sun of York.\n" * 3)
    assert run_cli("synth", "--corpus", corpus, "--lines", 12, "--out", tmp_path / "h", "--writers", 4,
                   "--hands", "print=1,script=1") == 0
    meta = InkDataset.load(tmp_path / "h").lines_meta
    assert {m["hand"] for m in meta} == {"print", "script"}
    capsys.readouterr()
    assert run_cli("synth", "--corpus", corpus, "--lines", 3, "--out", tmp_path / "bad", "--hands", "gothic") == 2
    assert "--hands" in capsys.readouterr().err


def test_pen_speed_varies_along_the_line_on_the_same_path():
    text = "a quiet morning in the hills"
    w = dataclasses.replace(WriterStyle(x_height=24.0), speed_var=0.0)
    even, paced = render_line(text, w, seed=5), render_line(text, dataclasses.replace(w, speed_var=0.4), seed=5)

    def log_speed(ink):
        v = [np.hypot(np.diff(s.x), np.diff(s.y)) / np.diff(s.t) for s in ink.strokes if len(s) > 2]
        return np.log(np.maximum(np.concatenate(v), 1e-6))

    def pts(ink):
        return np.concatenate([s.xy() for s in ink.strokes])

    # the same letters, the same number of pen strokes, every paced sample on the even line's path ...
    assert len(paced.strokes) == len(even.strokes)
    P, E = pts(paced), pts(render_line(text, w, seed=5, hz=500.0))      # (the even path, densely sampled)
    gap = np.sqrt(((P[:, None, :] - E[None, :, :]) ** 2).sum(-1)).min(1)
    assert np.percentile(gap, 95) < 0.05 * 24.0
    # ... but written at a speed that changes along the line
    assert np.std(log_speed(paced)) > np.std(log_speed(even)) + 0.05
    assert WriterStyle.random(np.random.default_rng(0), "w").speed_var > 0


def test_the_pen_rests_where_it_lands_and_flutters_on_the_same_path():
    text = "a quiet morning in the hills"
    w = WriterStyle(x_height=24.0)
    calm = render_line(text, w, seed=5, hz=30.0)        # the corpus's rate (packaging/default_models.py)
    resting = render_line(text, dataclasses.replace(w, pause=1.0), seed=5, hz=30.0)
    fluttering = render_line(text, dataclasses.replace(w, flutter=0.4), seed=5, hz=30.0)

    def steps(ink):
        return [np.hypot(np.diff(s.x), np.diff(s.y)) for s in ink.strokes if len(s) > 2]

    med = np.median(np.concatenate(steps(calm)))
    first = {k: np.array([d[0] for d in steps(ink)]) for k, ink in (("calm", calm), ("resting", resting))}
    # a resting pen creeps before it moves off: most strokes of the resting writer start with a tiny step
    assert np.mean(first["resting"] < 0.3 * med) > 0.6
    assert np.mean(first["calm"] < 0.3 * med) < 0.3
    # every writer keeps the same strokes; the fluttering pen's step lengths change more from one point to the
    # next (the lag-1 autocorrelation of log step length falls a little: a smooth profile keeps neighbours alike)
    assert len(resting.strokes) == len(fluttering.strokes) == len(calm.strokes)

    def lag1(ink):
        x = np.log(np.maximum(np.concatenate(steps(ink)), 1e-3))
        x = x - x.mean()
        return float(np.mean(x[1:] * x[:-1]) / np.var(x))

    fall = [lag1(render_line(text, w, seed=k, hz=30.0))
            - lag1(render_line(text, dataclasses.replace(w, flutter=0.4), seed=k, hz=30.0)) for k in range(6)]
    assert np.mean(fall) > 0.015 and min(fall) >= 0.0
    drawn = WriterStyle.random(np.random.default_rng(0), "w")
    assert drawn.pause > 0 and drawn.flutter > 0


def _synth_flag_takes_a_factor(run_cli, tmp_path, capsys, flag: str, good: float) -> None:
    """``scribe synth FLAG good`` writes a dataset; ``FLAG 9`` is refused by the parser (exit 2, nothing written)."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("Now is the winter of our discontent made glorious summer.\n" * 3)
    assert run_cli("synth", "--corpus", corpus, "--lines", 3, "--out", tmp_path / "w", flag, good) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as bad:
        run_cli("synth", "--corpus", corpus, "--lines", 3, "--out", tmp_path / "bad", flag, 9)
    assert bad.value.code == 2 and not (tmp_path / "bad").exists()
    assert flag in capsys.readouterr().err


def test_shape_variation_scales_only_how_far_the_letters_stray(run_cli, tmp_path, capsys):
    base, wild, plain = make_writers(6, seed=3), make_writers(6, seed=3, shape_var=2.0), make_writers(6, seed=3,
                                                                                                    shape_var=0.0)
    for b, w, p in zip(base, wild, plain):
        assert {f: getattr(w, f) for f in SHAPE_FIELDS} == {f: 2.0 * getattr(b, f) for f in SHAPE_FIELDS}
        assert all(getattr(p, f) == 0.0 for f in SHAPE_FIELDS)
        others = [f for f in b.to_json() if f not in SHAPE_FIELDS]
        assert [getattr(w, f) for f in others] == [getattr(b, f) for f in others]
    # the same writer's letters: further from the font's own shapes as the variation grows
    text = "minimum"
    font = np.concatenate([s.xy() for s in render_line(text, plain[0], seed=1).strokes])
    spread = []
    for ws in (base, wild):
        pts = np.concatenate([s.xy() for s in render_line(text, ws[0], seed=1).strokes])
        spread.append(np.median(np.sqrt(((pts[:, None] - font[None]) ** 2).sum(-1)).min(1)))
    assert spread[1] > 1.3 * spread[0]
    _synth_flag_takes_a_factor(run_cli, tmp_path, capsys, "--shape-var", 1.5)


def test_the_word_space_factor_widens_only_the_spaces_between_words(run_cli, tmp_path, capsys):
    base, wide = make_writers(6, seed=3), make_writers(6, seed=3, word_space=1.5)
    for b, w in zip(base, wide):
        assert w.word_spacing == pytest.approx(1.5 * b.word_spacing)
        others = [f for f in b.to_json() if f != "word_spacing"]
        assert [getattr(w, f) for f in others] == [getattr(b, f) for f in others]
    # the same words: the blank between them is wider (the space is the only blank column of "mum mum")
    def blank(ink):
        spans = sorted((s.xy()[:, 0].min(), s.xy()[:, 0].max()) for s in ink.strokes)
        right, best = spans[0][1], 0.0
        for lo, hi in spans[1:]:
            best, right = max(best, lo - right), max(right, hi)
        return best

    for b, w in zip(base[:3], wide[:3]):
        gaps = [blank(render_line("mum mum", x, seed=2)) for x in (b, w)]
        assert gaps[0] > 0 and gaps[1] > 1.3 * gaps[0]
    with pytest.raises(DataError, match="word space"):
        make_writers(2, word_space=0.0)
    _synth_flag_takes_a_factor(run_cli, tmp_path, capsys, "--word-space", 1.4)


def test_joined_writers_can_join_into_the_round_letters(run_cli, tmp_path, capsys):
    # the script fonts start a, c, d, e, g, o, q, w away from the last letter's exit: at 0 the pen lifts there
    base = dataclasses.replace(family_writers("cursive", 1)[0], late_marks=0.0, join=1.0)
    joining = dataclasses.replace(base, join_round=1.0)
    for word in ("good", "card", "mouse", "swag"):            # (no p, q, t, x, i, j: two strokes in the fonts)
        lifted, joined = (render_line(word, w, seed=1) for w in (base, joining))
        assert len(lifted.strokes) >= 2, word                     # the fonts' own lift before the round letter
        assert len(joined.strokes) == 1, word                     # one pen-down stroke for the whole word
        # the join is drawn at the pen's pace (no step longer than the letters' own), the letters stay in place
        steps = [max(np.hypot(*np.diff(s.xy(), axis=0).T).max() for s in ink.strokes) for ink in (lifted, joined)]
        assert steps[1] < 1.3 * steps[0], word
        ends = [np.concatenate([s.xy() for s in ink.strokes])[:, 0] for ink in (lifted, joined)]
        assert abs(np.ptp(ends[0]) - np.ptp(ends[1])) < 0.1 * base.x_height, word
    # the connector into a bowl goes over its top, not across its middle
    a_top = render_line("ca", joining, seed=1).strokes[0].xy()[:, 1].min()
    assert a_top < -0.8 * base.x_height
    # a writer who lifts at some pairs still lifts there; print fonts are not script fonts: no change
    assert len(render_line("good", dataclasses.replace(joining, join=0.0), seed=1).strokes) >= 3
    printer = dataclasses.replace(family_writers("print", 1)[0], join_round=1.0)
    assert len(render_line("good", printer, seed=1).strokes) == \
        len(render_line("good", dataclasses.replace(printer, join_round=0.0), seed=1).strokes)
    # make_writers: only script and cursive writers, a share of them, the rest of every writer unchanged
    plain, mixed = make_writers(40, seed=3), make_writers(40, seed=3, round_joins=0.7)
    for p, m in zip(plain, mixed):
        assert p.join_round == 0.0
        assert dataclasses.replace(m, join_round=0.0) == p
        assert m.join_round == 0.0 or (m.hand in ("script", "cursive") and 0.7 <= m.join_round <= 1.0)
    scripted = [m for m in mixed if m.hand in ("script", "cursive")]
    assert 0.4 * len(scripted) <= sum(m.join_round > 0 for m in scripted) < len(scripted)
    assert all(m.join_round > 0 for m in make_writers(40, seed=3, round_joins=1.0) if m.hand in ("script", "cursive"))
    with pytest.raises(DataError, match="round letters"):
        make_writers(2, round_joins=1.5)
    _synth_flag_takes_a_factor(run_cli, tmp_path, capsys, "--round-joins", 0.5)


def test_some_script_writers_lift_between_their_letters(run_cli, tmp_path, capsys):
    plain, lifting = make_writers(60, seed=5, hands="script"), make_writers(60, seed=5, hands="script", script_lifts=0.5)
    changed = [(p, w) for p, w in zip(plain, lifting) if w != p]
    assert 0.3 * len(plain) <= len(changed) <= 0.7 * len(plain)
    for p, w in changed:
        assert dataclasses.replace(w, join=p.join) == p and 0.0 <= w.join <= 0.4 < p.join
    # script letters written apart: more pen lifts than the same writer joining, the letters the same font's
    p, w = (dataclasses.replace(x, late_marks=0.0) for x in changed[0])
    word = "minimum summer"
    assert len(render_line(word, w, seed=1).strokes) >= len(render_line(word, p, seed=1).strokes) + 4
    # other families are left alone, and a lifting writer does not join into round letters either
    assert make_writers(30, seed=5, hands="print,cursive", script_lifts=1.0) == make_writers(30, seed=5,
                                                                                          hands="print,cursive")
    both = make_writers(60, seed=5, hands="script", script_lifts=1.0, round_joins=1.0)
    assert all(w.join <= 0.4 and w.join_round == 0.0 for w in both)
    with pytest.raises(DataError, match="lifting between letters"):
        make_writers(2, script_lifts=-0.1)
    _synth_flag_takes_a_factor(run_cli, tmp_path, capsys, "--script-lifts", 0.5)


def test_the_share_of_writers_dotting_and_crossing_after_the_word(run_cli, tmp_path, capsys):
    plain = make_writers(80, seed=4)
    assert make_writers(80, seed=4, late_marks=0.5) == plain          # the default: the recorded corpora unchanged
    assert 0.3 * len(plain) < sum(w.late_marks > 0 for w in plain) < 0.7 * len(plain)
    for share in (0.0, 0.1, 0.9, 1.0):
        ws = make_writers(80, seed=4, late_marks=share)
        for p, w in zip(plain, ws):                                     # only the habit moves
            assert dataclasses.replace(w, late_marks=p.late_marks) == p
            assert w.late_marks == 0.0 or 0.7 <= w.late_marks <= 1.0
        n = sum(w.late_marks > 0 for w in ws)
        assert n == round(share * len(ws)) if share in (0.0, 1.0) else abs(n - share * len(ws)) < 0.15 * len(ws)
        if share < 0.5:                                                 # fewer: only late writers give it up
            assert all(p.late_marks == w.late_marks for p, w in zip(plain, ws) if w.late_marks > 0)
        else:                                                           # more: the late ones stay as they were
            assert all(p.late_marks == w.late_marks for p, w in zip(plain, ws) if p.late_marks > 0)
    # a late writer made to cross at the letter: t's bar before the i (late: the three marks come last)
    now = next(w for p, w in zip(plain, make_writers(80, seed=4, late_marks=0.0))
               if p.late_marks > 0 and p.hand == "print" and w.late_marks == 0)
    late = dataclasses.replace(now, late_marks=1.0)
    flat = [[np.ptp(s.y) < 0.25 * now.x_height for s in render_line("tit", w, seed=1).strokes] for w in (late, now)]
    assert flat[0][-3:] == [True] * 3 and not flat[0][-4]
    assert flat[1][:2] == [False, True] and not all(flat[1][-3:])
    with pytest.raises(DataError, match="after the word"):
        make_writers(2, late_marks=1.5)
    _synth_flag_takes_a_factor(run_cli, tmp_path, capsys, "--late-marks", 0.1)
