"""Search over output sequences: the scorer interface, decoding options, batched beam search."""

from echoformer.search.beam_search import BeamSearch
from echoformer.search.decoder_scorer import DecoderScorer, EncoderOutput
from echoformer.search.options import DecodingOptions, Hypothesis
from echoformer.search.scorer import Scorer, WeightedSum

__all__ = ["BeamSearch", "DecoderScorer", "DecodingOptions", "EncoderOutput", "Hypothesis",
           "Scorer", "WeightedSum"]
