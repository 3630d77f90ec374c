"""asr.ctc: greedy search, prefix beam search and prefix scores against brute force."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from asr.ctc import CTCPrefixScore, ctc_greedy_search, ctc_prefix_beam_search
from ctc_reference import prefix_scores

EOS = 3


def _collapse(path):
    labels, previous = [], None
    for p in path:
        if p != previous and p != 0:
            labels.append(p)
        previous = p
    return tuple(labels)


def _label_probabilities(log_probs):
    """Every label sequence's exact probability p(y|x), by enumerating all paths (tiny T, V)."""
    t, v = log_probs.shape
    probs = {}
    for path in itertools.product(range(v), repeat=t):
        p = math.exp(sum(log_probs[i, s].item() for i, s in enumerate(path)))
        probs[_collapse(path)] = probs.get(_collapse(path), 0.0) + p
    return probs


def _peaky(batch, frames, vocab, seed):
    """CTC-like posteriors: one class takes almost all the mass at each frame."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, frames, vocab, generator=g)
    logits[..., 0] += 2.0  # blanks are frequent, as in trained models
    top = logits.argmax(-1, keepdim=True)
    return logits.scatter_add(-1, top, torch.full_like(top, 12.0, dtype=logits.dtype)
                              ).log_softmax(-1)


def test_greedy_merges_repeats_and_drops_blanks():
    best = torch.tensor([[0, 5, 5, 0, 5, 6, 6, 0, 0, 7]])
    log_probs = F.one_hot(best, 8).float().log_softmax(-1)
    assert ctc_greedy_search(log_probs, torch.tensor([10])) == [[5, 5, 6, 7]]
    assert ctc_greedy_search(log_probs, torch.tensor([4])) == [[5]]


def test_prefix_beam_search_with_beam_one_equals_greedy_on_peaky_posteriors():
    log_probs = _peaky(6, 80, 20, seed=0)
    lengths = torch.tensor([80, 75, 60, 41, 80, 7])
    beam = ctc_prefix_beam_search(log_probs, lengths, beam_size=1)
    assert [list(hyps[0].tokens) for hyps in beam] == ctc_greedy_search(log_probs, lengths)


def test_prefix_beam_search_finds_the_most_probable_labels_with_their_probabilities():
    torch.manual_seed(0)
    log_probs = (torch.randn(1, 5, 4) * 1.5).log_softmax(-1)
    exact = sorted(_label_probabilities(log_probs[0]).items(), key=lambda kv: -kv[1])
    found = ctc_prefix_beam_search(log_probs, torch.tensor([5]), beam_size=400)[0]
    for (labels, p), hyp in zip(exact[:8], found[:8]):
        assert hyp.tokens == labels
        assert hyp.score == pytest.approx(math.log(p), abs=1e-4)


def test_prefix_beam_search_of_a_batch_equals_each_utterance_alone():
    log_probs = (torch.randn(3, 30, 12, generator=torch.Generator().manual_seed(1)) * 3
                 ).log_softmax(-1)
    lengths = torch.tensor([30, 17, 24])
    batched = ctc_prefix_beam_search(log_probs, lengths, beam_size=4)
    for i in range(3):
        alone = ctc_prefix_beam_search(log_probs[i:i + 1, : lengths[i]], lengths[i:i + 1], 4)
        assert [h.tokens for h in batched[i]] == [h.tokens for h in alone[0]]
        assert [h.score for h in batched[i]] == pytest.approx([h.score for h in alone[0]],
                                                              abs=1e-4)


def _extended(scorer, state, labels):
    for token in labels:
        state = scorer.extend(state, torch.full((len(state.rows),), token))
    return state


@pytest.mark.parametrize("labels", [[4, 4, 5], [6], [5, 6, 4, 7]])
def test_prefix_scores_of_a_hypothesis_and_eos_sum_to_minus_the_ctc_loss(labels):
    log_probs = torch.randn(2, 12, 8, generator=torch.Generator().manual_seed(2)).log_softmax(-1)
    lengths = torch.tensor([12, 9])
    scorer = CTCPrefixScore(log_probs, lengths, eos=EOS)
    for b in range(2):
        state, total = scorer.initial_state(torch.tensor([b])), 0.0
        for token in labels + [EOS]:
            log_psi = scorer.score(state, torch.tensor([[token]]))
            total += float(log_psi[0, 0] - state.log_psi[0])
            state = _extended(scorer, state, [token])
        loss = F.ctc_loss(log_probs[b:b + 1, : lengths[b]].transpose(0, 1),
                          torch.tensor([labels]), lengths[b:b + 1], torch.tensor([len(labels)]),
                          reduction="sum")
        assert total == pytest.approx(-float(loss), abs=1e-4)


def test_prefix_score_is_the_probability_that_the_labels_start_with_the_prefix():
    torch.manual_seed(3)
    log_probs = torch.randn(1, 5, 4).log_softmax(-1)
    exact = _label_probabilities(log_probs[0])
    scorer = CTCPrefixScore(log_probs, torch.tensor([5]), eos=EOS)
    state = _extended(scorer, scorer.initial_state(torch.tensor([0])), [2])
    log_psi = scorer.score(state, torch.tensor([[1, 2]]))  # prefixes (2, 1), (2, 2)
    for column, prefix in enumerate([(2, 1), (2, 2)]):
        p = sum(q for labels, q in exact.items() if labels[:2] == prefix)
        assert float(log_psi[0, column]) == pytest.approx(math.log(p), abs=1e-4)


def test_prefix_scores_of_every_short_prefix_equal_the_sum_over_all_alignments():
    """All prefixes up to 3 tokens × every candidate (repeats and eos included), for two
    utterances of a padded batch: log Σ p(y|x) over the label sequences y that start with the
    prefix (eos: y equal to it), by enumerating every path."""
    log_probs = (torch.randn(2, 5, 4, generator=torch.Generator().manual_seed(4)) * 2
                 ).log_softmax(-1)
    lengths = torch.tensor([5, 3])
    scorer = CTCPrefixScore(log_probs, lengths, eos=EOS)
    candidates = torch.tensor([[1, 2, EOS]])
    for b in range(2):
        exact = _label_probabilities(log_probs[b, : lengths[b]])
        for n in range(4):
            for prefix in itertools.product([1, 2], repeat=n):
                state = _extended(scorer, scorer.initial_state(torch.tensor([b])), prefix)
                log_psi = scorer.score(state, candidates)[0].tolist()
                reference = prefix_scores(log_probs[b, : lengths[b]], prefix,
                                          candidates[0].tolist(), EOS)
                for token, found, ref in zip(candidates[0].tolist(), log_psi, reference):
                    p = (exact.get(prefix, 0.0) if token == EOS else
                         sum(q for y, q in exact.items() if y[: n + 1] == prefix + (token,)))
                    want = math.log(p) if p > 0 else float("-inf")
                    assert found == pytest.approx(want, abs=1e-4), (b, prefix, token)
                    assert ref == pytest.approx(want, abs=1e-4), "the reference itself"


def test_prefix_scores_on_long_inputs_equal_torchs_ctc_loss():
    """300 frames of flat posteriors, so the forward variables fall to about −600: the
    scores of a batch of hypotheses and candidates, extended step by step, still match."""
    g = torch.Generator().manual_seed(5)
    log_probs = (torch.randn(2, 300, 9, generator=g) * 0.5).log_softmax(-1)
    lengths = torch.tensor([300, 230])
    scorer = CTCPrefixScore(log_probs, lengths, eos=EOS)
    rows = torch.tensor([0, 0, 1, 1])
    labels = torch.randint(4, 9, (4, 60), generator=g)
    labels[:, 1::7] = labels[:, :-1:7]  # some repeated tokens
    candidates = torch.tensor([[1, 2, EOS, 5, 6, 7, 8]]).expand(4, -1).clone()
    state = scorer.initial_state(rows)
    for n in range(labels.shape[1] + 1):
        if n in (0, 1, 17, 60):
            candidates[:, 0] = labels[:, n - 1] if n else 1  # a repeat of the last token
            found = scorer.score(state, candidates)
            for i, b in enumerate(rows.tolist()):
                lp = log_probs[b, : lengths[b]]
                want = prefix_scores(lp, labels[i, :n].tolist(), candidates[i].tolist(), EOS)
                assert found[i].tolist() == pytest.approx(want, rel=1e-5)
        if n < labels.shape[1]:
            state = scorer.extend(state, labels[:, n])
