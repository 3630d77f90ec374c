"""A tokenised parallel corpus split (`{split}.{src}` / `{split}.{tgt}`) and its batches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from echoformer.tokenizer import Tokenizer
from echoformer.data.batching import token_batches
from nmt.data.batching import collate
from nmt.data.local import read_parallel


def split_files(data_dir: Path, split: str, src_lang: str, tgt_lang: str) -> list[Path]:
    """`data_dir/{split}.{src_lang}` and `.{tgt_lang}`; a clear error when one is missing."""
    files = [Path(data_dir) / f"{split}.{lang}" for lang in (src_lang, tgt_lang)]
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: prepare the corpus (`python -m nmt.data.prepare ding "
                f"--out {data_dir}`) or set data.dir, data.src_lang and data.tgt_lang")
    return files


@dataclass
class TokenizedPairs:
    """sources[i], targets[i]: subword ids of pair i, without special tokens."""

    sources: list[list[int]]
    targets: list[list[int]]
    left_out: int = 0

    @classmethod
    def load(cls, data_dir: Path, split: str, src_lang: str, tgt_lang: str,
             tokenizer: Tokenizer, max_length: int) -> TokenizedPairs:
        """Read and encode `data_dir/{split}.{src_lang,tgt_lang}`; pairs with an empty side or
        one longer than `max_length` tokens (end token included) are left out and counted."""
        files = split_files(data_dir, split, src_lang, tgt_lang)
        pairs = cls.encode(read_parallel(*files), tokenizer.encode, max_length)
        if not pairs.sources:
            raise ValueError(f"{files[0]} / {files[1]}: no usable pairs (all empty or longer "
                             f"than max_length={max_length} tokens)")
        return pairs

    @classmethod
    def encode(cls, texts: Iterable[tuple[str, str]], encode: Callable[[str], list[int]],
               max_length: int) -> TokenizedPairs:
        """`texts` (source, target) encoded by `encode`, too long or empty pairs left out."""
        sources, targets, left_out = [], [], 0
        for source, target in texts:
            s, t = encode(source), encode(target)
            if len(s) + 1 > max_length or len(t) + 1 > max_length or not s or not t:
                left_out += 1
                continue
            sources.append(s)
            targets.append(t)
        return cls(sources, targets, left_out)

    def __len__(self) -> int:
        return len(self.sources)

    def lengths(self) -> list[int]:
        """Padded cost of each pair: the longer side plus its begin/end token."""
        return [max(len(s), len(t)) + 1 for s, t in zip(self.sources, self.targets)]

    def batches(self, max_tokens: int, seed: int | None) -> Iterator[dict[str, Tensor]]:
        """Model batches of at most `max_tokens` padded tokens; shuffled when `seed` is set."""
        for indices in token_batches(self.lengths(), max_tokens, seed):
            yield collate([self.sources[i] for i in indices],
                          [self.targets[i] for i in indices])


@dataclass
class SampledPairs:
    """A training split segmented anew for each epoch (subword regularisation): the batches
    of `seed` come from segmentations drawn with `Tokenizer.sample(text, alpha)` after seeding
    it with `seed`, so the same seed gives the same batches (training resume relies on it)."""

    texts: list[tuple[str, str]]
    tokenizer: Tokenizer
    alpha: float
    max_length: int

    @classmethod
    def load(cls, data_dir: Path, split: str, src_lang: str, tgt_lang: str,
             tokenizer: Tokenizer, max_length: int, alpha: float) -> SampledPairs:
        if not 0 < alpha <= 1:
            raise ValueError(f"data.subword_alpha={alpha}: use a value in (0, 1], or 0 for the "
                             "best segmentation only")
        return cls(read_parallel(*split_files(data_dir, split, src_lang, tgt_lang)), tokenizer,
                   alpha, max_length)

    def segmented(self, seed: int) -> TokenizedPairs:
        """One random segmentation of every pair, drawn after seeding with `seed`."""
        self.tokenizer.seed_sampling(seed)
        return TokenizedPairs.encode(self.texts, lambda text: self.tokenizer.sample(text, self.alpha),
                                     self.max_length)

    def batches(self, max_tokens: int, seed: int) -> Iterator[dict[str, Tensor]]:
        """Batches of this epoch's segmentation (see `TokenizedPairs.batches`)."""
        return self.segmented(seed).batches(max_tokens, seed)
