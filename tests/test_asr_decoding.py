"""asr.decoding: the four methods by name, batched, and joint CTC/attention beam search."""

import pytest
import torch
from ctc_reference import ReferencePrefixScorer

import asr.decoding
from asr.ctc_scorer import ASREncoderOutput, CTCPrefixScorer
from asr.decoding import METHODS, ASRDecodingOptions, decode
from asr.model import ASRModel, ASRModelConfig
from echoformer.output_layer import SoftmaxConfig
from echoformer.search import BeamSearch, DecodingOptions, Scorer
from echoformer.tokenizer import BOS_ID, EOS_ID, PAD_ID

V = 24


def _model(pattern=None):
    torch.manual_seed(0)
    config = ASRModelConfig(d_model=32, heads=2, ffn_dim=64, encoder_layers=2, conv_kernel=5,
                            decoder_layers=1, decoder_ffn_dim=64)
    return ASRModel(config, V, pattern).eval()


def _features():
    g = torch.Generator().manual_seed(1)
    return torch.randn(3, 90, 80, generator=g), torch.tensor([90, 61, 40])


@pytest.mark.parametrize("method", METHODS)
def test_each_method_decodes_a_batch_into_token_lists(method):
    features, lengths = _features()
    hyps = decode(_model([2]), features, lengths, ASRDecodingOptions(method, beam_size=3))
    assert len(hyps) == 3
    for tokens in hyps:  # token ids, never the blank (which is also the padding id)
        assert all(isinstance(t, int) and PAD_ID < t < V for t in tokens)


@pytest.mark.parametrize("method", METHODS)
def test_a_batch_decodes_like_each_utterance_alone(method):
    model, (features, lengths) = _model(), _features()
    options = ASRDecodingOptions(method, beam_size=3)
    batched = decode(model, features, lengths, options)
    alone = [decode(model, features[i:i + 1, : lengths[i]], lengths[i:i + 1], options)[0]
             for i in range(3)]
    assert batched == alone


def test_an_unknown_method_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown decoding method 'beam'.*ctc_greedy"):
        ASRDecodingOptions("beam")


def test_rescoring_with_ctc_weight_one_keeps_the_ctc_prefix_beam_best():
    model, (features, lengths) = _model(), _features()
    ctc = decode(model, features, lengths, ASRDecodingOptions("ctc_prefix_beam", beam_size=4))
    rescored = decode(model, features, lengths,
                      ASRDecodingOptions("attention_rescoring", beam_size=4, ctc_weight=1.0))
    assert rescored == ctc


def test_joint_beam_with_exact_svd_softmax_equals_full_softmax():
    model, (features, lengths) = _model(), _features()
    options = ASRDecodingOptions("joint_beam", beam_size=3)
    full = decode(model, features, lengths, options)
    model.use_softmax(SoftmaxConfig("svd", window=32, candidates=V))  # W = D, N = V: exact
    assert decode(model, features, lengths, options) == full


class _Uniform(Scorer):
    """A decoder that knows nothing: every token equally likely."""

    def score(self, tokens, state):
        return torch.full((tokens.shape[0], V), -torch.log(torch.tensor(float(V)))), state


def test_joint_search_follows_the_ctc_posteriors_when_the_decoder_knows_nothing():
    labels = [7, 7, 12, 5]
    frames = [0, 7, 0, 0, 7, 12, 12, 0, 5, 0]  # a path of the labels, blanks between repeats
    log_probs = (torch.nn.functional.one_hot(torch.tensor([frames]), V) * 20.0).log_softmax(-1)
    context = ASREncoderOutput(torch.zeros(1, 10, 4), torch.ones(1, 10, dtype=torch.bool),
                               log_probs)
    search = BeamSearch({"decoder": _Uniform(), "ctc": CTCPrefixScorer(EOS_ID)},
                        DecodingOptions(beam_size=3, length_penalty=0.0, max_length=11),
                        BOS_ID, EOS_ID, weights={"decoder": 0.5, "ctc": 0.5},
                        forbidden_ids=(PAD_ID, BOS_ID), pre_beam=V)
    assert list(search(context, [11], "cpu")[0][0].tokens) == labels


@pytest.mark.parametrize("beam_size, ctc_weight", [(1, 0.3), (3, 0.3), (4, 0.8), (2, 1.0)])
def test_joint_beam_equals_the_search_with_prefix_scores_computed_from_scratch(
        beam_size, ctc_weight, monkeypatch):
    """The incremental CTC prefix scorer changes nothing: the same search with every prefix
    score computed from scratch (torch's CTC loss) finds the same transcripts."""
    model, (features, lengths) = _model([2]), _features()
    options = ASRDecodingOptions("joint_beam", beam_size=beam_size, ctc_weight=ctc_weight)
    found = decode(model, features, lengths, options)
    monkeypatch.setattr(asr.decoding, "CTCPrefixScorer", ReferencePrefixScorer)
    assert decode(model, features, lengths, options) == found
