"""The `layers` suite: attention map reuse and SVD-softmax against their fused/full baselines.

Attention: a group of `g` self-attention layers (projections + attention core, chained) with
no reuse and PyTorch's fused `scaled_dot_product_attention`, against one leader and `g-1`
followers. `bound` is the speed-up the operation count allows (`attention_flops`).

Output layer: `log_softmax` of the full layer against SVD-softmax with W = D/8, N = V/16
(configurable), on synthetic weights with a decaying singular spectrum (`synthetic_output_layer`).
Both are memory-bound on CPU at a few rows, so `bytes_bound` is the speed-up allowed by the
weight bytes each reads: V·(D+1) for the full layer; D² + V·(W+1) + U·(D-W) for SVD-softmax,
where U is the number of distinct candidates over all rows (`union_fraction` = U/V).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from echoformer.attention import MultiHeadSelfAttention, Role
from echoformer.bench.timing import compare
from echoformer.reuse import ReuseEncoder
from echoformer.svd_softmax import SVDSoftmax, full_logits

SOFTMAX_FLOPS_PER_SCORE = 5  # max, subtract, exp, sum, divide


def attention_flops(length: int, d_model: int, n_heads: int, role: Role) -> float:
    """Floating-point operations of one self-attention layer on a (1, L, D) input."""
    projections = 2 * length * d_model * d_model * (2 if role is Role.FOLLOWER else 4)
    pv = 2 * length * length * d_model
    if role is Role.FOLLOWER:
        return projections + pv
    return projections + 2 * pv + SOFTMAX_FLOPS_PER_SCORE * n_heads * length * length


def attention_bound(length: int, d_model: int, n_heads: int, group: int) -> float:
    plain = attention_flops(length, d_model, n_heads, Role.PLAIN)
    follower = attention_flops(length, d_model, n_heads, Role.FOLLOWER)
    return group * plain / (plain + (group - 1) * follower)


def attention_records(lengths: Iterable[int], groups: Iterable[int], d_model: int, n_heads: int,
                      batch: int, device: str, warmup: int, repeats: int) -> list[dict]:
    records = []
    cases = [(length, group) for length in lengths for group in groups]
    for length, group in tqdm(cases, desc="attention", unit="case"):
        torch.manual_seed(0)
        stacks = {
            name: ReuseEncoder(lambda role: MultiHeadSelfAttention(d_model, n_heads, role),
                               num_layers=group, pattern=pattern).to(device).eval()
            for name, pattern in (("baseline", [1] * group), ("reuse", [group]))}
        x = torch.randn(batch, length, d_model, device=device)
        ms = compare({name: (lambda s=stack: s(x)) for name, stack in stacks.items()},
                     device, warmup, repeats)
        records.append({
            "L": length, "group": group, "baseline_ms": ms["baseline"], "reuse_ms": ms["reuse"],
            "speedup": ms["baseline"] / ms["reuse"],
            "bound": attention_bound(length, d_model, n_heads, group)})
        del stacks
    return records


def synthetic_output_layer(vocab: int, dim: int, seed: int = 0, zipf_bias: bool = True
                           ) -> nn.Linear:
    """An output layer shaped like trained ones: A = G·diag(s)·Rᵀ with a decaying spectrum.

    G: (V, D) Gaussian, R: random orthogonal (D, D), s_j = exp(-16 j / D) + 0.05 (most energy
    in the first D/8 directions, a flat floor after). With `zipf_bias` the bias is the log of
    a Zipf(1) unigram distribution over a random word order, as trained biases roughly are.
    """
    g = torch.Generator().manual_seed(seed)
    spectrum = synthetic_spectrum(dim)
    rotation, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g))
    weight = torch.randn(vocab, dim, generator=g).mul_(spectrum) @ rotation.T
    layer = nn.Linear(dim, vocab)
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.zero_()
        if zipf_bias:
            ranks = torch.randperm(vocab, generator=g).double() + 1
            layer.bias.copy_(-torch.log(ranks) + torch.log(ranks).mean())
    return layer


def hidden_states(rows: int, dim: int, seed: int) -> torch.Tensor:
    """Independent Gaussian decoder states scaled so that logits have std ≈ 3 (peaked)."""
    g = torch.Generator().manual_seed(seed)
    energy = float((synthetic_spectrum(dim) ** 2).sum())
    return torch.randn(rows, dim, generator=g) * (3.0 / math.sqrt(energy))


def synthetic_spectrum(dim: int) -> torch.Tensor:
    """s_j = exp(-16 j / D) + 0.05, j < D: the singular values of `synthetic_output_layer`."""
    return torch.exp(-16.0 * torch.arange(dim) / dim) + 0.05


def agreement(full: Callable, svd: SVDSoftmax, states: torch.Tensor, chunk: int = 32
              ) -> tuple[float, float]:
    """(top-1 agreement, top-5 overlap) of SVD-softmax with the full softmax over `states`."""
    top1 = top5 = 0.0
    with torch.inference_mode():
        for rows in states.split(chunk):
            exact, approx = full(rows).topk(5, -1).indices, svd(rows).topk(5, -1).indices
            top1 += (exact[:, 0] == approx[:, 0]).sum().item()
            top5 += (exact[:, :, None] == approx[:, None, :]).any(-1).sum().item() / 5
    return top1 / len(states), top5 / len(states)


def output_layer_records(vocabs: Iterable[int], dims: Iterable[int], rows_list: Iterable[int],
                         window_fraction: float, candidates_fraction: float,
                         agreement_rows: int, zipf_bias: bool, device: str, warmup: int,
                         repeats: int) -> list[dict]:
    records = []
    cases = [(v, d) for v in vocabs for d in dims]
    for vocab, dim in tqdm(cases, desc="output layer", unit="case"):
        layer = synthetic_output_layer(vocab, dim, zipf_bias=zipf_bias).to(device)
        window = max(1, round(dim * window_fraction))
        candidates = max(1, round(vocab * candidates_fraction))
        svd = SVDSoftmax(layer, window, candidates).eval()
        svd.refresh()
        def full(h: torch.Tensor) -> torch.Tensor:
            return full_logits(layer, h).log_softmax(dim=-1)

        top1, top5 = agreement(full, svd, hidden_states(agreement_rows, dim, 1).to(device),
                               chunk=svd.max_rows or 32)
        for rows in rows_list:
            h = hidden_states(rows, dim, 2).to(device)
            ms = compare({"full": lambda: full(h), "linear": lambda: F.log_softmax(layer(h), -1),
                          "svd": lambda: svd(h)}, device, warmup, repeats)
            full_ms = min(ms["full"], ms["linear"])  # the faster full layer is the baseline
            path = "full" if svd.max_rows is not None and rows > svd.max_rows else "svd"
            union = svd.union_size(h) if path == "svd" else vocab
            full_bytes = 4 * vocab * (dim + 1)
            svd_bytes = full_bytes if path == "full" else 4 * (
                dim * dim + vocab * (window + 1) + union * (dim - window))
            records.append({
                "V": vocab, "D": dim, "rows": rows, "W": window, "N": candidates,
                "full_ms": full_ms, "full_addmm_ms": ms["full"], "full_linear_ms": ms["linear"],
                "svd_ms": ms["svd"], "speedup": full_ms / ms["svd"], "top1_agreement": top1,
                "top5_agreement": top5, "path": path, "union_fraction": union / vocab,
                "bytes_bound": full_bytes / svd_bytes})
        del layer, svd
    return records
