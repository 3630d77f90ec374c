"""Model directories (echoformer.model_dir): self-contained, relocatable, checked on load."""

import shutil

import pytest
import torch
import yaml

from echoformer.model_dir import (META_FILE, WEIGHTS_FILE, ModelDirError, file_sha256,
                                  initialise_from, load_model_dir)
from echoformer.shipped import export_half
from echoformer.svd_cache import CACHE_FILE, cached_svd_factors
from nmt.model import TransformerNMT
from tiny_nmt import TINY, random_model_dir, write_tiny_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_tiny_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture
def model_dir(tmp_path, corpus):
    return random_model_dir(tmp_path / "model", corpus, reuse_pattern=[2, 2])


def test_a_model_directory_holds_config_weights_and_tokenizer(model_dir):
    assert {p.name for p in model_dir.iterdir()} == {"model.yaml", "weights.pt", "spm.model"}
    meta = yaml.safe_load((model_dir / META_FILE).read_text())
    assert meta["format_version"] == 1 and meta["model_type"] == "transformer_nmt"
    assert meta["architecture"]["reuse_pattern"] == [2, 2]
    assert torch.load(model_dir / WEIGHTS_FILE, weights_only=True)


def test_a_moved_model_directory_loads_the_same_model(model_dir, tmp_path):
    moved = shutil.move(model_dir, tmp_path / "elsewhere" / "renamed")
    loaded = load_model_dir(moved)
    assert loaded.tokenizer.decode(loaded.tokenizer.encode("The cat sleeps.")) == "The cat sleeps."
    assert not loaded.model.training
    assert loaded.task["target_lang"] == "de"


def test_a_wrong_format_version_is_refused_with_a_clear_message(model_dir):
    meta_path = model_dir / META_FILE
    meta = yaml.safe_load(meta_path.read_text())
    meta["format_version"] = 99
    meta_path.write_text(yaml.safe_dump(meta))
    with pytest.raises(ModelDirError, match="format_version 99, but this echoformer reads "):
        load_model_dir(model_dir)


def test_an_unknown_model_type_is_refused_not_imported(model_dir):
    meta_path = model_dir / META_FILE
    meta = yaml.safe_load(meta_path.read_text())
    meta["model_type"] = "os.system"
    meta_path.write_text(yaml.safe_dump(meta))
    with pytest.raises(ModelDirError, match="model_type 'os.system' is unknown"):
        load_model_dir(model_dir)


def test_damaged_weights_are_detected(model_dir):
    weights = model_dir / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelDirError, match="does not match the checksum"):
        load_model_dir(model_dir)


def test_a_folder_that_is_no_model_directory_is_named_in_the_error(tmp_path):
    with pytest.raises(ModelDirError, match=f"{tmp_path} is not a model directory"):
        load_model_dir(tmp_path)


def test_svd_factors_are_computed_once_and_then_read_from_the_cache(model_dir):
    loaded = load_model_dir(model_dir)
    linear = loaded.model.output.linear
    sha = loaded.meta["weights_sha256"]
    first = cached_svd_factors(linear, 4, model_dir, sha)
    stamp = (model_dir / CACHE_FILE).stat().st_mtime_ns
    second = cached_svd_factors(linear, 8, model_dir, sha)  # another window, same file
    assert (model_dir / CACHE_FILE).stat().st_mtime_ns == stamp
    torch.testing.assert_close(torch.cat([second.head, second.tail], 1),
                               torch.cat([first.head, first.tail], 1))
    assert second.head.shape[1] == 8
    torch.load(model_dir / CACHE_FILE, weights_only=True)


def test_svd_cache_of_other_weights_is_not_used(model_dir):
    loaded = load_model_dir(model_dir)
    linear = loaded.model.output.linear
    cached_svd_factors(linear, 4, model_dir, "old-weights")
    with torch.no_grad():
        linear.weight.mul_(2)
    fresh = cached_svd_factors(linear, 4, model_dir, "new-weights")
    reconstructed = torch.cat([fresh.head, fresh.tail], 1) @ fresh.rotation.T
    torch.testing.assert_close(reconstructed, linear.weight, atol=1e-4, rtol=0)


class _RunsCode:
    """A pickle that would create a file when unpickled (as an attacker's code would run)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_weights_that_would_run_code_are_refused_and_nothing_runs(model_dir, tmp_path):
    marker = tmp_path / "code_ran"
    weights = model_dir / WEIGHTS_FILE
    torch.save({"embedding.weight": _RunsCode(marker)}, weights)
    meta_path = model_dir / META_FILE  # an attacker can also update the checksum
    meta = yaml.safe_load(meta_path.read_text())
    meta["weights_sha256"] = file_sha256(weights)
    meta_path.write_text(yaml.safe_dump(meta))
    with pytest.raises(ModelDirError, match="was refused: it holds more than tensors"):
        load_model_dir(model_dir)
    assert not marker.exists()


def test_a_new_run_starts_from_a_half_precision_copy_of_a_model(model_dir, corpus, tmp_path):
    trained = load_model_dir(model_dir).model
    copy = tmp_path / "half"
    export_half(model_dir, copy)  # as a shipped model is made
    torch.manual_seed(5)
    fresh = TransformerNMT(TINY, trained.vocab_size, [2, 2])
    meta = initialise_from(fresh, copy, corpus / "spm.model")
    assert meta["model_type"] == "transformer_nmt"
    for name, value in fresh.state_dict().items():
        assert value.dtype == trained.state_dict()[name].dtype  # stays float32
        torch.testing.assert_close(value, trained.state_dict()[name], atol=2e-3, rtol=1e-3)


def test_starting_from_a_model_of_another_shape_or_tokenizer_is_refused(model_dir, corpus):
    vocab = load_model_dir(model_dir).model.vocab_size
    no_reuse = TransformerNMT(TINY, vocab, None)
    with pytest.raises(ModelDirError, match="weights.pt does not fit this run's model"):
        initialise_from(no_reuse, model_dir, corpus / "spm.model")
    with pytest.raises(ModelDirError, match="spm.model differs from this run's sentencepiece"):
        initialise_from(TransformerNMT(TINY, vocab, [2, 2]), model_dir, corpus / "train.en")
