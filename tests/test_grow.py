"""`python -m asr.grow`: a deeper Conformer started from a shallower one's weights."""

from __future__ import annotations

import pytest
import torch

from asr.grow import grow, grow_state_dict, main, source_layers
from asr.model import ASRModel, ASRModelConfig
from echoformer.model_dir import (ModelDirError, initialise_from, load_model_dir,
                                  save_model_dir)
from asr_fixtures import TINY, tokenizer_model, untrained_model_dir

LAYERS = "encoder.blocks.layers"


def model(num_layers: int, pattern: list[int], kernel: int = 5,
          config: ASRModelConfig = TINY) -> ASRModel:
    torch.manual_seed(num_layers + kernel)
    shape = dict(config.__dict__, encoder_layers=num_layers, conv_kernel=kernel)
    built = ASRModel(ASRModelConfig(**shape), 30, pattern).eval()
    with torch.no_grad():  # trained norms are not the identity they start as
        for name, parameter in built.named_parameters():
            if "norm" in name:
                parameter.add_(0.3 * torch.randn_like(parameter))
    return built


def test_each_layer_copies_the_one_at_the_same_relative_depth():
    assert source_layers(8, 16) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]
    assert source_layers(3, 4) == [0, 0, 1, 2]
    assert source_layers(4, 4) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="at least as many layers"):
        source_layers(8, 4)


@pytest.mark.parametrize("source_pattern, target_pattern",
                         [([2], [2]), ([2, 2], [4, 4]), ([1, 2], [1, 1, 2]), ([1, 1], [1] * 5)])
def test_the_grown_model_computes_what_the_source_did(source_pattern, target_pattern):
    small = model(sum(source_pattern), source_pattern, kernel=5)
    deep = model(sum(target_pattern), target_pattern, kernel=9)
    grown = grow_state_dict(small.state_dict(), source_pattern, deep.state_dict(),
                            target_pattern)
    assert grown[f"{LAYERS}.0.conv.depthwise.weight"].shape[-1] == 9
    deep.load_state_dict(grown)
    features, lengths = torch.randn(2, 120, 80), torch.tensor([120, 90])
    with torch.no_grad():
        expected, _ = small.encode(features, lengths)
        actual, _ = deep.encode(features, lengths)
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("target_pattern", [[4, 4], [1] * 8, [2, 2, 2, 2]])
def test_attention_weights_follow_the_reuse_roles(target_pattern):
    source = model(4, [2, 2]).state_dict()  # layers 0, 2 compute maps; 1, 3 reuse them
    grown = grow_state_dict(source, [2, 2], model(8, target_pattern).state_dict(),
                            target_pattern)
    value = {0: source[f"{LAYERS}.0.attention.qkv.weight"].chunk(3)[2],
             1: source[f"{LAYERS}.1.attention.value.weight"]}
    query_key = source[f"{LAYERS}.0.attention.qkv.weight"].chunk(3)[:2]
    for layer in range(4):  # target layers 0-3 come from source layers 0, 0, 1, 1
        src = layer // 2
        prefix = f"{LAYERS}.{layer}.attention"
        if f"{prefix}.value.weight" in grown:  # a follower: the source's V
            torch.testing.assert_close(grown[f"{prefix}.value.weight"], value[src])
        else:  # computes a map: source layer 0's Q/K and position weights, its own V
            torch.testing.assert_close(grown[f"{prefix}.qkv.weight"],
                                       torch.cat([*query_key, value[src]]))
            torch.testing.assert_close(grown[f"{prefix}.pos_proj.weight"],
                                       source[f"{LAYERS}.0.attention.pos_proj.weight"])
        torch.testing.assert_close(grown[f"{LAYERS}.{layer}.ffn1.net.1.weight"],
                                   source[f"{LAYERS}.{src}.ffn1.net.1.weight"])
        branch_out = grown[f"{LAYERS}.{layer}.ffn2.net.4.weight"]
        assert bool(branch_out.any()) == (layer % 2 == 0)  # the second of each pair passes through
    torch.testing.assert_close(grown["decoder.embedding.weight"],
                               source["decoder.embedding.weight"])


def test_grow_writes_a_model_directory_a_training_run_can_start_from(tmp_path, capsys):
    spm = tokenizer_model(tmp_path)
    tiny_width = ASRModelConfig(d_model=64, heads=2, ffn_dim=128, encoder_layers=2,
                                conv_kernel=5, decoder_layers=1, decoder_ffn_dim=128)
    source = model(2, [2], config=tiny_width)
    source_dir = save_model_dir(tmp_path / "source", source, source.state_dict(), spm)
    out = grow(source_dir, "tiny", "g2", tmp_path / "grown")  # conf/asr_model/tiny: 4 layers
    meta = load_model_dir(out).meta
    assert meta["architecture"]["reuse_pattern"] == [2, 2]
    assert meta["architecture"]["model"]["conv_kernel"] == 7
    assert meta["task"]["grown_from"]["layers"] == [0, 0, 1, 1]
    fresh = ASRModel.from_config(meta["architecture"])
    initialise_from(fresh, out, spm)
    torch.testing.assert_close(fresh.cmvn.mean, source.cmvn.mean)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert main([str(source_dir), str(blocker / "grown"), "--model", "tiny"]) == 2
    assert str(blocker) in capsys.readouterr().err  # one line naming it, no traceback


def test_a_different_width_is_one_clear_error(tmp_path, capsys):
    source_dir = untrained_model_dir(tmp_path)  # d_model 32; conf/asr_model/tiny has 64
    assert main([str(source_dir), str(tmp_path / "grown"), "--model", "tiny"]) == 2
    error = capsys.readouterr().err
    assert "cannot grow" in error and "width" in error
    assert not (tmp_path / "grown").exists()
    assert main([str(source_dir), str(tmp_path / "grown"), "--model", "huge"]) == 2
    assert "asr_model=huge" in capsys.readouterr().err


def test_a_different_conv_norm_is_one_clear_error(tmp_path):
    shape = dict(TINY.__dict__, d_model=64, ffn_dim=128, decoder_ffn_dim=128, conv_norm="layer")
    layer_norm = model(2, [2], config=ASRModelConfig(**shape))
    with pytest.raises(ModelDirError, match="conv_norm"):  # no running statistics to copy
        batch_norm = model(2, [2], config=ASRModelConfig(**dict(shape, conv_norm="batch")))
        grow_state_dict(layer_norm.state_dict(), [2], batch_norm.state_dict(), [2])
    source_dir = save_model_dir(tmp_path / "source", layer_norm, layer_norm.state_dict(),
                                tokenizer_model(tmp_path))
    with pytest.raises(ModelDirError, match="conv_norm"):  # the same shapes the other way
        grow(source_dir, "tiny", "none", tmp_path / "grown")
