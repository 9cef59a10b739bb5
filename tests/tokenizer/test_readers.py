"""Readers: each container gives the same vocabulary facts; bad files are refused."""

from __future__ import annotations

import io
import json
import struct

import pytest

from fromscratch.errors import InputError
from fromscratch.tokenizer.api import compare_tokenizers
from fromscratch.tokenizer.normalize import canonical
from fromscratch.tokenizer.readers import load_tokenizer, read_gguf, read_tokenizer_json
from fromscratch.tokenizer.spm import parse_sentencepiece, read_sentencepiece
from tests.tokenizer.tokfixtures import language


def test_canonical_spellings():
    assert canonical("Ġthe", "byte-level") == " the"
    assert canonical("Ċ", "byte-level") == "\n"
    assert canonical("ĠìĹ", "byte-level") == "<0x20><0xEC><0x97>"  # partial UTF-8: every byte shown
    assert canonical("âĢĻ", "byte-level") == "\u2019"
    assert canonical("▁the", "metaspace") == " the"
    assert canonical("<0x41>", "metaspace") == "A"
    assert canonical("<0x0A>", "metaspace") == "<0x0A>"
    assert canonical("##ing", "wordpiece") == "ing"
    assert canonical("the", "wordpiece") == " the"


def test_both_merge_formats_read_alike(tmp_path):
    base = {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4},
                      "merges": [["a", "b"], ["Ġ", "ab"]]},
            "pre_tokenizer": {"type": "ByteLevel"}, "added_tokens": []}
    old = json.loads(json.dumps(base))
    old["model"]["merges"] = ["a b", "Ġ ab"]
    (tmp_path / "new.json").write_text(json.dumps(base))
    (tmp_path / "old.json").write_text(json.dumps(old))
    new_v = read_tokenizer_json(tmp_path / "new.json")
    old_v = read_tokenizer_json(tmp_path / "old.json")
    assert new_v.merges == old_v.merges == [("a", "b"), ("Ġ", "ab")]
    assert new_v.style == "byte-level"


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_sentencepiece_model_matches_the_library(model_type):
    spm = pytest.importorskip("sentencepiece")
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(language(7, 600).splitlines()), model_writer=buf,
                                   vocab_size=400, model_type=model_type, minloglevel=2,
                                   byte_fallback=True)
    proto = buf.getvalue()
    proc = spm.SentencePieceProcessor(model_proto=proto)
    vocab = parse_sentencepiece(proto, __import__("pathlib").Path("mem.model"))
    assert vocab.kind == model_type and vocab.style == "metaspace"
    assert vocab.tokens == [proc.id_to_piece(i) for i in range(proc.get_piece_size())]
    if model_type == "unigram":
        assert vocab.scores == pytest.approx([proc.get_score(i) for i in range(proc.get_piece_size())])
    assert {proc.id_to_piece(i) for i in range(proc.get_piece_size()) if proc.is_control(i)} <= set(
        vocab.special_strings())


def test_hostile_and_broken_files(tmp_path):
    bad_json = tmp_path / "tokenizer.json"
    bad_json.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_tokenizer(bad_json)
    bad_json.write_text(json.dumps({"model": {"type": "BPE", "vocab": {"a": -5}, "merges": []}}))
    with pytest.raises(InputError, match="out of range"):
        load_tokenizer(bad_json)
    bad_json.write_text(json.dumps({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [7]}}))
    with pytest.raises(InputError, match="merge"):
        load_tokenizer(bad_json)
    bad_spm = tmp_path / "x.model"
    bad_spm.write_bytes(b"\x0a\xff\xff\xff\xff\x0f")  # a piece claiming 4 GB
    with pytest.raises(InputError, match="SentencePiece"):
        read_sentencepiece(bad_spm)
    gguf = tmp_path / "t.gguf"
    # GGUF v3 header with one key whose string length runs past the end
    gguf.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 40))
    with pytest.raises(InputError, match="truncated"):
        load_tokenizer(gguf)
    e5 = tmp_path / "m.bin"
    e5.write_bytes(b"E5S1" + struct.pack("<I9i", 1, 0, 0, 0, 0, 0, 0, 0, 0, 0) + struct.pack("<5iQ", 10**9, 0, 0, 0, 0, 5))
    with pytest.raises(InputError, match="E5S1"):
        load_tokenizer(e5)
    with pytest.raises(InputError, match="no such file"):
        load_tokenizer(tmp_path / "missing")


def test_gguf_fields_from_a_written_file(tmp_path, bpe_pair):
    """A vocab-only GGUF written with the gguf library reads back as the same tokenizer."""
    gguf = pytest.importorskip("gguf")
    source = read_tokenizer_json(bpe_pair[0])
    path = tmp_path / "vocab.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(source.tokens)
    writer.add_token_merges([f"{a} {b}" for a, b in source.merges])
    writer.add_token_types([3 if i in source.special else 1 for i in range(source.size)])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    vocab = read_gguf(path)
    assert vocab is not None and vocab.size == source.size and vocab.extra == {"gguf_model": "gpt2"}
    assert compare_tokenizers(vocab, source)["verdict"] == "identical"
    assert load_tokenizer(path).merges == source.merges


def test_tokenizer_command(bpe_pair, tmp_path, capsys):
    from fromscratch.cli import main

    out = tmp_path / "t.json"
    assert main(["tokenizer", str(bpe_pair[0]), str(bpe_pair[1]), "--json", str(out)]) == 0
    assert "verdict: independent" in capsys.readouterr().out
    assert json.loads(out.read_text())["schema"] == "fromscratch.tokenizer/1"
    assert main(["tokenizer", str(tmp_path / "missing"), str(bpe_pair[1])]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_hub_id_from_the_local_cache(bpe_pair, tmp_path, monkeypatch):
    """org/name resolves through the offline hub cache layout (refs/main -> snapshots/<commit>)."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    base = tmp_path / "hub" / "models--team--tok"
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(commit)
    snap = base / "snapshots" / commit
    snap.mkdir(parents=True)
    (snap / "tokenizer.json").write_text(bpe_pair[0].read_text())
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    vocab = load_tokenizer("team/tok")
    assert compare_tokenizers(vocab, bpe_pair[0])["verdict"] == "identical"


def test_tokenizer_command_html(bpe_pair, tmp_path, capsys):
    """--html writes a self-contained, escaped report whose figures are the JSON's."""
    from fromscratch.cli import main

    out, page = tmp_path / "t.json", tmp_path / "t.html"
    assert main(["tokenizer", str(bpe_pair[0]), str(bpe_pair[0]), "--json", str(out), "--html", str(page)]) == 0
    capsys.readouterr()
    doc, html = json.loads(out.read_text()), page.read_text()
    assert doc["verdict"] == "identical" and '<span class="verdict">identical</span>' in html
    assert f"{doc['vocabulary']['shared']}</td>" in html and "http" not in html and "<script" not in html
