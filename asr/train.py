"""`asr-train`: train a Conformer CTC/attention recogniser (a Hydra app; conf/asr_train.yaml).

Writes into the run folder: checkpoints/, train_log.csv, run_config.yaml and, at the end,
model/ (the averaged weights as a self-contained model directory for `asr-transcribe`:
weights with the CMVN statistics, model.yaml, the sentencepiece model, the resolved config).
Rerun with the same run folder to resume; a different data/model/reuse setting there is an
error rather than a silent mix. Under `torchrun --nproc-per-node N asr-train ...` it trains
with DistributedDataParallel, each rank loading only its own batches; rank 0 alone writes the
run folder.
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
from torch.utils.data import DataLoader

from asr.augment import WaveformAugment, babble_bank
from asr.config import ASRTrainConfig, register
from asr.conformer import subsampled_lengths
from asr.data.manifest import ManifestError, Utterance, read_manifest
from asr.dataset import DurationBatchSampler, SpeechDataset, collate
from asr.features import GlobalCMVN
from asr.model import ASRModel
from echoformer.config_schema import to_dataclass
from echoformer.cpu_memory import keep_freed_memory
from echoformer.model_dir import current_model_keys, save_model_dir
from echoformer.parameters import parameter_count
from echoformer.paths import CONF_DIR
from echoformer.tokenizer import Tokenizer
from echoformer.training import Trainer
from echoformer.training.distributed import World, hydra_overrides, load_own, train_on_ranks
from echoformer.device import resolve_device
from echoformer.training.run_dir import check_resumable, describe_start, start_from
from echoformer.training.evaluation import evaluate

register()

MODEL_DIR = "model"
FRAMES_PER_SECOND = 100  # fbank frame shift 10 ms
def run_identity() -> dict:
    """What must match to resume a run: the data (manifests, tokenizer, CMVN, which
    utterances), model size and reuse; batch sizes, caching and workers may change."""
    data = ("dir", "train", "valid", "tokenizer", "cmvn", "max_duration", "max_utterances")
    identity = {f"data.{key}": (lambda c, k=key: c.get("data", {}).get(k)) for key in data}
    identity["model"] = lambda c: current_model_keys(c.get("model") or {})  # old names too
    identity["reuse"] = lambda c: c.get("reuse")
    return identity


def trainable(utterances: list[Utterance], tokenizer: Tokenizer, max_duration: float
              ) -> tuple[list[Utterance], int]:
    """Utterances not longer than `max_duration` whose tokens fit the encoder frames (CTC)."""
    kept = []
    for utt in utterances:
        frames = subsampled_lengths(torch.tensor(int(utt.duration * FRAMES_PER_SECOND) - 1))
        if utt.duration <= max_duration and len(tokenizer.encode(utt.text)) <= int(frames):
            kept.append(utt)
    return kept, len(utterances) - len(kept)


def training_augment(config: ASRTrainConfig, train_utts: list[Utterance]
                     ) -> WaveformAugment | None:
    """The acoustic augmentation of training reads; None for asr_augment=none (reads as
    they were)."""
    augment = config.augment
    if not augment.enabled:
        return None
    bank = (babble_bank([u.audio for u in train_utts], augment.babble.bank, config.trainer.seed)
            if augment.babble.p > 0 else [])
    return WaveformAugment(augment, config.trainer.seed, bank)


def _data_paths(config: ASRTrainConfig) -> tuple[Path, Path, Path, Path]:
    d = config.data
    data_dir = Path(d.dir)
    paths = (data_dir / d.train, data_dir / d.valid,
             Path(d.tokenizer) if d.tokenizer else data_dir / "tokenizer.model",
             Path(d.cmvn) if d.cmvn else data_dir / "cmvn.json")
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found; prepare the data first (recipes/synth_asr/run.sh --stage 1 "
                f"--stop-stage 2 --data-dir {data_dir}) or point data.* at your files")
    return paths


def train(config: ASRTrainConfig, run_dir: Path) -> Path:
    """Train as `config` says into `run_dir`; returns the exported model directory.
    Under torchrun: every rank calls this; rank 0's `run_dir` is the one used."""
    keep_freed_memory(default=False)  # varying speech batches fragment a kept heap
    return train_on_ranks(partial(_train, config), run_dir, resolve_device(config.device),
                          config.threads)


def _train(config: ASRTrainConfig, run_dir: Path, device: torch.device, world: World) -> Path:
    pattern = config.reuse.pattern_for(config.model.encoder_layers)
    train_path, valid_path, spm_path, cmvn_path = _data_paths(config)
    run_config = OmegaConf.to_container(OmegaConf.structured(config), resolve=True)
    tokenizer, cmvn = Tokenizer(spm_path), GlobalCMVN.load(cmvn_path)
    d = config.data
    train_utts = read_manifest(train_path)[: d.max_utterances]
    train_utts, dropped = trainable(train_utts, tokenizer, d.max_duration)
    valid_utts = read_manifest(valid_path)
    if not train_utts:
        raise ValueError(f"{train_path}: no utterance fits data.max_duration={d.max_duration}")
    torch.manual_seed(config.trainer.seed)
    model = ASRModel(config.model, tokenizer.vocab_size, pattern, cmvn)
    model.use_softmax(config.softmax)
    # A checkpoint of this run, when resuming, replaces these weights.
    run_config["initialised_from"] = start_from(model, run_dir, config.trainer.init_from,
                                                spm_path)
    world.on_main(lambda: check_resumable(run_dir, run_config, run_identity()))
    hours = sum(u.duration for u in train_utts) / 3600
    processes = f" × {world.size} processes" if world.is_distributed else ""
    start = describe_start(run_dir, run_config["initialised_from"])
    if world.is_main:
        print(f"asr-train: {len(train_utts)} training utterances ({hours:.2f} h; {dropped} too "
              f"long left out), {len(valid_utts)} valid; {parameter_count(model):,} "
              f"parameters, reuse pattern {pattern}, vocabulary {tokenizer.vocab_size}, device "
              f"{device}{processes}{start}", file=sys.stderr)
    train_set = SpeechDataset(train_utts, tokenizer, d.dither, d.cache_features,
                              d.speed_perturb, d.vtlp, training_augment(config, train_utts))
    valid_set = SpeechDataset(valid_utts, tokenizer, 0.0, d.cache_features)
    train_sampler = DurationBatchSampler(train_set.durations, d.max_batch_seconds,
                                         shuffle=True, seed=config.trainer.seed)
    valid_sampler = DurationBatchSampler(valid_set.durations, d.valid_max_batch_seconds,
                                         shuffle=False)

    def loader(dataset: SpeechDataset, batches, seed: int = 0) -> DataLoader:
        # Its own generator: drawing the workers' seed from the global one would shift the
        # training RNG (SpecAugment, dropout) whenever a loader starts, and a resumed run
        # starts one where an uninterrupted run does not.
        return DataLoader(dataset, batch_sampler=batches, collate_fn=collate,
                          num_workers=d.num_workers,
                          generator=torch.Generator().manual_seed(seed))

    def train_batches(epoch: int):
        train_sampler.set_epoch(epoch)
        train_set.set_epoch(epoch)  # before the loader starts (and forks) its workers
        seed = config.trainer.seed + epoch
        if not world.is_distributed:
            return loader(train_set, train_sampler, seed)
        return load_own(train_sampler, lambda mine: loader(train_set, mine, seed), world)

    def valid_batches():
        if not world.is_distributed:
            return loader(valid_set, valid_sampler)
        return load_own(valid_sampler, lambda mine: loader(valid_set, mine), world)

    trainer = Trainer(model, config.trainer, run_dir, device, world)
    summary = trainer.fit(train_batches, valid_batches)
    if not world.is_main:
        return run_dir / MODEL_DIR  # written by rank 0
    model.load_state_dict(summary.averaged_state)
    averaged_valid = evaluate(model, loader(valid_set, valid_sampler), device)
    p = summary.progress
    task = {
        "task": "speech_recognition", "sample_rate": 16000,
        "num_mel_bins": config.model.input_dim,
        "cmvn": f"in weights.pt (cmvn.mean, cmvn.std) from {cmvn.frames} frames",
        "longest_training_utterance_s": max(u.duration for u in train_utts),
        "decoding": asdict(config.decoding),
        "training": {
            "steps": p.step, "epochs_started": p.epoch + 1, "stop_reason": summary.stop_reason,
            "averaged_steps": summary.averaged_steps, "skipped_updates": p.skipped_updates,
            "parameters": parameter_count(model), "train_utterances": len(train_utts),
            "train_hours": round(hours, 3), "seconds_this_run": round(summary.train_seconds, 1),
            "valid_loss_averaged": averaged_valid.get("loss"),
            "valid_accuracy_averaged": averaged_valid.get("accuracy"), "device": str(device),
            "initialised_from": run_config["initialised_from"]}}
    model_dir = save_model_dir(run_dir / MODEL_DIR, model, summary.averaged_state, spm_path,
                               task, run_config)
    print(f"asr-train: {summary.stop_reason} at step {p.step}; averaged steps "
          f"{summary.averaged_steps}: valid loss {averaged_valid.get('loss', float('nan')):.3f} "
          f"(ctc {averaged_valid.get('loss_ctc', float('nan')):.3f}, decoder accuracy "
          f"{averaged_valid.get('accuracy', float('nan')):.3f}); model directory {model_dir}",
          file=sys.stderr)
    return model_dir


def main() -> None:
    """The console script: the Hydra app, told on ranks other than 0 (torchrun) to leave
    the run folder to rank 0."""
    sys.argv += hydra_overrides()
    hydra_main()


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="asr_train")
def hydra_main(cfg: DictConfig) -> None:
    try:
        config = to_dataclass(cfg, ASRTrainConfig)
        train(config, Path(HydraConfig.get().runtime.output_dir))
    except (FileNotFoundError, ValueError, ManifestError) as error:
        sys.exit(f"asr-train: {error}")


if __name__ == "__main__":
    main()
