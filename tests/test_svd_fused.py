"""SVD-softmax's fused C++ CPU path equals its pure-torch reference path."""

import pytest
import torch
import torch.nn.functional as F

from echoformer import csrc
from echoformer.bench.layers import hidden_states, synthetic_output_layer
from echoformer.svd_softmax import SVDSoftmax, _nth_largest

KERNELS = csrc.svd_kernels()
needs_kernels = pytest.mark.skipif(
    KERNELS is None, reason="the C++ kernels did not build here (no c++ compiler or ninja)")


def pair(vocab, dim, window, candidates, always=()):
    """(fused, reference) SVD-softmax on one synthetic layer, sharing its factors."""
    layer = synthetic_output_layer(vocab, dim, seed=0)
    fused = SVDSoftmax(layer, window, candidates, always_exact=always, kernels=True).eval()
    reference = SVDSoftmax(layer, window, candidates, always_exact=always, kernels=False).eval()
    reference.refresh(fused.factors)
    return fused, reference


# V not a multiple of 16 (a partial last panel); D − W not a multiple of 16 (a tail remainder);
# N/64 ≤ 1 (exact threshold) and > 1 (sampled threshold); always-exact words.
CASES = [(4099, 72, 9, 256, ()), (1000, 64, 8, 40, (0, 7)), (8192, 128, 16, 512, (2,))]


@needs_kernels
@pytest.mark.parametrize("vocab,dim,window,candidates,always", CASES)
@pytest.mark.parametrize("rows", [1, 5, 9])
def test_fused_logits_equal_the_reference_on_the_same_union(vocab, dim, window, candidates,
                                                           always, rows):
    fused, reference = pair(vocab, dim, window, candidates, always)
    h = hidden_states(rows, dim, seed=rows)
    with torch.inference_mode():
        assert fused.union_size(h) == reference.union_size(h)
        torch.testing.assert_close(fused.logits(h), reference.logits(h), atol=2e-5, rtol=0)
        torch.testing.assert_close(fused(h), reference(h), atol=2e-5, rtol=0)


@needs_kernels
@pytest.mark.parametrize("vocab,dim,window,candidates,always", CASES)
@pytest.mark.parametrize("rows", [1, 5, 12])
def test_fused_topk_equals_the_reference(vocab, dim, window, candidates, always, rows):
    fused, reference = pair(vocab, dim, window, candidates, always)
    h = hidden_states(rows, dim, seed=20 + rows)
    with torch.inference_mode():
        (values, ids), (ref_values, ref_ids) = fused.topk(h, 12), reference.topk(h, 12)
    assert torch.equal(ids, ref_ids)
    torch.testing.assert_close(values, ref_values, atol=2e-5, rtol=0)


@needs_kernels
def test_fused_topk_with_all_candidates_is_the_full_softmax_topk():
    fused, _ = pair(1000, 64, 8, 1000)
    h = hidden_states(5, 64, seed=3)
    with torch.inference_mode():
        values, ids = fused.topk(h, 10)
        full = F.log_softmax(fused.linear(h), -1).topk(10)
    assert torch.equal(ids, full.indices)
    torch.testing.assert_close(values, full.values, atol=2e-5, rtol=0)


@needs_kernels
def test_preview_kernel_is_the_head_product_plus_bias():
    fused, _ = pair(1000, 64, 8, 40)
    f = fused.factors
    x = torch.randn(5, 64)[:, :8]  # a strided slice, as the rotated rows are
    logits, sample = KERNELS.preview(x, f.head_panels(), f.bias)
    torch.testing.assert_close(logits, torch.addmm(f.bias, x, f.head.T), atol=1e-5, rtol=0)
    assert torch.equal(sample, logits[:, ::16])


@needs_kernels
def test_add_tails_adds_each_union_words_tail_product_in_place():
    tail, x = torch.randn(300, 37), torch.randn(3, 37)
    logits, ids = torch.randn(3, 300), torch.tensor([0, 5, 6, 299])
    expected = logits.clone()
    expected[:, ids] += x @ tail[ids].T
    exact = KERNELS.add_tails(logits, x, tail, ids)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)
    assert torch.equal(exact, logits[:, ids])


@needs_kernels
@pytest.mark.parametrize("stride,rank", [(1, 1), (1, 50), (16, 7), (7, 143)])
def test_nth_largest_is_the_value_topk_gives(stride, rank):
    rows = torch.randn(4, 1000)
    rows[0, :20] = 3.0  # ties
    torch.testing.assert_close(KERNELS.nth_largest(rows, stride, rank),
                               _nth_largest(rows[:, ::stride], rank).view(-1), atol=0, rtol=0)


@needs_kernels
def test_union_ids_give_the_union_the_sign_sums_and_the_rest_mass():
    preview = torch.randn(3, 20000)
    threshold = torch.tensor([1.5, 2.0, 0.5])
    always = torch.tensor([3, 19999])
    ids, signs, rest = KERNELS.union_ids(preview, threshold, always)
    reach = (preview >= threshold[:, None]).any(0)
    reach[always] = True
    assert torch.equal(ids, reach.nonzero().squeeze(1))
    assert torch.equal(signs, (preview - threshold[:, None]).sign().sum(-1).long())
    outside = (preview - threshold[:, None]).double().exp() * (~reach).double()
    torch.testing.assert_close(rest, outside.sum(-1), rtol=1e-5, atol=0)


def test_kernels_false_never_asks_for_the_kernels(monkeypatch):
    def refuse():
        raise AssertionError("the reference path asked for the C++ kernels")
    monkeypatch.setattr("echoformer.svd_softmax.svd_kernels", refuse)
    layer = synthetic_output_layer(512, 32, seed=0)
    svd = SVDSoftmax(layer, 4, 32, kernels=False).eval()
    with torch.inference_mode():
        svd.topk(hidden_states(5, 32, seed=1), 4)


def test_disabled_kernels_leave_the_pure_torch_path(monkeypatch):
    monkeypatch.setenv(csrc.DISABLE_ENV, "0")
    csrc.svd_kernels.cache_clear()
    try:
        assert csrc.svd_kernels() is None
        layer = synthetic_output_layer(512, 32, seed=0)
        svd = SVDSoftmax(layer, 4, 32).eval()
        with torch.inference_mode():
            values, ids = svd.topk(hidden_states(5, 32, seed=1), 4)
        assert values.shape == ids.shape == (5, 4)
    finally:
        csrc.svd_kernels.cache_clear()
