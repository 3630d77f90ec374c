"""Transcription of audio files with a trained model directory, batched over files.

Files are read in input order and cut into pieces: a file up to `chunk_seconds` long is one
piece; a longer one is read chunk by chunk (overlapping by `overlap_seconds`) and its chunk
transcripts are joined (`asr.stitch`), so memory does not grow with the file's length. Pieces
are decoded `batch_size` at a time; a file's transcript is given as soon as it and every file
before it are done. A file that cannot be read is reported and the others go on.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from asr.audio import SAMPLE_RATE, AudioError, audio_duration, iter_audio_chunks, load_audio
from asr.decoding import ASRDecodingOptions, decode
from asr.features import compute_fbank
from asr.model import ASRModel
from asr.stitch import ChunkStitcher
from echoformer.model_dir import LoadedModel, load_model_dir
from echoformer.output_layer import SoftmaxConfig
from echoformer.svd_cache import cached_svd_factors


@dataclass
class Transcript:
    """The result for one input file; `error` is set (and `text` empty) when it failed."""

    audio: str
    text: str
    duration: float
    seconds: float
    error: str | None = None


@dataclass
class Piece:
    """A whole file or one chunk of it: `start`/`seconds` in the file, fbank (T, F)."""

    file: int
    start: float
    seconds: float
    features: torch.Tensor
    last: bool


@dataclass
class _Failure:
    file: int
    message: str


class Transcriber:
    """A loaded model and how to use it: decoding options, chunking, batch size, device."""

    def __init__(self, loaded: LoadedModel, options: ASRDecodingOptions, batch_size: int = 8,
                 chunk_seconds: float = 20.0, overlap_seconds: float = 2.0,
                 device: str | torch.device = "cpu") -> None:
        if not 0 <= overlap_seconds < chunk_seconds / 2:
            raise ValueError(f"overlap of {overlap_seconds} s must be under half the chunk length "
                             f"of {chunk_seconds} s: lower --overlap-seconds or raise "
                             "--chunk-seconds")
        if batch_size < 1:
            raise ValueError(f"batch size {batch_size}: use 1 or more")
        self.loaded, self.options = loaded, options
        self.model: ASRModel = loaded.model
        self.batch_size, self.device = batch_size, torch.device(device)
        self.chunk_seconds, self.overlap_seconds = chunk_seconds, overlap_seconds

    @classmethod
    def from_dir(cls, model_dir: str | Path, device: str = "cpu", **kwargs) -> Transcriber:
        return cls(load_model_dir(Path(model_dir), device), device=device, **kwargs)

    def use_softmax(self, softmax: SoftmaxConfig) -> None:
        """Decoder output layer full or SVD-softmax (factors cached in the model directory)."""
        self.model.use_softmax(softmax)
        if softmax.kind == "svd":
            output = self.model.output
            factors = cached_svd_factors(output.linear, output.svd.window, self.loaded.path,
                                         self.loaded.meta["weights_sha256"])
            output.install_factors(factors)

    def transcribe(self, paths: Iterable[str | Path]) -> Iterator[Transcript]:
        """One `Transcript` per path, in input order."""
        paths = [str(p) for p in paths]
        stitchers = [ChunkStitcher(self.overlap_seconds) for _ in paths]
        durations, spent = [0.0] * len(paths), [0.0] * len(paths)
        errors: dict[int, str] = {}
        done: set[int] = set()
        emitted = 0
        batch: list[Piece] = []

        def ready() -> Iterator[Transcript]:
            nonlocal emitted
            while emitted in done:
                i = emitted
                text = "" if i in errors else stitchers[i].text()
                yield Transcript(paths[i], text, round(durations[i], 3), round(spent[i], 4),
                                 errors.get(i))
                stitchers[i] = None  # free the words
                emitted += 1

        for item in self._pieces(paths, durations):
            if isinstance(item, _Failure):
                errors[item.file] = item.message
                done.add(item.file)
            else:
                batch.append(item)
                if len(batch) == self.batch_size:
                    self._run(batch, stitchers, spent, done, errors)
                    batch = []
            yield from ready()
        if batch:
            self._run(batch, stitchers, spent, done, errors)
        yield from ready()

    def _pieces(self, paths: list[str], durations: list[float]
                ) -> Iterator[Piece | _Failure]:
        """Pieces of every file in order (a failure instead of a file's remaining pieces);
        fills in `durations` (seconds) from the file headers."""
        for i, path in enumerate(paths):
            try:
                durations[i] = audio_duration(path)
                if durations[i] <= self.chunk_seconds:
                    samples = load_audio(path)
                    yield Piece(i, 0.0, len(samples) / SAMPLE_RATE, compute_fbank(samples), True)
                    continue
                piece = None  # held back one chunk, to mark the last one
                for chunk in iter_audio_chunks(path, self.chunk_seconds, self.overlap_seconds):
                    if piece is not None:
                        yield piece
                    piece = Piece(i, chunk.start_seconds, len(chunk.samples) / SAMPLE_RATE,
                                  compute_fbank(chunk.samples), False)
                piece.last = True
                yield piece
            except AudioError as err:
                yield _Failure(i, str(err))

    def _run(self, batch: list[Piece], stitchers: list, spent: list[float], done: set[int],
             errors: dict[int, str]) -> None:
        started = time.perf_counter()
        transcripts = self.decode_pieces(batch)
        elapsed = time.perf_counter() - started
        frames = [len(p.features) for p in batch]
        for piece, words, n in zip(batch, transcripts, frames):
            spent[piece.file] += elapsed * n / max(1, sum(frames))
            if piece.file in errors:
                continue
            stitchers[piece.file].add(words, piece.seconds)
            if piece.last:
                done.add(piece.file)

    @torch.no_grad()
    def decode_pieces(self, batch: list[Piece]) -> list[list[str]]:
        """The words of each piece, decoded as one batch."""
        lengths = torch.tensor([len(p.features) for p in batch])
        features = torch.nn.utils.rnn.pad_sequence([p.features for p in batch],
                                                   batch_first=True)
        tokens = decode(self.model, features.to(self.device), lengths.to(self.device),
                        self.options)
        return [self.loaded.tokenizer.decode(ids).split() for ids in tokens]
