"""Shipped models whose vocabulary matrices are stored in int8 rows (--int8-embedding)."""

from __future__ import annotations

import pytest
import torch
import yaml

from echoformer import shipped
from echoformer.model_dir import ModelDirError, file_sha256, load_model_dir
from nmt.translate import Translator
from tiny_nmt import random_model_dir, write_tiny_corpus


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("int8")
    return random_model_dir(folder / "model", write_tiny_corpus(folder / "corpus"))


def test_int8_embedding_is_stored_once_and_loads_close_to_the_half_copy(model_dir, tmp_path):
    half = shipped.export_half(model_dir, tmp_path / "half")
    small = shipped.export_half(model_dir, tmp_path / "int8", int8_embedding=True)
    weights = torch.load(tmp_path / "int8" / "weights.pt", weights_only=True)
    meta = yaml.safe_load((tmp_path / "int8" / "model.yaml").read_text())
    assert set(meta["int8_rows"]) == {"embedding.weight", "decoder.embedding.weight",
                                      "output.linear.weight"}
    assert weights["embedding.weight"].dtype == torch.int8
    assert weights["embedding.weight"].data_ptr() == weights["output.linear.weight"].data_ptr()
    assert small["bytes"] < half["bytes"]
    assert small["parameters"] == half["parameters"]
    original = load_model_dir(model_dir).model.state_dict()
    loaded = load_model_dir(tmp_path / "int8").model.state_dict()
    rows = original["embedding.weight"]
    error = (loaded["embedding.weight"] - rows).abs().amax(dim=1)
    assert torch.all(error <= rows.abs().amax(dim=1) / 127 * 0.51 + 1e-3)
    assert torch.equal(loaded["embedding.weight"], loaded["output.linear.weight"])
    lines = ["The cat sleeps.", "The dog eats at home.", ""]
    assert len(Translator(tmp_path / "int8").translate(lines)) == 3


def test_a_missing_scale_is_a_clear_error(model_dir, tmp_path):
    shipped.export_half(model_dir, tmp_path / "int8", int8_embedding=True)
    weights = torch.load(tmp_path / "int8" / "weights.pt", weights_only=True)
    del weights["output.linear.weight::scale"]
    torch.save(weights, tmp_path / "int8" / "weights.pt")
    meta_path = tmp_path / "int8" / "model.yaml"
    meta = yaml.safe_load(meta_path.read_text())
    meta["weights_sha256"] = file_sha256(tmp_path / "int8" / "weights.pt")
    meta_path.write_text(yaml.safe_dump(meta, sort_keys=False))
    with pytest.raises(ModelDirError, match="output.linear.weight::scale"):
        load_model_dir(tmp_path / "int8")


def test_the_cli_flag_reports_the_smaller_size(model_dir, tmp_path, capsys):
    assert shipped.main(["export", str(model_dir), str(tmp_path / "c"), "--int8-embedding"]) == 0
    assert "MB" in capsys.readouterr().out
