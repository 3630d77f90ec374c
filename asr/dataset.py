"""Training data: manifest rows → (fbank, token ids), batched by duration.

`DurationBatchSampler` sorts utterances by duration and cuts the sorted list into batches of
at most `max_batch_seconds` of padded audio (batch size × longest utterance), so similar
lengths share a batch and little compute goes to padding; the batch order is shuffled with a
seed per epoch (resumable). With acoustic augmentation (`asr.augment.WaveformAugment`) a
read is augmented as the dataset's epoch (`set_epoch`) and the utterance index decide.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import torch
import torchaudio.transforms as T
from torch import Tensor
from torch.utils.data import Dataset, Sampler

from asr.audio import SAMPLE_RATE, AudioError, load_audio
from asr.augment import WaveformAugment
from asr.data.manifest import Utterance
from asr.features import compute_fbank
from echoformer.tokenizer import Tokenizer


class SpeechDataset(Dataset):
    """Utterances of a manifest as (fbank (T, 80), token ids); optionally kept in memory.

    dither: fbank dither (training). speed_factors: speed perturbation (training): each time
    an utterance is read, its waveform is resampled by one of these factors drawn at random
    (torchaudio's SpeedPerturbation: 0.9 is 11% longer and lower in pitch and formants, so
    the model hears more voices); empty = off. vtlp_factors: vocal-tract-length perturbation:
    each read's fbank is computed with one of these Kaldi VTLN warp factors drawn at random
    (1.1 shows the spectrum 10% higher, as a shorter vocal tract would; tempo untouched);
    empty = off. augment: the acoustic augmentation chain after speed perturbation; with it,
    the speed factor and the warp are drawn like its steps, from (seed, epoch, index), so a
    read is the same whenever and wherever it happens (without it, from torch's global RNG).
    cache: keep computed features (small corpora, many epochs; off when dither, a
    perturbation or augmentation is on, which change every read).
    """

    def __init__(self, utterances: Sequence[Utterance], tokenizer: Tokenizer,
                 dither: float = 0.0, cache: bool = False,
                 speed_factors: Sequence[float] = (), vtlp_factors: Sequence[float] = (),
                 augment: WaveformAugment | None = None) -> None:
        if any(not f > 0 for f in speed_factors):
            raise ValueError(f"data.speed_perturb={list(speed_factors)}: every speed factor "
                             "must be > 0 (e.g. [0.9,1.0,1.1]; [] turns it off)")
        if any(not f > 0 for f in vtlp_factors):
            raise ValueError(f"data.vtlp={list(vtlp_factors)}: every warp factor must be > 0 "
                             "(e.g. [0.9,1.0,1.1]; [] turns it off)")
        self.utterances = list(utterances)
        self.tokens = [tokenizer.encode(u.text) for u in self.utterances]
        self.dither = dither
        perturbed = any(f != 1.0 for f in speed_factors)
        self.speed = T.SpeedPerturbation(SAMPLE_RATE, list(speed_factors)) if perturbed else None
        self.vtlp = list(vtlp_factors) if any(f != 1.0 for f in vtlp_factors) else []
        self.augment, self.epoch = augment, 0
        fixed = dither == 0 and self.speed is None and not self.vtlp and augment is None
        self._cache: dict[int, Tensor] | None = {} if cache and fixed else None

    def __len__(self) -> int:
        return len(self.utterances)

    def set_epoch(self, epoch: int) -> None:
        """The epoch that, with the utterance index, seeds the augmentation of a read."""
        self.epoch = epoch

    def _draw(self, choices: Sequence, index: int, step: str):
        if self.augment is None:
            return choices[int(torch.randint(len(choices), ()))]
        return choices[int(self.augment.generator(self.epoch, index, step).integers(len(choices)))]

    def __getitem__(self, index: int) -> tuple[Tensor, list[int]]:
        if self._cache is not None and index in self._cache:
            return self._cache[index], self.tokens[index]
        utt = self.utterances[index]
        try:
            waveform = load_audio(utt.audio)
            if self.speed is not None:
                waveform, _ = self._draw(self.speed.speeders, index, "speed")(waveform)
            if self.augment is not None:
                waveform = self.augment(waveform, self.epoch, index)
            warp = self._draw(self.vtlp, index, "vtlp") if self.vtlp else 1.0
            features = compute_fbank(waveform, dither=self.dither, vtln_warp=warp)
        except AudioError as err:
            raise AudioError(f"{err} (training utterance {index})") from err
        if self._cache is not None:
            self._cache[index] = features
        return features, self.tokens[index]

    @property
    def durations(self) -> list[float]:
        return [u.duration for u in self.utterances]


def collate(items: Sequence[tuple[Tensor, list[int]]]) -> dict[str, Tensor]:
    """Pad (features (T, F), token ids) pairs into a batch: features (B, T, F) and targets
    (B, S), zero-padded, with feature_lengths and target_lengths (B,) — `ASRModel`'s inputs."""
    feats = [f for f, _ in items]
    target_lengths = torch.tensor([len(t) for _, t in items])
    targets = torch.zeros(len(items), max(1, int(target_lengths.max())), dtype=torch.long)
    for i, (_, tokens) in enumerate(items):
        targets[i, :len(tokens)] = torch.tensor(tokens, dtype=torch.long)
    return {"features": torch.nn.utils.rnn.pad_sequence(feats, batch_first=True),
            "feature_lengths": torch.tensor([len(f) for f in feats]),
            "targets": targets, "target_lengths": target_lengths}


class DurationBatchSampler(Sampler[list[int]]):
    """Batches of indices with padded duration ≤ max_batch_seconds (at least one each).

    durations: seconds per utterance; shuffle: shuffle the batch order (seed + epoch).
    """

    def __init__(self, durations: Sequence[float], max_batch_seconds: float,
                 shuffle: bool = True, seed: int = 0, max_batch_size: int = 256) -> None:
        if max_batch_seconds <= 0:
            raise ValueError(f"max_batch_seconds={max_batch_seconds} must be > 0")
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0
        order = sorted(range(len(durations)), key=lambda i: durations[i])
        self.batches: list[list[int]] = []
        batch: list[int] = []
        for i in order:  # ascending: the newest utterance is the batch's longest
            too_long = (len(batch) + 1) * durations[i] > max_batch_seconds
            if batch and (too_long or len(batch) >= max_batch_size):
                self.batches.append(batch)
                batch = []
            batch.append(i)
        if batch:
            self.batches.append(batch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        batches = list(self.batches)
        if self.shuffle:
            random.Random(self.seed + self.epoch).shuffle(batches)
        return iter(batches)

    def __len__(self) -> int:
        return len(self.batches)
