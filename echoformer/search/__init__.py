"""Search over output sequences: the scorer interfaces, decoding options, batched beam search."""

from echoformer.search.beam_search import BeamSearch
from echoformer.search.decoder_scorer import DecoderScorer, EncoderOutput
from echoformer.search.lm_scorer import IncrementalLM, LMScorer
from echoformer.search.options import DecodingOptions, Hypothesis
from echoformer.search.scorer import PartialScorer, Scorer

__all__ = ["BeamSearch", "DecoderScorer", "DecodingOptions", "EncoderOutput", "Hypothesis",
           "IncrementalLM", "LMScorer", "PartialScorer", "Scorer"]
