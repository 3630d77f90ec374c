"""`bench suite=nmt model=DIR`: how fast a translation model decodes, and what its two
accelerations give, in one run (registered with the bench app by `nmt.task`).

- decoding: sentences/s, output tokens/s and BLEU for each beam size × batch size, full
  softmax and SVD-softmax, float32 and int8 (`nmt.dtypes`, CPU), timed in alternation on the
  same sentences;
- peer: CTranslate2 on the same weights (`nmt.bench_peer`: fp32 and int8, with and without
  its vmap shortlist), timed in the same repeats as our rows of that beam and batch;
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
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from echoformer.bench import report
from echoformer.bench.config import reuse_rows_pattern
from echoformer.attention import Role
from echoformer.bench.layers import agreement, attention_flops, synthetic_output_layer
from echoformer.bench.timing import compare, machine_facts, time_share
from echoformer.model_dir import RUN_CONFIG_FILE, ModelDirError, read_meta
from echoformer.output_layer import (OutputLayer, SoftmaxConfig, requested_softmax,
                                     stored_softmax)
from echoformer.quantize import DTYPES
from echoformer.search import BeamSearch, DecoderScorer, DecodingOptions
from echoformer.svd_softmax import full_logits
from echoformer.tokenizer import BOS_ID, EOS_ID, PAD_ID
from echoformer.data.batching import pad
from nmt.data.local import read_lines
from nmt import bench_peer
from nmt.model import NMTModelConfig, TransformerNMT
from nmt.score import corpus_scores
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
    # our decoding rows in float32 and, on CPU, int8 (dynamic int8 linear layers, --dtype int8)
    dtypes: list[str] = field(default_factory=lambda: ["float32", "int8"])
    # peer rows: CTranslate2 (when installed) on the same weights, at these compute types,
    # and with its vmap shortlist built from the model's training corpus (nmt/vmap.py)
    peer: bool = True
    peer_compute_types: list[str] = field(default_factory=lambda: ["float32", "int8"])
    peer_vmap: bool = True
    vmap_targets: int = 20  # target pieces per source piece, by Dice coefficient
    vmap_common: int = 100  # most frequent target pieces, always candidates
    vmap_pairs: int = 0  # training pairs read to build the vmap (0 = all)


QUICK = {"max_sentences": 8, "batches": [1, 8], "agreement_sentences": 16,
         "large_vocab": 16384, "large_vocab_tokens": 8}  # nmt.* under bench quick=true


def run(cfg: DictConfig, out_dir: Path) -> dict:
    c, device = cfg.nmt, cfg.device
    model_dir = Path(cfg.model)
    dtypes, notes = _dtypes(c, device)
    try:
        # SVD-softmax with the model's own W and N (model.yaml), as `nmt-translate --softmax svd`
        stored = stored_softmax(read_meta(model_dir))
        translators = {label(kind, dtype): Translator(
            model_dir, device, softmax=requested_softmax(kind, None, None, stored), dtype=dtype)
            for dtype in dtypes for kind in ("full", "svd")}
        sources, references = _test_sentences(model_dir, c.sentences)
    except (ModelDirError, FileNotFoundError) as error:
        sys.exit(f"bench suite=nmt: {error}")
    timed = sources[: c.max_sentences]
    model = translators["full"].model
    reuse = reuse_rows_pattern("nmt", c, model.config.encoder_layers)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench_nmt_peer.") as work:  # exported models
        peers = bench_peer.prepare(c, model_dir, model, translators["full"].tokenizer, device,
                                   timed, Path(work), out_dir)
        decoding, peer = _decoding_records(translators, peers, timed,
                                           references and references[: c.max_sentences],
                                           c.beams, c.batches, device, cfg)
    return {
        "suite": "nmt", "machine": machine_facts(device), "model": str(model_dir),
        "config": OmegaConf.to_container(cfg),
        "setup": {"sentences": len(timed), "vocab": model.vocab_size,
                  "d_model": model.config.d_model,
                  "svd": dataclasses.asdict(translators["svd"].model.output.softmax),
                  "dtypes": dtypes, "notes": notes},
        "decoding": decoding,
        "peer": peer, "peer_setup": peers.setup, "peer_notes": peers.notes,
        "encoder": _encoder_records(model, translators["full"], timed, c.batches, reuse,
                                    device, cfg),
        "agreement": _agreement(translators["svd"], sources[: c.agreement_sentences],
                                references and references[: c.agreement_sentences], device),
        "large_vocab": _large_vocab(translators, timed, c, device, cfg),
    }


def label(softmax: str, dtype: str) -> str:
    """Name of our decoding row: `full`, `svd` (float32), `full+int8`, `svd+int8`."""
    return softmax if dtype == "float32" else f"{softmax}+{dtype}"


def _dtypes(c: DictConfig, device: str) -> tuple[list[str], list[str]]:
    """`nmt.dtypes` checked (float32 first, it is the baseline); int8 left out, with a note,
    off the CPU."""
    dtypes = list(dict.fromkeys(c.dtypes))
    bad = [d for d in dtypes if d not in DTYPES]
    if bad or "float32" not in dtypes:
        sys.exit(f"bench suite=nmt: nmt.dtypes={list(c.dtypes)}: use float32 and optionally "
                 f"int8 (one of {', '.join(DTYPES)}; float32 is the baseline)")
    if "int8" in dtypes and not device.startswith("cpu"):
        return ["float32"], [f"int8 rows left out: dynamic int8 runs on CPU only, not {device}"]
    return ["float32"] + [d for d in dtypes if d != "float32"], []


def _test_sentences(model_dir: Path, path: str | None) -> tuple[list[str], list[str] | None]:
    """Source lines (non-empty) and, when known, their references."""
    if path:
        return [line for line in read_lines(Path(path)) if line.strip()], None
    files = bench_peer.corpus_files(model_dir, "test")
    if files is None or not files[0].is_file():
        where = files[0] if files else model_dir / RUN_CONFIG_FILE
        raise FileNotFoundError(f"no test sentences found for {model_dir} "
                                f"(looked for {where}); pass nmt.sentences=FILE")
    pairs = [(s, t) for s, t in zip(read_lines(files[0]), read_lines(files[1])) if s.strip()]
    return [s for s, _ in pairs], [t for _, t in pairs]


def _bleu(texts: list[str], references: list[str] | None) -> float | None:
    return corpus_scores(texts, references).bleu if references else None


def _decoding_records(translators: dict[str, Translator], peers: bench_peer.Peers,
                      sentences: list[str], references: list[str] | None, beams, batches,
                      device: str, cfg: DictConfig) -> tuple[list[dict], list[dict]]:
    """Our rows (every softmax × dtype) and the peer rows, per beam × batch, all timed in the
    same interleaved repeats on the same sentences."""
    records, peer_records = [], []
    full = translators["full"]
    for beam in beams:
        for batch in batches:
            texts: dict[str, list[str]] = {}

            def decode(kind: str) -> None:
                t = translators[kind]
                t.options = dataclasses.replace(t.options, beam_size=beam, nbest=1)
                texts[kind] = [r.text for r in t.translate(sentences, batch_size=batch)]

            runs = {kind: (lambda k=kind: decode(k)) for kind in translators}
            options = dataclasses.replace(full.options, beam_size=beam, nbest=1)
            for row in peers.rows:
                translate = bench_peer.decoder(row, full.tokenizer, options, full.max_length,
                                               batch)
                runs[row.name] = lambda n=row.name, f=translate: texts.__setitem__(
                    n, f(sentences))
            ms = compare(runs, device, cfg.warmup, cfg.repeats)
            shares = _output_shares({k: t.model.output for k, t in translators.items()},
                                    decode, device)
            speed = {name: len(sentences) / (ms[name] / 1e3) for name in runs}
            bleu = {name: _bleu(texts[name], references) for name in runs}
            for kind, t in translators.items():
                tokens = sum(len(full.tokenizer.encode(text)) for text in texts[kind])
                records.append({"softmax": t.model.output.softmax.kind, "dtype": t.dtype,
                                "beam": beam, "batch": batch, "ms": ms[kind],
                                "sentences_per_s": speed[kind],
                                "tokens_per_s": tokens / (ms[kind] / 1e3),
                                "speedup": ms["full"] / ms[kind], "bleu": bleu[kind],
                                **shares[kind]})
            if peers.rows:
                ours = {t.dtype: kind for kind, t in translators.items()
                        if t.model.output.softmax.kind == "svd"}
                peer_records += bench_peer.records(peers, ours, texts, speed, bleu, ms,
                                                   sentences, beam, batch)
    return records, peer_records


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


DTYPE_NOTE = (" int8: dynamic int8 linear layers (`--dtype int8`), the output layer float32; "
              "BLEU of the timed sentences against their references.")


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
        "## Decoding: full softmax vs SVD-softmax, float32 and int8 "
        f"(W={s['svd']['window'] or 'D/8'}, N={s['svd']['candidates'] or 'V/16'})",
        "",
        report.markdown_table([dict(r, bleu=bench_peer.score_text(r.get("bleu")),
                                    dtype=r.get("dtype", "float32"))
                               for r in results["decoding"]], [
            ("beam", "beam", "d"), ("batch", "batch", "d"), ("softmax", "softmax", "s"),
            ("dtype", "dtype", "s"), ("ms", "ms", ".1f"),
            ("sentences_per_s", "sentences/s", ".1f"), ("tokens_per_s", "tokens/s", ".1f"),
            ("speedup", "vs full fp32", ".2f"), ("bleu", "BLEU", "s"),
            ("output_share", "output layer", ".0%"), ("output_bound", "bound", ".2f")]),
        "",
        OUTPUT_SHARE_NOTE + DTYPE_NOTE + "".join(f" {n}" for n in s.get("notes", [])),
    ]
    lines += bench_peer.markdown(results)
    lines += [
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
