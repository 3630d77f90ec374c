"""Decoding methods of `ASRModel`, chosen by name and batched over utterances.

- ``ctc_greedy``: best CTC path, repeats merged, blanks removed.
- ``ctc_prefix_beam``: CTC prefix beam search (`beam_size` prefixes per utterance).
- ``joint_beam``: attention beam search with CTC prefix scores,
  score = (1 − ctc_weight)·log p_att + ctc_weight·log p_ctc (ESPnet style).
- ``attention_rescoring``: the CTC prefix beam's n-best rescored by the attention decoder,
  score = (1 − ctc_weight)·log p_att(y·eos) + ctc_weight·log p_ctc(y) (WeNet style).

With a language model (`asr.lm.PieceLM`, `lm_weight` β > 0) the last two add β·log p_lm:
token by token in joint_beam's search (shallow fusion), per hypothesis in attention_rescoring.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from asr.conformer import lengths_to_mask
from asr.ctc import BLANK_ID, ctc_greedy_search, ctc_prefix_beam_search
from asr.ctc_scorer import ASREncoderOutput, CTCPrefixScorer
from asr.lm import PieceLM
from asr.model import ASRModel
from echoformer.search.beam_search import BeamSearch
from echoformer.search.decoder_scorer import DecoderScorer
from echoformer.search.lm_scorer import LMScorer
from echoformer.search.options import DecodingOptions
from echoformer.tokenizer import BOS_ID, EOS_ID, PAD_ID

METHODS = ("ctc_greedy", "ctc_prefix_beam", "joint_beam", "attention_rescoring")
LM_METHODS = ("joint_beam", "attention_rescoring")


@dataclass
class ASRDecodingOptions:
    """How `asr-transcribe` and the recipe decode (one record for every entry point).

    method: one of METHODS; beam_size: prefixes/hypotheses per utterance; ctc_weight: λ of
    joint_beam and attention_rescoring; length_penalty: α of joint_beam's final ranking;
    lm_weight: β of a language model's scores (joint_beam and attention_rescoring; 0 = none).
    """

    method: str = "attention_rescoring"
    beam_size: int = 10
    ctc_weight: float = 0.3
    length_penalty: float = 0.0
    lm_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown decoding method {self.method!r}: use one of "
                             f"{', '.join(METHODS)}")
        if self.beam_size < 1:
            raise ValueError(f"beam_size={self.beam_size}: use 1 or more")
        if not 0.0 <= self.ctc_weight <= 1.0:
            raise ValueError(f"ctc_weight={self.ctc_weight} must be in [0, 1]")
        if self.lm_weight < 0:
            raise ValueError(f"lm_weight={self.lm_weight} must be ≥ 0")


@torch.no_grad()
def decode(model: ASRModel, features: Tensor, lengths: Tensor, options: ASRDecodingOptions,
           lm: PieceLM | None = None) -> list[list[int]]:
    """Token ids of the best hypothesis per utterance. features: (B, T, F); lengths: (B,).
    lm: the language model that options.lm_weight weighs (needed when that is > 0)."""
    check_lm(options, lm)
    encoded, enc_lengths = model.encode(features, lengths)
    log_probs = model.ctc.log_probs(encoded)
    if options.method == "ctc_greedy":
        return ctc_greedy_search(log_probs, enc_lengths)
    if options.method == "ctc_prefix_beam":
        nbest = ctc_prefix_beam_search(log_probs, enc_lengths, options.beam_size)
        return [list(hyps[0].tokens) if hyps else [] for hyps in nbest]
    if options.method == "attention_rescoring":
        return attention_rescoring(model, encoded, enc_lengths, log_probs, options, lm)
    return joint_beam_search(model, encoded, enc_lengths, log_probs, options, lm)


def check_lm(options: ASRDecodingOptions, lm: PieceLM | None) -> None:
    """A ValueError when `options` weigh a language model that is not there, or the method
    cannot use one."""
    if options.lm_weight > 0 and lm is None:
        raise ValueError(f"lm_weight={options.lm_weight} needs a language model (--lm DIR)")
    if options.lm_weight > 0 and options.method not in LM_METHODS:
        raise ValueError(f"a language model works with {' and '.join(LM_METHODS)}, not "
                         f"{options.method}")


def attention_rescoring(model: ASRModel, encoded: Tensor, lengths: Tensor, log_probs: Tensor,
                        options: ASRDecodingOptions, lm: PieceLM | None = None
                        ) -> list[list[int]]:
    """Rescore each utterance's CTC n-best with the decoder, all hypotheses in one batch."""
    nbest = ctc_prefix_beam_search(log_probs, lengths, options.beam_size)
    hyps = [list(h.tokens) for hyps in nbest for h in hyps]
    rows = torch.tensor([b for b, hs in enumerate(nbest) for _ in hs], device=encoded.device)
    ctc_scores = torch.tensor([h.score for hs in nbest for h in hs], device=encoded.device)
    att_scores = model.attention_scores(encoded, lengths, hyps, rows)
    w = options.ctc_weight
    total = (1 - w) * att_scores + w * ctc_scores
    if options.lm_weight > 0 and hyps:
        total = total + options.lm_weight * lm.sequence_log_probs(hyps).to(total.device)
    total = total.tolist()
    best: list[list[int]] = [[] for _ in nbest]
    best_score = [float("-inf")] * len(nbest)
    for row, hyp, score in zip(rows.tolist(), hyps, total):
        if score > best_score[row]:
            best[row], best_score[row] = hyp, score
    return best


def joint_beam_search(model: ASRModel, encoded: Tensor, lengths: Tensor, log_probs: Tensor,
                      options: ASRDecodingOptions, lm: PieceLM | None = None
                      ) -> list[list[int]]:
    """Attention beam search over all utterances at once, with CTC prefix scores: the decoder
    (and the LM) as full scorers, CTC as the partial scorer of their pre-beam."""
    w = options.ctc_weight
    scorers = {"decoder": DecoderScorer(model.decoder, model.output)}
    weights = {"decoder": 1 - w}
    if options.lm_weight > 0:
        scorers["lm"], weights["lm"] = LMScorer(lm), options.lm_weight
    if w > 0:
        scorers["ctc"], weights["ctc"] = CTCPrefixScorer(EOS_ID, BLANK_ID), w
    max_length = max(1, int(lengths.max()))  # CTC emits at most one token per frame
    search_options = DecodingOptions(beam_size=options.beam_size, nbest=1,
                                     length_penalty=options.length_penalty, max_length_a=1.0,
                                     max_length_b=1, max_length=max_length + 1)
    search = BeamSearch(scorers, search_options, BOS_ID, EOS_ID, weights=weights,
                        forbidden_ids=(PAD_ID, BOS_ID))
    context = ASREncoderOutput(encoded, lengths_to_mask(lengths, encoded.shape[1]), log_probs)
    limits = [search_options.length_limit(n) for n in lengths.tolist()]
    results = search(context, limits, encoded.device)
    return [list(hyps[0].tokens) if hyps else [] for hyps in results]
