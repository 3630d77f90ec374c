"""`nmt-train`: train a Transformer translation model (a Hydra app; see conf/nmt_train.yaml).

Writes into the run folder: checkpoints/, train_log.csv, run_config.yaml and, at the end,
model/ (the averaged weights as a self-contained model directory for `nmt-translate`).
Rerun with the same run folder to resume; a different data/model/reuse setting there is an
error rather than a silent mix. Under `torchrun --nproc-per-node N nmt-train ...` it trains
with DistributedDataParallel; rank 0 alone writes the run folder.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from torch import nn

from echoformer.config_schema import to_dataclass
from echoformer.cpu_memory import keep_freed_memory
from echoformer.model_dir import current_model_keys, file_sha256, save_model_dir
from echoformer.parameters import parameter_count
from echoformer.paths import CONF_DIR
from echoformer.tokenizer import Tokenizer
from echoformer.training import Trainer, TrainingSummary
from echoformer.training.distributed import World, hydra_overrides, train_on_ranks
from echoformer.device import resolve_device
from echoformer.training.run_dir import check_resumable, describe_start, start_from
from echoformer.training.evaluation import evaluate
from nmt.config import DataConfig, NMTTrainConfig, register
from nmt.data.dataset import SampledPairs, TokenizedPairs
from nmt.data.local import read_lines
from nmt.data.prepare import asr_copies_in_train
from nmt.model import TransformerNMT
from nmt.score import corpus_scores
from nmt.translate import translate_lines

register()

MODEL_DIR = "model"


def run_identity() -> dict[str, Callable[[dict], Any]]:
    """What must match to resume a run: data, direction, tokenizer, model size and reuse;
    trainer settings and batch sizes may change."""
    data = ("dir", "src_lang", "tgt_lang", "spm")
    identity = {f"data.{key}": (lambda c, k=key: c.get("data", {}).get(k)) for key in data}
    identity["model"] = lambda c: current_model_keys(c.get("model") or {})  # old names too
    identity.update({key: (lambda c, k=key: c.get(k)) for key in ("reuse", "tokenizer_sha256")})
    return identity


def train(config: NMTTrainConfig, run_dir: Path) -> Path:
    """Train as `config` says into `run_dir`; returns the exported model directory.
    Under torchrun: every rank calls this; rank 0's `run_dir` is the one used."""
    return train_on_ranks(partial(_train, config), run_dir, resolve_device(config.device),
                          config.threads)


def _train(config: NMTTrainConfig, run_dir: Path, device: torch.device, world: World) -> Path:
    d = config.data
    spm_path = Path(d.spm) if d.spm else Path(d.dir) / "spm.model"
    tokenizer = Tokenizer(spm_path)
    train_pairs, valid_pairs = (
        TokenizedPairs.load(Path(d.dir), split, d.src_lang, d.tgt_lang, tokenizer,
                            config.model.max_length) for split in ("train", "valid"))
    training_batches = train_pairs.batches
    if d.subword_alpha:
        training_batches = SampledPairs.load(Path(d.dir), "train", d.src_lang, d.tgt_lang,
                                             tokenizer, config.model.max_length,
                                             d.subword_alpha).batches
    pattern = config.reuse.pattern_for(config.model.encoder_layers)
    torch.manual_seed(config.trainer.seed)
    model = TransformerNMT(config.model, tokenizer.vocab_size, pattern, config.softmax)
    run_config = OmegaConf.to_container(OmegaConf.structured(config), resolve=True)
    run_config["tokenizer_sha256"] = file_sha256(spm_path)
    # A checkpoint of this run, when resuming, replaces these weights.
    run_config["initialised_from"] = start_from(model, run_dir, config.trainer.init_from,
                                                spm_path)
    processes = f" × {world.size} processes" if world.is_distributed else ""
    start = describe_start(run_dir, run_config["initialised_from"])
    sampling = (f"; training pairs segmented anew each epoch (subword_alpha {d.subword_alpha})"
                if d.subword_alpha else "")
    if world.is_main:
        print(f"nmt-train: {d.src_lang}->{d.tgt_lang}, {len(train_pairs)} training pairs "
              f"({train_pairs.left_out} too long or empty, left out), {len(valid_pairs)} "
              f"valid; {parameter_count(model):,} parameters, reuse pattern {pattern}, device "
              f"{device}{processes}{start}{sampling}", file=sys.stderr)
        warn_of_asr_copies_as_targets(d)
    # Only now: a run that failed to start leaves nothing behind.
    world.on_main(lambda: check_resumable(run_dir, run_config, run_identity()))
    seed = config.trainer.seed
    summary = Trainer(model, config.trainer, run_dir, device, world).fit(
        lambda epoch: training_batches(d.max_tokens, seed + epoch),
        lambda: valid_pairs.batches(d.valid_max_tokens, None),
        valid_bleu(config, tokenizer, device))
    if not world.is_main:
        return run_dir / MODEL_DIR  # written by rank 0
    model.load_state_dict(summary.averaged_state)
    averaged_valid = evaluate(model, valid_pairs.batches(d.valid_max_tokens, None), device)
    facts = {"train_pairs": len(train_pairs), "device": str(device),
             "initialised_from": run_config["initialised_from"],
             "valid_nll_averaged": averaged_valid.get("nll")}
    model_dir = save_model_dir(run_dir / MODEL_DIR, model, summary.averaged_state, spm_path,
                               task_info(config, model, summary, facts), run_config)
    print(f"nmt-train: {summary.stop_reason} at step {summary.progress.step}; averaged steps "
          f"{summary.averaged_steps}: valid nll {averaged_valid.get('nll', float('nan')):.3f} "
          f"(ppl {averaged_valid.get('ppl', float('nan')):.2f}); model directory {model_dir}",
          file=sys.stderr)
    return model_dir


def valid_bleu(config: NMTTrainConfig, tokenizer: Tokenizer, device: torch.device
               ) -> Callable[[nn.Module], dict[str, float]] | None:
    """`eval_bleu`: the validation figures `bleu` and `chrf` of the model's translations of
    the first `eval_bleu.sentences` validation pairs; None when off."""
    e, d = config.eval_bleu, config.data
    if not e.sentences:
        if config.trainer.best_metric in ("bleu", "chrf"):
            raise ValueError(f"trainer.best_metric={config.trainer.best_metric} needs "
                             "validation BLEU: set eval_bleu.sentences (e.g. 500)")
        return None
    sources = read_lines(Path(d.dir) / f"valid.{d.src_lang}")[: e.sentences]
    references = read_lines(Path(d.dir) / f"valid.{d.tgt_lang}")[: e.sentences]
    options = dataclasses.replace(config.decoding, beam_size=e.beam_size, nbest=1, max_length=min(
        config.decoding.max_length, config.model.max_length))

    def metrics(model: nn.Module) -> dict[str, float]:
        model.eval()
        with torch.no_grad():  # not inference_mode: the model trains on afterwards
            hypotheses = [t.text for t in translate_lines(model, tokenizer, options, sources,
                                                          e.batch_size, device)]
        scores = corpus_scores(hypotheses, references)
        return {"bleu": scores.bleu, "chrf": scores.chrf}

    return metrics


def warn_of_asr_copies_as_targets(data: DataConfig) -> None:
    """A warning on stderr when English is the target and train holds ASR-style English copies
    (lower case, no punctuation: made for an English source)."""
    copies = asr_copies_in_train(Path(data.dir)) if data.tgt_lang == "en" else 0
    if copies:
        print(f"nmt-train: warning: {data.dir}/train.en holds {copies} ASR-style copies of English "
              f"sentences (lower case, no punctuation); as targets ({data.src_lang}->en) they teach "
              "the model to drop case and punctuation. Prepare the corpus with --no-asr-copies "
              "(recipes/ding_nmt/run.sh --no-asr-copies).", file=sys.stderr)


def task_info(config: NMTTrainConfig, model: TransformerNMT, summary: TrainingSummary,
              facts: dict[str, Any]) -> dict[str, Any]:
    """The model directory's task section: direction, decoding defaults, training facts."""
    decoding = dataclasses.replace(  # never longer than the model was trained for
        config.decoding, max_length=min(config.decoding.max_length, config.model.max_length))
    p = summary.progress
    return {
        "task": "translation", "source_lang": config.data.src_lang,
        "target_lang": config.data.tgt_lang, "decoding": asdict(decoding),
        "training": {
            "steps": p.step, "epochs_started": p.epoch + 1, "stop_reason": summary.stop_reason,
            "averaged_steps": summary.averaged_steps, "skipped_updates": p.skipped_updates,
            "parameters": parameter_count(model),
            "seconds_this_run": round(summary.train_seconds, 1),
            "valid_nll_last": summary.last_valid.get("nll"), **facts}}


def main() -> None:
    """The console script: the Hydra app, told on ranks other than 0 (torchrun) to leave
    the run folder to rank 0."""
    sys.argv += hydra_overrides()
    hydra_main()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="nmt_train")
def hydra_main(cfg: DictConfig) -> None:
    keep_freed_memory()
    try:
        config = to_dataclass(cfg, NMTTrainConfig)
        train(config, Path(HydraConfig.get().runtime.output_dir))
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"nmt-train: {error}")


if __name__ == "__main__":
    main()
