"""The debian_nmt training mix (nmt.data.harvest mix) and the vocabulary transfer that starts
a large-vocabulary model from a trained small-vocabulary one (nmt.vocab_transfer)."""

import json

import pytest
import sentencepiece as spm
import torch

from echoformer.model_dir import load_model_dir
from nmt.data.harvest.mix import mix_corpus
from nmt.data.prepare import train_joint_sentencepiece
from nmt.vocab_transfer import transfer_rows, vocab_transfer
from tiny_nmt import random_model_dir, write_tiny_corpus


def _write(folder, split, english, german):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{split}.en").write_text("".join(s + "\n" for s in english))
    (folder / f"{split}.de").write_text("".join(s + "\n" for s in german))


def test_mix_adds_ding_train_copies_and_ding_valid_and_keeps_the_test(tmp_path):
    corpus, ding = tmp_path / "c", tmp_path / "d"
    for split in ("train", "valid", "test"):
        _write(corpus, split, [f"c {split} {i}" for i in range(3)], [f"C {split} {i}" for i in range(3)])
        _write(ding, split, [f"d {split}"], [f"D {split}"])
    (corpus / "valid.source").write_text("a\nb\nc\n")
    (corpus / "test.source").write_text("a\nb\nc\n")
    stats = mix_corpus(corpus, ding, tmp_path / "mix", copies=3)
    train_en = (tmp_path / "mix" / "train.en").read_text().splitlines()
    train_de = (tmp_path / "mix" / "train.de").read_text().splitlines()
    assert train_en == ["c train 0", "c train 1", "c train 2"] + ["d train"] * 3
    assert train_de[-1] == "D train" and len(train_de) == len(train_en)
    assert (tmp_path / "mix" / "valid.en").read_text().splitlines()[-1] == "d valid"
    assert (tmp_path / "mix" / "valid.source").read_text().splitlines() == ["a", "b", "c", "ding"]
    assert "d test" not in (tmp_path / "mix" / "test.en").read_text()
    assert stats["pairs"] == {"train": 6, "valid": 4, "test": 3}
    assert json.loads((tmp_path / "mix" / "stats.json").read_text())["ding"]["copies"] == 3


def test_mix_names_the_missing_corpus_and_the_command_that_builds_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="--stop-stage 2"):
        mix_corpus(tmp_path / "none", tmp_path / "ding", tmp_path / "mix")


def test_transfer_keeps_shared_pieces_and_composes_the_others(tmp_path):
    small = write_tiny_corpus(tmp_path / "small", vocab_size=45)
    large = write_tiny_corpus(tmp_path / "large", vocab_size=70)
    old = spm.SentencePieceProcessor(model_file=str(small / "spm.model"))
    new = spm.SentencePieceProcessor(model_file=str(large / "spm.model"))
    rows = torch.randn(old.get_piece_size(), 8)
    new_rows, counts = transfer_rows(rows, old, new)
    assert new_rows.shape == (70, 8)
    assert sum(counts.values()) == 70 and counts["composed"] > 0 and counts["same_piece"] > 0
    for i in range(new.get_piece_size()):
        piece = new.id_to_piece(i)
        if old.piece_to_id(piece) != old.unk_id() and not new.is_control(i) and not new.is_unknown(i):
            assert torch.equal(new_rows[i], rows[old.piece_to_id(piece)])
            break
    composed = next(i for i in range(new.get_piece_size())
                    if old.piece_to_id(new.id_to_piece(i)) == old.unk_id()
                    and not new.is_control(i) and not new.is_unknown(i))
    ids = [j for j in old.encode(new.id_to_piece(composed).replace("\u2581", " "))
           if j != old.unk_id()]
    assert torch.allclose(new_rows[composed], rows[ids].mean(0))


def test_transferred_model_loads_with_the_new_vocabulary_and_the_old_layers(tmp_path):
    small = write_tiny_corpus(tmp_path / "small", vocab_size=45)
    large = tmp_path / "large"
    large.mkdir()
    for name in ("train.en", "train.de"):
        (large / name).write_text((small / name).read_text())
    train_joint_sentencepiece(large, 70)
    source = random_model_dir(tmp_path / "model", small, reuse_pattern=[2, 2])
    vocab_transfer(source, large / "spm.model", tmp_path / "init")
    old, new = load_model_dir(source), load_model_dir(tmp_path / "init")
    assert new.model.vocab_size == 70 and new.tokenizer.vocab_size == 70
    old_state, new_state = old.model.state_dict(), new.model.state_dict()
    layer = "encoder.layers.0.attention.out.weight"
    assert torch.equal(old_state[layer], new_state[layer])
    assert new_state["embedding.weight"].data_ptr() == new_state["output.linear.weight"].data_ptr()
    assert new.meta["task"]["vocabulary_transfer"]["from"] == str(source)


def test_transfer_refuses_a_missing_sentencepiece_model(tmp_path):
    small = write_tiny_corpus(tmp_path / "small", vocab_size=45)
    source = random_model_dir(tmp_path / "model", small)
    with pytest.raises(FileNotFoundError, match="nmt.data.prepare spm"):
        vocab_transfer(source, tmp_path / "missing.model", tmp_path / "init")
