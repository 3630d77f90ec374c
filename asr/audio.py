"""Audio input: any file libsndfile reads (wav, flac, ogg, mp3), any rate, any channel count,
to mono float32 at 16 kHz.

Reading uses `soundfile`, not `torchaudio.load` (which needs TorchCodec/FFmpeg). Resampling
uses `torchaudio.functional.resample`. Every problem a user can cause (missing file, not audio,
empty file, no samples, undecodable data, NaN/inf samples) raises one `AudioError` that names
the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

SAMPLE_RATE = 16_000
_READABLE = "libsndfile reads wav, flac, ogg and mp3; convert other formats first (e.g. with sox)"


class AudioError(ValueError):
    """A file that cannot be used as audio input; the message names the file and the fix."""


@dataclass(frozen=True)
class AudioChunk:
    """A piece of a long file: `samples` (samples,) mono float32 at 16 kHz, starting at
    `start_seconds` in the original file."""

    start_seconds: float
    samples: torch.Tensor


def _open(path: Path) -> sf.SoundFile:
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file; name the files in it")
    if not path.is_file():
        raise AudioError(f"{path}: no such audio file; check the path")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: is empty (0 bytes); remove it from the input or re-export it")
    try:
        return sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, TypeError, OSError) as err:
        raise AudioError(f"{path}: cannot be read as audio ({err}); {_READABLE}") from err


def to_mono_16k(
    samples: np.ndarray, sample_rate: int, path: Path | str = "<array>"
) -> torch.Tensor:
    """Downmix (frames, channels) float samples by the channel mean and resample to 16 kHz.

    Returns (samples,) float32. Raises AudioError (naming `path`) on NaN or infinite samples.
    """
    if not np.isfinite(samples).all():
        raise AudioError(
            f"{path}: contains NaN or infinite samples; the file is corrupt, re-export it"
        )
    mono = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    if mono.dim() == 2:
        mono = mono.mean(dim=1)
    if sample_rate != SAMPLE_RATE:
        mono = AF.resample(mono, sample_rate, SAMPLE_RATE)
    return mono.contiguous()


def audio_duration(path: str | Path) -> float:
    """Duration in seconds from the file header (no decoding)."""
    path = Path(path)
    with _open(path) as f:
        return f.frames / f.samplerate


def load_audio(path: str | Path) -> torch.Tensor:
    """Whole file as mono float32 at 16 kHz, shape (samples,)."""
    path = Path(path)
    with _open(path) as f:
        rate = f.samplerate
        try:
            samples = f.read(dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise AudioError(f"{path}: decoding failed ({err}); the file is corrupt") from err
    if samples.shape[0] == 0:
        raise AudioError(
            f"{path}: contains no samples (zero-length audio); remove it from the input"
        )
    return to_mono_16k(samples, rate, path)


def iter_audio_chunks(
    path: str | Path, chunk_seconds: float = 30.0, overlap_seconds: float = 0.0
) -> Iterator[AudioChunk]:
    """Read a long file in bounded memory: chunks of `chunk_seconds`, consecutive chunks sharing
    `overlap_seconds`. Each chunk is resampled on its own, so its first/last few samples may
    differ slightly from `load_audio` when the file is not at 16 kHz; use an overlap to cover
    the seams. The chunks together cover the whole file.
    """
    if chunk_seconds <= 0 or not 0 <= overlap_seconds < chunk_seconds:
        raise ValueError(
            f"need chunk_seconds > 0 and 0 <= overlap_seconds < chunk_seconds, "
            f"got chunk_seconds={chunk_seconds}, overlap_seconds={overlap_seconds}"
        )
    path = Path(path)
    with _open(path) as f:
        rate, total = f.samplerate, f.frames
        if total == 0:
            raise AudioError(
                f"{path}: contains no samples (zero-length audio); remove it from the input"
            )
        chunk = max(1, round(chunk_seconds * rate))
        hop = max(1, chunk - round(overlap_seconds * rate))
        for start in range(0, total, hop):
            try:
                f.seek(start)
                samples = f.read(chunk, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as err:
                raise AudioError(
                    f"{path}: decoding failed at {start / rate:.1f} s ({err}); the file is corrupt"
                ) from err
            if len(samples) == 0:  # the header promised more than the file holds
                if start == 0:
                    raise AudioError(f"{path}: contains no samples (truncated or zero-length "
                                     "audio); remove it from the input")
                break
            yield AudioChunk(start / rate, to_mono_16k(samples, rate, path))
            if start + chunk >= total:
                break
