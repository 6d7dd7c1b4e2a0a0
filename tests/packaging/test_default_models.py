"""packaging/default_models.py: each bundled priming style is a training line of the right writer that shows
the hand's small letters (never a line of capitals), and, given a model, the line after which the model finds
the writer's other lines most likely."""

import dataclasses
import sys
from pathlib import Path

import numpy as np

from engine.cli.evaluate import load_ink_scorer
from engine.core.ink_score import score_line
from engine.data.synth import make_writers, synth_dataset
from engine.export.fixtures import make_tiny_package

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "packaging"))
import default_models as dm  # noqa: E402

TEXTS = ["SHOUT IT OUT LOUD NOW", "a quiet little word here", "the cat sat on the mat", "LOUD AND CLEAR AGAIN",
         "we walked home slowly", "tea for two", "over the hills and far", "on a boat"]
HANDS = ["print"] * 4 + ["italic", "script", "cursive"]


def corpus(tmp_path):
    writers = [dataclasses.replace(make_writers(1, seed=i, hands=h)[0], name=f"w{i}") for i, h in enumerate(HANDS)]
    lines = [t for t in TEXTS for _ in writers]           # line i by writer i mod 7: every writer writes every text
    path = tmp_path / "synth"
    synth_dataset(lines, writers=writers, seed=1, hz=30).save(path)
    return path, writers


def test_styles_show_lowercase_lines_of_the_right_writers(tmp_path):
    from engine.data.ink_dataset import InkDataset

    path, writers = corpus(tmp_path)
    ds = InkDataset.load(path)
    styles = dm.pick_styles(path)
    assert [s["name"] for s in styles] == [name for _, _, name in dm.STYLES]
    for s, (hand, k, _) in zip(styles, dm.STYLES):
        assert dm.shows_lowercase(s["text"]) and s["text"] not in ("SHOUT IT OUT LOUD NOW", "LOUD AND CLEAR AGAIN")
        meta = next(m for m in ds.lines_meta if m["text"] == s["text"] and m["writer"] == writers[
            [i for i, h in enumerate(HANDS) if h == hand][k]].name)
        assert meta["split"] == "train"
        assert np.all(s["stroke3"][0, :2] == 0)
    assert not dm.shows_lowercase("LOUD AND CLEAR AGAIN") and not dm.shows_lowercase("tea for two")


def test_with_a_model_the_style_is_the_best_ranked_prime(tmp_path):
    from engine.data.ink_dataset import InkDataset

    path, writers = corpus(tmp_path)
    pkg = make_tiny_package("ink-synthesis", tmp_path / "pkg", seed=5, vocab=" ACDEGHILNORSTUWabcdefghiklmnorstuvwy")
    ds = InkDataset.load(path)
    sc = load_ink_scorer(str(pkg))
    styles = dm.pick_styles(path, model=pkg, targets=3, read=1)   # by likelihood alone (no OCR)
    italic = styles[[n for _, _, n in dm.STYLES].index("Italic")]
    own = [i for i, m in enumerate(ds.lines_meta) if m["writer"] == writers[4].name and m["split"] == "train"]
    fits = [i for i in own if 18 <= len(ds.lines_meta[i]["text"]) <= 34 and dm.shows_lowercase(ds.lines_meta[i]["text"])]
    others = [i for i in own if i not in fits][:3]

    nll = {ds.lines_meta[c]["text"]: np.mean([     # score_line moves both lines to the origin itself
        score_line(sc.stepper, ds.line(j).points, text=ds.lines_meta[j]["text"], vocab=sc.vocab, norm=sc.norm,
                   prime_stroke3=ds.line(c).points, prime_text=ds.lines_meta[c]["text"],
                   gap=sc.scale.prime_gap, join=sc.scale.join).mean() for j in others]) for c in fits}
    assert len(nll) >= 2 and len(set(np.round(list(nll.values()), 6))) == len(nll)
    assert italic["text"] == min(nll, key=nll.get)
    assert min(nll, key=nll.get) != ds.lines_meta[fits[0]]["text"]   # so the model did choose (seed 5)
