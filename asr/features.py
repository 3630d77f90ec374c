"""Acoustic features: 80-dim log-mel fbank, global CMVN, SpecAugment.

Order in the model input pipeline: `compute_fbank` -> `GlobalCMVN` -> `SpecAugment` (training
only). SpecAugment fills masks with 0, which after CMVN is the global mean.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torchaudio.compliance.kaldi as kaldi
import torchaudio.transforms as T
from torch import nn

from asr.audio import SAMPLE_RATE

NUM_MEL_BINS = 80


def compute_fbank(
    waveform: torch.Tensor,
    num_mel_bins: int = NUM_MEL_BINS,
    frame_length_ms: float = 25.0,
    frame_shift_ms: float = 10.0,
    dither: float = 0.0,
    vtln_warp: float = 1.0,
) -> torch.Tensor:
    """Kaldi-compatible log-mel filterbank of a 16 kHz mono waveform.

    waveform: (samples,) float in [-1, 1]. Returns (frames, num_mel_bins) float32 with
    frames = 1 + (samples - 400) // 160 for the defaults (0 frames below 25 ms of audio).
    Use dither 0 at inference (deterministic); a small dither (e.g. 1e-5) may help training.
    vtln_warp: Kaldi's vocal-tract-length warp: a mel bin that reads frequency f reads f / warp
    instead (between 100 Hz and 7.5 kHz; piecewise linear to the band edges), so 1.1 shows the
    spectrum 10% higher; 1.0 = none. Drawn per training read it is vocal-tract-length
    perturbation (VTLP, Jaitly & Hinton 2013).
    """
    assert waveform.dim() == 1, f"expected (samples,), got {tuple(waveform.shape)}"
    if waveform.numel() < frame_length_ms * SAMPLE_RATE / 1000:
        return waveform.new_zeros(0, num_mel_bins)
    return kaldi.fbank(
        waveform.unsqueeze(0),
        num_mel_bins=num_mel_bins,
        frame_length=frame_length_ms,
        frame_shift=frame_shift_ms,
        dither=dither,
        sample_frequency=SAMPLE_RATE,
        vtln_warp=vtln_warp,
    )


class CMVNAccumulator:
    """Streaming mean/variance over feature frames (float64 sums; memory independent of data)."""

    def __init__(self, dim: int = NUM_MEL_BINS):
        self.sum = torch.zeros(dim, dtype=torch.float64)
        self.sum_sq = torch.zeros(dim, dtype=torch.float64)
        self.frames = 0

    def update(self, features: torch.Tensor) -> None:
        """features: (frames, dim)."""
        x = features.detach().to(torch.float64).reshape(-1, self.sum.numel())
        self.sum += x.sum(dim=0)
        self.sum_sq += (x * x).sum(dim=0)
        self.frames += x.shape[0]

    def finish(self, min_std: float = 1e-5) -> "GlobalCMVN":
        if self.frames == 0:
            raise ValueError("no feature frames were accumulated; is the training manifest empty?")
        mean = self.sum / self.frames
        var = (self.sum_sq / self.frames - mean * mean).clamp_min(min_std**2)
        return GlobalCMVN(mean.float(), var.sqrt().float(), frames=self.frames)


class GlobalCMVN(nn.Module):
    """(x - mean) / std per feature dimension, with statistics from the training set.

    Stored as buffers (travel with the model's state dict) and as a small JSON file
    {"mean": [...], "std": [...], "frames": N}.
    """

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, frames: int = 0):
        super().__init__()
        assert mean.shape == std.shape and mean.dim() == 1
        self.register_buffer("mean", mean.clone().float())
        self.register_buffer("std", std.clone().float())
        self.frames = frames

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features: (..., dim) -> same shape, normalised."""
        return (features - self.mean) / self.std

    def save(self, path: str | Path) -> None:
        data = {"mean": self.mean.tolist(), "std": self.std.tolist(), "frames": self.frames}
        Path(path).write_text(json.dumps(data) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "GlobalCMVN":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            mean, std = torch.tensor(data["mean"]), torch.tensor(data["std"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(
                f"{path}: not a CMVN statistics file ({err}); "
                "create it with `python -m asr.data.prepare stats`"
            ) from err
        if mean.shape != std.shape or mean.dim() != 1 or not bool((std > 0).all()):
            raise ValueError(f"{path}: CMVN mean/std must be equal-length lists with std > 0")
        return cls(mean, std, frames=int(data.get("frames", 0)))


@dataclass
class SpecAugmentConfig:
    """Numbers of masks and their maximal widths (bins / frames); width drawn in [0, max]."""

    num_freq_masks: int = 2
    freq_mask_width: int = 27
    num_time_masks: int = 2
    time_mask_width: int = 40
    time_mask_max_ratio: float = 0.2  # a time mask covers at most this fraction of the utterance


class SpecAugment(nn.Module):
    """Frequency and time masking (torchaudio transforms); identity in eval mode.

    Input (batch, frames, bins) or (frames, bins); each utterance gets its own masks.
    """

    def __init__(self, config: SpecAugmentConfig | None = None):
        super().__init__()
        self.config = config = config or SpecAugmentConfig()
        self.freq_masks = nn.ModuleList(
            T.FrequencyMasking(config.freq_mask_width, iid_masks=True)
            for _ in range(config.num_freq_masks)
        )
        self.time_masks = nn.ModuleList(
            T.TimeMasking(config.time_mask_width, iid_masks=True, p=config.time_mask_max_ratio)
            for _ in range(config.num_time_masks)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return features
        unbatched = features.dim() == 2
        x = features.unsqueeze(0) if unbatched else features
        x = x.transpose(1, 2)  # torchaudio masks expect (batch, freq, time)
        for mask in [*self.freq_masks, *self.time_masks]:
            x = mask(x)
        x = x.transpose(1, 2)
        return x.squeeze(0) if unbatched else x
