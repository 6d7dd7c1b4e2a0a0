"""Corpus loading, vocabulary and bad-input handling for the char LM."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.errors import DataError
from engine.core.vocab import Vocab
from engine.data.corpus import load_corpus, read_text

MIXED = "Hello, world! Ça va? Grüße. 日本語のテキスト。 हिन्दी पाठ। Ελληνικά. עברית. 🎉🙂 done\n"


def test_vocab_round_trip_non_ascii(tmp_path):
    v = Vocab.from_text(MIXED)
    ids = v.encode(MIXED)
    assert v.decode(ids) == MIXED
    assert len(v) == len(set(MIXED))
    assert v.chars == sorted(set(MIXED))          # deterministic order (code points)
    assert ids.dtype == np.uint8
    again = Vocab.from_json(v.to_json())
    assert again == v and np.array_equal(again.encode(MIXED), ids)
    p = tmp_path / "mixed.txt"
    p.write_text(MIXED * 3, encoding="utf-8")
    c = load_corpus(p)
    assert c.vocab.decode(c.data) == MIXED * 3


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=200))
def test_vocab_round_trip_any_text(text):
    v = Vocab.from_text(text)
    assert v.decode(v.encode(text)) == text


def test_vocab_wide_alphabet_uses_uint16():
    text = "".join(chr(0x4E00 + i) for i in range(400))
    v = Vocab.from_text(text)
    ids = v.encode(text)
    assert ids.dtype == np.uint16 and v.decode(ids) == text


def test_vocab_unknown_characters():
    v = Vocab.from_text("abc")
    assert v.unknown("abxyx🎉") == ["x", "y", "🎉"]
    with pytest.raises(KeyError):
        v.encode("abz")
    ids = v.encode_codepoints(np.array([ord("a"), ord("z"), 0x1F389], dtype=np.uint32), unknown=-1)
    assert ids.tolist() == [0, -1, -1]


def test_folder_corpus_concatenates_and_skips_bad_files(tmp_path):
    (tmp_path / "a.txt").write_text("first file", encoding="utf-8")
    (tmp_path / "b.md").write_text("second\n", encoding="utf-8")
    (tmp_path / "c.txt").write_bytes(b"latin-1 caf\xe9")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\x00\x00")
    c = load_corpus(tmp_path)
    assert c.vocab.decode(c.data) == "first file\nsecond\n"
    assert len(c.files) == 2
    assert len(c.skipped) == 1 and "c.txt" in c.skipped[0][0] and "byte offset 11" in c.skipped[0][1]
    assert read_text(tmp_path) == "first file\nsecond\n"


def test_bom_is_dropped(tmp_path):
    p = tmp_path / "bom.txt"
    p.write_bytes("\ufeffabc".encode("utf-8"))
    c = load_corpus(p)
    assert c.vocab.decode(c.data) == "abc"


def test_new_corpus_keeps_vocab_and_names_unknown_chars(tmp_path):
    v = Vocab.from_text("abc \n")
    p = tmp_path / "new.txt"
    p.write_text("a b c ß x ß\n", encoding="utf-8")
    c = load_corpus(p, vocab=v)
    assert c.vocab is v
    assert c.unknown_chars == ["x", "ß"]
    assert c.n_dropped == 3
    assert v.decode(c.data) == "a b c   \n"


def test_large_corpus_stays_a_compact_array(tmp_path):
    n = 24_000_000
    block = ("the quick brown fox jumps over the lazy dog. " * 100)
    text_len = (n // len(block)) * len(block)
    p = tmp_path / "big.txt"
    with open(p, "w", encoding="utf-8") as fh:
        for _ in range(n // len(block)):
            fh.write(block)
    tracemalloc.start()
    try:
        c = load_corpus(p)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(c.data, np.ndarray) and c.data.dtype == np.uint8 and c.data.ndim == 1
    assert len(c.data) == text_len
    # the ids (1 byte/char) plus a bounded block of scratch; a list, or whole-text int64/utf-32 copies,
    # would need many times the text's size
    assert peak < text_len * 1 + 120_000_000, peak
    assert c.vocab.decode(c.data[:len(block)]) == block


@pytest.mark.parametrize("case", ["missing", "empty", "binary", "not-utf8", "empty-folder", "folder-only-bad",
                                  "dir-no-text"])
def test_bad_corpus_gives_one_clear_message_and_exit_2(tmp_path, run_cli, capsys, case):
    if case == "missing":
        path, expect = tmp_path / "nope.txt", "not found"
    elif case == "empty":
        path, expect = tmp_path / "empty.txt", "empty"
        path.write_bytes(b"")
    elif case == "binary":
        path, expect = tmp_path / "data.txt", "binary (NUL byte at byte offset 3)"
        path.write_bytes(b"abc\x00\x01\x02")
    elif case == "not-utf8":
        path, expect = tmp_path / "latin.txt", "not valid UTF-8: byte 0xe9 at byte offset 7"
        path.write_bytes(b"abc\ndef\xe9gh")
    elif case == "empty-folder":
        path, expect = tmp_path / "folder", "no text files"
        path.mkdir()
    elif case == "folder-only-bad":
        path, expect = tmp_path / "folder", "byte offset 0"
        path.mkdir()
        (path / "a.txt").write_bytes(b"\xff\xfe")
    else:
        path, expect = tmp_path / "folder", "no text files"
        path.mkdir()
        (path / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    rc = run_cli("train", "text", "--corpus", path, "--out", tmp_path / "run", "--steps", "1", "--quiet")
    err = capsys.readouterr().err
    assert rc == 2
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("scribe: error: ")
    assert expect in lines[0]
    if case in ("binary", "not-utf8", "missing"):
        assert path.name in lines[0]
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_non_utf8_offset_across_block_boundary(tmp_path, monkeypatch):
    import engine.data.corpus as corpus

    monkeypatch.setattr(corpus, "BLOCK_BYTES", 8)
    p = tmp_path / "split.txt"
    # a valid 3-byte character straddles the first block boundary; the bad byte sits at offset 13
    p.write_bytes("abcdef".encode() + "日".encode() + b"xyzz" + b"\xff" + b"end")
    with pytest.raises(DataError, match="byte 0xff at byte offset 13"):
        load_corpus(p)
    q = tmp_path / "ok.txt"
    q.write_text("abcdef日本語 text", encoding="utf-8")
    c = load_corpus(q)
    assert c.vocab.decode(c.data) == "abcdef日本語 text"
