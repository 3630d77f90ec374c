"""asr.dataset: duration-bucketed batches, padding, speed perturbation and VTLP."""

import pytest
import torch
from omegaconf import OmegaConf

from asr.data.manifest import Utterance
from asr.dataset import DurationBatchSampler, SpeechDataset, collate
from asr_fixtures import tokenizer_model, train_config, write_tone
from echoformer.tokenizer import Tokenizer


def test_batches_hold_every_utterance_once_within_the_padded_duration_budget():
    durations = [1.0, 7.5, 3.2, 3.3, 0.8, 12.0, 2.9, 3.0, 6.8, 1.1]
    sampler = DurationBatchSampler(durations, max_batch_seconds=10.0, seed=3)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(durations)))
    for batch in batches:  # one utterance longer than the budget still gets its own batch
        assert len(batch) == 1 or len(batch) * max(durations[i] for i in batch) <= 10.0


def test_similar_durations_share_a_batch():
    durations = [1.0, 9.0, 1.1, 9.1, 1.2, 9.2]
    batches = list(DurationBatchSampler(durations, max_batch_seconds=30.0, shuffle=False))
    assert batches == [[0, 2, 4], [1, 3, 5]]


def test_the_batch_order_is_shuffled_reproducibly_per_epoch():
    sampler = DurationBatchSampler([float(i % 7 + 1) for i in range(40)], 8.0, seed=1)
    sampler.set_epoch(0)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    sampler.set_epoch(0)
    assert list(sampler) == first != second


def test_collate_pads_features_and_targets_and_keeps_their_lengths():
    batch = collate([(torch.ones(5, 80), [4, 5, 6]), (torch.ones(3, 80), [7])])
    assert batch["features"].shape == (2, 5, 80) and batch["features"][1, 3:].abs().sum() == 0
    assert batch["feature_lengths"].tolist() == [5, 3]
    assert batch["targets"].tolist() == [[4, 5, 6], [7, 0, 0]]
    assert batch["target_lengths"].tolist() == [3, 1]


def test_speed_perturbation_draws_a_factor_per_read_and_leaves_the_cache_off(tmp_path):
    utt = Utterance(write_tone(tmp_path / "tone.wav", 2.0), 2.0, "the cat sat on the mat")
    tokenizer = Tokenizer(tokenizer_model(tmp_path))
    plain = SpeechDataset([utt], tokenizer, cache=True)
    frames = len(plain[0][0])
    assert plain[0][0] is plain[0][0]  # cached
    slower = SpeechDataset([utt], tokenizer, cache=True, speed_factors=[0.8])
    assert abs(len(slower[0][0]) - frames / 0.8) <= 2  # 0.8 = 25% longer
    assert slower[0][0] is not slower[0][0]  # every read is perturbed afresh
    torch.manual_seed(0)
    mixed = SpeechDataset([utt], tokenizer, speed_factors=[0.8, 1.25])
    lengths = sorted({len(mixed[0][0]) for _ in range(20)})
    assert len(lengths) == 2 and abs(lengths[0] - frames / 1.25) <= 2
    assert mixed[0][1] == plain[0][1]  # the transcript is untouched
    unchanged = SpeechDataset([utt], tokenizer, speed_factors=[1.0])
    assert torch.equal(unchanged[0][0], plain[0][0])


def test_a_speed_factor_that_is_not_positive_is_one_clear_error(tmp_path):
    utt = Utterance(write_tone(tmp_path / "tone.wav", 1.0), 1.0, "the cat")
    with pytest.raises(ValueError, match=r"data.speed_perturb=\[0.0, 1.0\].*> 0"):
        SpeechDataset([utt], Tokenizer(tokenizer_model(tmp_path)), speed_factors=[0.0, 1.0])


def test_asr_train_takes_speed_factors_from_the_command_line():
    config = OmegaConf.to_object(train_config("data.speed_perturb=[0.9,1.0,1.1]"))
    assert config.data.speed_perturb == [0.9, 1.0, 1.1]
    assert OmegaConf.to_object(train_config()).data.speed_perturb == []


def test_vtlp_draws_a_warp_per_read_and_moves_the_spectrum(tmp_path):
    utt = Utterance(write_tone(tmp_path / "tone.wav", 1.0), 1.0, "the cat sat on the mat")
    tokenizer = Tokenizer(tokenizer_model(tmp_path))
    plain = SpeechDataset([utt], tokenizer, cache=True)
    peak = int(plain[0][0].mean(0).argmax())
    higher = SpeechDataset([utt], tokenizer, cache=True, vtlp_factors=[1.15])
    assert higher[0][0] is not higher[0][0]  # every read is warped afresh: no cache
    assert higher[0][0].shape == plain[0][0].shape  # tempo kept
    assert int(higher[0][0].mean(0).argmax()) > peak  # the tone shows in a higher mel bin
    torch.manual_seed(0)
    mixed = SpeechDataset([utt], tokenizer, vtlp_factors=[0.85, 1.15])
    peaks = {int(mixed[0][0].mean(0).argmax()) for _ in range(20)}
    assert len(peaks) == 2 and min(peaks) < peak < max(peaks)
    unchanged = SpeechDataset([utt], tokenizer, vtlp_factors=[1.0])
    assert torch.equal(unchanged[0][0], plain[0][0])


def test_a_warp_factor_that_is_not_positive_is_one_clear_error(tmp_path):
    utt = Utterance(write_tone(tmp_path / "tone.wav", 1.0), 1.0, "the cat")
    with pytest.raises(ValueError, match=r"data.vtlp=\[-1.0\].*> 0"):
        SpeechDataset([utt], Tokenizer(tokenizer_model(tmp_path)), vtlp_factors=[-1.0])


def test_asr_train_takes_warp_factors_from_the_command_line():
    config = OmegaConf.to_object(train_config("data.vtlp=[0.9,1.0,1.1]"))
    assert config.data.vtlp == [0.9, 1.0, 1.1]
    assert OmegaConf.to_object(train_config()).data.vtlp == []
