"""The Transformer NMT model (nmt.model) and its output layer (echoformer.output_layer)."""

import torch
import torch.nn.functional as F

from echoformer.attention import Role
from echoformer.loss import label_smoothed_nll
from echoformer.output_layer import SoftmaxConfig
from echoformer.parameters import parameter_count
from nmt.data.batching import collate
from nmt.model import NMTModelConfig, TransformerNMT

CONFIG = NMTModelConfig(d_model=16, heads=2, ffn_dim=32, encoder_layers=4, decoder_layers=2,
                        dropout=0.0, max_length=32)


def model(**kwargs) -> TransformerNMT:
    torch.manual_seed(0)
    return TransformerNMT(CONFIG, 50, **kwargs)


def test_one_embedding_is_tied_three_ways_and_counted_once():
    m = model()
    assert m.embedding.weight is m.decoder.embedding.weight is m.output.linear.weight
    assert parameter_count(m) == sum(p.numel() for p in m.parameters())
    assert parameter_count(m) < sum(t.numel() for t in m.state_dict().values())


def test_the_encoder_follows_the_reuse_pattern():
    assert model(reuse_pattern=[1, 3]).encoder.roles == [
        Role.PLAIN, Role.LEADER, Role.FOLLOWER, Role.FOLLOWER]


def test_label_smoothed_loss_equals_torch_cross_entropy_over_real_tokens():
    logits = torch.randn(2, 5, 50, generator=torch.Generator().manual_seed(1))
    target = torch.randint(4, 50, (2, 5), generator=torch.Generator().manual_seed(2))
    target[1, 3:] = 0
    loss, nll, tokens = label_smoothed_nll(logits, target, 0.1, pad_id=0)
    expected = F.cross_entropy(logits.view(-1, 50), target.view(-1), ignore_index=0,
                               label_smoothing=0.1, reduction="sum")
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(nll, F.cross_entropy(logits.view(-1, 50), target.view(-1),
                                                    ignore_index=0, reduction="sum"))
    assert tokens == 8


def test_forward_returns_summed_losses_and_learns_a_batch():
    m = model(reuse_pattern=[2, 2])
    batch = collate([[5, 6, 7], [8, 9]], [[10, 11], [12, 13, 14]])
    optimizer = torch.optim.Adam(m.parameters(), lr=1e-2)
    first = m(**batch)
    assert set(first) == {"loss", "nll", "tokens"} and first["tokens"] == 7
    for _ in range(30):
        optimizer.zero_grad()
        m(**batch)["loss"].backward()
        optimizer.step()
    assert m(**batch)["nll"] < 0.2 * first["nll"]


def test_a_model_rebuilt_from_its_config_dict_takes_its_weights():
    m = model(reuse_pattern=[2, 2], softmax=SoftmaxConfig("svd", window=4))
    rebuilt = TransformerNMT.from_config(m.config_dict())
    rebuilt.load_state_dict(m.state_dict())
    assert rebuilt.encoder.pattern == [2, 2] and rebuilt.output.softmax.window == 4


@torch.no_grad()
def test_svd_softmax_at_full_width_equals_the_full_softmax_and_training_uses_the_full_layer():
    m = model().eval()
    h = torch.randn(3, CONFIG.d_model)
    full = m.output.log_probs(h)
    m.use_softmax(SoftmaxConfig("svd", window=CONFIG.d_model, candidates=50))
    torch.testing.assert_close(m.output.log_probs(h), full, atol=1e-5, rtol=0)
    values, ids = m.output.topk(h, 4)
    torch.testing.assert_close(values, full.topk(4).values, atol=1e-5, rtol=0)
    m.use_softmax(SoftmaxConfig("svd", window=2, candidates=5))
    assert not torch.allclose(m.output.log_probs(h), full, atol=1e-3)
    m.train()
    torch.testing.assert_close(m.output.log_probs(h), full, atol=1e-6, rtol=0)
