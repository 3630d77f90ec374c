"""Batched beam search (echoformer.search): greedy, exactness, limits, n-best, batching."""

import itertools

import pytest
import torch

from echoformer.search import BeamSearch, DecodingOptions, PartialScorer, Scorer
from echoformer.tokenizer import BOS_ID, EOS_ID, PAD_ID
from echoformer.data.batching import pad
from nmt.model import NMTModelConfig, TransformerNMT

A, B = 4, 5  # two ordinary tokens after pad/unk/bos/eos


class BigramScorer(Scorer):
    """log p(next | last token) from a fixed table (V, V); no state."""

    def __init__(self, probs: torch.Tensor) -> None:
        self.log_probs = probs.clamp_min(1e-12).log()

    def score(self, tokens, state):
        return self.log_probs[tokens[:, -1]], state


def misleading_table() -> torch.Tensor:
    """Greedy takes A (0.5) and then ends (0.34): 0.17. The best is B then end: 0.4·0.99."""
    probs = torch.zeros(6, 6)
    probs[BOS_ID, [A, B, EOS_ID]] = torch.tensor([0.5, 0.4, 0.1])
    probs[A, [A, B, EOS_ID]] = torch.tensor([0.33, 0.33, 0.34])
    probs[B, [A, B, EOS_ID]] = torch.tensor([0.005, 0.005, 0.99])
    probs[[PAD_ID, 1, EOS_ID]] = 1 / 6
    return probs


def search(scorer, context=None, limits=(10,), **options):
    beam = BeamSearch({"main": scorer}, DecodingOptions(**options), BOS_ID, EOS_ID,
                      forbidden_ids=[PAD_ID, BOS_ID])
    return beam(context, list(limits), "cpu")


def tiny_model(vocab: int = 40, seed: int = 0) -> TransformerNMT:
    torch.manual_seed(seed)
    config = NMTModelConfig(d_model=16, heads=2, ffn_dim=32, encoder_layers=2, decoder_layers=2,
                            dropout=0.0, max_length=32)
    return TransformerNMT(config, vocab).eval()


def greedy_by_recomputation(model, source, limit):
    """Argmax each step, the decoder rerun on the whole prefix (no cache): a plain reference."""
    encoded = model.encode(source)
    tokens = torch.tensor([[BOS_ID]])
    for _ in range(limit - 1):
        hidden = model.decoder(tokens, encoded.memory, encoded.mask)[:, -1]
        log_probs = model.output.log_probs(hidden)
        log_probs[:, [PAD_ID, BOS_ID]] = float("-inf")
        best = int(log_probs.argmax())
        if best == EOS_ID:
            break
        tokens = torch.cat([tokens, torch.tensor([[best]])], dim=1)
    return tuple(tokens[0, 1:].tolist())


def sequence_log_prob(model, source, tokens):
    encoded = model.encode(source)
    target_in = torch.tensor([[BOS_ID, *tokens]])
    target_out = torch.tensor([[*tokens, EOS_ID]])
    log_probs = model.output.log_probs(model.decoder(target_in, encoded.memory, encoded.mask))
    return float(log_probs.gather(-1, target_out[..., None]).sum())


def test_greedy_is_misled_where_a_beam_of_two_finds_the_better_sequence():
    scorer = BigramScorer(misleading_table())
    greedy = search(scorer, beam_size=1, length_penalty=0.0)[0][0]
    beam = search(scorer, beam_size=2, length_penalty=0.0)[0][0]
    assert greedy.tokens == (A,)
    assert beam.tokens == (B,)
    assert beam.score == pytest.approx(float(torch.tensor(0.4 * 0.99).log()), abs=1e-5)


@torch.no_grad()
def test_beam_of_one_equals_greedy_search_on_a_model():
    model = tiny_model()
    for seed in range(4):
        source = torch.randint(4, 40, (1, 6), generator=torch.Generator().manual_seed(seed))
        found = search(model.scorer(), model.encode(source), limits=(12,), beam_size=1)
        assert found[0][0].tokens == greedy_by_recomputation(model, source, 12)


@torch.no_grad()
def test_a_beam_as_wide_as_the_search_space_ranks_every_sequence_like_brute_force():
    model = tiny_model(vocab=7, seed=3)  # outputs: unk, 4, 5, 6 and the end token
    source = torch.tensor([[4, 5, 6, EOS_ID]])
    limit = 3  # at most two tokens and the end: 1 + 4 + 16 = 21 sequences
    words = [1, 4, 5, 6]
    candidates = [()] + [(w,) for w in words] + list(itertools.product(words, repeat=2))
    brute = sorted(((sequence_log_prob(model, source, c) / (len(c) + 1), c) for c in candidates),
                   reverse=True)
    found = search(model.scorer(), model.encode(source), limits=(limit,), beam_size=21,
                   nbest=21, length_penalty=1.0)[0]
    assert [h.tokens for h in found] == [c for _, c in brute]
    assert [h.normalized_score for h in found] == pytest.approx([s for s, _ in brute], abs=1e-5)


@torch.no_grad()
def test_sentences_searched_together_get_the_same_results_as_one_by_one():
    model = tiny_model(seed=1)
    sources = [[5, 9, 12, 7, 30, 22, 8], [11, 4], [17, 25, 6, 9]]
    limits = [14, 4, 9]
    together = search(model.scorer(), model.encode(pad([s + [EOS_ID] for s in sources])),
                      limits=limits, beam_size=3, nbest=3)
    for source, limit, batched in zip(sources, limits, together):
        alone = search(model.scorer(), model.encode(torch.tensor([source + [EOS_ID]])),
                       limits=(limit,), beam_size=3, nbest=3)[0]
        assert [h.tokens for h in batched] == [h.tokens for h in alone]
        assert [h.score for h in batched] == pytest.approx([h.score for h in alone], abs=1e-4)


def test_no_output_is_longer_than_its_limit_end_token_included():
    uniform = BigramScorer(torch.full((6, 6), 1 / 6).index_fill(1, torch.tensor([EOS_ID]), 1e-6))
    results = search(uniform, limits=(1, 3, 6), beam_size=3, nbest=3)
    for limit, hyps in zip((1, 3, 6), results):
        assert hyps and all(len(h.tokens) + 1 <= limit for h in hyps)
    assert results[2][0].tokens and len(results[2][0].tokens) == 5  # ending is unlikely


def test_nbest_is_distinct_and_ranked_by_length_normalised_score():
    hyps = search(BigramScorer(misleading_table()), beam_size=4, nbest=4)[0]
    assert len(hyps) == 4 and len({h.tokens for h in hyps}) == 4
    scores = [h.normalized_score for h in hyps]
    assert scores == sorted(scores, reverse=True)
    assert all(h.normalized_score == pytest.approx(h.score / (len(h.tokens) + 1)) for h in hyps)


def test_min_length_delays_the_end_token():
    hyps = search(BigramScorer(misleading_table()), beam_size=2, min_length=3)[0]
    assert len(hyps[0].tokens) >= 3


def test_forbidden_tokens_never_appear():
    probs = misleading_table()
    probs[BOS_ID, PAD_ID] = probs[A, BOS_ID] = 5.0  # very likely, but forbidden
    hyps = search(BigramScorer(probs), beam_size=3, nbest=3)[0]
    assert all(PAD_ID not in h.tokens and BOS_ID not in h.tokens for h in hyps)


def test_weighted_scorers_add_up():
    table = BigramScorer(misleading_table())
    beam = BeamSearch({"a": table, "b": table}, DecodingOptions(beam_size=2, length_penalty=0),
                      BOS_ID, EOS_ID, weights={"a": 0.5, "b": 0.5}, forbidden_ids=[PAD_ID, BOS_ID])
    single = search(table, beam_size=2, length_penalty=0.0)[0][0]
    combined = beam(None, [10], "cpu")[0][0]
    assert combined.tokens == single.tokens
    assert combined.score == pytest.approx(single.score, abs=1e-5)


class PreferToken(PartialScorer):
    """A partial scorer: +bonus for `token`, and which candidates it was asked to score."""

    def __init__(self, token: int, bonus: float) -> None:
        self.token, self.bonus, self.asked = token, bonus, []

    def score_partial(self, tokens, candidates, state):
        self.asked.append(candidates.clone())
        return (candidates == self.token).float() * self.bonus, state


def test_a_partial_scorer_scores_only_the_pre_beam_and_the_end_token():
    table = misleading_table()
    table[BOS_ID, [1, 4, 5]] = torch.tensor([0.3, 0.2, 0.1])
    partial = PreferToken(B, 10.0)
    beam = BeamSearch({"main": BigramScorer(table), "bonus": partial},
                      DecodingOptions(beam_size=1, length_penalty=0), BOS_ID, EOS_ID,
                      forbidden_ids=[PAD_ID, BOS_ID], pre_beam=2)
    beam(None, [1], "cpu")  # at the length limit: the pre-beam itself (2 best + end)
    assert sorted(partial.asked[0][0].tolist()) == sorted([1, A, EOS_ID])
    first = beam(None, [10], "cpu")[0][0]  # widened to the 2K + 2 blocked tokens proposed
    assert set(partial.asked[1][0].tolist()) >= {1, A, B, EOS_ID}
    assert first.tokens[0] == B  # the bonus lifts B, which the full scorer ranks third


def test_partial_scores_add_to_the_full_scores_with_their_weights():
    table = BigramScorer(misleading_table())
    beam = BeamSearch({"main": table, "bonus": PreferToken(A, 1.0)},
                      DecodingOptions(beam_size=2, length_penalty=0), BOS_ID, EOS_ID,
                      weights={"main": 0.5, "bonus": 0.25}, forbidden_ids=[PAD_ID, BOS_ID])
    best = beam(None, [10], "cpu")[0][0]
    expected = 0.5 * sum(float(table.log_probs[a, b])
                         for a, b in zip((BOS_ID, *best.tokens), (*best.tokens, EOS_ID)))
    assert best.score == pytest.approx(expected + 0.25 * best.tokens.count(A), abs=1e-5)


def test_a_search_needs_a_full_scorer():
    with pytest.raises(ValueError, match="at least one full scorer"):
        BeamSearch({"bonus": PreferToken(A, 1.0)}, DecodingOptions(), BOS_ID, EOS_ID)


def test_bad_options_are_clear_errors():
    with pytest.raises(ValueError, match="nbest=3 must be in 1..beam_size=2"):
        DecodingOptions(beam_size=2, nbest=3)
    with pytest.raises(ValueError, match="beam_size=0"):
        DecodingOptions(beam_size=0)


def test_length_limit_grows_with_the_source_and_is_capped():
    options = DecodingOptions(max_length_a=1.5, max_length_b=4, max_length=20)
    assert [options.length_limit(n) for n in (0, 4, 100)] == [4, 10, 20]
