"""Decoder states of a real beam search, and a generator of beams like them, for the `layers`
suite's `rows_kind: beam` output-layer records.

The hypotheses of one beam are alike, so the union of their SVD-softmax candidates covers far
less of the vocabulary than as many independent rows. `capture_beam_states` translates lines
one at a time (batch 1, beam K) with a trained encoder-decoder model directory and keeps the
hidden states (R ≤ K, D) that each step hands to the output layer; they are cached once per
(weights, lines, beam) under `cache_dir()`. `union_fractions` measures U/V on them.

The shipped model is small (V = 8K, D = 256), so larger layers get beams from
`beam_hidden_states`: rows = (base + spread·noise_r) / √(1 + spread²), one shared Gaussian
`base` and independent `noise_r`; `calibrate_spread` picks the spread at which the mean union
fraction on the benchmark's layer equals the one measured on the real beams.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from echoformer.atomic_file import atomic_write
from echoformer.paths import PROJECT_ROOT

DEFAULT_MODEL = PROJECT_ROOT / "models" / "nmt-en-de"
DEFAULT_LINES = PROJECT_ROOT / "data" / "ding_nmt" / "valid.en"
DEFAULT_LINE_COUNT = 40
CAPTURE_VERSION = "2"  # part of the cache key: a new capture method captures again
# U/V of beam-5 steps (R = 5) of models/nmt-en-de on the first 40 lines of ding_nmt valid.en
# (W = D/8, N = V/16; `python -m echoformer.bench.beam_states`): the target when no capture
# can be made (model or data missing).
MEASURED_BEAM_UNION_FRACTION = 0.209


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "echoformer" / (
        "beam_states")


def capture_beam_states(model_dir: Path = DEFAULT_MODEL, lines_path: Path = DEFAULT_LINES,
                        count: int = DEFAULT_LINE_COUNT, beam: int = 5
                        ) -> tuple[list[Tensor], nn.Linear]:
    """(hidden states per decoding step, each (R, D); the model's output layer (V, D)) of a
    beam-`beam` decode of the first `count` lines of `lines_path` (states cached)."""
    from echoformer.model_dir import load_model_dir
    from echoformer.tasks import load_tasks

    model_dir, lines_path = Path(model_dir), Path(lines_path)
    if not lines_path.is_file():
        raise FileNotFoundError(f"{lines_path}: no such text file (for data/ding_nmt run "
                                "recipes/ding_nmt/run.sh --stage 1 --stop-stage 1)")
    lines = lines_path.read_text(encoding="utf-8").splitlines()[:count]
    load_tasks()  # the tasks register their model classes
    loaded = load_model_dir(model_dir)
    key = hashlib.sha256("\n".join([CAPTURE_VERSION, loaded.meta["weights_sha256"], str(beam),
                                     *lines])
                         .encode()).hexdigest()[:16]
    path = cache_dir() / f"{key}.pt"
    model = loaded.model
    if not all(hasattr(model, name) for name in ("encode", "scorer", "output")):
        raise ValueError(f"{model_dir}: not an encoder-decoder text model (needs encode, "
                         "scorer and output); use a translation model directory")
    linear = model.output.linear
    if path.is_file():
        return torch.load(path, weights_only=True)["states"], linear
    states = _decode_states(loaded, lines, beam)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda stream: torch.save({"states": states}, stream))
    return states, linear


def _decode_states(loaded, lines: Sequence[str], beam: int) -> list[Tensor]:
    from echoformer.search import BeamSearch, DecodingOptions
    from echoformer.text_norm import normalize_text
    from echoformer.tokenizer import BOS_ID, EOS_ID, PAD_ID

    model, tokenizer = loaded.model, loaded.tokenizer
    options = DecodingOptions(beam_size=beam)
    search = BeamSearch({"decoder": model.scorer()}, options, BOS_ID, EOS_ID,
                        forbidden_ids=[PAD_ID, BOS_ID])
    states: list[Tensor] = []
    output = model.output

    depth = 0

    def recording(method: Callable) -> Callable:
        def call(h: Tensor, *args, **kwargs):  # once per step: topk may call log_probs
            nonlocal depth
            if not depth:
                states.append(h.detach().reshape(-1, h.shape[-1]).float().clone())
            depth += 1
            try:
                return method(h, *args, **kwargs)
            finally:
                depth -= 1
        return call

    for name in ("topk", "log_probs"):
        setattr(output, name, recording(getattr(output, name)))
    try:
        with torch.inference_mode():
            for line in lines:
                ids = tokenizer.encode(normalize_text(line))[:100]
                if ids:
                    source = torch.tensor([ids + [EOS_ID]])
                    search(model.encode(source), [options.length_limit(len(ids))], "cpu")
    finally:
        for name in ("topk", "log_probs"):
            delattr(output, name)
    return states


def union_fractions(layer: nn.Linear, states: Sequence[Tensor], window_fraction: float,
                    candidates_fraction: float, rows: int) -> Tensor:
    """U/V of SVD-softmax (W = window_fraction·D, N = candidates_fraction·V) of `layer` over
    each step of `states` with exactly `rows` rows."""
    from echoformer.svd_softmax import SVDSoftmax

    vocab, dim = layer.weight.shape
    svd = SVDSoftmax(layer, max(1, round(dim * window_fraction)),
                     max(1, round(vocab * candidates_fraction)), max_rows=None,
                     kernels=False).eval()  # the same union either way
    with torch.inference_mode():
        return torch.tensor([svd.union_size(h) / vocab for h in states if len(h) == rows])


def beam_hidden_states(rows: int, dim: int, spread: float, seed: int,
                       base_states: Callable[[int, int, int], Tensor]) -> Tensor:
    """(rows, dim): one beam, rows = (base + spread·noise_r) / √(1 + spread²), where
    `base_states(rows, dim, seed)` draws independent states (the benchmark's own)."""
    base = base_states(1, dim, seed)
    noise = base_states(rows, dim, seed + 1)
    return (base + spread * noise) / math.sqrt(1.0 + spread * spread)


def calibrate_spread(union_fraction: Callable[[Tensor], float], target: float, rows: int,
                     dim: int, base_states: Callable[[int, int, int], Tensor],
                     beams: int = 4, steps: int = 12) -> tuple[float, float]:
    """(spread, mean union fraction there) so that beams of `rows` rows from
    `beam_hidden_states` have mean `union_fraction` ≈ target (bisection on log spread)."""
    def mean_fraction(spread: float) -> float:
        return sum(union_fraction(beam_hidden_states(rows, dim, spread, 1000 + 2 * b,
                                                     base_states))
                   for b in range(beams)) / beams

    low, high = math.log(1e-3), math.log(1e2)
    for _ in range(steps):
        middle = (low + high) / 2
        if mean_fraction(math.exp(middle)) < target:
            low = middle
        else:
            high = middle
    spread = math.exp((low + high) / 2)
    return spread, mean_fraction(spread)


def main() -> None:
    """Print the union fraction of real beam steps (the figure `MEASURED_BEAM_UNION_FRACTION`
    records): python -m echoformer.bench.beam_states [MODEL_DIR [LINES [COUNT]]]."""
    args = sys.argv[1:]
    model_dir = Path(args[0]) if args else DEFAULT_MODEL
    lines = Path(args[1]) if len(args) > 1 else DEFAULT_LINES
    count = int(args[2]) if len(args) > 2 else DEFAULT_LINE_COUNT
    states, layer = capture_beam_states(model_dir, lines, count)
    vocab, dim = layer.weight.shape
    for rows in (5, 1):
        f = union_fractions(layer, states, 0.125, 0.0625, rows)
        if len(f):
            q = f.quantile(torch.tensor([0.1, 0.5, 0.9])).tolist()
            print(f"rows {rows}: {len(f)} steps, U/V mean {f.mean():.4f}, "
                  f"p10/p50/p90 {q[0]:.4f}/{q[1]:.4f}/{q[2]:.4f} (V={vocab}, D={dim}, "
                  "W=D/8, N=V/16)")


if __name__ == "__main__":
    main()
