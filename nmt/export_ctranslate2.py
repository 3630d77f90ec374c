"""Export a trained NMT model directory to CTranslate2, and translate with it as we do.

    python -m nmt.export_ctranslate2 MODEL_DIR OUT_DIR [--quantization int8] [--force]
    python -m nmt.export_ctranslate2 MODEL_DIR OUT_DIR --without-reuse   # not the same model

The `TransformerNMT` maps onto CTranslate2's `TransformerSpec` (ctranslate2's Python spec
API, as its fairseq and OpenNMT-py converters fill it): pre-LN layers with a final LayerNorm
in encoder and decoder, embeddings scaled by √D, one shared vocabulary (the sentencepiece
pieces), one embedding matrix for encoder input, decoder input and output projection, ReLU
feed-forward layers, fused q/k/v projections in the order q, k, v. Our sinusoids interleave
sin and cos from position 0; CTranslate2's built-in ones do not, so the encoder and decoder
get our table (`max_length` positions) as explicit position encodings. The source ends with
the end token (`add_source_eos`), the decoder starts from the begin token.

Attention map reuse cannot be expressed in CTranslate2: a follower layer there computes its
own map. A model trained with reuse (`reuse_pattern` with a group > 1) is refused. With
`--without-reuse` it is exported anyway, each follower computing its own map with its
leader's query and key weights on its own input: a different function (the followers were
trained on the leader's map), so its translations and BLEU differ and must be measured; it
serves speed comparisons only.

Decoding with the same semantics as `nmt-translate` (`ctranslate2_options`): beam size,
n-best, length penalty α (both rank finished hypotheses by log-probability / length^α, the
length counting the end token). Two differences remain, not expressible in CTranslate2:

- Length limit: ours allows min(a·|source| + b, max_length) tokens, the end token included,
  and forces the end token at the last one (its log-probability counted); CTranslate2 stops
  after `max_decoding_length` tokens and keeps the hypothesis as it is. With
  max_decoding_length = our limit − 1 both give at most the same tokens; hypotheses that
  reach the limit score differently. The limit is one per `translate_batch` call, so
  `translate_lines` calls it once per group of sentences with the same limit.
- Padding and begin tokens: ours never proposes them, masking them after the softmax over
  the whole vocabulary; CTranslate2's `suppress_sequences` masks before the softmax, which
  would shift every score, so none are suppressed here (a trained model gives them
  vanishing probability).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sentencepiece as spm
import torch
from torch import nn

from echoformer.attention import Role
from echoformer.model_dir import ModelDirError, load_model_dir
from echoformer.positional import sinusoids
from echoformer.search import DecodingOptions
from echoformer.text_norm import normalize_text
from echoformer.tokenizer import BOS_ID, EOS_ID, UNK_ID, Tokenizer
from nmt.model import TransformerNMT

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # read as spaces, as nmt-translate does


class ReuseNotExportableError(ModelDirError):
    """A model with encoder attention map reuse, which CTranslate2 cannot express."""


def build_spec(model: TransformerNMT, tokenizer: Tokenizer, without_reuse: bool = False):
    """The CTranslate2 `TransformerSpec` of `model` (float32 weights, vocabulary registered).

    Layer counts and head counts are read from the model's modules, so any config key names
    load. Raises `ReuseNotExportableError` for a reuse model unless `without_reuse`.
    """
    from ctranslate2.specs import common_spec, transformer_spec

    pattern = list(model.encoder.pattern)
    if any(size > 1 for size in pattern) and not without_reuse:
        raise ReuseNotExportableError(
            f"the model was trained with encoder attention map reuse (reuse_pattern "
            f"{pattern}): CTranslate2 cannot share one layer's attention map with the next, "
            "and letting every layer compute its own map is a different model (its followers "
            "were trained on their leader's map). Export a model trained with reuse=none, or "
            "pass --without-reuse for a variant whose followers compute their own maps with "
            "their leader's query/key weights (for speed comparisons; its BLEU differs)")
    heads = {layer.attention.n_heads for layer in model.encoder.layers}
    heads |= {layer.self_attention.n_heads for layer in model.decoder.layers}
    assert len(heads) == 1, f"one head count for every layer, got {sorted(heads)}"
    spec = transformer_spec.TransformerSpec.from_config(
        (len(model.encoder.layers), len(model.decoder.layers)), heads.pop(), pre_norm=True,
        activation=common_spec.Activation.RELU)
    epsilons = {m.eps for m in model.modules() if isinstance(m, nn.LayerNorm)}
    assert len(epsilons) == 1, f"one LayerNorm epsilon, got {sorted(epsilons)}"
    spec.config.layer_norm_epsilon = epsilons.pop()
    spec.config.add_source_eos = True
    vocabulary = vocabulary_pieces(tokenizer)
    spec.config.decoder_start_token = vocabulary[BOS_ID]
    for name, token_id in (("unk_token", UNK_ID), ("bos_token", BOS_ID), ("eos_token", EOS_ID)):
        setattr(spec.config, name, vocabulary[token_id])

    embedding = _array(model.embedding.weight)
    positions = sinusoids(torch.arange(model.config.max_length), embedding.shape[1]).numpy()
    for stack in (spec.encoder, spec.decoder):
        stack.scale_embeddings = True  # x·√D, then + position
        stack.position_encodings.encodings = positions
    spec.encoder.embeddings[0].weight = embedding
    spec.decoder.embeddings.weight = embedding
    spec.decoder.projection.weight = embedding  # tied, no bias
    _set_encoder(spec.encoder, model)
    _set_decoder(spec.decoder, model)
    spec.register_source_vocabulary(vocabulary)
    spec.register_target_vocabulary(vocabulary)
    return spec


def vocabulary_pieces(tokenizer: Tokenizer) -> list[str]:
    """The sentencepiece piece of every id, in id order (CTranslate2's vocabulary)."""
    processor = spm.SentencePieceProcessor(model_file=str(tokenizer.model_path))
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


def _set_encoder(spec: Any, model: TransformerNMT) -> None:
    leader_qk = None
    for layer_spec, layer, role in zip(spec.layer, model.encoder.layers, model.encoder.roles):
        attention, d = layer.attention, layer.attention.d_model
        if role is Role.FOLLOWER:  # only --without-reuse gets here: the leader's q, k
            weight = torch.cat([leader_qk[0], attention.value.weight])
            bias = torch.cat([leader_qk[1], attention.value.bias])
        else:
            weight, bias = attention.qkv.weight, attention.qkv.bias
            leader_qk = weight[: 2 * d], bias[: 2 * d]
        _set_linear_arrays(layer_spec.self_attention.linear[0], weight, bias)
        _set_linear(layer_spec.self_attention.linear[1], attention.out)
        _set_norm(layer_spec.self_attention.layer_norm, layer.attention_norm)
        _set_ffn(layer_spec.ffn, layer.ff_norm, layer.ff)
    _set_norm(spec.layer_norm, model.encoder_norm)


def _set_decoder(spec: Any, model: TransformerNMT) -> None:
    for layer_spec, layer in zip(spec.layer, model.decoder.layers):
        _set_linear(layer_spec.self_attention.linear[0], layer.self_attention.qkv)
        _set_linear(layer_spec.self_attention.linear[1], layer.self_attention.out)
        _set_norm(layer_spec.self_attention.layer_norm, layer.self_norm)
        _set_linear(layer_spec.attention.linear[0], layer.cross_attention.query)
        _set_linear(layer_spec.attention.linear[1], layer.cross_attention.key_value)
        _set_linear(layer_spec.attention.linear[2], layer.cross_attention.out)
        _set_norm(layer_spec.attention.layer_norm, layer.cross_norm)
        _set_ffn(layer_spec.ffn, layer.ff_norm, layer.ff)
    _set_norm(spec.layer_norm, model.decoder.norm)


def _set_ffn(spec: Any, norm: nn.LayerNorm, ff: nn.Module) -> None:
    first, last = (m for m in ff.modules() if isinstance(m, nn.Linear))
    _set_norm(spec.layer_norm, norm)
    _set_linear(spec.linear_0, first)
    _set_linear(spec.linear_1, last)


def _set_norm(spec: Any, norm: nn.LayerNorm) -> None:
    spec.gamma, spec.beta = _array(norm.weight), _array(norm.bias)


def _set_linear(spec: Any, linear: nn.Linear) -> None:
    _set_linear_arrays(spec, linear.weight, linear.bias)


def _set_linear_arrays(spec: Any, weight: torch.Tensor, bias: torch.Tensor) -> None:
    spec.weight, spec.bias = _array(weight), _array(bias)


def _array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to(torch.float32).cpu().numpy().copy()


def export(model_dir: Path, out_dir: Path, quantization: str | None = None,
           force: bool = False, without_reuse: bool = False) -> Path:
    """Write the CTranslate2 model of `model_dir` to `out_dir`; returns `out_dir`.

    quantization: a CTranslate2 weight type (int8, int16, float16, ...; None = float32).
    """
    from ctranslate2.converters.converter import Converter

    class _NMTConverter(Converter):
        def _load(self):
            loaded = load_model_dir(model_dir)
            if not isinstance(loaded.model, TransformerNMT):
                raise ModelDirError(f"{model_dir} holds a {loaded.meta.get('model_type')} "
                                    "model, not a translation model (transformer_nmt)")
            with torch.no_grad():
                return build_spec(loaded.model, loaded.tokenizer, without_reuse)

    return Path(_NMTConverter().convert(str(out_dir), quantization=quantization, force=force))


def ctranslate2_options(options: DecodingOptions, source_length: int,
                        max_length: int) -> dict[str, Any]:
    """`translate_batch` keyword arguments that decode a source of `source_length` tokens
    (end token not counted) as `options` do in our beam search (see the module docstring for
    the length limit); max_length: the model's, which also truncates the source."""
    return {"beam_size": options.beam_size, "num_hypotheses": options.nbest,
            "length_penalty": options.length_penalty, "patience": 1.0,
            "max_decoding_length": max(1, options.length_limit(source_length) - 1),
            "min_decoding_length": options.min_length, "max_input_length": max_length,
            "return_scores": True}


def source_pieces(tokenizer: Tokenizer, line: str) -> list[str]:
    """The pieces of `line` as nmt-translate reads it (control characters as spaces, NFC)."""
    return tokenizer.pieces(normalize_text(_CONTROL.sub(" ", line)))


def translate_lines(translator: Any, tokenizer: Tokenizer, options: DecodingOptions,
                    lines: Sequence[str], max_length: int,
                    batch_size: int = 1) -> list[list[tuple[str, float]]]:
    """Per line its n-best (text, length-normalised score), best first, from a
    `ctranslate2.Translator`; sentences with equal length limits share a call (at most
    `batch_size` each). An empty line gives [("", 0.0)], as ours."""
    results: list[list[tuple[str, float]]] = [[("", 0.0)] for _ in lines]
    piece_ids = {piece: i for i, piece in enumerate(vocabulary_pieces(tokenizer))}
    groups: dict[int, list[int]] = {}
    pieces = [source_pieces(tokenizer, line) for line in lines]
    for index, tokens in enumerate(pieces):
        if tokens:
            groups.setdefault(min(len(tokens), max_length - 1), []).append(index)
    for length, members in groups.items():
        for start in range(0, len(members), batch_size):
            chunk = members[start:start + batch_size]
            outputs = translator.translate_batch(
                [pieces[i] for i in chunk], **ctranslate2_options(options, length, max_length))
            for index, output in zip(chunk, outputs):
                results[index] = [(tokenizer.decode(piece_ids[p] for p in hyp), score)
                                  for hyp, score in zip(output.hypotheses, output.scores)]
    return results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nmt.export_ctranslate2", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", type=Path, metavar="MODEL_DIR",
                        help="model directory written by nmt-train")
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR",
                        help="CTranslate2 model directory to write")
    parser.add_argument("--quantization", help="weight type: int8, int8_float32, int16, "
                                               "float16, bfloat16, float32 (default float32)")
    parser.add_argument("--force", action="store_true", help="replace an existing OUT_DIR")
    parser.add_argument("--without-reuse", action="store_true",
                        help="export a reuse model with every layer computing its own map "
                             "(a different model; for speed comparisons)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        print("nmt.export_ctranslate2: ctranslate2 is not installed; install it with "
              "`pip install 'echoformer[peers]'` (or `pip install ctranslate2`)", file=sys.stderr)
        return 2
    try:
        out = export(args.model_dir, args.out_dir, args.quantization, args.force,
                     args.without_reuse)
    except (ModelDirError, RuntimeError, ValueError) as error:
        print(f"nmt.export_ctranslate2: {args.model_dir}: {error}", file=sys.stderr)
        return 2
    print(f"nmt.export_ctranslate2: wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
