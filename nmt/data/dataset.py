"""A tokenised parallel corpus split (`{split}.{src}` / `{split}.{tgt}`) and its batches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from echoformer.tokenizer import Tokenizer
from nmt.data.batching import collate, token_batches
from nmt.data.local import read_parallel


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
        data_dir = Path(data_dir)
        files = [data_dir / f"{split}.{lang}" for lang in (src_lang, tgt_lang)]
        for path in files:
            if not path.is_file():
                raise FileNotFoundError(
                    f"{path} not found: prepare the corpus (`python -m nmt.data.prepare ding "
                    f"--out {data_dir}`) or set data.dir, data.src_lang and data.tgt_lang")
        sources, targets, left_out = [], [], 0
        for source, target in read_parallel(*files):
            s, t = tokenizer.encode(source), tokenizer.encode(target)
            if len(s) + 1 > max_length or len(t) + 1 > max_length or not s or not t:
                left_out += 1
                continue
            sources.append(s)
            targets.append(t)
        if not sources:
            raise ValueError(f"{files[0]} / {files[1]}: no usable pairs (all empty or longer "
                             f"than max_length={max_length} tokens)")
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
