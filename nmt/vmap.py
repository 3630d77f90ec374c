"""A vocabulary map for CTranslate2's `use_vmap` shortlist, built from a parallel corpus.

CTranslate2 can restrict each batch's output layer to the target pieces that a vocabulary map
(`vmap.txt` in its model directory) lists for the batch's source pieces, plus the pieces it
lists for the empty key (always candidates) and the unknown, begin and end tokens. The map
here is the simplest co-occurrence one, on sentencepiece pieces (one-grams):

- count, over the sentence pairs, in how many pairs each source piece s, each target piece t,
  and each pair (s, t) occur (a piece counts once per sentence);
- each source piece maps to its `per_source` target pieces of highest Dice coefficient
  2·C(s, t) / (C(s) + C(t)) among those seen with it in at least `min_count` pairs (Dice,
  not raw counts, so that frequent pieces like "." do not fill every list);
- the `common` target pieces found in the most pairs are always candidates (the empty key).

Line format (CTranslate2's `VocabularyMap`): `source piece<TAB>target piece target piece ...`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from echoformer.tokenizer import Tokenizer
from nmt.export_ctranslate2 import source_pieces, vocabulary_pieces

VMAP_FILE = "vmap.txt"  # the name CTranslate2 reads in a model directory


def build_vmap(tokenizer: Tokenizer, pairs: Iterable[tuple[str, str]], per_source: int = 20,
               common: int = 100, min_count: int = 2) -> dict[str, list[str]]:
    """{source piece: target pieces, best first}; key "" holds the always-candidates."""
    vocab = tokenizer.vocab_size
    keys, source_freq, target_freq, sentences = [], np.zeros(vocab), np.zeros(vocab), 0
    for source, target in pairs:
        s = np.unique(np.asarray(tokenizer.encode(source), dtype=np.int64))
        t = np.unique(np.asarray(tokenizer.encode(target), dtype=np.int64))
        if not len(s) or not len(t):
            continue
        source_freq[s] += 1
        target_freq[t] += 1
        keys.append((s[:, None] * vocab + t[None, :]).ravel())
        sentences += 1
    if not sentences:
        raise ValueError("no sentence pairs with text on both sides to build a vocabulary "
                         "map from")
    pair_keys, counts = np.unique(np.concatenate(keys), return_counts=True)
    src, tgt = pair_keys // vocab, pair_keys % vocab
    dice = 2 * counts / (source_freq[src] + target_freq[tgt])
    keep = counts >= min_count
    src, tgt, dice = src[keep], tgt[keep], dice[keep]
    order = np.lexsort((-dice, src))  # by source piece, best Dice first
    src, tgt = src[order], tgt[order]
    starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]]) if len(src) else []
    ends = list(starts[1:]) + [len(src)]
    piece = vocabulary_pieces(tokenizer)
    vmap = {piece[src[a]]: [piece[i] for i in tgt[a:min(b, a + per_source)]]
            for a, b in zip(starts, ends)}
    frequent = np.argsort(-target_freq, kind="stable")[:common]
    vmap[""] = [piece[i] for i in frequent if target_freq[i] > 0]
    return vmap


def write_vmap(vmap: dict[str, list[str]], path: Path) -> Path:
    """Write `vmap` in CTranslate2's format (the empty key first); returns `path`."""
    lines = [f"{key}\t{' '.join(targets)}\n"
             for key, targets in sorted(vmap.items(), key=lambda item: item[0] != "")]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def mean_shortlist(vmap: dict[str, list[str]], tokenizer: Tokenizer,
                   sources: Iterable[str]) -> float:
    """Mean number of target pieces the map allows per sentence of `sources` (batch 1): the
    union of its pieces' lists and the always-candidates (special tokens not counted)."""
    sizes = []
    for source in sources:
        allowed = set(vmap.get("", []))
        for p in source_pieces(tokenizer, source):
            allowed.update(vmap.get(p, []))
        sizes.append(len(allowed))
    return sum(sizes) / max(1, len(sizes))
