"""Shipped models: half-precision export, size limit, default --model resolution."""

from __future__ import annotations

import pytest
import torch

import asr.lm  # noqa: F401  (registers piece_lm for the shipped asr-en-lm)
import asr.model  # noqa: F401  (registers conformer_asr for the shipped asr-en)
from echoformer import shipped
from echoformer.model_dir import ModelDirError, load_model_dir
from echoformer.output_layer import requested_softmax, stored_softmax
from nmt.translate import Translator
from tiny_nmt import random_model_dir, write_tiny_corpus


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shipped")
    return random_model_dir(folder / "model", write_tiny_corpus(folder / "corpus"))


def test_half_export_loads_and_translates_alike(model_dir, tmp_path):
    target = tmp_path / "nmt-en-de"
    summary = shipped.export_half(model_dir, target)
    weights = torch.load(target / "weights.pt", weights_only=True)
    assert all(t.dtype == torch.float16 for t in weights.values() if t.is_floating_point())
    # Half the bytes, tied embeddings stored once.
    assert (target / "weights.pt").stat().st_size < 0.6 * (model_dir / "weights.pt").stat().st_size
    assert summary["parameters"] > 0
    original, half = load_model_dir(model_dir), load_model_dir(target)
    for name, tensor in original.model.state_dict().items():
        assert torch.allclose(tensor, half.model.state_dict()[name], atol=1e-3, rtol=1e-3), name
    lines = ["the cat sleeps", "a dog runs", ""]
    assert [t.text for t in Translator(target).translate(lines)] == \
        [t.text for t in Translator(model_dir).translate(lines)]


def test_export_refuses_a_model_over_the_limit(model_dir, tmp_path):
    with pytest.raises(ModelDirError, match="smaller model"):
        shipped.export_half(model_dir, tmp_path / "big", limit=1000)
    assert not (tmp_path / "big").exists()


def test_export_sets_decoding_defaults_from_the_command_line(model_dir, tmp_path, capsys):
    target = tmp_path / "beam7"
    assert shipped.main(["export", str(model_dir), str(target),
                         "--decoding", "beam_size=7", "--decoding", "length_penalty=2"]) == 0
    decoding = load_model_dir(target).meta["task"]["decoding"]
    assert decoding["beam_size"] == 7 and decoding["length_penalty"] == 2.0
    assert load_model_dir(model_dir).meta["task"]["decoding"]["beam_size"] != 7
    # An unknown key, a value of the wrong type or one the decoding options refuse: one
    # message, nothing written.
    for bad in ("method=joint_beam", "beam_size=wide", "beam_size=0"):
        assert shipped.main(["export", str(model_dir), str(tmp_path / "bad"),
                             "--decoding", bad]) == 1
        assert bad.split("=")[0] in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_export_sets_a_decoding_option_added_after_the_model_was_written(model_dir, tmp_path,
                                                                         capsys):
    import shutil

    import yaml

    older = tmp_path / "older"
    shutil.copytree(model_dir, older)
    meta = yaml.safe_load((older / "model.yaml").read_text())
    del meta["task"]["decoding"]["length_penalty"]  # as if written before the option existed
    (older / "model.yaml").write_text(yaml.safe_dump(meta))
    assert shipped.main(["export", str(older), str(tmp_path / "new"),
                         "--decoding", "length_penalty=0.5"]) == 0
    assert load_model_dir(tmp_path / "new").meta["task"]["decoding"]["length_penalty"] == 0.5
    assert shipped.main(["export", str(older), str(tmp_path / "bad"),
                         "--decoding", "length_penalty=long"]) == 1
    assert "expected a float" in capsys.readouterr().err


def test_export_sets_the_svd_softmax_window_and_candidates(model_dir, tmp_path, capsys):
    target = tmp_path / "w3"  # W=3, N=20: not the defaults D/8, V/16 of the tiny model
    assert shipped.main(["export", str(model_dir), str(target), "--svd-window", "3",
                         "--svd-candidates", "20"]) == 0
    meta = load_model_dir(target).meta
    assert meta["architecture"]["softmax"] == {**load_model_dir(model_dir).meta["architecture"]
                                               ["softmax"], "window": 3, "candidates": 20}
    # --softmax svd alone takes the copy's W and N.
    svd = requested_softmax("svd", None, None, stored_softmax(meta))
    layer = Translator(target, softmax=svd).model.output.svd
    assert (layer.window, layer.candidates) == (3, 20)
    d_model = meta["architecture"]["model"]["d_model"]
    for flag, bad in (("--svd-window", d_model + 1), ("--svd-window", 0),
                      ("--svd-candidates", meta["architecture"]["vocab_size"] + 1)):
        assert shipped.main(["export", str(model_dir), str(tmp_path / "bad"), flag,
                             str(bad)]) == 1
        assert f"{flag} {bad}: must be in" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_export_refuses_an_asr_decoding_method_that_does_not_exist(tmp_path, capsys):
    source = shipped.SHIPPED["asr"]
    if not (source / "model.yaml").is_file():
        pytest.skip(f"{source} not shipped yet")
    assert shipped.main(["export", str(source), str(tmp_path / "asr"),
                         "--decoding", "method=joint-beam"]) == 1
    assert "unknown decoding method 'joint-beam'" in capsys.readouterr().err
    assert not (tmp_path / "asr").exists()


def test_missing_shipped_model_says_pass_model(tmp_path, monkeypatch):
    monkeypatch.setitem(shipped.SHIPPED, "nmt", tmp_path / "absent")
    with pytest.raises(ModelDirError, match="pass --model"):
        shipped.default_model("nmt")


@pytest.mark.parametrize("task", sorted(shipped.SHIPPED))
def test_shipped_models_fit_and_load(task):
    path = shipped.SHIPPED[task]
    if not (path / "model.yaml").is_file():
        pytest.skip(f"{path} not shipped yet")
    assert shipped.shipped_bytes(path) <= shipped.MAX_SHIPPED_BYTES
    load_model_dir(path)
