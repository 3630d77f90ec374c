"""Shared sentencepiece wrapper (echoformer.tokenizer)."""

import pickle

import pytest

from echoformer.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Tokenizer, train_sentencepiece

TEXT = [
    "the cat sat on the mat.", "a dog runs in the park.", "die Katze sitzt auf der Matte.",
    "ein Hund läuft im Park.", "where is the station?", "wo ist der Bahnhof?",
] * 20


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory) -> Tokenizer:
    model = train_sentencepiece(TEXT, tmp_path_factory.mktemp("spm") / "joint", vocab_size=40)
    return Tokenizer(model)


def test_training_writes_model_and_vocab(tmp_path):
    model = train_sentencepiece(TEXT, tmp_path / "sub" / "m", vocab_size=40, model_type="bpe")
    assert model == tmp_path / "sub" / "m.model"
    assert model.is_file() and (tmp_path / "sub" / "m.vocab").is_file()


def test_special_ids_are_fixed(tokenizer):
    assert (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.bos_id, tokenizer.eos_id) == (0, 1, 2, 3)
    assert tokenizer.vocab_size == 40


def test_encode_decode_round_trip(tokenizer):
    for text in ("the cat sat on the mat.", "wo ist der Bahnhof?", "ein Hund läuft."):
        ids = tokenizer.encode(text)
        assert all(4 <= i < tokenizer.vocab_size for i in ids)
        assert tokenizer.decode(ids) == text


def test_bos_eos_framing_and_padding_are_dropped_by_decode(tokenizer):
    ids = tokenizer.encode("the cat", add_bos=True, add_eos=True)
    assert ids[0] == BOS_ID and ids[-1] == EOS_ID
    assert tokenizer.decode(ids + [PAD_ID, PAD_ID]) == "the cat"


def test_unknown_characters_map_to_unk(tokenizer):
    assert UNK_ID in tokenizer.encode("日本")


def test_tokenizer_survives_pickling(tokenizer):
    assert pickle.loads(pickle.dumps(tokenizer)).encode("the dog") == tokenizer.encode("the dog")


def test_too_large_vocab_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"vocab_size=5000 is too large .* at most \d+"):
        train_sentencepiece(TEXT, tmp_path / "m", vocab_size=5000)


def test_empty_text_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="No training text"):
        train_sentencepiece(["", "   "], tmp_path / "m", vocab_size=40)


def test_missing_model_file_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_sentencepiece"):
        Tokenizer(tmp_path / "absent.model")


def test_model_with_other_special_ids_is_rejected(tmp_path):
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(sentence_iterator=iter(TEXT), model_prefix=str(tmp_path / "m"),
                                   vocab_size=40, minloglevel=2)
    with pytest.raises(ValueError, match="retrain it with train_sentencepiece"):
        Tokenizer(tmp_path / "m.model")
