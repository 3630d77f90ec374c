"""The `layers` suite: attention map reuse and SVD-softmax against their fused/full baselines.

Attention: a group of `g` self-attention layers (projections + attention core, chained) with
no reuse and PyTorch's fused `scaled_dot_product_attention`, against one leader and `g-1`
followers. `bound` is the speed-up the operation count allows (`attention_flops`).

Output layer: the full layer against SVD-softmax with W = D/8, N = V/16 (configurable), on
synthetic weights with a decaying singular spectrum (`synthetic_output_layer`), two ops each:
`log_probs` (R, V) (`speedup`) and the beam-search step `topk` (the k = 12 best of each row,
2·beam + 2 for beam 5, as `BeamSearch` asks: `topk_speedup`). Rows come in two kinds
(`rows_kind`): `random`, independent states; `beam`, the hypotheses of one beam, alike, from
`beam_states.beam_hidden_states` with its spread calibrated per layer so that the mean union
fraction of 5-row beams equals the one measured on a real beam-5 decode of the shipped NMT
model (`beam_union_target`; see echoformer/bench/beam_states.py).

Both are memory-bound on CPU at a few rows, so `bytes_bound` is the speed-up allowed by the
float32 weights each reads once per step:

    full:  V·(D + 1)                              (weights + bias)
    SVD:   D² + V·(W + 1) + U·(D − W)             (rotation, preview + bias, union tails)

where U is the number of distinct candidates over all rows (`union_fraction` = U/V), and
bytes_bound = full / SVD. `of_bound` = topk_speedup / bytes_bound (the op a decode runs;
`log_probs_of_bound` the same for `speedup`): 1.0 means SVD-softmax streams its bytes as fast
as the full layer streams its own.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from echoformer.attention import MultiHeadSelfAttention, Role
from echoformer.bench import beam_states
from echoformer.bench.timing import compare
from echoformer.reuse import ReuseEncoder
from echoformer.svd_softmax import SVDSoftmax, full_logits

SOFTMAX_FLOPS_PER_SCORE = 5  # max, subtract, exp, sum, divide
ROWS_KINDS = ("random", "beam")
BEAM_SIZE = 5
TOPK = 2 * BEAM_SIZE + 2  # what BeamSearch asks a lone scorer for (2K + forbidden ids)


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


def output_bytes(vocab: int, dim: int, window: int, union: int | None) -> tuple[int, int]:
    """(full, SVD) bytes of float32 weights read per step; union None: SVD runs the full
    layer (more rows than its max_rows)."""
    full = 4 * vocab * (dim + 1)
    if union is None:
        return full, full
    return full, 4 * (dim * dim + vocab * (window + 1) + union * (dim - window))


def beam_union_target(window_fraction: float, candidates_fraction: float,
                      model_dir: Path | None, lines: Path | None) -> tuple[float | None, str]:
    """(mean U/V of real 5-row beam steps, where it comes from): measured on a real decode
    (captured once and cached), or the recorded figure when no capture can be made."""
    try:
        states, layer = beam_states.capture_beam_states(
            model_dir or beam_states.DEFAULT_MODEL, lines or beam_states.DEFAULT_LINES)
        fractions = beam_states.union_fractions(layer, states, window_fraction,
                                                candidates_fraction, BEAM_SIZE)
        vocab, dim = layer.weight.shape
        return float(fractions.mean()), (f"{len(fractions)} beam-{BEAM_SIZE} steps of "
                                         f"{model_dir or beam_states.DEFAULT_MODEL} (V={vocab}, "
                                         f"D={dim})")
    except (OSError, ValueError) as error:
        recorded = beam_states.MEASURED_BEAM_UNION_FRACTION
        if (window_fraction, candidates_fraction) != (0.125, 0.0625):
            recorded = None  # the recorded figure is for W = D/8, N = V/16 only
        print(f"warning: no real beam states ({error}); "
              + ("no beam rows" if recorded is None else
                 f"beam rows use the recorded union fraction {recorded}"), file=sys.stderr)
        return recorded, "recorded figure (echoformer/bench/beam_states.py)"


def rows_states(kind: str, rows: int, dim: int, spread: float) -> torch.Tensor:
    if kind == "random":
        return hidden_states(rows, dim, 2)
    return beam_states.beam_hidden_states(rows, dim, spread, 2, hidden_states)


def output_layer_records(vocabs: Iterable[int], dims: Iterable[int], rows_list: Iterable[int],
                         window_fraction: float, candidates_fraction: float,
                         agreement_rows: int, zipf_bias: bool, device: str, warmup: int,
                         repeats: int, rows_kinds: Sequence[str] = ROWS_KINDS,
                         beam_model: Path | None = None, beam_lines: Path | None = None
                         ) -> list[dict]:
    """One record per (V, D, rows kind, rows); beam rows only up to SVD-softmax's max_rows
    (beyond, both kinds run the full layer)."""
    unknown = sorted(set(rows_kinds) - set(ROWS_KINDS))
    if unknown:
        raise ValueError(f"rows kinds {unknown}: choose among {', '.join(ROWS_KINDS)}")
    target, source = (beam_union_target(window_fraction, candidates_fraction, beam_model,
                                        beam_lines) if "beam" in rows_kinds else (None, ""))
    if target is None:
        rows_kinds = [kind for kind in rows_kinds if kind != "beam"]
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
        spread = achieved = None
        if target is not None:
            with torch.inference_mode():
                spread, achieved = beam_states.calibrate_spread(
                    lambda h: svd.union_size(h.to(device)) / vocab, target, BEAM_SIZE, dim,
                    hidden_states)
        for kind in rows_kinds:
            for rows in rows_list:
                path = "full" if svd.max_rows is not None and rows > svd.max_rows else "svd"
                if kind == "beam" and path == "full":
                    continue
                h = rows_states(kind, rows, dim, spread).to(device)
                ms = compare({
                    "full": lambda: full(h), "linear": lambda: F.log_softmax(layer(h), -1),
                    "svd": lambda: svd(h),
                    "full_topk": lambda: full(h).topk(TOPK, -1),
                    "linear_topk": lambda: F.log_softmax(layer(h), -1).topk(TOPK, -1),
                    "svd_topk": lambda: svd.topk(h, TOPK)}, device, warmup, repeats)
                full_ms = min(ms["full"], ms["linear"])  # the faster full layer is the baseline
                topk_full_ms = min(ms["full_topk"], ms["linear_topk"])
                union = svd.union_size(h) if path == "svd" else None
                full_bytes, svd_bytes = output_bytes(vocab, dim, window, union)
                bound = full_bytes / svd_bytes
                record = {
                    "V": vocab, "D": dim, "rows": rows, "rows_kind": kind, "W": window,
                    "N": candidates, "full_ms": full_ms, "full_addmm_ms": ms["full"],
                    "full_linear_ms": ms["linear"], "svd_ms": ms["svd"],
                    "speedup": full_ms / ms["svd"], "topk_full_ms": topk_full_ms,
                    "topk_svd_ms": ms["svd_topk"], "topk_speedup": topk_full_ms / ms["svd_topk"],
                    "top1_agreement": top1, "top5_agreement": top5, "path": path,
                    "union_fraction": (union or vocab) / vocab, "bytes_full": full_bytes,
                    "bytes_svd": svd_bytes, "bytes_bound": bound,
                    "of_bound": topk_full_ms / ms["svd_topk"] / bound,
                    "log_probs_of_bound": full_ms / ms["svd"] / bound}
                if kind == "beam":
                    record |= {"beam_union_target": target, "beam_union_generated": achieved,
                               "beam_spread": spread, "beam_source": source}
                records.append(record)
        del layer, svd
    return records
