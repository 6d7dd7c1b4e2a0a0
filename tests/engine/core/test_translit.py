"""engine.core.translit: text fitted to a model's characters, the same way in the CLI, runtime and app."""

from engine.core.translit import fit_text
from engine.core.vocab import Vocab

ASCII = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,'\"-")


def test_accents_quotes_and_dashes_become_plain_characters():
    f = fit_text("Café “naïve” — it’s Straße…", ASCII)
    assert f.text == 'Cafe "naive" - it\'s Strasse...'
    assert f.replaced == {"é": "e", "“": '"', "ï": "i", "”": '"', "—": "-", "’": "'", "ß": "ss", "…": "..."}
    assert f.dropped == []
    assert f.note().startswith("wrote 'e' for 'é', '\"' for '“'")


def test_decomposed_accents_and_unknown_characters():
    assert fit_text("Cafe\u0301", ASCII).text == "Cafe"              # e + combining acute: no stray mark
    assert fit_text("x\u0301", ASCII).note() == "left out accents"
    f = fit_text("Café €5 ж", ASCII)
    assert f.text == "Cafe 5 " and f.dropped == ["€", "ж"]
    assert "left out '€', 'ж'" in f.note()
    kept = fit_text("Café €5", ASCII, drop=False)                      # the CLI refuses these by name
    assert kept.text == "Cafe €5" and kept.dropped == ["€"]


def test_only_known_stand_ins_are_used_and_known_characters_stay():
    v = Vocab.from_text("cafe é")
    assert fit_text("café", v).text == "café"                            # the model knows é: kept
    assert fit_text("CAFÉ", v).text == "" and fit_text("CAFÉ", v).dropped == ["C", "A", "F", "É"]
    assert fit_text("a\nb", set("ab"), keep="\n").text == "a\nb"
    assert fit_text("", ASCII).note() == ""
