"""asr.augment: the seeded, resumable acoustic augmentation chain and its config group."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from hydra.errors import ConfigCompositionException

from asr import augment as aug
from asr.audio import SAMPLE_RATE, load_audio
from asr.augment import WaveformAugment, only, room_impulse_response
from asr.config import ASRTrainConfig, AugmentConfig, ReverbConfig
from asr.data.prepare import compute_cmvn, train_transcript_tokenizer
from asr.data.manifest import Utterance
from asr.dataset import SpeechDataset, collate
from asr.features import compute_fbank
from asr.train import train, training_augment
from asr_fixtures import tokenizer_model, train_config, write_tone
from echoformer.config_schema import to_dataclass
from echoformer.tokenizer import Tokenizer

STEPS = ["reverb", "babble", "noise", "gain", "clipping", "telephone", "mulaw", "codec"]
SMALL_ROOMS = ReverbConfig(rooms=3, rt60=[0.1, 0.2], max_seconds=0.1)


def tone(seconds: float = 1.0, hz: float = 440.0, seed: int = 0) -> torch.Tensor:
    t = torch.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    noise = torch.from_numpy(np.random.default_rng(seed).standard_normal(len(t))).float()
    return (0.3 * torch.sin(2 * torch.pi * hz * t) + 0.003 * noise).float()


def chain(step: str | None = None, seed: int = 0, **step_settings) -> WaveformAugment:
    """Every step at p=0.5 (or `step` alone at p=1), small rooms, babble from two tones."""
    config = AugmentConfig(reverb=SMALL_ROOMS)
    if step is None:
        config = replace(config, **{s: replace(getattr(config, s), p=0.5) for s in STEPS})
    else:
        config = only(config, step)
        config = replace(config, **{step: replace(getattr(config, step), **step_settings)})
    return WaveformAugment(config, seed, babble_bank=[tone(0.7, 1000.0), tone(1.3, 2500.0)])


def peak_hz(x: torch.Tensor) -> float:
    return float(torch.fft.rfft(x).abs().argmax()) * SAMPLE_RATE / len(x)


def test_the_same_seed_epoch_and_utterance_give_the_same_augmentation():
    x = tone()
    first, again = chain(seed=3), chain(seed=3)
    outputs = [first(x, epoch=1, index=i) for i in range(4)]
    assert all(torch.equal(again(x, 1, i), outputs[i]) for i in (3, 1, 0, 2))  # any order


def test_another_seed_epoch_or_utterance_gives_another_augmentation():
    x = tone()
    base = chain(seed=3)(x, 0, 0)
    assert not torch.equal(chain(seed=4)(x, 0, 0), base)
    assert not torch.equal(chain(seed=3)(x, 1, 0), base)
    assert not torch.equal(chain(seed=3)(x, 0, 1), base)


@pytest.mark.parametrize("step", STEPS)
def test_each_step_changes_the_signal_and_keeps_its_length_and_rate(step):
    x = tone(1.0)
    y = chain(step)(x, 0, 0)
    assert y.shape == x.shape and y.dtype == torch.float32 and torch.isfinite(y).all()
    assert not torch.allclose(y, x, atol=1e-4)
    assert abs(peak_hz(y) - 440.0) <= 2.0  # still a 440 Hz tone at 16 kHz


def test_telephone_leaves_nothing_above_4_khz():
    x = tone(1.0, 440.0) + tone(1.0, 6000.0, seed=1)
    spectrum = torch.fft.rfft(chain("telephone")(x, 0, 0)).abs()
    high = spectrum[int(4200 * len(x) / SAMPLE_RATE):]
    assert float(high.max()) < 0.01 * float(spectrum.max())


def test_mulaw_quantises_to_its_channels():
    y = chain("mulaw", channels=16)(tone(), 0, 0)
    assert len(torch.unique(y)) <= 16


def test_gain_scales_within_its_range_and_clipping_caps_the_peaks():
    x = tone()
    ratio = float((chain("gain", db=[-6.0, -3.0])(x, 0, 0) / x).median())
    assert 10 ** (-6 / 20) - 1e-5 <= ratio <= 10 ** (-3 / 20) + 1e-5
    y = chain("clipping", fraction=[0.1, 0.1])(x, 0, 0)
    assert float(y.abs().max()) < float(x.abs().max())
    assert 0.09 <= float((y.abs() >= y.abs().max() - 1e-7).float().mean()) <= 0.11


@pytest.mark.parametrize("step", ["noise", "babble"])
def test_noise_and_babble_are_added_at_a_snr_in_range(step):
    x = tone()
    added = chain(step, snr_db=[10.0, 10.0])(x, 0, 0) - x
    snr = 10 * torch.log10(x.pow(2).mean() / added.pow(2).mean())
    assert abs(float(snr) - 10.0) < 0.01


def test_reverb_leaves_a_tail_after_the_sound_stops():
    x = torch.cat([tone(0.3), torch.zeros(SAMPLE_RATE // 2)])
    y = chain("reverb")(x, 0, 0)
    assert float(y[int(0.32 * SAMPLE_RATE):int(0.36 * SAMPLE_RATE)].abs().max()) > 1e-3
    assert float(x[int(0.32 * SAMPLE_RATE):].abs().max()) == 0.0


def test_the_image_method_puts_the_direct_sound_at_its_delay_and_decays_as_rt60_says():
    source, mic = [1.0, 1.0, 1.5], [4.0, 3.0, 1.2]
    delay = np.linalg.norm(np.subtract(source, mic)) / aug.SOUND_SPEED * SAMPLE_RATE
    dry = room_impulse_response([6, 5, 3], source, mic, rt60=0.2, max_seconds=1.0)
    wet = room_impulse_response([6, 5, 3], source, mic, rt60=0.8, max_seconds=1.0)
    assert abs(int(np.abs(dry).argmax()) - delay) <= 1 and len(wet) == 4 * len(dry)

    def decay_time(h):  # -5 dB to -25 dB of the backward-integrated energy, times 3
        energy = np.cumsum(h[::-1] ** 2)[::-1]
        level = 10 * np.log10(energy / energy[0])
        return 3 * (np.argmax(level < -25) - np.argmax(level < -5)) / SAMPLE_RATE

    assert 2.5 * decay_time(dry) < decay_time(wet)


@pytest.mark.parametrize("codec", sorted(aug.CODECS))
def test_each_codec_keeps_the_signal_recognisable(codec):
    if not aug.codec_available(codec):
        pytest.skip(f"this libsndfile cannot write {codec}")
    x = tone()
    y = aug.lossy_codec(x, codec, 0.9)
    assert y.shape == x.shape and not torch.equal(y, x)
    assert float(torch.corrcoef(torch.stack([x, y]))[0, 1]) > 0.9


def test_a_codec_this_libsndfile_lacks_is_left_out_with_a_warning(monkeypatch):
    monkeypatch.setattr(aug, "codec_available", lambda name: name != "opus")
    with pytest.warns(UserWarning, match="cannot write opus"):
        augment = chain("codec")
    assert augment.codecs == ["mp3", "vorbis", "gsm"]


def test_none_is_off_and_the_batches_are_the_plain_reads(tmp_path):
    config = to_dataclass(train_config("asr_augment=none"), ASRTrainConfig)
    assert config.augment == AugmentConfig() and not config.augment.enabled
    assert to_dataclass(train_config(), ASRTrainConfig).augment == config.augment
    utts = [Utterance(write_tone(tmp_path / f"{i}.wav", 0.5 + i / 4), 0.5 + i / 4, "the cat")
            for i in range(3)]
    assert training_augment(config, utts) is None
    tokenizer = Tokenizer(tokenizer_model(tmp_path))
    data = SpeechDataset(utts, tokenizer, augment=training_augment(config, utts))
    data.set_epoch(5)
    batch = collate([data[i] for i in range(3)])
    plain = collate([(compute_fbank(load_audio(u.audio)), tokenizer.encode(u.text)) for u in utts])
    assert all(torch.equal(batch[k], plain[k]) for k in plain)


def test_rooms_composes_the_whole_chain_and_the_training_reads_follow_it(tmp_path):
    config = to_dataclass(train_config("asr_augment=rooms", "augment.reverb.rooms=2",
                                       "augment.babble.bank=2"), ASRTrainConfig)
    assert all(getattr(config.augment, step).p > 0 for step in STEPS)
    utts = [Utterance(write_tone(tmp_path / f"{i}.wav", 1.0), 1.0, "the cat") for i in range(3)]
    augment = training_augment(config, utts)
    assert len(augment.rooms) == 2 and len(augment.babble_bank) == 2
    data = SpeechDataset(utts, Tokenizer(tokenizer_model(tmp_path)), cache=True,
                         speed_factors=[0.9, 1.0, 1.1], augment=augment)
    reads = {}
    for epoch in (0, 1, 0):
        data.set_epoch(epoch)
        torch.manual_seed(epoch)  # the global RNG does not decide: (seed, epoch, index) does
        reads.setdefault(epoch, []).append([data[i][0] for i in range(3)])
    (first, again), (other,) = reads[0], reads[1]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(first, other))


def test_unknown_keys_and_bad_values_are_clear_errors():
    with pytest.raises(ConfigCompositionException):
        train_config("asr_augment=rooms", "augment.reverb.colour=pink")
    with pytest.raises(ConfigCompositionException):
        train_config("asr_augment=studio")
    with pytest.raises(ValueError, match=r"augment.noise.p=1.5: a probability"):
        to_dataclass(train_config("augment.noise.p=1.5"), ASRTrainConfig)
    with pytest.raises(ValueError, match=r"augment.codec.codecs=\['amr'\]: choose from"):
        to_dataclass(train_config("augment.codec.codecs=[amr]"), ASRTrainConfig)
    with pytest.raises(ValueError, match=r"augment.gain.db=\[6.0, -6.0\]: give \[min, max\]"):
        to_dataclass(train_config("augment.gain.db=[6.0,-6.0]"), ASRTrainConfig)


def test_a_resumed_augmented_run_in_a_loader_worker_ends_where_an_uninterrupted_one_ends(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"audio": write_tone(data / f"{i}.wav", 0.6 + i / 10).name, "duration": 0.6 + i / 10,
             "text": text} for i, text in enumerate(["the cat", "the mat", "a cat", "sat on"])]
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (data / "dev.jsonl").write_text(json.dumps(rows[0]) + "\n")
    train_transcript_tokenizer(data / "train.jsonl", data, vocab_size=12, model_type="char")
    compute_cmvn(data / "train.jsonl", data)

    def run(folder, steps, workers=0):
        config = to_dataclass(train_config(
            f"data.dir={data}", "data.max_batch_seconds=1.5", "data.speed_perturb=[0.9,1.1]",
            "asr_model=tiny", "asr_augment=rooms", "augment.reverb.rooms=2",
            "augment.reverb.max_seconds=0.1", "augment.babble.bank=2", "threads=1",
            "device=cpu", f"trainer.max_steps={steps}", "trainer.save_every=2",
            "trainer.valid_every=100", "trainer.progress=false", f"data.num_workers={workers}"),
            ASRTrainConfig)
        train(config, folder)
        return torch.load(folder / "checkpoints" / f"step_{steps:08d}.pt", weights_only=True)

    straight = run(tmp_path / "a", 4)  # epochs of 3 batches: [0.6 s, 0.7 s], [0.8 s], [0.9 s]
    run(tmp_path / "b", 2)
    resumed = run(tmp_path / "b", 4, workers=1)  # from the middle of epoch 0, in a worker
    for name, value in straight["model"].items():
        torch.testing.assert_close(resumed["model"][name], value, atol=0, rtol=0)


def test_the_cost_is_measured_for_every_step_and_the_chain():
    costs = aug.measure_cost(chain().config, seconds=1.0, clip_seconds=0.5)
    assert list(costs) == [*STEPS, "chain"] and all(c > 0 for c in costs.values())
