"""`asr-lm-train`: train the word-piece language model of ASR shallow fusion (a Hydra app;
conf/asr_lm_train.yaml; the model: `asr.lm`).

Text in, one line a sentence or phrase (`python -m asr.data.prepare lm-text`); the pieces are
the ASR model's (`data.tokenizer=<asr model>/spm.model`), so `asr-transcribe --lm DIR` can
add the LM's scores to that model's. Same trainer as `asr-train` (checkpoints, resume,
averaging, early stop on validation nll); writes <run dir>/model/, a model directory.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from functools import partial
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from asr.config import LMTrainConfig, register
from asr.lm import LMFusionOptions, PieceLM
from echoformer.config_schema import to_dataclass
from echoformer.data.batching import pad, token_batches
from echoformer.device import resolve_device
from echoformer.model_dir import save_model_dir
from echoformer.parameters import parameter_count
from echoformer.paths import CONF_DIR
from echoformer.text_norm import normalize_transcript
from echoformer.tokenizer import BOS_ID, EOS_ID, Tokenizer
from echoformer.training import Trainer
from echoformer.training.distributed import World, hydra_overrides, train_on_ranks
from echoformer.training.evaluation import evaluate
from echoformer.training.run_dir import check_resumable, describe_start, start_from

register()

MODEL_DIR = "model"


class LMText:
    """A text file's lines in transcript form (`normalize_transcript`, as the ASR data prep
    writes transcripts: lower case, no punctuation) as piece ids (end token appended), in
    token batches. Lines it refuses (digits, symbols, non-Latin letters) are left out and
    counted (`refused`), as are those over `max_length` pieces (`left_out`)."""

    def __init__(self, path: Path, tokenizer: Tokenizer, max_length: int) -> None:
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found; write the LM text first (python -m asr.data.prepare "
                "lm-text --out DIR --exclude DIR/dev.jsonl ...) or point data.train/valid at "
                "your own text, one sentence a line (read in transcript form)")
        lines = [normalize_transcript(line) for line in
                 path.read_text(encoding="utf-8").splitlines() if line.strip()]
        self.refused = sum(line is None for line in lines)
        encoded = [tokenizer.encode(line) + [EOS_ID] for line in lines if line]
        self.sequences = [s for s in encoded if len(s) <= max_length]
        self.left_out = len(encoded) - len(self.sequences)
        if not self.sequences:
            raise ValueError(f"{path}: no line of at most data.max_length={max_length} pieces")

    @property
    def tokens(self) -> int:
        return sum(len(s) for s in self.sequences)

    def batches(self, max_tokens: int, seed: int | None):
        for batch in token_batches([len(s) for s in self.sequences], max_tokens, seed):
            picked = [self.sequences[i] for i in batch]
            yield {"tokens_in": pad([[BOS_ID] + s[:-1] for s in picked]),
                   "tokens_out": pad(picked)}


def run_identity() -> dict:
    """What must match to resume a run: the text, the pieces and the model's shape."""
    keys = ("train", "valid", "tokenizer", "max_length")
    identity = {f"data.{key}": (lambda c, k=key: c.get("data", {}).get(k)) for key in keys}
    identity["model"] = lambda c: c.get("model")
    return identity


def train(config: LMTrainConfig, run_dir: Path) -> Path:
    """Train as `config` says into `run_dir`; returns the exported model directory."""
    return train_on_ranks(partial(_train, config), run_dir, resolve_device(config.device),
                          config.threads)


def _train(config: LMTrainConfig, run_dir: Path, device: torch.device, world: World) -> Path:
    d = config.data
    spm_path = Path(d.tokenizer)
    if not spm_path.is_file():
        raise FileNotFoundError(f"data.tokenizer={spm_path} not found; pass the ASR model's "
                                "sentencepiece model (e.g. models/asr-en/spm.model)")
    tokenizer = Tokenizer(spm_path)
    train_text = LMText(Path(d.train), tokenizer, d.max_length)
    valid_text = LMText(Path(d.valid), tokenizer, d.max_length)
    run_config = OmegaConf.to_container(OmegaConf.structured(config), resolve=True)
    torch.manual_seed(config.trainer.seed)
    model = PieceLM(config.model, tokenizer.vocab_size)
    run_config["initialised_from"] = start_from(model, run_dir, config.trainer.init_from,
                                                spm_path)
    world.on_main(lambda: check_resumable(run_dir, run_config, run_identity()))
    parameters = parameter_count(model)
    if world.is_main:
        print(f"asr-lm-train: {len(train_text.sequences)} training lines ({train_text.tokens} "
              f"pieces; {train_text.left_out} too long and {train_text.refused} with digits or "
              f"symbols left out), {len(valid_text.sequences)} "
              f"valid; {parameters:,} parameters, vocabulary {tokenizer.vocab_size}, device "
              f"{device}{describe_start(run_dir, run_config['initialised_from'])}",
              file=sys.stderr)
    seed = config.trainer.seed
    trainer = Trainer(model, config.trainer, run_dir, device, world)
    summary = trainer.fit(lambda epoch: train_text.batches(d.max_tokens, seed + epoch),
                          lambda: valid_text.batches(d.valid_max_tokens, None))
    if not world.is_main:
        return run_dir / MODEL_DIR  # written by rank 0
    model.load_state_dict(summary.averaged_state)
    averaged = evaluate(model, valid_text.batches(d.valid_max_tokens, None), device)
    p = summary.progress
    task = {"task": "language_model", "decoding": asdict(LMFusionOptions()), "training": {
        "steps": p.step, "epochs_started": p.epoch + 1, "stop_reason": summary.stop_reason,
        "averaged_steps": summary.averaged_steps, "parameters": parameters,
        "train_lines": len(train_text.sequences), "train_pieces": train_text.tokens,
        "seconds_this_run": round(summary.train_seconds, 1),
        "valid_nll_averaged": averaged.get("nll"), "valid_ppl_averaged": averaged.get("ppl"),
        "device": str(device), "initialised_from": run_config["initialised_from"]}}
    model_dir = save_model_dir(run_dir / MODEL_DIR, model, summary.averaged_state, spm_path,
                               task, run_config)
    print(f"asr-lm-train: {summary.stop_reason} at step {p.step}; averaged steps "
          f"{summary.averaged_steps}: valid nll {averaged.get('nll', float('nan')):.3f} "
          f"(ppl {averaged.get('ppl', float('nan')):.2f}); model directory {model_dir}",
          file=sys.stderr)
    return model_dir


def main() -> None:
    """The console script (see `asr.train.main` for torchrun)."""
    sys.argv += hydra_overrides()
    hydra_main()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="asr_lm_train")
def hydra_main(cfg: DictConfig) -> None:
    try:
        train(to_dataclass(cfg, LMTrainConfig), Path(HydraConfig.get().runtime.output_dir))
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"asr-lm-train: {error}")


if __name__ == "__main__":
    main()
