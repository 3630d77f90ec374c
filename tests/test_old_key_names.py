"""Model directories and runs written before the ASR and NMT model configs shared key names
(ASR n_heads/num_layers, NMT ff_dim) still load and resume: echoformer.model_dir's
RENAMED_MODEL_KEYS is read in one place."""

from dataclasses import asdict

import pytest
import torch
import yaml

from asr.train import run_identity as asr_run_identity
from asr_fixtures import TINY as ASR_TINY
from asr_fixtures import untrained_model_dir
from echoformer.model_dir import META_FILE, ModelDirError, current_model_keys, load_model_dir
from nmt.train import run_identity as nmt_run_identity
from tiny_nmt import TINY as NMT_TINY
from tiny_nmt import random_model_dir, write_tiny_corpus

ASR_OLD_NAMES = {"heads": "n_heads", "encoder_layers": "num_layers"}
NMT_OLD_NAMES = {"ffn_dim": "ff_dim"}


def with_old_names(model: dict, old_names: dict) -> dict:
    return {old_names.get(key, key): value for key, value in model.items()}


def write_old_names(model_dir, old_names: dict) -> None:
    meta = yaml.safe_load((model_dir / META_FILE).read_text())
    meta["architecture"]["model"] = with_old_names(meta["architecture"]["model"], old_names)
    (model_dir / META_FILE).write_text(yaml.safe_dump(meta, sort_keys=False))


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                  b.state_dict().values()))


def test_an_asr_model_directory_with_the_old_names_loads_the_same_model(tmp_path):
    model_dir = untrained_model_dir(tmp_path)
    new = load_model_dir(model_dir).model
    write_old_names(model_dir, ASR_OLD_NAMES)
    assert "n_heads" in (model_dir / META_FILE).read_text()
    old = load_model_dir(model_dir).model
    assert old.config == new.config and same_weights(old, new)


def test_an_nmt_model_directory_with_the_old_names_loads_the_same_model(tmp_path):
    model_dir = random_model_dir(tmp_path / "model", write_tiny_corpus(tmp_path / "corpus"))
    new = load_model_dir(model_dir).model
    write_old_names(model_dir, NMT_OLD_NAMES)
    assert "ff_dim" in (model_dir / META_FILE).read_text()
    old = load_model_dir(model_dir).model
    assert old.config == new.config and same_weights(old, new)


@pytest.mark.parametrize("identity, model, old_names", [
    (asr_run_identity(), asdict(ASR_TINY), ASR_OLD_NAMES),
    (nmt_run_identity(), asdict(NMT_TINY), NMT_OLD_NAMES)], ids=["asr", "nmt"])
def test_a_run_recorded_with_the_old_names_resumes_as_the_same_model(identity, model,
                                                                      old_names):
    recorded = {"model": with_old_names(model, old_names)}
    assert recorded != {"model": model}
    assert identity["model"](recorded) == identity["model"]({"model": model})


def test_an_old_and_a_new_name_together_are_refused():
    with pytest.raises(ModelDirError, match="both 'ff_dim' and 'ffn_dim'"):
        current_model_keys({"ffn_dim": 64, "ff_dim": 64})
