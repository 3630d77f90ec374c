"""asr.dataset: duration-bucketed batches and padding."""

import torch

from asr.dataset import DurationBatchSampler, collate


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
