"""Sentencepiece subword model shared by ASR (English transcripts) and NMT (joint en+de).

Special ids are fixed at training time so every model directory agrees on them:
pad=0, unk=1, bos=2, eos=3.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import sentencepiece as spm

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
MODEL_TYPES = ("unigram", "bpe", "char", "word")
MAX_TRAINING_SENTENCES = 2_000_000

_VOCAB_TOO_HIGH = re.compile(r"Vocabulary size too high \((\d+)\)\. Please set it to a value <= (\d+)")


def _non_empty_lines(texts: Iterable[str], counter: list[int]) -> Iterator[str]:
    for text in texts:
        for line in text.splitlines():
            if line.strip():
                counter[0] += 1
                yield line


def train_sentencepiece(
    texts: Iterable[str],
    model_prefix: Path,
    vocab_size: int,
    model_type: str = "unigram",
    character_coverage: float = 1.0,
) -> Path:
    """Train a sentencepiece model on ``texts`` (one sentence each); return ``model_prefix.model``.

    Also writes ``model_prefix.vocab``. Raises ``ValueError`` with the largest usable size when the
    text is too small for ``vocab_size``, and when there is no text at all.
    """
    if model_type not in MODEL_TYPES:
        raise ValueError(f"model_type={model_type!r} is not one of {MODEL_TYPES}.")
    if vocab_size <= EOS_ID + 1:
        raise ValueError(f"vocab_size={vocab_size} leaves no room beside the 4 special ids; use > 4.")
    model_prefix = Path(model_prefix)
    model_prefix.parent.mkdir(parents=True, exist_ok=True)
    line_count = [0]
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=_non_empty_lines(texts, line_count),
            model_prefix=str(model_prefix),
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=character_coverage,
            pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
            input_sentence_size=MAX_TRAINING_SENTENCES,
            shuffle_input_sentence=True,
            minloglevel=2,
        )
    except RuntimeError as error:
        too_high = _VOCAB_TOO_HIGH.search(str(error))
        if too_high:
            raise ValueError(
                f"vocab_size={vocab_size} is too large for this training text "
                f"({line_count[0]} lines): sentencepiece allows at most {too_high.group(2)}. "
                "Pass a smaller vocab size or more text."
            ) from error
        if line_count[0] == 0:
            raise ValueError("No training text for sentencepiece: every line was empty.") from error
        raise
    return model_prefix.with_suffix(".model")


class Tokenizer:
    """Text ↔ subword ids with a trained sentencepiece model (``.model`` file)."""

    pad_id, unk_id, bos_id, eos_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID

    def __init__(self, model_path: str | Path):
        model_path = Path(model_path)
        if not model_path.is_file():
            raise FileNotFoundError(
                f"Sentencepiece model not found: {model_path}. Train one with "
                "echoformer.tokenizer.train_sentencepiece (NMT: `python -m nmt.data.prepare spm`)."
            )
        self.model_path = model_path
        self._load(model_path.read_bytes())

    def _load(self, model_proto: bytes) -> None:
        self._processor = spm.SentencePieceProcessor(model_proto=model_proto)
        found = (self._processor.pad_id(), self._processor.unk_id(),
                 self._processor.bos_id(), self._processor.eos_id())
        if found != (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
            raise ValueError(
                f"{self.model_path} has special ids pad/unk/bos/eos={found}, expected "
                f"{(PAD_ID, UNK_ID, BOS_ID, EOS_ID)}; retrain it with train_sentencepiece."
            )

    def __getstate__(self) -> dict:  # picklable for DataLoader workers
        return {"model_path": self.model_path,
                "model_proto": self._processor.serialized_model_proto()}

    def __setstate__(self, state: dict) -> None:
        self.model_path = state["model_path"]
        self._load(state["model_proto"])

    @property
    def vocab_size(self) -> int:
        return self._processor.get_piece_size()

    def encode(self, text: str, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Subword ids of ``text``, optionally framed by bos/eos."""
        return self._processor.encode(text, add_bos=add_bos, add_eos=add_eos)

    def sample(self, text: str, alpha: float) -> list[int]:
        """One segmentation of ``text`` drawn at random (subword regularisation, Kudo 2018): a
        unigram model samples from its segmentations with probabilities ∝ P^alpha; a BPE model
        drops merges with probability ``alpha`` (BPE-dropout). Reproducible after
        ``seed_sampling``."""
        return self._processor.encode(text, enable_sampling=True, alpha=alpha, nbest_size=-1)

    @staticmethod
    def seed_sampling(seed: int) -> None:
        """Seed the random segmentations of ``sample`` (sentencepiece's one generator)."""
        spm.set_random_generator_seed(seed)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; pad, bos and eos ids are dropped."""
        return self._processor.decode([int(i) for i in ids if i not in (PAD_ID, BOS_ID, EOS_ID)])

    def pieces(self, text: str) -> list[str]:
        """Subword pieces of ``text`` (for inspection)."""
        return self._processor.encode(text, out_type=str)
