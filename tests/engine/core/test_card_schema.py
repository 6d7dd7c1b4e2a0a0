"""Untrusted model cards: the schema, the size and depth limits, and property tests of the parser (torch-free)."""

import copy
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.core import card_schema as cs
from engine.core.errors import CheckpointError, ScribeError


class _OtherError(ScribeError):
    pass


def text_card(package=True, **over):
    vocab = list("abc ")
    card = {"format": cs.PACKAGE_FORMAT if package else cs.CHECKPOINT_FORMAT, "format_version": 1, "kind": "text",
            "name": "t", "vocab": vocab,
            "model_config": {"vocab_size": 4, "cell": "lstm", "layers": 1, "hidden": 8, "embed": 4}}
    if package:
        card["io"] = {"inputs": [{"name": "x", "dtype": "int64", "shape": [1, 1]},
                                 {"name": "h", "dtype": "float32", "shape": [1, 1, 8]},
                                 {"name": "c", "dtype": "float32", "shape": [1, 1, 8]}],
                      "outputs": [{"name": "logits", "dtype": "float32", "shape": [1, 4]},
                                  {"name": "h_out", "dtype": "float32", "shape": [1, 1, 8]},
                                  {"name": "c_out", "dtype": "float32", "shape": [1, 1, 8]}],
                      "state": {"h": [1, 1, 8], "c": [1, 1, 8]}}
    card.update(over)
    return card


def synth_card(**over):
    card = {"format": cs.PACKAGE_FORMAT, "format_version": 1, "kind": "ink-synthesis", "vocab": list("ab"),
            "norm": {"mean": [0.0, 1], "std": [2.0, 3.0]},
            "model_config": {"layers": 1, "hidden": 4, "mixtures": 2, "window_k": 2, "vocab_size": 2},
            "styles": [{"name": "s", "text": "ab", "stroke3": [[0, 1, 0], [1.5, 2, 1]]}],
            "io": {"inputs": [{"name": "x", "dtype": "float32", "shape": [1, 3]},
                              {"name": "chars", "dtype": "float32", "shape": [1, "U", 2]},
                              {"name": "w", "dtype": "float32", "shape": [1, 2]}],
                   "outputs": [{"name": "y", "dtype": "float32", "shape": [1, 13]},
                               {"name": "phi", "dtype": "float32", "shape": [1, "U + 1"]},
                               {"name": "w_out", "dtype": "float32", "shape": [1, 2]}],
                   "state": {"w": [1, 2]}}}
    card.update(over)
    return card


def check(card, package=True):
    return cs.validate_card(card, "/m/card.json", package=package)


def rejects(card, match, package=True):
    with pytest.raises(CheckpointError, match=match) as info:
        check(card, package)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("/m/card.json")
    return msg


def test_valid_cards_pass_unchanged():
    for card in (text_card(), text_card(package=False), synth_card()):
        before = copy.deepcopy(card)
        assert check(card, card["format"] == cs.PACKAGE_FORMAT) is card
        assert card == before


@pytest.mark.parametrize("change,match", [
    (dict(vocab=[1, 2, 3]), r"vocab\[0\]: Input should be a valid string"),
    (dict(vocab=list("abca")), "vocab lists 'a' twice"),
    (dict(vocab=["ab", "c", "d", "e"]), r"vocab\[0\]"),
    (dict(vocab=["\ud800", "c", "d", "e"]), r"vocab\[0\]: Input should be a valid string"),
    (dict(vocab=[]), "vocab"),
    (dict(vocab=None), "no usable vocabulary"),
    (dict(kind="music"), "kind"),
    (dict(format_version=True), "format_version"),
    (dict(format_version="1"), "format_version"),
    (dict(format="scribe-checkpoint"), "format"),
    (dict(name=["x"]), "name"),
    (dict(metrics=[1]), "metrics"),
    (dict(step=-1), "step"),
    (dict(context=7), "context"),
    (dict(model_config=[1]), "model_config"),
    (dict(io=None), "no input/output description"),
])
def test_wrong_fields_are_one_line_errors(change, match):
    rejects(text_card(**change), match)


@pytest.mark.parametrize("key,value,match", [
    ("hidden", 20000, r"model_config.hidden: Input should be less than or equal to 8192 \(got 20000\)"),
    ("hidden", -4, "model_config.hidden"),
    ("hidden", 8.0, "model_config.hidden: Input should be a valid integer"),
    ("hidden", True, "model_config.hidden: Input should be a valid integer"),
    ("layers", 17, "model_config.layers"),
    ("cell", "transformer", "model_config.cell"),
    ("dropout", float("nan"), "model_config.dropout"),
    ("surprise", 1, "model_config.surprise: unknown setting"),
    ("vocab_size", 5, "vocab_size is 5 but vocab has 4"),
])
def test_model_config_is_strict_and_capped(key, value, match):
    card = text_card()
    card["model_config"][key] = value
    rejects(card, match)
    del card["model_config"]["vocab_size"]
    if key != "vocab_size":
        card["model_config"][key] = 2 if key == "layers" else "lstm" if key == "cell" else 0.0 if key == "dropout" \
            else 8
        card["model_config"].pop("surprise", None)
        rejects(card, "model_config.vocab_size: missing")


def test_parameter_count_cap():
    card = text_card()
    card["model_config"].update(hidden=8192, layers=16)  # each within its cap, together 8 billion weights
    assert rejects(card, "weights, more than the 200,000,000")
    assert cs.parameter_count("text", card["model_config"]) > cs.MAX_PARAMS


def test_package_io_and_state_bounds():
    card = text_card()
    card["io"]["state"]["h"] = [-1, 1, 8]
    rejects(card, r"io.state.h\[0\]")
    card = text_card()
    card["io"]["state"]["h"] = [1, 1, 8, 1, 1, 1, 1, 1, 1]
    rejects(card, r"io.state.h")
    card = text_card()
    card["io"]["state"]["z"] = [1, 4]
    rejects(card, "state 'z' is not an input/output pair")
    card = text_card()
    for spec in card["io"]["inputs"] + card["io"]["outputs"]:
        if spec["name"].startswith("h"):
            spec["shape"] = [4096, 4096, 4]
    card["io"]["state"]["h"] = [4096, 4096, 4]
    rejects(card, "more than 16,777,216 elements")
    card = text_card()
    card["io"]["outputs"][0]["shape"] = [1, 5]
    rejects(card, "vocabulary-sized dimension is 5 but vocab has 4")
    card = text_card()
    card["io"]["outputs"] = card["io"]["outputs"][1:]
    rejects(card, r"lacks the text inputs/outputs \['logits'\]")


def test_ink_cards():
    rejects(synth_card(norm=None), "no normalisation statistics")
    rejects(synth_card(norm={"mean": [0, 0], "std": [0, 1]}), r"norm.std\[0\]")
    rejects(synth_card(norm={"mean": [0, 0, 0], "std": [1, 1]}), "norm.mean")
    rejects(synth_card(styles=[{"name": "s", "stroke3": [[0, 1]]}]), r"styles\[0\].stroke3\[0\]")
    rejects(synth_card(styles=[{"name": 3, "stroke3": []}]), r"styles\[0\].name")
    card = synth_card()
    card["io"]["inputs"][1]["shape"] = [1, "U", 3]
    rejects(card, "vocabulary-sized dimension is 3")
    card = synth_card()
    card["model_config"]["vocab_size"] = 0
    rejects(card, "vocab_size")
    # a prediction checkpoint needs neither vocabulary nor statistics; a synthesis checkpoint needs no vocabulary
    pred = {"format": cs.CHECKPOINT_FORMAT, "format_version": 1, "kind": "ink-prediction",
            "model_config": {"layers": 1, "hidden": 4, "mixtures": 2}}
    assert check(pred, package=False) is pred
    rejects(dict(pred, model_config=None), "no model_config", package=False)


def test_the_callers_error_class_is_used():
    with pytest.raises(_OtherError, match="^X is damaged: vocab"):
        cs.validate_card(text_card(vocab=5), "X", package=True, error=_OtherError)


# ------------------------------------------------------------------------------------------------- reading

def test_json_depth_is_measured_without_recursion():
    assert cs.json_depth(b"1") == 0
    assert cs.json_depth(b'[[[]], {"a": [1]}]') == 3
    assert cs.json_depth(b'["[[[[", "\\"]]]]"]') == 1      # brackets in strings do not count
    assert cs.json_depth(b"[" * 1_000_000 + b"]" * 1_000_000, 64) == 65
    assert cs.json_depth(b"[[]," * 500_000 + b"1" + b"]" * 500_000) == 65


def test_parse_json_limits(tmp_path):
    deep = b'{"a": ' * 100_000 + b"1" + b"}" * 100_000
    with pytest.raises(CheckpointError, match="nested deeper than 64 levels"):
        cs.parse_json(deep, "deep.json")
    assert cs.parse_json(b"[" * 64 + b"]" * 64, "ok.json") is not None
    for raw, match in [(b"{not json", "is damaged: Expecting"), (b"\xff\xfe", "not UTF-8"),
                       (b"1" * 5000, "digits")]:
        with pytest.raises(CheckpointError, match=match):
            cs.parse_json(raw, "x.json")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2000 + b"{}")
    with pytest.raises(CheckpointError, match="too large"):
        cs.read_json(big, max_bytes=1000)
    with pytest.raises(CheckpointError, match="cannot read"):
        cs.read_json(tmp_path / "missing.json")
    with pytest.raises(CheckpointError, match="not a regular file"):
        cs.read_json(tmp_path)
    if hasattr(os, "mkfifo"):  # a FIFO must not block the reader
        os.mkfifo(tmp_path / "fifo.json")
        with pytest.raises(CheckpointError, match="not a regular file"):
            cs.read_json(tmp_path / "fifo.json")


# ------------------------------------------------------------------------------------------------ properties

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30)
_keys = st.sampled_from(["format", "format_version", "kind", "vocab", "norm", "model_config", "io", "styles", "name",
                         "context", "step", "metrics", "hidden", "layers", "vocab_size", "inputs", "outputs",
                         "state", "mean", "std", "stroke3", "shape", "cell", "embed"])


def _mutate(card, data):
    """A valid card with random parts replaced by arbitrary JSON (so the deep checks are reached too)."""
    card = copy.deepcopy(card)
    for _ in range(data.draw(st.integers(1, 3))):
        node = card
        for _ in range(data.draw(st.integers(0, 3))):
            kids = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) \
                if isinstance(node, list) else []
            kids = [(k, v) for k, v in kids if isinstance(v, (dict, list)) and v]
            if not kids:
                break
            node = data.draw(st.sampled_from(kids))[1]
        if isinstance(node, dict):
            key = data.draw(_keys | st.sampled_from(sorted(node) or ["x"]))
            if data.draw(st.booleans()) and key in node:
                del node[key]
            else:
                node[key] = data.draw(_json)
        elif isinstance(node, list) and node:
            node[data.draw(st.integers(0, len(node) - 1))] = data.draw(_json)
    return card


def _only_one_line_errors(fn):
    try:
        fn()
    except CheckpointError as exc:
        assert "\n" not in str(exc) and str(exc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_json, st.booleans())
def test_arbitrary_json_never_raises_anything_else(value, package):
    _only_one_line_errors(lambda: cs.validate_card(value, "c.json", package=package))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([text_card(), text_card(package=False), synth_card()]), st.data())
def test_damaged_cards_never_raise_anything_else(card, data):
    bad = _mutate(card, data)
    _only_one_line_errors(lambda: cs.validate_card(bad, "c.json", package=bad.get("format") == cs.PACKAGE_FORMAT))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass"))
       | _json.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_bytes_never_raise_anything_else(raw):
    _only_one_line_errors(lambda: cs.validate_card(cs.parse_json(raw, "c.json"), "c.json", package=True))


@st.composite
def valid_cards(draw):
    vocab = draw(st.lists(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60, unique=True))  # a lone
    # surrogate is no character: refused (test_wrong_fields_are_one_line_errors)
    kind = draw(st.sampled_from(["text", "ink-synthesis", "ink-prediction"]))
    layers, hidden = draw(st.integers(1, 4)), draw(st.integers(1, 64))
    finite = st.floats(-1e6, 1e6, allow_nan=False)
    card = {"format": cs.PACKAGE_FORMAT, "format_version": 1, "kind": kind,
            "name": draw(st.text(max_size=30)), "step": draw(st.integers(0, 10**6)),
            "metrics": draw(st.dictionaries(st.text(max_size=5), finite, max_size=3))}
    state = {"h": [layers, 1, hidden]}
    if kind == "text":
        card["vocab"] = vocab
        card["model_config"] = {"vocab_size": len(vocab), "cell": draw(st.sampled_from(cs.CELLS)), "layers": layers,
                                "hidden": hidden, "embed": draw(st.integers(1, 32)), "skip": draw(st.booleans()),
                                "dropout": draw(st.floats(0, 0.9))}
        card["context"] = "".join(draw(st.lists(st.sampled_from(vocab), max_size=20)))
        ins, outs = [("x", [1, 1])], [("logits", [1, len(vocab)])]
    else:
        card["norm"] = {"mean": [draw(finite), draw(finite)], "std": [draw(st.floats(1e-6, 1e6))] * 2}
        card["model_config"] = {"layers": layers, "hidden": hidden, "mixtures": draw(st.integers(1, 20)),
                                "window_k": draw(st.integers(1, 10)), "kappa_init": draw(finite)}
        ins, outs = [("x", [1, 3])], [("y", [1, 6 * card["model_config"]["mixtures"] + 1])]
        if kind == "ink-synthesis":
            card["vocab"] = vocab
            card["model_config"]["vocab_size"] = len(vocab)
            ins.append(("chars", [1, "U", len(vocab)]))
            outs.append(("phi", [1, "U + 1"]))
        card["styles"] = [{"name": draw(st.text(max_size=10)), "text": draw(st.text(max_size=10)),
                           "stroke3": draw(st.lists(st.tuples(finite, finite, st.sampled_from([0.0, 1.0]))
                                                    .map(list), max_size=20))}]
    ins += [(n, s) for n, s in state.items()]
    outs += [(f"{n}_out", s) for n, s in state.items()]
    card["io"] = {"inputs": [{"name": n, "dtype": "float32", "shape": s} for n, s in ins],
                  "outputs": [{"name": n, "dtype": "float32", "shape": s} for n, s in outs], "state": state}
    return card


@settings(max_examples=200, deadline=None)
@given(valid_cards())
def test_valid_cards_round_trip(card):
    assert cs.validate_card(card, "c.json", package=True) == card
    raw = json.dumps(card, ensure_ascii=False).encode("utf-8", "surrogatepass")
    again = cs.validate_card(cs.parse_json(raw, "c.json"), "c.json", package=True)
    assert again == card
