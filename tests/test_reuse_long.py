"""Attention map reuse at long inputs: the huge-page map workspace and the inference paths."""

import mmap

import pytest
import torch

from echoformer.attention import (MapWorkspace, MultiHeadSelfAttention, ReuseStrategy, Role,
                                  huge_page_buffer)
from echoformer.reuse import ReuseEncoder

D, H = 32, 4
HUGE_PAGE = 2 << 20
needs_thp_advice = pytest.mark.skipif(not hasattr(mmap, "MADV_HUGEPAGE"),
                                      reason="this platform's mmap has no MADV_HUGEPAGE advice")


@needs_thp_advice
def test_huge_page_buffer_is_aligned_writable_and_of_the_asked_size():
    buf = huge_page_buffer(3 * HUGE_PAGE // 4 + 5, torch.float32)
    assert buf.shape == (3 * HUGE_PAGE // 4 + 5,) and buf.dtype == torch.float32
    assert buf.data_ptr() % HUGE_PAGE == 0
    buf.fill_(2.5)
    assert torch.all(buf == 2.5)


@needs_thp_advice
def test_workspace_puts_large_cpu_maps_on_huge_pages_and_reuses_them():
    like = torch.empty(0)
    workspace = MapWorkspace()
    first = workspace.take((1, H, 1024, 1024), like)
    assert first.data_ptr() % HUGE_PAGE == 0 and first.is_contiguous()
    smaller = workspace.take((1, H, 512, 512), like)
    assert smaller.data_ptr() == first.data_ptr()  # no new allocation for a shorter input
    grown = workspace.take((1, H, 1100, 1100), like)
    assert grown.shape == (1, H, 1100, 1100) and grown.data_ptr() % HUGE_PAGE == 0


def test_small_maps_stay_on_ordinary_memory():
    workspace = MapWorkspace()
    assert workspace.take((1, 2, 8, 8), torch.empty(0, dtype=torch.float64)).dtype == \
        torch.float64


def _stack(strategy, rel_pos=False):
    torch.manual_seed(0)
    return ReuseEncoder(lambda role: MultiHeadSelfAttention(D, H, role, rel_pos=rel_pos,
                                                            strategy=strategy),
                        num_layers=4, pattern=[4]).eval()


def test_stored_and_recomputed_maps_agree_past_the_blocked_threshold():
    """L = 1100: H·L² > 2²² map elements, so the leader writes its map block by block into
    the huge-page workspace and the followers read it with the inference product."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 1100, D, generator=g)
    mask = torch.ones(1, 1100, dtype=torch.bool)
    mask[0, 1000:] = False
    with torch.inference_mode():
        stored = _stack(ReuseStrategy.STORED)(x, mask)
        recomputed = _stack(ReuseStrategy.RECOMPUTE)(x, mask)
    torch.testing.assert_close(stored, recomputed, atol=1e-5, rtol=1e-5)


def test_follower_inference_product_equals_the_training_product():
    leader = MultiHeadSelfAttention(D, H, Role.LEADER, strategy=ReuseStrategy.STORED).eval()
    follower = MultiHeadSelfAttention(D, H, Role.FOLLOWER).eval()
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, 300, D, generator=g)
    with torch.no_grad():
        _, shared = leader(x, workspace=MapWorkspace())
        inference, _ = follower(x, shared=shared)
    with torch.enable_grad():  # the autograd path: P·V as one plain product
        training, _ = follower(x, shared=shared)
    torch.testing.assert_close(inference, training.detach(), atol=1e-6, rtol=1e-5)
