"""SVD-softmax: exactness at full width, agreement with defaults, training = full layer."""

import pytest
import torch
import torch.nn.functional as F

from echoformer.bench.layers import hidden_states, synthetic_output_layer
from echoformer.svd_softmax import SVDFactors, SVDSoftmax, full_logits

V, D = 4096, 64


@pytest.fixture(scope="module")
def layer():
    return synthetic_output_layer(V, D, seed=0)


def test_full_window_and_all_candidates_equal_log_softmax_of_the_full_layer(layer):
    svd = SVDSoftmax(layer, window=D, candidates=V).eval()
    h = hidden_states(6, D, seed=3)
    with torch.no_grad():  # float32: either is ~1e-5 from a float64 reference
        torch.testing.assert_close(svd(h), F.log_softmax(layer(h), -1), atol=2e-5, rtol=0)


def test_all_candidates_with_a_narrow_window_is_still_exact(layer):
    svd = SVDSoftmax(layer, window=4, candidates=V).eval()
    h = hidden_states(3, D, seed=4)
    with torch.no_grad():
        torch.testing.assert_close(svd(h), F.log_softmax(layer(h), -1), atol=1e-5, rtol=0)


def test_defaults_agree_on_top5_with_the_full_softmax_on_a_decaying_spectrum(layer):
    svd = SVDSoftmax(layer).eval()
    assert (svd.window, svd.candidates) == (D // 8, V // 16)
    h = hidden_states(200, D, seed=5)
    with torch.no_grad():
        full, approx = F.log_softmax(layer(h), -1).topk(5), svd(h).topk(5)
    overlap = (full.indices[:, :, None] == approx.indices[:, None, :]).any(-1).float().mean()
    assert overlap >= 0.99


def test_candidates_get_exact_log_probabilities_and_the_rest_previews(layer):
    svd = SVDSoftmax(layer, window=8, candidates=64).eval()
    h = hidden_states(2, D, seed=6)
    with torch.no_grad():
        mixed = svd.logits(h)
        exact = layer(h)
    is_exact = torch.isclose(mixed, exact, atol=1e-4)
    assert (is_exact.sum(-1) >= 64).all()
    assert (is_exact.sum(-1) < V).all()  # the others are previews, not exact


def test_sampled_threshold_keeps_at_least_the_n_best_previews_of_every_row():
    layer = synthetic_output_layer(16384, 32, seed=1)
    svd = SVDSoftmax(layer, window=4, candidates=2048).eval()  # sampled: stride 16
    h = hidden_states(6, 32, seed=2)
    with torch.no_grad():
        _, preview = svd._preview(h)
        for row in preview:
            union = svd._union(row[None])
            assert torch.isin(row.topk(2048).indices, union).all()
            assert len(union) <= 1.5 * 2048  # some sampling slack, not everything


def test_a_row_the_sample_misjudges_gets_its_exact_threshold():
    layer = synthetic_output_layer(16384, 32, seed=1)
    svd = SVDSoftmax(layer, window=4, candidates=2048).eval()  # sampled: stride 16
    preview = torch.randn(2, 16384)
    preview[0, ::16] += 100  # the sampled words are the row's best: too few others reach
    union = svd._union(preview)
    for row in preview:
        assert torch.isin(row.topk(2048).indices, union).all()


def test_every_row_gets_exact_logits_for_every_candidate_of_any_row(layer):
    svd = SVDSoftmax(layer, window=8, candidates=64).eval()
    h = hidden_states(5, D, seed=10)
    with torch.no_grad():
        mixed, exact = svd.logits(h), layer(h)
        union = svd._union(svd._preview(h)[1])
    torch.testing.assert_close(mixed[:, union], exact[:, union], atol=1e-4, rtol=0)
    assert len(union) < V


def test_topk_with_all_candidates_is_the_full_softmax_topk(layer):
    svd = SVDSoftmax(layer, window=4, candidates=V).eval()
    h = hidden_states(5, D, seed=11)
    with torch.no_grad():
        values, ids = svd.topk(h, 10)
        reference = F.log_softmax(layer(h), -1).topk(10)
    torch.testing.assert_close(values, reference.values, atol=1e-5, rtol=0)
    assert torch.equal(ids, reference.indices)


def test_topk_fast_path_matches_the_log_probabilities(layer):
    svd = SVDSoftmax(layer).eval()
    h = hidden_states(4, D, seed=7).view(2, 2, D)
    with torch.no_grad():
        values, ids = svd.topk(h, 5)
        reference = svd(h).topk(5)
    torch.testing.assert_close(values, reference.values, atol=1e-5, rtol=0)
    assert torch.equal(ids, reference.indices)


def test_more_rows_than_max_rows_use_the_exact_full_layer(layer):
    svd = SVDSoftmax(layer, max_rows=2).eval()
    h = hidden_states(3, D, seed=9)
    with torch.no_grad():
        torch.testing.assert_close(svd(h), F.log_softmax(layer(h), -1), atol=1e-5, rtol=0)
        values, ids = svd.topk(h, 5)
        reference = F.log_softmax(layer(h), -1).topk(5)
    torch.testing.assert_close(values, reference.values, atol=1e-5, rtol=0)
    assert torch.equal(ids, reference.indices)


def test_factors_keep_the_head_column_major_whatever_layout_they_are_given(layer):
    factors = SVDFactors.from_linear(layer.weight, layer.bias, 8)
    given = SVDFactors(factors.rotation, factors.head.contiguous(), factors.tail, factors.bias)
    assert factors.head.T.is_contiguous() and given.head.T.is_contiguous()
    assert torch.equal(given.head, factors.head)


def test_training_mode_uses_the_full_layer_with_its_gradients(layer):
    svd = SVDSoftmax(layer).train()
    h = hidden_states(3, D, seed=8).requires_grad_()
    target = torch.tensor([1, 2, 3])
    F.nll_loss(svd(h), target).backward()
    got = (layer.weight.grad.clone(), layer.bias.grad.clone(), h.grad.clone())
    layer.zero_grad()
    h.grad = None
    F.nll_loss(F.log_softmax(layer(h), -1), target).backward()
    for a, b in zip(got, (layer.weight.grad, layer.bias.grad, h.grad)):
        assert torch.equal(a, b)
    layer.zero_grad()


def test_leaving_training_refactors_the_changed_weights():
    layer = torch.nn.Linear(16, 256)
    svd = SVDSoftmax(layer, window=16, candidates=256).eval()
    h = torch.randn(2, 16)
    with torch.no_grad():
        svd(h)
        svd.train()
        layer.weight.mul_(2)
        svd.eval()
        torch.testing.assert_close(svd(h), F.log_softmax(layer(h), -1), atol=1e-5, rtol=0)


def test_bad_window_or_candidates_is_a_clear_error():
    layer = torch.nn.Linear(16, 100)
    with pytest.raises(ValueError, match="window W=17 must be in 1..D=16"):
        SVDSoftmax(layer, window=17)
    with pytest.raises(ValueError, match="candidates N=101"):
        SVDSoftmax(layer, candidates=101)


def test_always_exact_words_are_candidates_of_every_row():
    torch.manual_seed(0)
    linear = torch.nn.Linear(32, 400)
    with torch.no_grad():  # word 3 (end-of-sentence) previews far below everything else
        linear.bias[3] = -50.0
    svd = SVDSoftmax(linear, window=4, candidates=20, always_exact=[3]).eval()
    plain = SVDSoftmax(linear, window=4, candidates=20).eval()
    h = torch.randn(5, 32)
    assert 3 in svd._mixed_logits(h)[1].tolist()
    assert 3 not in plain._mixed_logits(h)[1].tolist()
    exact = full_logits(linear, h)
    assert torch.allclose(svd.logits(h)[:, 3], exact[:, 3], atol=1e-4)
