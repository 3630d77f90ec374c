"""Acoustic augmentation of training waveforms: rooms, noise, channels, on the fly.

A read of a training utterance passes, after speed perturbation (`data.speed_perturb`) and
before the fbank (SpecAugment then masks the features inside the model), through this chain;
each step runs with its own probability `p`:

1. reverb: convolution with a simulated room impulse response (image method, below); a bank
   of `rooms` responses is drawn from the seed at start-up, a read takes one of them;
2. babble: 3-6 other training utterances (from a bank loaded at start-up) at a sampled SNR;
3. noise: white, pink (1/f) or brown (1/f²) noise at a sampled SNR;
4. gain (dB), then clipping (a sampled share of the samples clipped at ± a level);
5. telephone: 300 Hz high-pass and 16 → 8 → 16 kHz (nothing above 4 kHz);
6. mu-law: 8-bit G.711 µ-law quantisation;
7. codec: a lossy codec through libsndfile (MP3, Ogg Vorbis, Opus, GSM 6.10 at 8 kHz) at a
   sampled compression level; a codec this libsndfile lacks is left out with a warning.

Every step keeps the length and the 16 kHz rate. The draws of a read come from a generator
seeded by (seed, epoch, utterance index, step), so a resumed run, any number of loader
workers and every rank see the same augmentation, and changing one step's `p` leaves the
others' draws alone. Config group `asr_augment` (conf/asr_augment: `none` = off, `rooms` =
the whole chain), schema `AugmentConfig` (`augment.*` keys of asr-train). Cost:
`python -m asr.augment` prints seconds of augmentation per second of audio, per step.

Rooms: the image method of Allen & Berkley (1979) for a shoebox room with one reflection
coefficient for all walls, from a target RT60 by Eyring's formula; fractional delays by a
16-tap Hann-windowed sinc. Own code (numpy, ~40 lines) instead of pyroomacoustics: no
compiled dependency for a bank built once at start-up.
"""

from __future__ import annotations

import io
import math
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF
from torch import Tensor

from asr.audio import SAMPLE_RATE, load_audio
from asr.config import CODEC_NAMES, NOISE_COLOURS, AugmentConfig, ReverbConfig

SOUND_SPEED = 343.0  # m/s
STEPS = ("speed", "vtlp", "reverb", "babble", "noise", "gain", "clipping", "telephone",
         "mulaw", "codec")
COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}  # power spectrum ∝ 1 / f^exponent
CODECS = {"mp3": ("MP3", "MPEG_LAYER_III", SAMPLE_RATE), "vorbis": ("OGG", "VORBIS", SAMPLE_RATE),
          "opus": ("OGG", "OPUS", SAMPLE_RATE), "gsm": ("WAV", "GSM610", 8000)}
assert set(COLOURS) == set(NOISE_COLOURS) and set(CODECS) == set(CODEC_NAMES)


# --- rooms -----------------------------------------------------------------------------------

_TAPS, _FRACTIONS = 16, 64
_K = np.arange(-_TAPS // 2 + 1, _TAPS // 2 + 1)
_SINC = (np.sinc(_K[None, :] - np.arange(_FRACTIONS + 1)[:, None] / _FRACTIONS)
         * np.hanning(_TAPS + 2)[1:-1])  # (fractions + 1, taps): delays in 1/64 sample


def room_impulse_response(room: Sequence[float], source: Sequence[float],
                          mic: Sequence[float], rt60: float, max_seconds: float = 0.5,
                          rate: int = SAMPLE_RATE) -> np.ndarray:
    """Image-method impulse response (samples,) of a shoebox `room` (x, y, z metres) from
    `source` to `mic`, all walls reflecting alike so that it decays by 60 dB in about `rt60`
    seconds (Eyring); cut at min(rt60, max_seconds); sample 0 is the emission."""
    room, source, mic = (np.asarray(a, dtype=np.float64) for a in (room, source, mic))
    volume = room.prod()
    surface = 2 * (room[0] * room[1] + room[0] * room[2] + room[1] * room[2])
    beta = math.exp(-0.161 * volume / (2 * surface * rt60))  # pressure reflection coefficient
    length = max(1, int(min(rt60, max_seconds) * rate))
    reach = SOUND_SPEED * length / rate
    axes = []  # per axis: image coordinates relative to the mic, and wall reflections
    for a in range(3):
        n = np.arange(-(int(reach / (2 * room[a])) + 2), int(reach / (2 * room[a])) + 3)
        axes.append((np.concatenate([2 * n * room[a] + source[a], 2 * n * room[a] - source[a]])
                     - mic[a], np.concatenate([2 * np.abs(n), np.abs(2 * n - 1)])))
    (x, rx), (y, ry), (z, rz) = axes
    d2_xy, r_xy = x[:, None] ** 2 + y[None, :] ** 2, rx[:, None] + ry[None, :]
    out = np.zeros(length + _TAPS)
    for z_i, rz_i in zip(z, rz):  # one slab of images at a time: bounded memory
        distance = np.sqrt(d2_xy + z_i * z_i)
        near = distance < reach
        if not near.any():
            continue
        distance = distance[near]
        amplitude = beta ** (r_xy[near] + rz_i) / (4 * np.pi * np.maximum(distance, 0.01))
        delay = distance / SOUND_SPEED * rate
        whole = np.floor(delay).astype(np.int64)
        taps = _SINC[np.rint((delay - whole) * _FRACTIONS).astype(np.int64)] * amplitude[:, None]
        index = whole[:, None] + _K[None, :] + _TAPS // 2
        inside = index < len(out)
        out += np.bincount(index[inside], weights=taps[inside], minlength=len(out))
    return out[_TAPS // 2:_TAPS // 2 + length]


def room_bank(config: ReverbConfig, seed: int, rate: int = SAMPLE_RATE) -> list[Tensor]:
    """`config.rooms` impulse responses (float32, starting at the direct sound, high-passed
    at 50 Hz as Allen & Berkley advise), drawn from `seed`."""
    rng = np.random.default_rng([seed, 7919])
    bank = []
    for _ in range(config.rooms):
        room = rng.uniform(config.room_min, config.room_max)
        source, mic = (rng.uniform(0.5, room - 0.5) for _ in range(2))
        rir = room_impulse_response(room, source, mic, rng.uniform(*config.rt60),
                                    config.max_seconds, rate)
        direct = int(np.linalg.norm(source - mic) / SOUND_SPEED * rate)
        rir = torch.from_numpy(rir[max(0, direct - _TAPS // 2):]).float()
        bank.append(AF.highpass_biquad(rir, rate, 50.0))
    return bank


# --- steps: each (samples,) float32 → same shape ----------------------------------------------

def reverberate(x: Tensor, rir: Tensor) -> Tensor:
    """x convolved with `rir`, cut to x's length, at x's RMS."""
    wet = AF.fftconvolve(x, rir)[: len(x)]
    return wet * (_rms(x) / _rms(wet).clamp_min(1e-8))


def coloured_noise(samples: int, exponent: float, rng: np.random.Generator) -> Tensor:
    """Gaussian noise whose power spectrum falls as 1 / f^exponent (0 white, 1 pink, 2 brown)."""
    spectrum = rng.standard_normal(samples // 2 + 1) + 1j * rng.standard_normal(samples // 2 + 1)
    freqs = np.fft.rfftfreq(samples)
    spectrum[1:] /= freqs[1:] ** (exponent / 2)
    spectrum[0] = 0
    return torch.from_numpy(np.fft.irfft(spectrum, n=samples)).float()


def mix_at_snr(x: Tensor, noise: Tensor, snr_db: float) -> Tensor:
    """x + noise scaled so that power(x) / power(noise) is `snr_db`."""
    scale = _rms(x) / (_rms(noise).clamp_min(1e-8) * 10 ** (snr_db / 20))
    return x + scale * noise


def babble(samples: int, bank: Sequence[Tensor], speakers: int,
           rng: np.random.Generator) -> Tensor:
    """Sum of `speakers` bank utterances, each looped to `samples` from a random start."""
    total = torch.zeros(samples)
    for i in rng.integers(len(bank), size=speakers):
        talk = bank[i] / _rms(bank[i]).clamp_min(1e-8)
        start = int(rng.integers(len(talk)))
        total += talk.roll(-start).repeat(samples // len(talk) + 1)[:samples]
    return total


def clip(x: Tensor, fraction: float) -> Tensor:
    """x clipped at ± the level that `fraction` of |x| exceeds."""
    level = torch.quantile(x.abs(), 1.0 - fraction) if len(x) else x.new_zeros(())
    return x.clamp(-float(level), float(level))


def telephone(x: Tensor, low_hz: float) -> Tensor:
    """The 8 kHz telephone band: high-passed at `low_hz`, down to 8 kHz and up again."""
    if low_hz > 0:
        x = AF.highpass_biquad(x, SAMPLE_RATE, low_hz)
    return _fit(AF.resample(AF.resample(x, SAMPLE_RATE, 8000), 8000, SAMPLE_RATE), len(x))


def mu_law(x: Tensor, channels: int) -> Tensor:
    return AF.mu_law_decoding(AF.mu_law_encoding(x.clamp(-1, 1), channels), channels)


def codec_available(name: str) -> bool:
    container, subtype, _ = CODECS[name]
    return subtype in sf.available_subtypes(container)


def lossy_codec(x: Tensor, name: str, compression: float) -> Tensor:
    """x encoded with codec `name` in memory by libsndfile and decoded again."""
    container, subtype, rate = CODECS[name]
    y = AF.resample(x, SAMPLE_RATE, rate) if rate != SAMPLE_RATE else x
    buffer = io.BytesIO()
    level = None if name == "gsm" else compression
    sf.write(buffer, y.clamp(-1, 1).numpy(), rate, format=container, subtype=subtype,
             compression_level=level)
    buffer.seek(0)
    decoded = torch.from_numpy(sf.read(buffer, dtype="float32")[0])
    if rate != SAMPLE_RATE:
        decoded = AF.resample(decoded, rate, SAMPLE_RATE)
    return _fit(decoded, len(x))


def _rms(x: Tensor) -> Tensor:
    return x.pow(2).mean().sqrt() if len(x) else x.new_zeros(())


def _fit(x: Tensor, samples: int) -> Tensor:
    return x[:samples] if len(x) >= samples else torch.nn.functional.pad(x, (0, samples - len(x)))


# --- the chain -------------------------------------------------------------------------------

class WaveformAugment:
    """The chain for training reads: `augment(waveform, epoch, index)`.

    seed: the run's seed (also draws the room bank); babble_bank: waveforms to babble from
    (`babble_bank`; needed when babble.p > 0).
    """

    def __init__(self, config: AugmentConfig, seed: int = 0,
                 babble_bank: Sequence[Tensor] = ()) -> None:
        self.config, self.seed = config, seed % 2**63
        self.rooms = room_bank(config.reverb, self.seed) if config.reverb.p > 0 else []
        self.babble_bank = [w for w in babble_bank if len(w)]
        if config.babble.p > 0 and not self.babble_bank:
            raise ValueError("augment.babble.p > 0 needs training audio to babble from")
        self.codecs = [c for c in config.codec.codecs if codec_available(c)]
        missing = [c for c in config.codec.codecs if c not in self.codecs]
        if missing and config.codec.p > 0:
            warnings.warn(f"augment.codec: libsndfile {sf.__libsndfile_version__} here cannot "
                          f"write {', '.join(missing)} (soundfile.available_subtypes()); left "
                          f"out{'' if self.codecs else ': the codec step is off'}", stacklevel=2)

    def generator(self, epoch: int, index: int, step: str) -> np.random.Generator:
        """The generator of one step for one read: seeded by (seed, epoch, index, step)."""
        return np.random.default_rng([self.seed, epoch, index, STEPS.index(step)])

    def __call__(self, waveform: Tensor, epoch: int, index: int) -> Tensor:
        """waveform: (samples,) float32 at 16 kHz → same shape, augmented."""
        c, x = self.config, waveform.float()
        for step in STEPS[2:]:
            rng = self.generator(epoch, index, step)
            if getattr(c, step).p == 0 or rng.random() >= getattr(c, step).p:
                continue
            if step == "reverb":
                x = reverberate(x, self.rooms[int(rng.integers(len(self.rooms)))])
            elif step == "babble":
                talkers = int(rng.integers(c.babble.speakers[0], c.babble.speakers[1] + 1))
                x = mix_at_snr(x, babble(len(x), self.babble_bank, talkers, rng),
                               rng.uniform(*c.babble.snr_db))
            elif step == "noise":
                colour = c.noise.colours[int(rng.integers(len(c.noise.colours)))]
                x = mix_at_snr(x, coloured_noise(len(x), COLOURS[colour], rng),
                               rng.uniform(*c.noise.snr_db))
            elif step == "gain":
                x = x * 10 ** (rng.uniform(*c.gain.db) / 20)
            elif step == "clipping":
                x = clip(x, rng.uniform(*c.clipping.fraction))
            elif step == "telephone":
                x = telephone(x, c.telephone.low_hz)
            elif step == "mulaw":
                x = mu_law(x, c.mulaw.channels)
            elif step == "codec" and self.codecs:
                x = lossy_codec(x, self.codecs[int(rng.integers(len(self.codecs)))],
                                rng.uniform(*c.codec.compression))
        return x.contiguous()


def babble_bank(audio: Sequence[str | Path], size: int, seed: int) -> list[Tensor]:
    """`size` of the `audio` files (chosen by `seed`) loaded, for `WaveformAugment`."""
    rng = np.random.default_rng([seed % 2**63, 104729])
    picks = rng.choice(len(audio), size=min(size, len(audio)), replace=False)
    return [load_audio(audio[i]) for i in sorted(picks)]


def only(config: AugmentConfig, step: str) -> AugmentConfig:
    """`config` with `step` forced on (p = 1) and every other step off."""
    return replace(config, **{f.name: replace(getattr(config, f.name),
                                              p=1.0 if f.name == step else 0.0)
                              for f in fields(config)})


def measure_cost(config: AugmentConfig, seconds: float = 20.0, clip_seconds: float = 4.0
                 ) -> dict[str, float]:
    """Seconds of augmentation per second of audio: each step forced on alone, then the
    whole `config` ("chain"), on synthetic clips (babble from the clips themselves), in this
    process's threads."""
    rng = np.random.default_rng(0)
    clips = [torch.from_numpy(0.1 * rng.standard_normal(int(clip_seconds * SAMPLE_RATE))).float()
             for _ in range(max(1, round(seconds / clip_seconds)))]
    costs = {}
    for step in [*STEPS[2:], "chain"]:
        augment = WaveformAugment(config if step == "chain" else only(config, step),
                                  babble_bank=clips)
        start = time.perf_counter()
        for i, wave in enumerate(clips):
            augment(wave, 0, i)
        costs[step] = (time.perf_counter() - start) / (len(clips) * clip_seconds)
    return costs


def main(argv: Sequence[str] | None = None) -> None:
    """python -m asr.augment [CONFIG [SECONDS]]: the cost of conf/asr_augment/CONFIG.yaml
    (default rooms) on SECONDS of audio (default 20), on one thread."""
    from omegaconf import OmegaConf

    from echoformer.paths import CONF_DIR

    args = list(sys.argv[1:] if argv is None else argv)
    name, seconds = (args + ["rooms"])[0], (args[1:] + ["20"])[0]
    if not seconds.replace(".", "", 1).isdigit() or float(seconds) <= 0:
        sys.exit(f"python -m asr.augment: SECONDS={seconds}: give seconds of audio, e.g. 60")
    torch.set_num_threads(1)
    path = CONF_DIR / "asr_augment" / f"{name}.yaml"
    if not path.is_file():
        choices = ", ".join(sorted(p.stem for p in path.parent.glob("*.yaml")))
        sys.exit(f"python -m asr.augment: no {path}; choose one of {choices}")
    config = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(AugmentConfig),
                                                 OmegaConf.load(path)))
    start = time.perf_counter()
    room_bank(config.reverb, 0)
    print(f"room bank of {config.reverb.rooms}: {time.perf_counter() - start:.2f} s at start-up")
    for step, cost in measure_cost(config, float(seconds)).items():
        print(f"{step:10s} {cost:.4f} s per s of audio")


if __name__ == "__main__":
    main()
