"""asr.features: fbank shape, global CMVN, SpecAugment only in training."""

import pytest
import torch

from asr.features import CMVNAccumulator, GlobalCMVN, SpecAugment, SpecAugmentConfig, compute_fbank


def test_fbank_is_frames_by_80_with_a_10ms_shift():
    waveform = torch.randn(16_000, generator=torch.Generator().manual_seed(0)) * 0.1
    features = compute_fbank(waveform)
    assert features.shape == (1 + (16_000 - 400) // 160, 80)  # 98 frames of 25 ms every 10 ms
    assert features.dtype == torch.float32 and torch.isfinite(features).all()


def test_fbank_without_dither_is_deterministic():
    waveform = torch.randn(8_000, generator=torch.Generator().manual_seed(1)) * 0.1
    assert torch.equal(compute_fbank(waveform), compute_fbank(waveform))


def test_fbank_of_audio_shorter_than_one_window_has_no_frames():
    assert compute_fbank(torch.zeros(300)).shape == (0, 80)


def _feature_batches(seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(int(n), 80, generator=g) * 3.0 + 7.0
        for n in torch.randint(20, 60, (5,), generator=g)
    ]


def test_cmvn_normalises_its_training_data_to_zero_mean_unit_std():
    batches = _feature_batches()
    accumulator = CMVNAccumulator()
    for features in batches:  # streamed, one utterance at a time
        accumulator.update(features)
    cmvn = accumulator.finish()
    normalised = cmvn(torch.cat(batches))
    assert normalised.mean(0).abs().max() < 1e-4
    assert (normalised.std(0, unbiased=False) - 1).abs().max() < 1e-4


def test_cmvn_survives_a_save_load_round_trip(tmp_path):
    accumulator = CMVNAccumulator()
    accumulator.update(_feature_batches()[0])
    cmvn = accumulator.finish()
    cmvn.save(tmp_path / "cmvn.json")
    loaded = GlobalCMVN.load(tmp_path / "cmvn.json")
    assert torch.equal(loaded.mean, cmvn.mean) and torch.equal(loaded.std, cmvn.std)
    assert loaded.frames == cmvn.frames


def test_cmvn_statistics_travel_in_the_state_dict():
    cmvn = GlobalCMVN(torch.zeros(80), torch.ones(80))
    assert set(cmvn.state_dict()) == {"mean", "std"}


def test_loading_a_file_that_is_not_cmvn_names_it(tmp_path):
    (tmp_path / "bad.json").write_text('{"mean": [1, 2]}')
    with pytest.raises(ValueError, match="bad.json.*not a CMVN statistics file"):
        GlobalCMVN.load(tmp_path / "bad.json")


def test_cmvn_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="no feature frames"):
        CMVNAccumulator().finish()


def test_spec_augment_masks_in_training_mode_only():
    torch.manual_seed(0)
    features = torch.randn(4, 200, 80) + 10.0  # no zeros before masking
    augment = SpecAugment(
        SpecAugmentConfig(
            num_freq_masks=2, freq_mask_width=20, num_time_masks=2, time_mask_width=30
        )
    )

    augment.eval()
    assert torch.equal(augment(features), features)

    augment.train()
    masked = augment(features)
    assert masked.shape == features.shape
    zeroed = masked == 0
    assert zeroed.any()
    assert torch.equal(masked[~zeroed], features[~zeroed])  # masking only zeroes, never alters


def test_spec_augment_masks_whole_frequency_bands_and_frame_spans():
    torch.manual_seed(1)
    features = torch.randn(200, 80) + 10.0  # unbatched (frames, bins) works too
    only_freq = SpecAugment(
        SpecAugmentConfig(num_freq_masks=1, freq_mask_width=30, num_time_masks=0)
    ).train()
    masked = only_freq(features) == 0
    assert (
        masked.any() and masked.any(dim=0).eq(masked.all(dim=0)).all()
    )  # a bin: all frames or none
    only_time = SpecAugment(
        SpecAugmentConfig(num_freq_masks=0, num_time_masks=1, time_mask_width=50)
    ).train()
    masked = only_time(features) == 0
    assert (
        masked.any() and masked.any(dim=1).eq(masked.all(dim=1)).all()
    )  # a frame: all bins or none
