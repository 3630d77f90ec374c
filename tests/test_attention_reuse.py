"""Attention map reuse: roles, strategies, masks, patterns and gradients."""

import pytest
import torch
import torch.nn.functional as F

from echoformer.attention import (MapWorkspace, MultiHeadSelfAttention, ReuseStrategy, Role,
                                  materialised_attention, rel_shift)
from echoformer.positional import RelPositionalEncoding
from echoformer.reuse import ReuseEncoder, ReusePatternError, layer_roles, validate_pattern

D, H = 32, 4


def _stack(pattern, rel_pos=False, strategy=ReuseStrategy.AUTO, seed=0):
    torch.manual_seed(seed)
    return ReuseEncoder(lambda role: MultiHeadSelfAttention(D, H, role, rel_pos=rel_pos,
                                                            strategy=strategy),
                        num_layers=sum(pattern), pattern=pattern).eval()


def _inputs(batch=2, length=9, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, length, D, generator=g)
    mask = torch.ones(batch, length, dtype=torch.bool)
    mask[1, length - 3:] = False
    return x, mask


def _reference_attention(layer, x, mask):
    """Textbook multi-head attention with the layer's weights."""
    b, length, _ = x.shape
    q, k, v = layer.qkv(x).view(b, length, 3, H, D // H).permute(2, 0, 3, 1, 4)
    scores = q @ k.transpose(-1, -2) / (D // H) ** 0.5
    scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
    return layer.out((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, length, D))


def test_all_ones_pattern_equals_plain_stack_with_same_weights():
    encoder = _stack([1, 1, 1])
    x, mask = _inputs()
    expected = x
    for layer in encoder.layers:
        expected = _reference_attention(layer, expected, mask)
    assert encoder.roles == [Role.PLAIN] * 3
    torch.testing.assert_close(encoder(x, mask), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("grad", [False, True])
def test_follower_output_is_leader_map_times_follower_values(grad):
    encoder = _stack([2], strategy=ReuseStrategy.STORED)
    leader, follower = encoder.layers
    x, mask = _inputs()
    with torch.set_grad_enabled(grad):
        _, shared = leader(x, mask, workspace=encoder.workspace)
        y, _ = follower(x, mask, shared=shared)
        v = follower.value(x).view(2, 9, H, D // H).transpose(1, 2)
        expected = follower.out((shared.probs @ v).transpose(1, 2).reshape(2, 9, D))
    # At inference on CPU the product runs as (Vᵀ·Pᵀ)ᵀ: same sums, maybe another order.
    torch.testing.assert_close(y, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("rel_pos", [False, True])
@pytest.mark.parametrize("length", [7, 300])  # 300: the blocked leader (several blocks)
def test_stored_and_recomputed_maps_give_the_same_outputs(rel_pos, length, monkeypatch):
    monkeypatch.setattr("echoformer.attention._BLOCK_ELEMENTS", 4096)
    x, mask = _inputs(length=length)
    pos_emb = RelPositionalEncoding(D)(x)[1] if rel_pos else None
    outs = {}
    for strategy in (ReuseStrategy.STORED, ReuseStrategy.RECOMPUTE):
        with torch.no_grad():
            outs[strategy] = _stack([1, 3], rel_pos, strategy)(x, mask, pos_emb)
    # Same function, different float summation order: tolerance 1e-5.
    torch.testing.assert_close(outs[ReuseStrategy.STORED], outs[ReuseStrategy.RECOMPUTE],
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("bias_kind", ["none", "mask", "float"])
def test_blocked_inference_map_equals_unblocked_map(bias_kind, monkeypatch):
    monkeypatch.setattr("echoformer.attention._BLOCK_ELEMENTS", 256)
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 40, 8, generator=g) for _ in range(3))
    bias = {"none": None, "float": torch.randn(2, 3, 40, 40, generator=g),
            "mask": torch.arange(40).view(1, 1, 1, 40) < torch.tensor([40, 25]).view(2, 1, 1, 1)
            }[bias_kind]
    expected_context, expected_map = materialised_attention(q, k, v, bias, 0.3)
    context, probs = materialised_attention(q, k, v, bias, 0.3,
                                            MapWorkspace().take((2, 3, 40, 40), q))
    torch.testing.assert_close(probs, expected_map, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(context, expected_context, atol=1e-6, rtol=1e-5)


def test_padded_keys_get_zero_weight_and_do_not_change_real_outputs():
    encoder = _stack([1, 2], strategy=ReuseStrategy.STORED)
    x, mask = _inputs(batch=2, length=9)
    with torch.no_grad():
        full = encoder(x, mask)
        _, shared = encoder.layers[1](x, mask, workspace=MapWorkspace())
        garbage = x.clone()
        garbage[1, 6:] = 1e3  # padded frames: whatever they hold must not matter
        changed = encoder(garbage, mask)
    assert torch.all(shared.probs[1, :, :, 6:] == 0)
    torch.testing.assert_close(changed[1, :6], full[1, :6])


def test_relative_position_term_changes_the_map():
    x, mask = _inputs()
    pos_emb = RelPositionalEncoding(D)(x)[1]
    layer = MultiHeadSelfAttention(D, H, Role.LEADER, rel_pos=True).eval()
    torch.nn.init.normal_(layer.pos_bias_v)
    with torch.no_grad():
        _, with_pos = layer(x, mask, pos_emb=pos_emb)
        layer.pos_proj.weight.zero_()
        layer.pos_bias_u.zero_()
        _, without_pos = layer(x, mask, pos_emb=pos_emb)
    assert not torch.allclose(with_pos.probs, without_pos.probs)


def test_relative_position_map_matches_the_transformer_xl_formula():
    """score(i, j) = ((q_i + u)·k_j + (q_i + v)·p_{i-j}) / √dk, p_r = W_pos·sinusoid(r)."""
    from echoformer.positional import sinusoids
    torch.manual_seed(0)
    layer = MultiHeadSelfAttention(D, H, Role.LEADER, rel_pos=True).eval()
    for param in (layer.pos_bias_u, layer.pos_bias_v):
        torch.nn.init.normal_(param)
    x = _inputs(batch=2, length=5)[0][:1]
    length, dk = 5, D // H
    with torch.no_grad():
        _, shared = layer(x, pos_emb=RelPositionalEncoding(D)(x)[1])
        q, k, _ = layer.qkv(x).view(1, length, 3, H, dk).permute(2, 0, 3, 1, 4)[:, 0]
        rel = torch.arange(length)[:, None] - torch.arange(length)[None, :]
        p = layer.pos_proj(sinusoids(rel.flatten(), D)).view(length, length, H, dk)
        scores = (torch.einsum("hid,hjd->hij", q + layer.pos_bias_u[:, None], k)
                  + torch.einsum("hid,ijhd->hij", q + layer.pos_bias_v[:, None], p)) / dk ** 0.5
    torch.testing.assert_close(shared.probs[0], scores.softmax(-1), atol=1e-6, rtol=1e-5)


def test_rel_shift_puts_relative_position_i_minus_j_in_column_j():
    length = 4
    rel = torch.arange(length - 1, -length, -1).float()  # column c holds position L-1-c
    shifted = rel_shift(rel.expand(1, 1, length, -1))[0, 0]
    expected = torch.arange(length)[:, None] - torch.arange(length)[None, :]
    assert torch.equal(shifted, expected.float())


def _grads(strategy):
    encoder = _stack([3], strategy=strategy).train()
    x, mask = _inputs()
    encoder(x, mask).sum().backward()
    return {name: p.grad for name, p in encoder.named_parameters()}


@pytest.mark.parametrize("strategy", [ReuseStrategy.STORED, ReuseStrategy.RECOMPUTE])
def test_followers_send_gradients_to_the_leaders_query_and_key(strategy):
    leader, follower = _stack([2], strategy=strategy).train().layers
    x, mask = _inputs()
    _, shared = leader(x, mask)
    follower(x.detach(), mask, shared=shared)[0].sum().backward()
    # Only the follower's output is differentiated, on its own input: the leader's query and
    # key projections get gradient through the shared map alone, its value rows none.
    grad = leader.qkv.weight.grad
    assert grad[: 2 * D].abs().sum() > 0
    assert grad[2 * D:].abs().sum() == 0


def test_stored_and_recomputed_maps_train_to_the_same_gradients():
    stored, recomputed = _grads(ReuseStrategy.STORED), _grads(ReuseStrategy.RECOMPUTE)
    assert stored.keys() == recomputed.keys()
    for name in stored:
        torch.testing.assert_close(stored[name], recomputed[name], atol=1e-5, rtol=1e-4,
                                   msg=name)


def test_pattern_that_does_not_cover_the_layers_is_a_clear_error():
    with pytest.raises(ReusePatternError, match=r"covers 5 layers but the encoder has 6"):
        validate_pattern([1, 4], 6)
    with pytest.raises(ReusePatternError, match="positive integer"):
        validate_pattern([2, 0, 4], 6)
    with pytest.raises(ReusePatternError, match="sum to 3"):
        ReuseEncoder(lambda role: MultiHeadSelfAttention(D, H, role), num_layers=3,
                     pattern=[2, 2])


def test_layer_roles_follow_group_sizes():
    assert layer_roles([1, 3]) == [Role.PLAIN, Role.LEADER, Role.FOLLOWER, Role.FOLLOWER]
    assert validate_pattern(None, 3) == [1, 1, 1]


def test_followers_have_no_query_or_key_projection():
    follower = MultiHeadSelfAttention(D, H, Role.FOLLOWER)
    assert not hasattr(follower, "qkv") and hasattr(follower, "value")
