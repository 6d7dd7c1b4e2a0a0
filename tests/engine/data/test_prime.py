"""engine.data.prime: a person's ink -> stroke-3 at the model's scale and point rate."""

from dataclasses import replace

import numpy as np
import pytest

from engine.core.errors import DataError
from engine.data.ink import Ink, Stroke
from engine.data.inkml import write_inkml
from engine.data.prime import (
    InkScale,
    ink_x_height,
    median_step,
    prepare_prime,
    prime_scale,
    read_prime_ink,
    resample,
    strokes_to_stroke3,
    y_band,
)
from engine.data.synth import make_writers, render_line


def _line(text="minimum wage", scale=1.0, every=1, seed=0) -> Ink:
    ink = render_line(text, make_writers(1, seed=seed)[0], seed=seed)
    return Ink([Stroke(s.x[::every] * scale, s.y[::every] * scale) for s in ink.strokes if len(s)], text)


def test_strokes_to_stroke3_scales_resamples_and_starts_at_the_origin():
    strokes = [(np.array([10.0, 20.0, 30.0]), np.array([5.0, 5.0, 15.0])), (np.array([40.0, 41.0]), np.array([0.0, 0.0]))]
    s3 = strokes_to_stroke3(strokes, scale=0.5)
    pts = np.cumsum(s3[:, :2], axis=0)
    np.testing.assert_allclose(pts, (np.array([[10, 5], [20, 5], [30, 15], [40, 0], [41, 0]]) - [10, 5]) * 0.5)
    assert s3[:, 2].tolist() == [0, 0, 1, 0, 1]
    x, _ = resample(np.array([0.0, 10.0]), np.array([0.0, 0.0]), 2.5)
    np.testing.assert_allclose(x, [0, 2.5, 5, 7.5, 10])
    s3r = strokes_to_stroke3(strokes[:1], scale=1.0, spacing=1.0)
    steps = np.hypot(s3r[1:, 0], s3r[1:, 1])
    assert steps.max() <= 1.0 + 1e-5 and len(s3r) > 20


def test_x_height_is_measured_on_the_ink_whatever_its_units_and_slope():
    ink = _line()
    xh = ink_x_height(ink)
    assert 15 < xh < 35                                    # the synthetic corpus writes 20-28 units
    big = Ink([Stroke(s.x * 7.3, s.y * 7.3) for s in ink.strokes])
    assert ink_x_height(big) == pytest.approx(xh * 7.3, rel=1e-6)
    uphill = Ink([Stroke(s.x, s.y - 0.15 * s.x) for s in ink.strokes])   # written uphill
    assert ink_x_height(uphill) == pytest.approx(xh, rel=0.15)
    assert y_band([0, 1], [0, 1]) is None                 # too short to tell


def test_prepare_prime_brings_any_units_and_density_to_the_model():
    model = InkScale.from_lines([_line(seed=s).to_stroke3() for s in range(3)])
    assert 15 < model.x_height < 35 and model.spacing > 0
    for scale, every in ((1.0, 1), (4.2, 1), (0.3, 3)):   # model units, tablet units, a sparse mouse drawing
        ink = _line("a different line", scale=scale, every=every, seed=7)
        s3 = prepare_prime(ink, model)
        pts = np.cumsum(s3[:, :2], axis=0)
        assert np.allclose(pts[0], 0)
        got = ink_x_height(Ink.from_stroke3(s3))
        assert got == pytest.approx(model.x_height, rel=0.05)   # resampling at the model's step rounds corners a little
        assert median_step(s3) == pytest.approx(model.spacing, rel=0.1)
        assert s3[-1, 2] == 1.0


def test_the_guide_bounds_a_drawing_that_ignores_it():
    ink = _line(scale=100.0)
    model = InkScale(25.0, 2.0)
    assert prime_scale(ink, model, guide_x_height=36.0) == pytest.approx(25.0 / 72.0)   # within 2x of the guide
    assert prime_scale(_line(scale=36 / 25), model, guide_x_height=36.0) == pytest.approx(
        25.0 / ink_x_height(_line(scale=36 / 25)))


def test_ink_scale_from_card_styles_or_defaults():
    # a card that does not name its join is an older model's: the "start" join it was trained with
    assert InkScale.from_card({"ink_scale": {"x_height": 31, "spacing": 2.5}}) == InkScale(31.0, 2.5, "start")
    assert InkScale.from_card({"ink_scale": {"x_height": 31, "spacing": 2.5, "join": "baseline"}}).join == "baseline"
    assert InkScale.from_card({"ink_scale": {"x_height": 31, "join": "sideways"}}).join == "start"
    assert InkScale.from_card({}) == InkScale(join="start")
    assert InkScale.from_card({"ink_scale": {"x_height": "nan"}}) == InkScale(join="start")
    styles = [{"stroke3": _line(seed=1).to_stroke3()}]
    est = InkScale.from_card({}, styles)
    assert est == replace(InkScale.from_lines([styles[0]["stroke3"]]), join="start") and est.spacing > 0
    assert InkScale.from_card({"x_height": 40}, styles).x_height == 40.0
    # what this code trains, and so what a new card records
    assert InkScale(25.0, 2.0).to_json() == {"x_height": 25.0, "spacing": 2.0, "join": "baseline"}
    assert InkScale.from_card({"ink_scale": InkScale(25.0, 2.0).to_json()}) == InkScale(25.0, 2.0)
    # the model's own word spacing, once measured (engine.core.word_space.reference_gap)
    spaced = InkScale(25.0, 2.0, word_gap=1.25)
    assert spaced.to_json()["word_gap"] == 1.25 and InkScale.from_card({"ink_scale": spaced.to_json()}) == spaced
    for bad in ("nan", -1, 0, 1e9, "wide", [1]):      # damaged: measured again, the rest of the scale kept
        assert InkScale.from_card({"ink_scale": {**spaced.to_json(), "word_gap": bad}}) == InkScale(25.0, 2.0), bad
    # the lean of the hand it learnt (a personal model's writer's), when recorded
    leaning = InkScale(25.0, 2.0, slant=-7.25)
    assert leaning.to_json()["slant"] == -7.25 and InkScale.from_card({"ink_scale": leaning.to_json()}) == leaning
    assert "slant" not in InkScale(25.0, 2.0).to_json()
    for bad in ("nan", 46, -90, "wide", [1], True, None):   # not a lean: none, the rest of the scale kept
        assert InkScale.from_card({"ink_scale": {**leaning.to_json(), "slant": bad}}) == InkScale(25.0, 2.0), bad
    # a personal model made before its card recorded the lean: the lean of its styles, the person's lines
    from engine.core.hand import hand_slant
    from engine.core.word_space import hand_gap

    old = {"ink_scale": InkScale(25.0, 2.0).to_json(), "personal": {"base": "handwriting-script"}}
    styles = [{"stroke3": _line(seed=1).to_stroke3(), "text": "hello world"}]
    lean = hand_slant([np.asarray(st["stroke3"]) for st in styles], 25.0)
    gap = hand_gap([(np.asarray(st["stroke3"]), st["text"]) for st in styles], 25.0)
    got = InkScale.from_card(old, styles)
    assert lean is not None and gap is not None
    assert got.slant == pytest.approx(lean) and got.hand_gap == pytest.approx(gap)
    assert InkScale.from_card({**old, "personal": None}, styles) == InkScale(25.0, 2.0)   # not a personal model
    short = InkScale.from_card(old, [{"stroke3": [[0, 0, 0], [1, 1, 1]], "text": "a"}])  # too little to tell
    assert short.slant is None and short.hand_gap is None
    # the writer's word gap, recorded; damaged: none
    spaced_hand = InkScale(25.0, 2.0, hand_gap=2.5)
    assert InkScale.from_card({"ink_scale": spaced_hand.to_json()}) == spaced_hand
    for bad in ("nan", -1, 0, 1e9, "wide"):
        assert InkScale.from_card({"ink_scale": {**spaced_hand.to_json(), "hand_gap": bad}}) == InkScale(25.0, 2.0)


def test_long_primes_are_cut_at_a_stroke_end():
    ink = _line("a long line of handwriting for priming", seed=3)
    s3 = prepare_prime(ink, InkScale(25.0, 0.5), max_points=300)
    assert len(s3) <= 300 and s3[-1, 2] == 1.0


def test_read_prime_ink_inkml_and_iam_xml(tmp_path):
    ink = _line()
    write_inkml(tmp_path / "me.inkml", ink)
    back = read_prime_ink(tmp_path / "me.inkml")
    assert back.text == "minimum wage" and len(back) == len(ink)
    iam = tmp_path / "a01-000u-01.xml"
    pts = "".join(f'<Point x="{1000 + 10 * i}" y="{500 + (i % 7) * 9}" time="{i * 0.01:.2f}"/>' for i in range(40))
    iam.write_text(f'<?xml version="1.0"?><WhiteboardCaptureSession><StrokeSet><Stroke colour="black">{pts}'
                   f'</Stroke></StrokeSet></WhiteboardCaptureSession>')
    got = read_prime_ink(iam)
    assert len(got) == 40 and got.strokes[0].x[1] == 1010


@pytest.mark.parametrize("content,match", [
    (None, "no such file"),
    ("just text", "neither InkML nor IAM"),
    ('<ink xmlns="http://www.w3.org/2003/InkML"></ink>', "no ink|no points|no traces"),
    ('<ink xmlns="http://www.w3.org/2003/InkML"><trace>0 0, 1e308 1e308</trace></ink>', "non-finite|beyond|absurd|coordinates"),
])
def test_bad_prime_files_name_the_file(tmp_path, content, match):
    path = tmp_path / "bad.inkml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=match) as e:
        read_prime_ink(path)
    assert "bad.inkml" in str(e.value)
