"""Transcription of audio files with a trained model directory, batched over files.

Files are read in input order and cut into pieces: a file up to `chunk_seconds` long is one
piece; a longer one is read chunk by chunk (overlapping by `overlap_seconds`) and its chunk
transcripts are joined (`asr.stitch`), so memory does not grow with the file's length. Pieces
are decoded `batch_size` at a time; a file's transcript is given as soon as it and every file
before it are done, and the paths are taken one at a time, so memory does not grow with the
number of files either. A file that cannot be read is reported and the others go on.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from asr.audio import SAMPLE_RATE, AudioError, audio_duration, iter_audio_chunks, load_audio
from asr.decoding import ASRDecodingOptions, decode
from asr.features import compute_fbank
from asr.lm import LMFusionOptions, PieceLM, load_lm
from asr.model import ASRModel
from asr.stitch import ChunkStitcher
from echoformer.model_dir import TOKENIZER_FILE, LoadedModel, ModelDirError
from echoformer.output_layer import SoftmaxConfig
from echoformer.quantize import quantize_for_inference
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
class _File:
    """A file read and not yet given out: its words so far, or why it failed."""

    path: str
    stitcher: ChunkStitcher
    duration: float = 0.0
    seconds: float = 0.0
    error: str | None = None
    done: bool = False


class Transcriber:
    """A loaded model and how to use it: decoding options (None: the ones stored with the
    model), chunking, batch size, device."""

    def __init__(self, loaded: LoadedModel, options: ASRDecodingOptions | None = None,
                 batch_size: int = 8, chunk_seconds: float = 20.0, overlap_seconds: float = 2.0,
                 device: str | torch.device = "cpu") -> None:
        if not 0 <= overlap_seconds < chunk_seconds / 2:
            raise ValueError(f"overlap of {overlap_seconds} s must be under half the chunk length "
                             f"of {chunk_seconds} s: lower --overlap-seconds or raise "
                             "--chunk-seconds")
        if batch_size < 1:
            raise ValueError(f"batch size {batch_size}: use 1 or more")
        if not isinstance(loaded.model, ASRModel):
            raise ModelDirError(f"{loaded.path} holds a {loaded.meta.get('model_type')} "
                                "model, not a speech recognition model")
        self.loaded = loaded
        self.options = options or loaded.decoding_options(ASRDecodingOptions)
        self.model: ASRModel = loaded.model
        self.batch_size, self.device = batch_size, torch.device(device)
        self.chunk_seconds, self.overlap_seconds = chunk_seconds, overlap_seconds
        self.lm: PieceLM | None = None
        self.dtype = "float32"

    def use_lm(self, directory: str | Path) -> None:
        """Fuse the language model of model directory `directory` (asr-lm-train, trained on
        this model's pieces): `options` take what its model.yaml says to decode with
        (`LMFusionOptions.fusion_overrides`: lm_weight, length_penalty and, where it sets
        one, beam_size)."""
        loaded = load_lm(directory, self.loaded.path / TOKENIZER_FILE, self.device)
        self.lm = loaded.model
        self.options = replace(
            self.options, **loaded.decoding_options(LMFusionOptions).fusion_overrides())

    def use_softmax(self, softmax: SoftmaxConfig) -> None:
        """Decoder output layer full or SVD-softmax (factors cached in the model directory)."""
        self.model.use_softmax(softmax)
        if softmax.kind == "svd":
            output = self.model.output
            factors = cached_svd_factors(output.linear, output.svd.window, self.loaded.path,
                                         self.loaded.meta["weights_sha256"])
            output.install_factors(factors)

    def use_dtype(self, dtype: str) -> None:
        """float32 as trained, or int8 (CPU only): the model's linear layers dynamic int8
        (`echoformer.quantize`; the decoder's output layer and a language model stay
        float32); int8 is not undone."""
        if dtype == self.dtype:
            return
        if self.dtype != "float32":
            raise ValueError(f"the model is already {self.dtype}; load it again for {dtype}")
        quantize_for_inference(self.model, dtype, self.device)
        self.dtype = dtype

    def transcribe(self, paths: Iterable[str | Path]) -> Iterator[Transcript]:
        """One `Transcript` per path, in input order. `paths` is read lazily and at most about
        `batch_size` pieces of audio (and the files they belong to) are held at a time, so
        memory does not grow with the number of files or their length."""
        files: dict[int, _File] = {}  # read and not yet given out
        given = 0  # index of the next file to give out
        batch: list[Piece] = []

        def ready() -> Iterator[Transcript]:
            nonlocal given
            while given in files and files[given].done:
                f = files.pop(given)
                text = "" if f.error else f.stitcher.text()
                yield Transcript(f.path, text, round(f.duration, 3), round(f.seconds, 4),
                                 f.error)
                given += 1

        for index, path in enumerate(paths):
            file = files[index] = _File(str(path), ChunkStitcher(self.overlap_seconds))
            for piece in self._pieces(index, file):
                batch.append(piece)
                if len(batch) == self.batch_size:
                    self._run(batch, files)
                    batch = []
                    yield from ready()
            if file.error:  # its pieces still in `batch` are dropped by `_run`
                file.done = True
            yield from ready()
        if batch:
            self._run(batch, files)
        yield from ready()

    def _pieces(self, index: int, file: _File) -> Iterator[Piece]:
        """The pieces of one file in order; on bad audio, sets `file.error` and stops."""
        try:
            file.duration = audio_duration(file.path)
            if file.duration <= self.chunk_seconds:
                samples = load_audio(file.path)
                yield Piece(index, 0.0, len(samples) / SAMPLE_RATE, compute_fbank(samples), True)
                return
            piece = None  # held back one chunk, to mark the last one
            for chunk in iter_audio_chunks(file.path, self.chunk_seconds, self.overlap_seconds):
                if piece is not None:
                    yield piece
                piece = Piece(index, chunk.start_seconds, len(chunk.samples) / SAMPLE_RATE,
                              compute_fbank(chunk.samples), False)
            piece.last = True
            yield piece
        except AudioError as err:
            file.error = str(err)

    def _run(self, batch: list[Piece], files: dict[int, _File]) -> None:
        """Decode `batch` and add each piece's words to its file (unless the file failed).
        A piece shorter than one 25 ms frame holds no speech: it gets no words."""
        decodable = [p for p in batch if len(p.features)]
        started = time.perf_counter()
        transcripts = iter(self.decode_pieces(decodable) if decodable else [])
        elapsed = time.perf_counter() - started
        frames = sum(len(p.features) for p in batch)
        for piece in batch:
            words = next(transcripts) if len(piece.features) else []
            file = files.get(piece.file)
            if file is None or file.error:
                continue
            file.seconds += elapsed * len(piece.features) / max(1, frames)
            file.stitcher.add(words, piece.seconds)
            if piece.last:
                file.done = True

    @torch.no_grad()
    def decode_pieces(self, batch: list[Piece]) -> list[list[str]]:
        """The words of each piece, decoded as one batch."""
        lengths = torch.tensor([len(p.features) for p in batch])
        features = torch.nn.utils.rnn.pad_sequence([p.features for p in batch],
                                                   batch_first=True)
        tokens = decode(self.model, features.to(self.device), lengths.to(self.device),
                        self.options, self.lm)
        return [self.loaded.tokenizer.decode(ids).split() for ids in tokens]
