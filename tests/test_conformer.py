"""asr.conformer: subsampling lengths, shapes, masks, reuse patterns."""

import pytest
import torch

from asr.conformer import ConformerEncoder, Conv2dSubsampling, subsampled_lengths
from echoformer.attention import Role
from echoformer.reuse import ReusePatternError

F, D, H = 80, 32, 4


def _encoder(pattern=None, layers=4, conv_norm="batch", seed=0):
    torch.manual_seed(seed)
    return ConformerEncoder(F, D, H, ffn_dim=64, num_layers=layers, conv_kernel=5,
                            reuse_pattern=pattern, conv_norm=conv_norm).eval()


@pytest.mark.parametrize("frames", [7, 8, 9, 10, 11, 50, 101, 1000])
def test_subsampled_lengths_equal_the_convolution_output_length(frames):
    sub = Conv2dSubsampling(F, D)
    out, lengths = sub(torch.randn(1, frames, F), torch.tensor([frames]))
    assert out.shape == (1, int(lengths[0]), D)
    assert int(lengths[0]) == int(subsampled_lengths(torch.tensor(frames))) >= 1


def test_subsampling_is_four_times_fewer_frames():
    assert subsampled_lengths(torch.tensor([7, 100, 1001])).tolist() == [1, 24, 249]


def test_encoder_gives_batch_by_subsampled_frames_by_width():
    encoder = _encoder()
    out, lengths = encoder(torch.randn(3, 120, F), torch.tensor([120, 90, 31]))
    assert out.shape == (3, 29, D)
    assert lengths.tolist() == [29, 21, 7]
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("conv_norm", ["batch", "layer"])
@pytest.mark.parametrize("pattern", [None, [2, 2], [1, 3]])
def test_padding_does_not_change_the_outputs_at_real_frames(conv_norm, pattern):
    encoder = _encoder(pattern, conv_norm=conv_norm)
    x = torch.randn(2, 100, F)
    batched, lengths = encoder(x, torch.tensor([100, 61]))
    alone, alone_lengths = encoder(x[1:, :61], torch.tensor([61]))
    assert lengths[1] == alone_lengths[0] == alone.shape[1]
    torch.testing.assert_close(batched[1, : lengths[1]], alone[0], atol=1e-5, rtol=1e-5)


def test_reuse_pattern_makes_leaders_and_followers():
    encoder = _encoder([1, 3])
    roles = [block.attention.role for block in encoder.blocks.layers]
    assert roles == [Role.PLAIN, Role.LEADER, Role.FOLLOWER, Role.FOLLOWER]
    follower = encoder.blocks.layers[2].attention
    assert not hasattr(follower, "qkv")  # a follower has only its own values and output
    assert hasattr(encoder.blocks.layers[2], "conv")  # and its own convolution module


def test_a_pattern_that_does_not_sum_to_the_layers_is_a_clear_error():
    with pytest.raises(ReusePatternError, match="covers 3 layers but the encoder has 4"):
        _encoder([1, 2], layers=4)


def test_input_shorter_than_the_subsampling_window_still_gives_one_frame():
    out, lengths = _encoder()(torch.randn(1, 3, F), torch.tensor([3]))
    assert out.shape == (1, 1, D) and lengths.tolist() == [1]
    assert torch.isfinite(out).all()


def test_gradients_reach_every_block_through_a_reuse_group():
    encoder = _encoder([4]).train()
    out, _ = encoder(torch.randn(2, 40, F), torch.tensor([40, 33]))
    out.sum().backward()
    for block in encoder.blocks.layers:
        assert block.ffn1.net[1].weight.grad is not None
