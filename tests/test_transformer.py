"""Pre-LN Transformer layers (echoformer.transformer): caching, masking, reuse stacking."""

import torch
from torch import nn

from echoformer.attention import Role
from echoformer.reuse import ReuseEncoder
from echoformer.transformer import TransformerDecoder, TransformerEncoderLayer

D, H, V = 16, 2, 30


def decoder(seed: int = 0) -> TransformerDecoder:
    torch.manual_seed(seed)
    return TransformerDecoder(nn.Embedding(V, D), num_layers=2, n_heads=H, d_ff=32,
                              dropout=0.0).eval()


def memory_and_mask(batch: int = 3, length: int = 5):
    memory = torch.randn(batch, length, D, generator=torch.Generator().manual_seed(1))
    mask = torch.ones(batch, length, dtype=torch.bool)
    mask[1, 3:] = False
    return memory, mask


@torch.no_grad()
def test_incremental_decoding_with_the_cache_equals_full_recomputation():
    dec, (memory, mask) = decoder(), memory_and_mask()
    tokens = torch.randint(0, V, (3, 7), generator=torch.Generator().manual_seed(2))
    full = dec(tokens, memory, mask)
    cache = dec.new_cache()
    one_by_one = torch.cat([dec(tokens[:, i:i + 1], memory, mask, cache) for i in range(7)], 1)
    torch.testing.assert_close(one_by_one, full, atol=1e-5, rtol=0)
    cache = dec.new_cache()
    in_two_chunks = torch.cat([dec(tokens[:, :4], memory, mask, cache),
                               dec(tokens[:, 4:], memory, mask, cache)], 1)
    torch.testing.assert_close(in_two_chunks, full, atol=1e-5, rtol=0)


@torch.no_grad()
def test_selecting_cache_rows_continues_the_selected_hypotheses():
    dec, (memory, mask) = decoder(), memory_and_mask()
    tokens = torch.randint(0, V, (3, 5), generator=torch.Generator().manual_seed(3))
    cache = dec.new_cache(row_source=torch.arange(3))
    dec(tokens[:, :4], memory, mask, cache)
    rows = torch.tensor([2, 2, 0])
    cache.select(rows)
    last = dec(tokens[rows, 4:], memory[rows], mask[rows], cache)
    expected = dec(tokens[rows], memory[rows], mask[rows])[:, 4:]
    torch.testing.assert_close(last, expected, atol=1e-5, rtol=0)


@torch.no_grad()
def test_a_decoder_position_does_not_see_later_tokens():
    dec, (memory, mask) = decoder(), memory_and_mask()
    tokens = torch.randint(0, V, (3, 6), generator=torch.Generator().manual_seed(4))
    changed = tokens.clone()
    changed[:, 4:] = (changed[:, 4:] + 1) % V
    torch.testing.assert_close(dec(changed, memory, mask)[:, :4], dec(tokens, memory, mask)[:, :4])


@torch.no_grad()
def test_padding_of_the_memory_does_not_change_the_decoder_output():
    dec, (memory, mask) = decoder(), memory_and_mask()
    tokens = torch.randint(0, V, (3, 4), generator=torch.Generator().manual_seed(5))
    noisy = memory.clone()
    noisy[1, 3:] = 100.0  # masked positions of sentence 1
    torch.testing.assert_close(dec(tokens, noisy, mask), dec(tokens, memory, mask))


@torch.no_grad()
def test_encoder_layers_stack_in_a_reuse_encoder_and_ignore_padding():
    torch.manual_seed(0)
    encoder = ReuseEncoder(lambda role: TransformerEncoderLayer(D, H, 32, role, dropout=0.0),
                           num_layers=4, pattern=[1, 3]).eval()
    assert encoder.roles == [Role.PLAIN, Role.LEADER, Role.FOLLOWER, Role.FOLLOWER]
    x = torch.randn(2, 6, D)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    out = encoder(x, mask)
    assert out.shape == (2, 6, D)
    alone = encoder(x[1:, :4], mask[1:, :4])
    torch.testing.assert_close(out[1, :4], alone[0], atol=1e-5, rtol=0)
