"""asr.audio: any readable file -> mono float32 16 kHz; clear AudioError for bad input."""

import numpy as np
import pytest
import soundfile as sf
import torch

from asr.audio import SAMPLE_RATE, AudioError, audio_duration, iter_audio_chunks, load_audio
from asr.features import compute_fbank

_rng = np.random.default_rng(0)
_FREQS = _rng.uniform(80, 7600, 60)
_PHASES = _rng.uniform(0, 2 * np.pi, 60)


def tone_mix(rate: int, seconds: float = 1.0) -> np.ndarray:
    """The same band-limited signal (60 sines below 7.6 kHz) sampled at any rate: (samples,)."""
    t = np.arange(int(rate * seconds)) / rate
    return (0.8 * np.sin(2 * np.pi * _FREQS[:, None] * t + _PHASES[:, None]).mean(0)).astype(
        np.float32
    )


def test_stereo_44k_and_mono_16k_of_one_signal_give_the_same_features(tmp_path):
    mono, stereo = tmp_path / "mono16k.wav", tmp_path / "stereo44k.flac"
    sf.write(mono, tone_mix(16_000), 16_000)
    signal, difference = tone_mix(44_100), 0.1 * np.sin(
        2 * np.pi * 300 * np.arange(44_100) / 44_100
    )
    sf.write(
        stereo, np.stack([signal + difference, signal - difference], axis=1), 44_100
    )  # mean = signal

    a, b = load_audio(mono), load_audio(stereo)
    assert a.dtype == b.dtype == torch.float32 and a.shape == b.shape == (16_000,)
    fa, fb = compute_fbank(a), compute_fbank(b)
    # Tolerance: 0.05 in natural-log mel energy for bins below ~7 kHz (the first 70 of 80); the
    # top bins hold almost no energy and differ by the resampler's low-pass roll-off.
    assert (fa[:, :70] - fb[:, :70]).abs().max() < 0.05
    assert (fa - fb).abs().mean() < 0.1


@pytest.mark.parametrize(
    "fmt,subtype",
    [("wav", "PCM_16"), ("flac", "PCM_16"), ("ogg", "VORBIS"), ("mp3", "MPEG_LAYER_III")],
)
def test_common_formats_at_any_rate_load_as_16k_mono(tmp_path, fmt, subtype):
    path = tmp_path / f"clip.{fmt}"
    sf.write(
        path, np.stack([tone_mix(22_050)] * 2, axis=1), 22_050, format=fmt.upper(), subtype=subtype
    )
    audio = load_audio(path)
    assert audio.dim() == 1 and abs(audio.numel() - SAMPLE_RATE) < 0.06 * SAMPLE_RATE  # mp3 pads
    assert audio_duration(path) == pytest.approx(1.0, abs=0.06)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(AudioError, match="nowhere.wav.*no such audio file"):
        load_audio(tmp_path / "nowhere.wav")


def test_text_file_is_not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n" * 20)
    with pytest.raises(AudioError, match="notes.wav.*cannot be read as audio"):
        load_audio(path)


def test_truncated_header_is_not_audio(tmp_path):
    path = tmp_path / "broken.wav"
    sf.write(path, tone_mix(16_000), 16_000)
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(AudioError, match="broken.wav"):
        load_audio(path)


def test_zero_length_audio_is_named(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16_000)
    with pytest.raises(AudioError, match="empty.wav.*no samples"):
        load_audio(path)
    with pytest.raises(AudioError, match="empty.wav.*no samples"):
        next(iter_audio_chunks(path))


def test_nan_samples_are_named(tmp_path):
    path = tmp_path / "nan.wav"
    samples = tone_mix(16_000)
    samples[100] = np.nan
    sf.write(path, samples, 16_000, subtype="FLOAT")
    with pytest.raises(AudioError, match="nan.wav.*NaN or infinite"):
        load_audio(path)


def test_audio_error_is_a_value_error():
    assert issubclass(AudioError, ValueError)


def test_chunks_at_16k_cover_the_file_exactly(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, tone_mix(16_000, seconds=2.5), 16_000)
    whole = load_audio(path)
    chunks = list(iter_audio_chunks(path, chunk_seconds=1.0, overlap_seconds=0.25))
    assert [c.start_seconds for c in chunks] == [0.0, 0.75, 1.5]
    assert all(c.samples.numel() <= 16_000 for c in chunks)
    stitched = torch.cat([c.samples[:12_000] for c in chunks[:-1]] + [chunks[-1].samples])
    assert torch.equal(stitched, whole)


def test_chunks_of_a_44k_stereo_file_cover_its_duration(tmp_path):
    path = tmp_path / "long.flac"
    sf.write(path, np.stack([tone_mix(44_100, seconds=3.2)] * 2, axis=1), 44_100)
    chunks = list(iter_audio_chunks(path, chunk_seconds=1.0))
    assert [c.start_seconds for c in chunks] == [0.0, 1.0, 2.0, 3.0]
    total = sum(c.samples.numel() for c in chunks)
    assert abs(total - load_audio(path).numel()) <= len(chunks)  # per-chunk resampling rounding


def test_six_channels_are_downmixed_by_their_mean(tmp_path):
    path = tmp_path / "surround.wav"
    channels = np.stack(
        [tone_mix(16_000) * gain for gain in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)], axis=1
    )
    sf.write(path, channels, 16_000, subtype="FLOAT")
    assert torch.allclose(load_audio(path), torch.from_numpy(channels.mean(axis=1)), atol=1e-6)
