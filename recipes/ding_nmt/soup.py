"""A weight average ("model soup") of two NMT model directories of the same model.

    python recipes/ding_nmt/soup.py MODEL_A MODEL_B OUT [--weight W]

OUT holds W·A + (1 − W)·B in float32 (default W = 0.5), A's tokenizer and decoding defaults,
and in model.yaml `task.soup` the two sources and their weights. Both must be the same model
(model type, architecture, sentencepiece model), e.g. two fine-tunes from one start. Used by
`studies.sh dropout-more`; results in RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import nmt.model  # noqa: F401  (registers the NMT model class with the model directories)
from echoformer.model_dir import (TOKENIZER_FILE, ModelDirError, file_sha256, load_model_dir,
                                  save_model_dir)


def soup(a: Path, b: Path, out: Path, weight: float = 0.5) -> Path:
    """Write OUT = weight·A + (1 − weight)·B; raises ModelDirError if A and B differ in kind."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"--weight {weight}: must be between 0 and 1 (the share of MODEL_A)")
    first, second = load_model_dir(a), load_model_dir(b)
    for what in ("model_type", "architecture"):
        if first.meta.get(what) != second.meta.get(what):
            raise ModelDirError(f"{a} and {b} differ in {what}: only the same model can be "
                                "averaged (two runs of one size, reuse pattern and vocabulary)")
    if file_sha256(a / TOKENIZER_FILE) != file_sha256(b / TOKENIZER_FILE):
        raise ModelDirError(f"{a} and {b} have different sentencepiece models: their weights "
                            "read other pieces")
    with torch.no_grad():
        others = dict(second.model.named_parameters()) | dict(second.model.named_buffers())
        for name, tensor in [*first.model.named_parameters(), *first.model.named_buffers()]:
            if tensor.is_floating_point():
                tensor.mul_(weight).add_(others[name].to(tensor.dtype), alpha=1.0 - weight)
    task = dict(first.task)
    task["soup"] = {"sources": [str(a), str(b)], "weights": [weight, 1.0 - weight]}
    return save_model_dir(out, first.model, first.model.state_dict(), a / TOKENIZER_FILE, task)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="soup.py", description=__doc__.splitlines()[0])
    parser.add_argument("model_a", type=Path)
    parser.add_argument("model_b", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--weight", type=float, default=0.5, help="share of MODEL_A (0.5)")
    args = parser.parse_args(argv)
    try:
        soup(args.model_a, args.model_b, args.out, args.weight)
    except (ModelDirError, ValueError) as error:
        print(f"soup.py: {error}", file=sys.stderr)
        return 1
    print(f"{args.out}: {args.weight} · {args.model_a} + {1 - args.weight} · {args.model_b}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
