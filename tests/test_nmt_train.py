"""`nmt-train` (nmt.train): config composition, a tiny end-to-end run, resume, the commands."""

import csv
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

from echoformer.config_schema import to_dataclass
from echoformer.paths import CONF_DIR
from echoformer.reuse import ReusePatternError
from nmt.config import DataConfig, EvalBleuConfig, NMTTrainConfig
from nmt.data.dataset import SampledPairs
from nmt.score import corpus_scores
from nmt.train import train, warn_of_asr_copies_as_targets
from nmt.translate import Translator
from tiny_nmt import TINY, write_tiny_corpus

BIN = Path(sys.executable).parent


def composed(*overrides: str) -> NMTTrainConfig:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return to_dataclass(compose("nmt_train", overrides=list(overrides)), NMTTrainConfig)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_tiny_corpus(tmp_path_factory.mktemp("corpus"))


def tiny_config(corpus: Path, max_steps: int = 300, **model) -> NMTTrainConfig:
    config = NMTTrainConfig()
    config.data.dir, config.data.max_tokens, config.device = str(corpus), 400, "cpu"
    config.model = dataclasses.replace(TINY, max_length=32, **model)
    config.trainer = dataclasses.replace(
        config.trainer, lr=3e-3, warmup_steps=20, max_steps=max_steps, valid_every=100,
        save_every=100, average_last=2, log_every=20, progress=False)
    return config


def test_model_size_and_reuse_pattern_are_config_groups():
    config = composed("nmt_model=base", "reuse=g4", "softmax=svd", "data.src_lang=de",
                      "data.tgt_lang=en")
    assert (config.model.d_model, config.model.encoder_layers) == (256, 6)
    assert config.reuse.pattern_for(config.model.encoder_layers) == [2, 4]
    assert config.softmax.kind == "svd"
    assert (config.data.src_lang, config.data.tgt_lang) == ("de", "en")
    tiny = composed("reuse=g2")
    assert tiny.reuse.pattern_for(tiny.model.encoder_layers) == [2, 2]


def test_an_unknown_config_key_is_an_error():
    with pytest.raises(ConfigCompositionException, match="d_modle"):
        composed("model.d_modle=64")
    with pytest.raises(ValueError, match="unknown config key.*model.d_modle"):
        composed("+model.d_modle=64")


def test_bad_eval_bleu_settings_are_clear_errors():
    with pytest.raises(ValueError, match="eval_bleu.beam_size=0: must be ≥ 1"):
        EvalBleuConfig(beam_size=0)
    with pytest.raises(ValueError, match="eval_bleu.sentences=-1"):
        EvalBleuConfig(sentences=-1)


def test_choosing_checkpoints_by_bleu_without_validation_bleu_is_a_clear_error(corpus, tmp_path):
    config = tiny_config(corpus, max_steps=1)
    config.trainer.best_metric = "bleu"
    with pytest.raises(ValueError, match="best_metric=bleu needs validation BLEU"):
        train(config, tmp_path / "run")


def test_a_reuse_pattern_that_does_not_fit_the_encoder_is_a_clear_error():
    config = composed("reuse.pattern=[2,1]")
    with pytest.raises(ReusePatternError, match="covers 3 layers but the encoder has 4"):
        config.reuse.pattern_for(config.model.encoder_layers)


def test_a_tiny_model_learns_to_translate_and_a_rerun_continues_it(corpus, tmp_path):
    config = tiny_config(corpus)
    config.eval_bleu.sentences = 8  # validation BLEU / chrF, logged beside the loss
    model_dir = train(config, tmp_path / "run")
    with open(tmp_path / "run" / "train_log.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    train_rows = [row for row in rows if row["split"] == "train"]
    valid = [row for row in rows if row["split"] == "valid"]
    assert float(train_rows[-1]["nll"]) < 0.3 * float(train_rows[0]["nll"])
    assert [int(row["step"]) for row in valid] == [100, 200, 300]
    assert all(row["bleu"] and row["chrf"] for row in valid)
    assert float(valid[-1]["chrf"]) > float(valid[0]["chrf"])
    sources = (corpus / "test.en").read_text(encoding="utf-8").splitlines()
    references = (corpus / "test.de").read_text(encoding="utf-8").splitlines()
    hypotheses = [t.text for t in Translator(model_dir).translate(sources)]
    assert corpus_scores(hypotheses, references).chrf > 60

    train(tiny_config(corpus, max_steps=340), tmp_path / "run")
    with open(tmp_path / "run" / "train_log.csv", newline="") as stream:
        steps = [int(row["step"]) for row in csv.DictReader(stream) if row["split"] == "train"]
    assert steps[-3:] == [300, 320, 340]


def _train_nll(run_dir: Path) -> list[float]:
    with open(run_dir / "train_log.csv", newline="") as stream:
        return [float(row["nll"]) for row in csv.DictReader(stream) if row["split"] == "train"]


def test_a_new_run_can_start_from_a_trained_model_directory(corpus, tmp_path):
    first = train(tiny_config(corpus, max_steps=40), tmp_path / "first")
    config = tiny_config(corpus, max_steps=10)
    config.trainer.init_from = str(first)
    second = train(config, tmp_path / "second")
    before, after = _train_nll(tmp_path / "first"), _train_nll(tmp_path / "second")
    # Its first update already has the trained weights (same seed, so the same first batch).
    assert after[0] < 0.7 * before[0] and after[0] < 1.2 * before[-1]
    meta = yaml.safe_load((second / "model.yaml").read_text())
    first_sha = yaml.safe_load((first / "model.yaml").read_text())["weights_sha256"]
    assert meta["task"]["training"]["initialised_from"] == {"path": str(first),
                                                            "weights_sha256": first_sha}
    assert meta["task"]["training"]["steps"] == 10


def test_a_run_folder_refuses_a_different_model(corpus, tmp_path):
    train(tiny_config(corpus, max_steps=2), tmp_path / "run")
    with pytest.raises(ValueError, match="different model"):
        train(tiny_config(corpus, max_steps=2, d_model=48), tmp_path / "run")


def test_the_recipe_commands_train_translate_and_score(corpus, tmp_path):
    run_dir = tmp_path / "run"
    subprocess.run([BIN / "nmt-train", f"data.dir={corpus}", "data.max_tokens=400",
                    "trainer.max_steps=30", "trainer.warmup_steps=10", "trainer.lr=3e-3",
                    "trainer.progress=false", "threads=1", "reuse=g2", f"hydra.run.dir={run_dir}"],
                   check=True, capture_output=True)
    hypotheses = tmp_path / "test.hyp.de"
    with open(hypotheses, "w") as out:
        subprocess.run([BIN / "nmt-translate", "--model", run_dir / "model", "--threads", "1",
                        "--beam-size", "2", corpus / "test.en"], check=True, stdout=out,
                       stderr=subprocess.PIPE)
    assert len(hypotheses.read_text().splitlines()) == 12
    scored = subprocess.run([sys.executable, "-m", "nmt.score", "--hyp", hypotheses,
                             "--ref", corpus / "test.de"], check=True, capture_output=True,
                            text=True)
    assert "BLEU = " in scored.stdout and "nrefs:1" in scored.stdout


def test_nmt_train_reports_a_bad_override_without_a_traceback(tmp_path):
    result = subprocess.run([BIN / "nmt-train", "trainer.accumulate=0",
                             f"hydra.run.dir={tmp_path}"], capture_output=True, text=True)
    assert result.returncode != 0
    assert "trainer.accumulate=0: must be ≥ 1" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("src, tgt, warned", [("de", "en", True), ("en", "de", False)])
def test_asr_style_english_copies_as_targets_are_warned_of(tmp_path, capsys, src, tgt, warned):
    (tmp_path / "stats.json").write_text('{"langs": ["en", "de"], "asr_copies_in_train": 7}')
    warn_of_asr_copies_as_targets(DataConfig(dir=str(tmp_path), src_lang=src, tgt_lang=tgt))
    err = capsys.readouterr().err
    assert ("7 ASR-style copies" in err and "--no-asr-copies" in err) is warned
    assert bool(err) is warned


def test_subword_sampling_segments_the_training_pairs_anew_each_epoch(corpus, tmp_path,
                                                                    monkeypatch):
    seeds = []
    segmented = SampledPairs.segmented
    monkeypatch.setattr(SampledPairs, "segmented",
                        lambda self, seed: seeds.append(seed) or segmented(self, seed))
    config = tiny_config(corpus, max_steps=60)
    config.data.subword_alpha = 0.3
    train(config, tmp_path / "run")
    with open(tmp_path / "run" / "train_log.csv", newline="") as stream:
        rows = [row for row in csv.DictReader(stream) if row["split"] == "train"]
    assert float(rows[-1]["nll"]) < 0.7 * float(rows[0]["nll"])
    epochs = int(rows[-1]["epoch"]) + 1
    assert epochs > 1 and seeds == [config.trainer.seed + epoch for epoch in range(epochs)]
