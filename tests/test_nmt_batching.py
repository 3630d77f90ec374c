"""Token-based batching (nmt.data.batching) and tokenised corpus splits (nmt.data.dataset)."""

import random

import pytest
import torch

from echoformer.tokenizer import BOS_ID, EOS_ID, PAD_ID, Tokenizer
from echoformer.data.batching import token_batches
from nmt.data.batching import collate
from nmt.data.dataset import SampledPairs, TokenizedPairs
from tiny_nmt import write_tiny_corpus

LENGTHS = [random.Random(0).randint(1, 40) for _ in range(300)]


def test_every_sentence_is_in_exactly_one_batch_within_the_token_budget():
    batches = token_batches(LENGTHS, max_tokens=120, seed=1)
    assert sorted(i for batch in batches for i in batch) == list(range(len(LENGTHS)))
    for batch in batches:
        assert len(batch) * max(LENGTHS[i] for i in batch) <= 120


def test_a_sentence_longer_than_the_budget_gets_a_batch_of_its_own():
    batches = token_batches([5, 50, 6], max_tokens=20, seed=None)
    assert [1] in batches and sorted(map(len, batches)) == [1, 2]


def test_batches_are_reproducible_per_seed_and_differ_between_seeds():
    assert token_batches(LENGTHS, 120, seed=3) == token_batches(LENGTHS, 120, seed=3)
    assert token_batches(LENGTHS, 120, seed=3) != token_batches(LENGTHS, 120, seed=4)


def test_similar_lengths_share_a_batch():
    padded = sum(len(b) * max(LENGTHS[i] for i in b) for b in token_batches(LENGTHS, 120, 1))
    assert padded < 1.2 * sum(LENGTHS)


def test_collate_frames_source_and_target_and_pads():
    batch = collate([[7, 8, 9], [5]], [[10, 11], [12, 13, 14]])
    assert batch["source"].tolist() == [[7, 8, 9, EOS_ID], [5, EOS_ID, PAD_ID, PAD_ID]]
    assert batch["target_in"].tolist() == [[BOS_ID, 10, 11, PAD_ID], [BOS_ID, 12, 13, 14]]
    assert batch["target_out"].tolist() == [[10, 11, EOS_ID, PAD_ID], [12, 13, 14, EOS_ID]]
    assert batch["source"].dtype == torch.long


def test_pairs_too_long_for_the_model_are_left_out_and_counted(tmp_path):
    corpus = write_tiny_corpus(tmp_path)
    with open(corpus / "train.en", "a") as en, open(corpus / "train.de", "a") as de:
        en.write("The cat sleeps. " * 20 + "\n")
        de.write("Die Katze schläft.\n")
    pairs = TokenizedPairs.load(corpus, "train", "en", "de", Tokenizer(corpus / "spm.model"), 32)
    assert (len(pairs), pairs.left_out) == (108, 1)
    for batch in pairs.batches(max_tokens=100, seed=0):
        assert batch["source"].numel() <= 100 and batch["target_out"].numel() <= 100


def test_a_missing_split_file_names_the_file_and_the_fix(tmp_path):
    corpus = write_tiny_corpus(tmp_path)
    with pytest.raises(FileNotFoundError, match="valid.fr not found.*nmt.data.prepare"):
        TokenizedPairs.load(corpus, "valid", "en", "fr", Tokenizer(corpus / "spm.model"), 32)


def test_sampled_segmentations_are_reproducible_per_seed_and_spell_the_same_text(tmp_path):
    corpus = write_tiny_corpus(tmp_path)
    tokenizer = Tokenizer(corpus / "spm.model")
    sampled = SampledPairs.load(corpus, "train", "en", "de", tokenizer, 64, alpha=0.1)
    best = TokenizedPairs.load(corpus, "train", "en", "de", tokenizer, 64)
    first, again, other = sampled.segmented(1), sampled.segmented(1), sampled.segmented(2)
    assert first == again and first.sources != other.sources
    assert first.sources != best.sources  # not the best segmentation every time
    assert [tokenizer.decode(ids) for ids in first.targets] == [
        tokenizer.decode(ids) for ids in best.targets]


def test_a_subword_alpha_outside_0_1_is_a_clear_error(tmp_path):
    corpus = write_tiny_corpus(tmp_path)
    with pytest.raises(ValueError, match="subword_alpha=1.5"):
        SampledPairs.load(corpus, "train", "en", "de", Tokenizer(corpus / "spm.model"), 64, 1.5)
