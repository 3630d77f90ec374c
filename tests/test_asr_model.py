"""asr.model and asr-train's configuration: losses, model directory, config errors."""

import pytest
import torch
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from asr.config import ASRTrainConfig
from asr.model import ASRModel, add_bos_eos
from asr.train import train
from asr_fixtures import TINY, tokenizer_model, train_config
from echoformer.config_schema import to_dataclass
from echoformer.model_dir import load_model_dir, save_model_dir
from echoformer.parameters import parameter_count
from echoformer.tokenizer import BOS_ID, EOS_ID, PAD_ID


def _batch():
    g = torch.Generator().manual_seed(0)
    return {"features": torch.randn(2, 120, 80, generator=g),
            "feature_lengths": torch.tensor([120, 95]),
            "targets": torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]]),
            "target_lengths": torch.tensor([4, 2])}


def test_decoder_input_starts_with_bos_and_output_ends_with_eos():
    decoder_in, decoder_out = add_bos_eos(torch.tensor([[5, 6, 7], [9, 0, 0]]),
                                          torch.tensor([3, 1]))
    assert decoder_in.tolist() == [[BOS_ID, 5, 6, 7], [BOS_ID, 9, PAD_ID, PAD_ID]]
    assert decoder_out.tolist() == [[5, 6, 7, EOS_ID], [9, EOS_ID, PAD_ID, PAD_ID]]


def test_forward_returns_summed_losses_and_the_token_count_for_the_trainer():
    torch.manual_seed(0)
    model = ASRModel(TINY, 20)
    out = model(**_batch())
    assert out["tokens"] == 4 + 2 + 2  # targets plus one end token each
    w = TINY.ctc_weight
    assert out["loss"].item() == pytest.approx(
        w * out["loss_ctc"].item() + (1 - w) * out["loss_att"].item(), rel=1e-5)
    out["loss"].backward()
    assert model.encoder.subsampling.proj.weight.grad is not None
    assert model.decoder.embedding.weight.grad is not None


def test_the_decoder_output_layer_is_tied_to_its_embedding():
    model = ASRModel(TINY, 20)
    assert model.output.linear.weight is model.decoder.embedding.weight
    listed = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    assert parameter_count(model) == listed - model.output.linear.weight.numel()


def test_a_model_directory_gives_back_the_same_model(tmp_path):
    torch.manual_seed(0)
    model = ASRModel(TINY, 20, [1, 1]).eval()
    model.cmvn.mean.fill_(0.5)  # the statistics travel in the weights
    directory = save_model_dir(tmp_path / "model", model, model.state_dict(),
                               tokenizer_model(tmp_path), {"task": "speech_recognition"})
    loaded = load_model_dir(directory)
    batch = _batch()
    with torch.no_grad():
        expected = model.encode(batch["features"], batch["feature_lengths"])[0]
        got = loaded.model.encode(batch["features"], batch["feature_lengths"])[0]
    torch.testing.assert_close(got, expected)
    assert loaded.model.encoder.reuse_pattern == [1, 1]


@pytest.mark.parametrize("size, layers", [("tiny", 4), ("s", 16), ("m", 16)])
def test_model_sizes_are_config_groups(size, layers):
    config = OmegaConf.to_object(train_config(f"asr_model={size}", "reuse=g4"))
    assert config.model.encoder_layers == layers
    assert config.reuse.pattern_for(layers) == [4] * (layers // 4)


def test_the_m_size_is_the_conformer_m_shape():
    model = OmegaConf.to_object(train_config("asr_model=m")).model
    assert (model.encoder_layers, model.d_model, model.heads) == (16, 256, 4)


def test_an_unknown_key_is_an_error():
    with pytest.raises(ConfigCompositionException, match="model.num_layer"):
        train_config("model.num_layer=3")
    with pytest.raises(ValueError, match="unknown config key.*model.num_layer"):
        to_dataclass(train_config("+model.num_layer=3"), ASRTrainConfig)


def test_a_reuse_pattern_that_does_not_sum_to_the_layers_stops_training_at_once(tmp_path):
    config = OmegaConf.to_object(train_config("reuse.pattern=[1,2]", f"data.dir={tmp_path}"))
    with pytest.raises(ValueError, match="covers 3 layers but the encoder has 4"):
        train(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
