"""`bench suite=nmt model=DIR`: how fast a translation model decodes, and what its two
accelerations give, in one run (registered with the bench app by `nmt.task`).

- decoding: sentences/s and output tokens/s for each beam size × batch size, full softmax and
  SVD-softmax timed in alternation on the same sentences;
- encoder: the model's encoder size with no reuse vs groups of `group_size`, or an explicit
  reuse `pattern` (random weights: speed only), on the same sentences, with the speed-up the
  operation count allows (`encoder_flops`);
- agreement: top-1/top-5 agreement of SVD-softmax with the full softmax on the trained
  decoder's real hidden states (teacher-forced on the references);
- large vocabulary (`nmt.large_vocab` words, 0 = off): where SVD-softmax pays off most. The
  model's sizes with random weights (speed only) and a synthetic output layer with a decaying
  singular spectrum and Zipf bias (`synthetic_output_layer`); beam search full vs SVD-softmax
  on the same sentences, every hypothesis forced to `nmt.large_vocab_tokens` tokens (random
  weights end sentences at random), with the output layer's weight bytes read per step.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml
from omegaconf import DictConfig, OmegaConf

from echoformer.bench import report
from echoformer.bench.config import reuse_rows_pattern
from echoformer.attention import Role
from echoformer.bench.layers import agreement, attention_flops, synthetic_output_layer
from echoformer.bench.timing import compare, machine_facts, time_share
from echoformer.model_dir import RUN_CONFIG_FILE, ModelDirError, read_meta
from echoformer.output_layer import (OutputLayer, SoftmaxConfig, requested_softmax,
                                     stored_softmax)
from echoformer.search import BeamSearch, DecoderScorer, DecodingOptions
from echoformer.svd_softmax import full_logits
from echoformer.tokenizer import BOS_ID, EOS_ID, PAD_ID
from echoformer.data.batching import pad
from nmt.data.local import read_lines
from nmt.model import NMTModelConfig, TransformerNMT
from nmt.translate import Translator


@dataclass
class NMTBenchConfig:
    """suite=nmt: decoding speed of a trained model directory (`model=DIR`)."""

    sentences: str | None = None  # source text, one sentence a line (default: the test split)
    max_sentences: int = 96  # timed sentences per case
    beams: list[int] = field(default_factory=lambda: [1, 5])
    batches: list[int] = field(default_factory=lambda: [1, 32])
    group_size: int = 4  # encoder reuse rows: this group size against no reuse (same sizes)
    pattern: list[int] | None = None  # or an explicit reuse pattern, e.g. [1,1,2]
    agreement_sentences: int = 200  # teacher-forced states for SVD-softmax agreement
    # large-vocabulary rows: the model's sizes with V = large_vocab words and random weights
    # (speed only), full vs SVD-softmax, every hypothesis forced to large_vocab_tokens tokens
    large_vocab: int = 65536  # 0 = off
    large_vocab_tokens: int = 24


QUICK = {"max_sentences": 8, "batches": [1, 8], "agreement_sentences": 16,
         "large_vocab": 16384, "large_vocab_tokens": 8}  # nmt.* under bench quick=true


def run(cfg: DictConfig, out_dir: Path) -> dict:
    c, device = cfg.nmt, cfg.device
    model_dir = Path(cfg.model)
    try:
        # SVD-softmax with the model's own W and N (model.yaml), as `nmt-translate --softmax svd`
        stored = stored_softmax(read_meta(model_dir))
        translators = {kind: Translator(model_dir, device,
                                        softmax=requested_softmax(kind, None, None, stored))
                       for kind in ("full", "svd")}
        sources, references = _test_sentences(model_dir, c.sentences, translators["full"])
    except (ModelDirError, FileNotFoundError) as error:
        sys.exit(f"bench suite=nmt: {error}")
    timed = sources[: c.max_sentences]
    model = translators["full"].model
    reuse = reuse_rows_pattern("nmt", c, model.config.encoder_layers)
    return {
        "suite": "nmt", "machine": machine_facts(device), "model": str(model_dir),
        "config": OmegaConf.to_container(cfg),
        "setup": {"sentences": len(timed), "vocab": model.vocab_size,
                  "d_model": model.config.d_model,
                  "svd": dataclasses.asdict(translators["svd"].model.output.softmax)},
        "decoding": _decoding_records(translators, timed, c.beams, c.batches, device, cfg),
        "encoder": _encoder_records(model, translators["full"], timed, c.batches, reuse,
                                    device, cfg),
        "agreement": _agreement(translators["svd"], sources[: c.agreement_sentences],
                                references and references[: c.agreement_sentences], device),
        "large_vocab": _large_vocab(translators, timed, c, device, cfg),
    }


def _test_sentences(model_dir: Path, path: str | None, translator: Translator
                    ) -> tuple[list[str], list[str] | None]:
    """Source lines (non-empty) and, when known, their references."""
    if path:
        return [line for line in read_lines(Path(path)) if line.strip()], None
    config_file = model_dir / RUN_CONFIG_FILE
    data = yaml.safe_load(config_file.read_text()).get("data", {}) if config_file.is_file() else {}
    files = [Path(data.get("dir", "")) / f"test.{data.get(lang)}"
             for lang in ("src_lang", "tgt_lang")]
    if not data or not files[0].is_file():
        raise FileNotFoundError(f"no test sentences found for {model_dir} "
                                f"(looked for {files[0]}); pass nmt.sentences=FILE")
    pairs = [(s, t) for s, t in zip(read_lines(files[0]), read_lines(files[1])) if s.strip()]
    return [s for s, _ in pairs], [t for _, t in pairs]


def _decoding_records(translators: dict[str, Translator], sentences: list[str], beams,
                      batches, device: str, cfg: DictConfig) -> list[dict]:
    records = []
    for beam in beams:
        for batch in batches:
            outputs: dict[str, int] = {}

            def decode(kind: str) -> None:
                t = translators[kind]
                t.options = dataclasses.replace(t.options, beam_size=beam, nbest=1)
                results = t.translate(sentences, batch_size=batch)
                outputs[kind] = sum(len(t.tokenizer.encode(r.text)) for r in results)

            ms = compare({kind: (lambda k=kind: decode(k)) for kind in translators}, device,
                         cfg.warmup, cfg.repeats)
            shares = _output_shares({k: t.model.output for k, t in translators.items()},
                                    decode, device)
            for kind in translators:
                seconds = ms[kind] / 1e3
                records.append({"softmax": kind, "beam": beam, "batch": batch,
                                "ms": ms[kind], "sentences_per_s": len(sentences) / seconds,
                                "tokens_per_s": outputs[kind] / seconds,
                                "speedup": ms["full"] / ms[kind], **shares[kind]})
    return records


def _output_shares(outputs: dict[str, OutputLayer], decode, device: str) -> dict[str, dict]:
    """Per softmax kind, the share of a decode spent in its output layer (log-softmax and
    top-k: `OutputLayer.topk` / `log_probs`), from one more pass, and the speed-up bound that
    the full softmax's share leaves to any output layer: 1 / (1 − share), a free one."""
    shares = {kind: time_share(output, ("topk", "log_probs"), lambda k=kind: decode(k), device)
              for kind, output in outputs.items()}
    bound = 1.0 / max(1e-9, 1.0 - shares["full"])
    return {kind: {"output_share": share, "output_bound": bound}
            for kind, share in shares.items()}


def _encoder_records(model: TransformerNMT, translator: Translator, sentences: list[str],
                     batches, pattern: list[int], device: str, cfg: DictConfig) -> list[dict]:
    """Encoder time with no reuse vs reuse `pattern` (random weights, the model's sizes)."""
    config, layers = model.config, model.config.encoder_layers
    torch.manual_seed(0)
    encoders = {name: TransformerNMT(config, model.vocab_size, p).to(device).eval()
                for name, p in (("baseline", [1] * layers), ("reuse", pattern))}
    ids = _source_ids(translator, sentences)
    records = []
    for batch in batches:
        chunks = [pad(ids[i:i + batch]).to(device) for i in range(0, len(ids), batch)]

        def encode_all(encoder: TransformerNMT) -> None:
            for chunk in chunks:
                encoder.encode(chunk)

        ms = compare({name: (lambda e=e: encode_all(e)) for name, e in encoders.items()},
                     device, cfg.warmup, cfg.repeats)
        flops = {name: sum(c.shape[0] * encoder_flops(config, c.shape[1], p) for c in chunks)
                 for name, p in (("baseline", [1] * layers), ("reuse", pattern))}
        bound = flops["baseline"] / flops["reuse"]
        speedup = ms["baseline"] / ms["reuse"]
        records.append({"batch": batch, "pattern": pattern, "baseline_ms": ms["baseline"],
                        "reuse_ms": ms["reuse"], "speedup": speedup, "bound": bound,
                        "of_bound": speedup / bound})
    return records


def encoder_flops(config: NMTModelConfig, length: int, pattern: list[int]) -> float:
    """Operations of the encoder's layers (matrix products and softmax) on one padded source of
    `length` tokens with reuse `pattern`: what `bound` in the encoder records is computed from
    (embedding, norms and elementwise work left out, as in `attention_flops`)."""
    d = config.d_model
    feed_forward = 2 * 2 * length * d * config.ffn_dim
    leader = attention_flops(length, d, config.heads, Role.LEADER)
    follower = attention_flops(length, d, config.heads, Role.FOLLOWER)
    attention = sum(leader + (group - 1) * follower for group in pattern)
    return sum(pattern) * feed_forward + attention


def _source_ids(translator: Translator, sentences: list[str]) -> list[list[int]]:
    """Each sentence's ids + end token, truncated to the model's max_length."""
    limit = translator.model.config.max_length - 1
    return [translator.tokenizer.encode(s)[:limit] + [EOS_ID] for s in sentences]


def _large_vocab(translators: dict[str, Translator], sentences: list[str], c: DictConfig,
                 device: str, cfg: DictConfig) -> dict:
    """Beam search full vs SVD-softmax at V = c.large_vocab (random weights: speed only)."""
    if not c.large_vocab:
        return {"records": [], "note": "off (nmt.large_vocab=0)"}
    trained = translators["svd"].model
    config, vocab, dim = trained.config, c.large_vocab, trained.config.d_model
    length = min(c.large_vocab_tokens, config.max_length - 1)
    window = trained.output.svd.window  # same D: same W
    chosen = trained.output.softmax.candidates  # an explicit N keeps its share of V
    candidates = max(1, round(vocab * chosen / trained.vocab_size)) if chosen else None
    torch.manual_seed(0)
    model = TransformerNMT(config, vocab).to(device).eval()
    layer = synthetic_output_layer(vocab, dim).to(device)
    outputs = {"full": OutputLayer(layer).eval(),
               "svd": OutputLayer(layer, SoftmaxConfig("svd", window, candidates)).eval()}
    svd = outputs["svd"].svd
    svd.refresh()  # factor once, outside the timing
    candidates, max_rows = svd.candidates, svd.max_rows
    ids = sorted(_source_ids(translators["full"], sentences), key=len)

    def step_bytes(words: float) -> float:
        """Output-layer weight bytes read per step when `words` rows get exact logits."""
        return 4 * (dim * dim + vocab * (window + 1) + words * (dim - window))

    full_bytes = 4 * vocab * (dim + 1)
    records = []
    for beam in c.beams:
        # exactly `length` tokens, then the end token (forced at the limit)
        options = DecodingOptions(beam_size=beam, nbest=1, max_length_a=0,
                                  max_length_b=length + 1, max_length=length + 1,
                                  min_length=length)
        for batch in c.batches:
            chunks = [pad(ids[i:i + batch]).to(device) for i in range(0, len(ids), batch)]
            produced: dict[str, int] = {}

            def decode(kind: str) -> None:
                produced[kind] = _forced_decode(model, outputs[kind], chunks, options, device)

            ms = compare({kind: (lambda k=kind: decode(k)) for kind in outputs}, device,
                         cfg.warmup, cfg.repeats)
            shares = _output_shares(outputs, decode, device)
            rows = min(batch, len(ids)) * beam  # hypotheses per step (all but the last chunk)
            path = "full" if max_rows is not None and rows > max_rows else "svd"
            union = None
            if path == "svd":  # one more, untimed pass that records the candidate unions
                probe = _CandidateUnion(outputs["svd"])
                with torch.inference_mode():
                    _forced_decode(model, probe, chunks, options, device)
                union = probe.mean_fraction
            for kind in outputs:
                seconds = ms[kind] / 1e3
                svd_path = kind == "svd" and path == "svd"
                records.append({
                    "softmax": kind, "beam": beam, "batch": batch,
                    "path": "svd" if svd_path else "full", "ms": ms[kind],
                    "sentences_per_s": len(ids) / seconds,
                    "tokens_per_s": produced[kind] / seconds, "speedup": ms["full"] / ms[kind],
                    "bytes_per_step": step_bytes(candidates) if svd_path else full_bytes,
                    "union_fraction": union if svd_path else None,
                    "union_bytes_per_step": step_bytes(union * vocab) if svd_path
                    else full_bytes, **shares[kind]})
    return {"setup": {"weights": "random (speed only)", "vocab": vocab, "d_model": dim,
                      "encoder_layers": config.encoder_layers,
                      "decoder_layers": config.decoder_layers, "W": window, "N": candidates,
                      "max_rows": max_rows, "tokens_per_sentence": length,
                      "sentences": len(ids)},
            "records": records}


def _forced_decode(model: TransformerNMT, output: OutputLayer | _CandidateUnion,
                   chunks: list[torch.Tensor], options: DecodingOptions, device: str) -> int:
    """Beam search over padded source `chunks` with `output` as the output layer, every
    hypothesis `options.min_length` tokens long; returns the output tokens."""
    search = BeamSearch({"decoder": DecoderScorer(model.decoder, output)}, options, BOS_ID,
                        EOS_ID, forbidden_ids=[PAD_ID, BOS_ID])
    tokens = 0
    for chunk in chunks:
        limits = [options.min_length + 1] * len(chunk)  # the end token comes last
        tokens += sum(len(h[0].tokens) for h in search(model.encode(chunk), limits, device))
    return tokens


class _CandidateUnion:
    """An SVD-softmax output layer that also records, for each decoder step, the share of the
    vocabulary that is a candidate of at least one of the step's rows (the words whose tails
    SVD-softmax reads)."""

    def __init__(self, output: OutputLayer) -> None:
        self.output, self.fractions = output, []

    @property
    def mean_fraction(self) -> float:
        return sum(self.fractions) / max(1, len(self.fractions))

    def topk(self, h: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        self._record(h)
        return self.output.topk(h, k)

    def log_probs(self, h: torch.Tensor) -> torch.Tensor:
        self._record(h)
        return self.output.log_probs(h)

    def _record(self, h: torch.Tensor) -> None:
        svd = self.output.svd
        self.fractions.append(svd.union_size(h) / svd.linear.out_features)


def _agreement(translator: Translator, sources: list[str], references: list[str] | None,
               device: str) -> dict:
    """SVD-softmax vs full softmax on the decoder's hidden states for the references."""
    if not references:
        return {"states": 0, "note": "no references (nmt.sentences given): not measured"}
    model, tok = translator.model, translator.tokenizer
    states = []
    with torch.inference_mode():
        for source, reference in zip(sources, references):
            limit = model.config.max_length - 1
            src = torch.tensor([tok.encode(source)[:limit] + [EOS_ID]], device=device)
            tgt = torch.tensor([[BOS_ID] + tok.encode(reference)[:limit]], device=device)
            encoded = model.encode(src)
            states.append(model.decoder(tgt, encoded.memory, encoded.mask)[0])
    hidden = torch.cat(states)
    svd = model.output.svd.eval()
    top1, top5 = agreement(lambda h: full_logits(model.output.linear, h).log_softmax(-1), svd,
                           hidden, chunk=svd.max_rows or 16)
    return {"states": len(hidden), "top1_agreement": top1, "top5_agreement": top5,
            "W": svd.window, "N": svd.candidates,
            "union_fraction_beam5": _beam_union(svd, hidden)}


def _beam_union(svd, hidden: torch.Tensor) -> float:
    """Mean share of the vocabulary covered by the candidates of 5 consecutive real states
    (a stand-in for 5 beams of one sentence), the quantity that decides SVD-softmax's speed."""
    groups = [hidden[i:i + 5] for i in range(0, len(hidden) - 4, 5)]
    vocab = svd.linear.out_features
    return sum(svd.union_size(g) for g in groups) / max(1, len(groups)) / vocab


OUTPUT_SHARE_NOTE = (
    "Output layer: the share of the decode's time spent in the output layer (log-softmax and "
    "top-k of every step), from one more, untimed pass. Bound: 1 / (1 − the full softmax's "
    "share), the speed-up even a free output layer would give; SVD-softmax cannot pass it.")


ENCODER_BOUND_NOTE = (
    "Bound: the speed-up the operation count allows (the layers' matrix products and softmax on "
    "the padded batches, `encoder_flops`); of bound: speed-up / bound.")


def markdown(results: dict) -> str:
    m, s, a = results["machine"], results["setup"], results["agreement"]
    lines = [
        "# NMT benchmark",
        "",
        f"Model `{results['model']}` (V={s['vocab']}, D={s['d_model']}); machine: {m['cpu']}, "
        f"device `{m['device']}`, {m['torch_threads']} torch threads, torch {m['torch']}. "
        f"{s['sentences']} test sentences per case; medians of "
        f"{results['config']['repeats']} interleaved repeats.",
        "",
        "## Decoding: full softmax vs SVD-softmax "
        f"(W={s['svd']['window'] or 'D/8'}, N={s['svd']['candidates'] or 'V/16'})",
        "",
        report.markdown_table(results["decoding"], [
            ("beam", "beam", "d"), ("batch", "batch", "d"), ("softmax", "softmax", "s"),
            ("ms", "ms", ".1f"), ("sentences_per_s", "sentences/s", ".1f"),
            ("tokens_per_s", "tokens/s", ".1f"), ("speedup", "vs full", ".2f"),
            ("output_share", "output layer", ".0%"), ("output_bound", "bound", ".2f")]),
        "",
        OUTPUT_SHARE_NOTE,
        "",
        "## Encoder: no reuse vs reuse (random weights, the model's sizes)",
        "",
        report.markdown_table(results["encoder"], [
            ("batch", "batch", "d"), ("baseline_ms", "no reuse ms", ".2f"),
            ("reuse_ms", "reuse ms", ".2f"), ("speedup", "speed-up", ".2f"),
            ("bound", "bound", ".2f"), ("of_bound", "of bound", ".0%")]),
        "",
        ENCODER_BOUND_NOTE,
        "",
        "## SVD-softmax agreement on the trained decoder's states",
        "",
    ]
    if a.get("states"):
        lines.append(
            f"{a['states']} teacher-forced states: top-1 agreement {a['top1_agreement']:.4f}, "
            f"top-5 {a['top5_agreement']:.4f} (W={a['W']}, N={a['N']}); 5 consecutive states "
            f"cover {a['union_fraction_beam5']:.3f} of the vocabulary as candidates.")
    else:
        lines.append(a["note"])
    return "\n".join(lines + _large_vocab_markdown(results.get("large_vocab")))


def _large_vocab_markdown(large: dict | None) -> list[str]:
    if not large or not large["records"]:
        return [] if not large else ["", "## Large vocabulary", "", large["note"]]
    s = large["setup"]
    records = [dict(r, mb_per_step=r["bytes_per_step"] / 2**20,
                    mb_union=r["union_bytes_per_step"] / 2**20,
                    union=("-" if r["union_fraction"] is None else f"{r['union_fraction']:.3f}"))
               for r in large["records"]]
    return [
        "",
        f"## Large vocabulary (V={s['vocab']}): full vs SVD-softmax — RANDOM WEIGHTS, "
        "speed only",
        "",
        f"**These rows use random weights and measure speed only; their translations mean "
        f"nothing.** The trained model's sizes (D={s['d_model']}, {s['encoder_layers']}+"
        f"{s['decoder_layers']} layers) with a {s['vocab']}-word output layer shaped like "
        "trained ones (decaying singular spectrum, Zipf bias); the same "
        f"{s['sentences']} source sentences; every hypothesis forced to "
        f"{s['tokens_per_sentence']} tokens. SVD-softmax W={s['W']}, N={s['N']}; with more "
        f"than {s['max_rows']} hypotheses a step it uses the full layer (path `full`). "
        "MB/step: output-layer weights read per decoder step, full V·(D+1)·4 bytes, "
        "SVD (D² + V·(W+1) + N·(D−W))·4 for one row's N candidates. SVD-softmax reads the "
        "tails of the union of all rows' candidates: U/V is its mean share of the vocabulary "
        "(measured on these decodes) and MB/step (U) the bytes with U in place of N.",
        "",
        report.markdown_table(records, [
            ("beam", "beam", "d"), ("batch", "batch", "d"), ("softmax", "softmax", "s"),
            ("path", "path", "s"), ("ms", "ms", ".1f"),
            ("sentences_per_s", "sentences/s", ".2f"), ("tokens_per_s", "tokens/s", ".1f"),
            ("speedup", "vs full", ".2f"), ("mb_per_step", "MB/step (N)", ".1f"),
            ("union", "U/V", "s"), ("mb_union", "MB/step (U)", ".1f"),
            ("output_share", "output layer", ".0%"), ("output_bound", "bound", ".2f")]),
        "",
        OUTPUT_SHARE_NOTE,
    ]
