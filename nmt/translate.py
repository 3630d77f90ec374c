"""Translation with a model directory: `Translator` (load once; translate lines, or a stream of
them chunk by chunk) and `translate_lines` (batched beam search for a model in memory, e.g.
during training). The command line, `nmt-translate`, is in nmt/cli.py.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from echoformer.data.batching import pad
from echoformer.model_dir import ModelDirError, load_model_dir
from echoformer.output_layer import SoftmaxConfig
from echoformer.quantize import check_dtype, quantize_for_inference
from echoformer.search import BeamSearch, DecodingOptions
from echoformer.svd_cache import cached_svd_factors
from echoformer.text_norm import normalize_text
from echoformer.tokenizer import BOS_ID, EOS_ID, PAD_ID, Tokenizer
from nmt.model import TransformerNMT

CHUNK_LINES = 1000  # lines read, translated and written at a time
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL, C1: read as spaces


@dataclass
class Translation:
    """n-best (text, length-normalised score), best first; source tokens before truncation
    when the line was longer than the model allows, else None."""

    nbest: list[tuple[str, float]]
    truncated_from: int | None = None

    @property
    def text(self) -> str:
        return self.nbest[0][0] if self.nbest else ""


class Translator:
    """A loaded model directory plus how to decode.

    softmax: the inference output layer (None = the model's own default);
    options: decoding options (None = the defaults stored with the model);
    dtype: float32, or int8 (CPU only: dynamic int8 linear layers, `echoformer.quantize`).
    """

    def __init__(self, model_dir: Path, device: str | torch.device = "cpu",
                 softmax: SoftmaxConfig | None = None,
                 options: DecodingOptions | None = None, dtype: str = "float32") -> None:
        check_dtype(dtype, device)
        loaded = load_model_dir(model_dir, device)
        if not isinstance(loaded.model, TransformerNMT):
            raise ModelDirError(f"{model_dir} holds a {loaded.meta.get('model_type')} model, "
                                "not a translation model")
        self.model: TransformerNMT = loaded.model
        self.tokenizer, self.device = loaded.tokenizer, torch.device(device)
        self.options = options or loaded.decoding_options(DecodingOptions)
        if softmax is not None:
            self.model.use_softmax(softmax)
        output = self.model.output
        if output.svd is not None:
            output.install_factors(cached_svd_factors(
                output.linear, output.svd.window, loaded.path, loaded.meta["weights_sha256"]))
        self.dtype = dtype
        quantize_for_inference(self.model, dtype, device)
        self.max_length = self.model.config.max_length

    def translate(self, lines: Sequence[str], batch_size: int = 32) -> list[Translation]:
        """One `Translation` per line, in order (`translate_lines` with this model)."""
        with torch.inference_mode():
            return translate_lines(self.model, self.tokenizer, self.options, lines, batch_size,
                                   self.device)

    def translate_stream(self, lines: Iterable[str], batch_size: int = 32,
                         chunk_lines: int = CHUNK_LINES) -> Iterator[Translation]:
        """`translate` for any number of lines, read lazily: `chunk_lines` lines at a time are
        translated (sorted by length within the chunk for batching) and given out in order, so
        memory does not grow with the input."""
        if chunk_lines < 1:
            raise ValueError(f"chunk of {chunk_lines} lines: must be ≥ 1")
        lines = iter(lines)
        while chunk := list(itertools.islice(lines, chunk_lines)):
            yield from self.translate(chunk, batch_size)


def translate_lines(model: TransformerNMT, tokenizer: Tokenizer, options: DecodingOptions,
                    lines: Sequence[str], batch_size: int, device: torch.device
                    ) -> list[Translation]:
    """One `Translation` per line, in order; batches of similar-length sentences. Control
    characters are read as spaces; a line longer than the model's max_length is translated
    from its first tokens (`Translation.truncated_from` says so). The caller picks the
    autograd mode (inference_mode, or no_grad for a model that trains on afterwards)."""
    if batch_size < 1:
        raise ValueError(f"batch size {batch_size}: must be ≥ 1")
    max_length = model.config.max_length
    results = [Translation([]) for _ in lines]
    sources: dict[int, list[int]] = {}
    for index, line in enumerate(lines):
        ids = tokenizer.encode(normalize_text(_CONTROL.sub(" ", line)))
        if not ids:
            results[index] = Translation([("", 0.0)])
            continue
        if len(ids) + 1 > max_length:
            results[index].truncated_from = len(ids)
            ids = ids[: max_length - 1]
        sources[index] = ids
    order = sorted(sources, key=lambda i: len(sources[i]))
    search = BeamSearch({"decoder": model.scorer()}, options, BOS_ID, EOS_ID,
                        forbidden_ids=[PAD_ID, BOS_ID])
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        source = pad([sources[i] + [EOS_ID] for i in chunk]).to(device)
        limits = [options.length_limit(len(sources[i])) for i in chunk]
        for index, hyps in zip(chunk, search(model.encode(source), limits, device)):
            results[index].nbest = [(tokenizer.decode(h.tokens), h.normalized_score)
                                    for h in hyps]
    return results
