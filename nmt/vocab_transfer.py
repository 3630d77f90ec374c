"""Start a model on a new sentencepiece vocabulary from a trained one (vocabulary transfer).

    python -m nmt.vocab_transfer models/nmt-en-de data/debian_nmt_mix/spm.model OUT_DIR

The transformer layers are copied unchanged. Each row of the (tied) embedding of the new
vocabulary is the old row of the same piece when the old vocabulary has it, else the mean of
the old rows of the pieces the old tokenizer splits the new piece's text into; special pieces
(pad, unk, bos, eos) keep their old rows. OUT_DIR is a model directory with the new
`spm.model`, for `nmt-train trainer.init_from=OUT_DIR data.dir=…` on a corpus whose
`spm.model` is that same file. Without it, a larger vocabulary starts from scratch: hours of
CPU training relearn what the old model knew.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import sentencepiece as spm
import torch

from echoformer.model_dir import ModelDirError, load_model_dir, save_model_dir
from nmt.model import TransformerNMT  # noqa: F401  (registers transformer_nmt)

TIED = ("embedding.weight", "decoder.embedding.weight", "output.linear.weight")


def transfer_rows(old_rows: torch.Tensor, old: spm.SentencePieceProcessor,
                  new: spm.SentencePieceProcessor) -> tuple[torch.Tensor, dict[str, int]]:
    """The new vocabulary's embedding rows from `old_rows` (see the module docstring), and
    how many rows came from each rule."""
    rows = torch.empty(new.get_piece_size(), old_rows.shape[1], dtype=old_rows.dtype)
    counts = {"same_piece": 0, "composed": 0, "special": 0, "unknown": 0}
    old_ids = {old.id_to_piece(i): i for i in range(old.get_piece_size())}
    specials = {new.pad_id(): old.pad_id(), new.unk_id(): old.unk_id(),
                new.bos_id(): old.bos_id(), new.eos_id(): old.eos_id()}
    for i in range(new.get_piece_size()):
        piece = new.id_to_piece(i)
        if i in specials and specials[i] >= 0:
            rows[i] = old_rows[specials[i]]
            counts["special"] += 1
        elif piece in old_ids and not old.is_control(old_ids[piece]):
            rows[i] = old_rows[old_ids[piece]]
            counts["same_piece"] += 1
        else:
            text = piece.replace("\u2581", " ")
            ids = [j for j in old.encode(text) if j != old.unk_id()] if text.strip() else []
            if ids:
                rows[i] = old_rows[ids].mean(0)
                counts["composed"] += 1
            else:
                rows[i] = old_rows[old.unk_id()]
                counts["unknown"] += 1
    return rows, counts


def vocab_transfer(model_dir: Path, new_spm: Path, out_dir: Path) -> dict[str, int]:
    """Write OUT_DIR (see the module docstring); returns the row counts per rule."""
    loaded = load_model_dir(model_dir)
    if loaded.meta.get("model_type") != "transformer_nmt":
        raise ModelDirError(f"{model_dir}: vocabulary transfer is for NMT models "
                            f"(model_type transformer_nmt), not {loaded.meta.get('model_type')}")
    if not Path(new_spm).is_file():
        raise FileNotFoundError(f"{new_spm} not found: train the new sentencepiece model first "
                                "(python -m nmt.data.prepare spm --data DIR --vocab-size V)")
    old = spm.SentencePieceProcessor(model_file=str(Path(model_dir) / "spm.model"))
    new = spm.SentencePieceProcessor(model_file=str(new_spm))
    state = {k: v.float() for k, v in loaded.model.state_dict().items()}
    rows, counts = transfer_rows(state[TIED[0]], old, new)
    architecture = dict(loaded.meta["architecture"])
    architecture["vocab_size"] = new.get_piece_size()
    model = type(loaded.model).from_config(architecture)
    new_state = model.state_dict()
    for key, value in state.items():
        if key in TIED:
            new_state[key] = rows
        elif key == "output.linear.bias":
            new_state[key] = torch.zeros(new.get_piece_size())
        else:
            new_state[key] = value
    model.load_state_dict(new_state)
    task = dict(loaded.meta.get("task", {}))
    task["vocabulary_transfer"] = {"from": str(model_dir), **counts}
    task.pop("training", None)
    save_model_dir(out_dir, model, model.state_dict(), Path(new_spm), task)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nmt.vocab_transfer",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path, help="trained NMT model directory")
    parser.add_argument("spm", type=Path, help="the new sentencepiece model")
    parser.add_argument("out", type=Path, help="model directory to write")
    args = parser.parse_args(argv)
    try:
        counts = vocab_transfer(args.model_dir, args.spm, args.out)
    except (ModelDirError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
