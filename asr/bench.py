"""The `asr` bench suite (`bench suite=asr model=DIR`): encoder latency and real-time factor.

Encoder: the model directory's Conformer shape, rebuilt twice with random weights (same seed,
same sizes): no reuse against attention-map reuse in groups of `asr.group_size` (or with the
explicit pattern `asr.pattern`, e.g. ``[1,1,2,4]``), on random 80-bin fbank-like input of 100
frames/s, batch 1. A third copy has each self-attention module replaced by `AttentionStandIn`
(returns its input); `attention_share` = 1 − that time / the no-reuse time: the share of the
encoder spent in self-attention (projections, relative positions, map and output). The three
are timed interleaved in one `compare` call.

ONNX Runtime (`peer` records, with `asr.onnxruntime=true` on CPU when the peers extra is
installed): the no-reuse and the reuse encoder exported as ONNX graphs (`asr.export_onnx`,
map reuse kept in the graph), run by onnxruntime on the same input with torch's thread
count, timed in the same `compare` call as ours; ratio = onnxruntime ms / our ms (above 1:
ours is faster), max_abs_diff = largest |onnxruntime − ours| on that input.

Real-time factor: the trained model itself transcribes up to `asr.max_utterances` files of a
manifest (default: `test.jsonl` of the data folder it was trained on) with each decoding
method, file by file (batch 1); rtf = wall-clock seconds / audio seconds, after one untimed
warm-up file per method. With `asr.lm=DIR` (an asr-lm-train model directory), the methods that
fuse a language model are timed again with it ("joint_beam + LM"), at the LM's stored settings.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import yaml
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from asr import export_onnx
from asr.data.manifest import ManifestError, Utterance, read_manifest
from asr.decoding import LM_METHODS, METHODS, ASRDecodingOptions
from asr.features import NUM_MEL_BINS
from asr.lm import load_lm
from asr.model import ASRModel, ASRModelConfig
from asr.transcribe import Transcriber
from echoformer.bench.config import reuse_rows_pattern
from echoformer.bench.layers import SOFTMAX_FLOPS_PER_SCORE
from echoformer.bench.report import log_axis_at, markdown_table, save_figure
from echoformer.bench.timing import compare, machine_facts
from echoformer.export import onnx_graph
from echoformer.model_dir import (RUN_CONFIG_FILE, TOKENIZER_FILE, LoadedModel, ModelDirError,
                                  load_model_dir)

FRAMES_PER_SECOND = 100  # 10 ms fbank hop
TEST_MANIFEST = "test.jsonl"

ENCODER_COLUMNS = [("seconds", "seconds", "g"), ("frames", "frames", "d"),
                   ("baseline_ms", "no reuse ms", ".1f"), ("reuse_ms", "reuse ms", ".1f"),
                   ("speedup", "speed-up", ".2f"), ("bound", "bound", ".2f"),
                   ("of_bound", "of bound", ".0%"), ("pattern_text", "pattern", "s")]
ATTENTION_COLUMNS = [("seconds", "seconds", "g"), ("encoder_ms", "encoder ms", ".1f"),
                     ("without_attention_ms", "without attention ms", ".1f"),
                     ("attention_share", "attention share", ".0%")]
PEER_COLUMNS = [("seconds", "seconds", "g"), ("variant", "encoder", "s"),
                ("pattern_text", "pattern", "s"), ("ours_ms", "ours ms", ".1f"),
                ("ms", "onnxruntime ms", ".1f"), ("ratio", "ratio", ".2f"),
                ("max_abs_diff", "max |diff|", ".1e")]
RTF_COLUMNS = [("method", "method", "s"), ("beam_size", "beam", "d"),
               ("utterances", "files", "d"), ("audio_seconds", "audio s", ".1f"),
               ("processing_seconds", "processing s", ".2f"), ("rtf", "RTF", ".4f")]


@dataclass
class ASRBenchConfig:
    """suite=asr: encoder latency per input length and real-time factor (`model=DIR`)."""

    seconds: list[float] = field(default_factory=lambda: [5.0, 10.0, 20.0, 30.0, 60.0])
    group_size: int = 4  # encoder reuse rows: this group size against no reuse (same sizes)
    pattern: list[int] | None = None  # or an explicit reuse pattern, e.g. [1,1,2,4]
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    manifest: str | None = None  # audio for the real-time factor (default: the test set)
    max_utterances: int = 20
    # A language model (asr-lm-train model dir): the methods that can fuse one are timed
    # again with it, at its stored fusion settings ("joint_beam + LM" rows).
    lm: str | None = None
    # ONNX Runtime rows for the encoder (CPU only; skipped with the reason recorded when
    # onnx, onnxscript or onnxruntime is not installed)
    onnxruntime: bool = True


QUICK = {"seconds": [5.0, 10.0], "max_utterances": 2}  # asr.* under bench quick=true


class AttentionStandIn(nn.Module):
    """Takes a Conformer block's self-attention place at almost no cost: returns its input."""

    def forward(self, x: Tensor, mask: Tensor | None = None, pos_emb: Tensor | None = None,
                shared=None, workspace=None) -> tuple[Tensor, None]:
        return x, None


def random_encoder(config: ASRModelConfig, pattern: list[int], device: str,
                   without_attention: bool = False) -> nn.Module:
    """The encoder of an `ASRModel` of this shape with seed-0 random weights, in eval mode."""
    torch.manual_seed(0)
    encoder = ASRModel(config, vocab_size=2, reuse_pattern=pattern).encoder
    if without_attention:
        for block in encoder.blocks.layers:
            block.attention = AttentionStandIn()
    return encoder.to(device).eval()


def encoder_flops(config: ASRModelConfig, frames: int, pattern: list[int]) -> float:
    """Operations of the encoder (matrix products, convolutions, softmax) on (1, frames, F)
    features with reuse `pattern`: what `bound` in the encoder records is computed from.
    Norms and elementwise work are left out, as in `attention_flops` of the layers bench."""
    d, f, k, h = config.d_model, config.ffn_dim, config.conv_kernel, config.heads
    t1, f1 = (frames - 3) // 2 + 1, (config.input_dim - 3) // 2 + 1
    t, f2 = (t1 - 3) // 2 + 1, (f1 - 3) // 2 + 1
    front = 2 * 9 * t1 * f1 * d + 2 * 9 * t * f2 * d * d + 2 * t * f2 * d * d
    feed_forward = 2 * 2 * (2 * t * d * f)  # two half-step modules, two products each
    convolution = 2 * t * d * 2 * d + 2 * t * d * k + 2 * t * d * d
    positions = 2 * t - 1
    leader = (2 * t * 4 * d * d + 2 * positions * d * d  # q, k, v, out; position projection
              + 2 * t * t * d + 2 * t * positions * d  # content and position scores
              + SOFTMAX_FLOPS_PER_SCORE * h * t * t + 2 * t * t * d)  # softmax, P·V
    follower = 2 * t * 2 * d * d + 2 * t * t * d  # v, out; P·V with the leader's map
    attention = sum(leader + (group - 1) * follower for group in pattern)
    return front + sum(pattern) * (feed_forward + convolution) + attention


def onnxruntime_missing(device: str) -> str | None:
    """Why there can be no ONNX Runtime rows here, or None."""
    if not device.startswith("cpu"):
        return f"ONNX Runtime rows are measured on CPU only (device={device})"
    for name in ("onnx", "onnxscript", "onnxruntime"):
        if importlib.util.find_spec(name) is None:
            return f"{name} is not installed (pip install 'echoformer[peers]')"
    return None


def onnxruntime_encoders(encoders: dict[str, nn.Module], input_dim: int, folder: Path
                         ) -> dict[str, Callable[[Tensor, Tensor], list]]:
    """Each encoder exported to ONNX in `folder` and loaded in onnxruntime with torch's thread
    count: name -> run(features, lengths) -> [encoded, lengths] as numpy arrays."""
    runs = {}
    for name, encoder in encoders.items():
        path = export_onnx.export_encoder(export_onnx.EncoderGraph(encoder), input_dim,
                                          folder / f"{name}.onnx")
        session = onnx_graph.onnxruntime_session(path)
        runs[name] = (lambda features, lengths, s=session: s.run(
            None, {"features": features.numpy(), "lengths": lengths.numpy()}))
    return runs


def encoder_records(config: ASRModelConfig, seconds_list: list[float], reuse: list[int],
                    device: str, warmup: int, repeats: int, onnxruntime: bool = False
                    ) -> tuple[list[dict], list[dict], list[dict]]:
    """(encoder records, attention records, ONNX Runtime records), one of each per input
    length (the last empty without `onnxruntime`, which needs device cpu and the peers
    extra): no reuse against reuse pattern `reuse` (it must fit the layers)."""
    patterns = {"baseline": [1] * config.encoder_layers, "reuse": reuse}
    encoders = {name: random_encoder(config, pattern, device)
                for name, pattern in patterns.items()}
    with tempfile.TemporaryDirectory(prefix="asr_bench_onnx_") as folder:
        peers = (onnxruntime_encoders(encoders, config.input_dim, Path(folder))
                 if onnxruntime else {})
        encoders["without_attention"] = random_encoder(config, patterns["baseline"], device,
                                                       True)
        encoder_rows, attention_rows, peer_rows = [], [], []
        for seconds in seconds_list:
            frames = round(seconds * FRAMES_PER_SECOND)
            g = torch.Generator().manual_seed(1)
            x = torch.randn(1, frames, config.input_dim, generator=g).to(device)
            lengths = torch.tensor([frames], device=device)
            fns = {name: (lambda e=e: e(x, lengths)) for name, e in encoders.items()}
            fns.update({f"onnxruntime_{name}": (lambda r=r: r(x, lengths))
                        for name, r in peers.items()})
            ms = compare(fns, device, warmup, repeats)
            bound = (encoder_flops(config, frames, patterns["baseline"])
                     / encoder_flops(config, frames, patterns["reuse"]))
            speedup = ms["baseline"] / ms["reuse"]
            encoder_rows.append({
                "seconds": seconds, "frames": frames, "baseline_ms": ms["baseline"],
                "reuse_ms": ms["reuse"], "speedup": speedup, "bound": bound,
                "of_bound": speedup / bound, "pattern": patterns["reuse"]})
            attention_rows.append({
                "seconds": seconds, "frames": frames, "encoder_ms": ms["baseline"],
                "without_attention_ms": ms["without_attention"],
                "attention_share": max(0.0, 1.0 - ms["without_attention"] / ms["baseline"])})
            peer_rows += [_peer_record(name, run, encoders[name], patterns[name], x, lengths,
                                       seconds, ms) for name, run in peers.items()]
    return encoder_rows, attention_rows, peer_rows


def _peer_record(name: str, run: Callable, encoder: nn.Module, pattern: list[int], x: Tensor,
                 lengths: Tensor, seconds: float, ms: dict[str, float]) -> dict:
    import onnxruntime

    with torch.inference_mode():
        ours = encoder(x, lengths)[0].numpy()
    theirs = run(x, lengths)[0]
    return {"engine": "onnxruntime", "version": onnxruntime.__version__,
            "variant": "no reuse" if name == "baseline" else "reuse", "pattern": pattern,
            "threads": torch.get_num_threads(), "batch": 1, "seconds": seconds,
            "frames": x.shape[1], "ms": ms[f"onnxruntime_{name}"], "ours_ms": ms[name],
            "ratio": ms[f"onnxruntime_{name}"] / ms[name],
            "max_abs_diff": float(np.max(np.abs(ours - theirs)))}


def default_manifest(model_dir: Path) -> Path:
    """test.jsonl of the data folder recorded in the model directory's training config."""
    run_config = model_dir / RUN_CONFIG_FILE
    data_dir = None
    if run_config.is_file():
        data_dir = ((yaml.safe_load(run_config.read_text(encoding="utf-8")) or {})
                    .get("data", {}).get("dir"))
    if not data_dir:
        raise ValueError(f"{model_dir} records no training data folder ({RUN_CONFIG_FILE}); "
                         "name the audio to transcribe: asr.manifest=PATH/test.jsonl")
    manifest = Path(data_dir) / TEST_MANIFEST
    if not manifest.is_file():
        raise ValueError(f"{manifest} (the test set of the data the model was trained on) not "
                         "found; name another manifest: asr.manifest=PATH.jsonl")
    return manifest


def rtf_records(loaded: LoadedModel, utterances: list[Utterance], methods: list[str],
                device: str, warmup: int, lm: str | None = None) -> list[dict]:
    """One row per method (and per LM method again with `lm`, a language model directory)."""
    defaults = loaded.task.get("decoding", {})
    records = []
    paths = [str(u.audio) for u in utterances]
    runs = [(method, None) for method in methods]
    if lm:
        runs += [(method, lm) for method in methods if method in LM_METHODS]
    for method, lm_dir in runs:
        options = ASRDecodingOptions(
            method=method, beam_size=int(defaults.get("beam_size", 10)),
            ctc_weight=float(defaults.get("ctc_weight", 0.3)),
            length_penalty=float(defaults.get("length_penalty", 0.0)))
        transcriber = Transcriber(loaded, options, batch_size=1, device=device)
        if lm_dir:
            transcriber.use_lm(lm_dir)  # and its stored fusion settings
        for _ in range(warmup):
            list(transcriber.transcribe(paths[:1]))
        _synchronize(device)
        started = time.perf_counter()
        transcripts = list(transcriber.transcribe(paths))
        _synchronize(device)
        elapsed = time.perf_counter() - started
        failed = [t for t in transcripts if t.error]
        if failed:
            raise ValueError(f"{len(failed)} file(s) could not be read, e.g. {failed[0].audio}: "
                             f"{failed[0].error}")
        audio = sum(t.duration for t in transcripts)
        records.append({"method": method + (" + LM" if lm_dir else ""),
                        "utterances": len(transcripts),
                        "audio_seconds": audio, "processing_seconds": elapsed,
                        "rtf": elapsed / audio, "beam_size": transcriber.options.beam_size})
    return records


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _load(cfg: DictConfig) -> tuple[LoadedModel, Path]:
    """The model and the manifest to transcribe, or exit with a message naming the fix."""
    model_dir = Path(cfg.model)
    try:
        if not model_dir.is_dir():
            raise ValueError(f"model directory {model_dir} not found; pass the model/ folder "
                             "an asr-train run wrote: model=exp/.../model")
        unknown = [m for m in cfg.asr.methods if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown decoding method(s) {', '.join(unknown)} in asr.methods; "
                             f"use some of {', '.join(METHODS)}")
        loaded = load_model_dir(model_dir, cfg.device)
        if not isinstance(loaded.model, ASRModel):
            raise ValueError(f"{model_dir} holds a {loaded.meta.get('model_type')} model, not "
                             "a speech recogniser; use bench suite=nmt for translation models")
        if cfg.asr.lm:
            load_lm(cfg.asr.lm, model_dir / TOKENIZER_FILE)  # refused here, before any timing
        manifest = Path(cfg.asr.manifest) if cfg.asr.manifest else default_manifest(model_dir)
        if not manifest.is_file():
            raise ValueError(f"manifest {manifest} not found; check asr.manifest=PATH.jsonl")
    except (ModelDirError, ValueError) as error:
        sys.exit(f"bench suite=asr: {error}")
    return loaded, manifest


def run(cfg: DictConfig, out_dir: Path) -> dict:
    a = cfg.asr
    loaded, manifest = _load(cfg)
    try:
        utterances = read_manifest(manifest)[:a.max_utterances]
    except ManifestError as error:
        sys.exit(f"bench suite=asr: {error}")
    if not utterances:
        sys.exit(f"bench suite=asr: {manifest} lists no utterances")
    config: ASRModelConfig = loaded.model.config
    assert config.input_dim == NUM_MEL_BINS, config.input_dim
    reuse = reuse_rows_pattern("asr", a, config.encoder_layers)
    peer_skipped = onnxruntime_missing(cfg.device) if a.onnxruntime else "asr.onnxruntime=false"
    encoder, attention, peer = encoder_records(config, list(a.seconds), reuse, cfg.device,
                                               cfg.warmup, cfg.repeats, peer_skipped is None)
    rtf = rtf_records(loaded, utterances, list(a.methods), cfg.device, cfg.warmup, a.lm)
    results = {
        "suite": "asr", "machine": machine_facts(cfg.device),
        "config": OmegaConf.to_container(cfg),
        "model": {"dir": str(cfg.model), "d_model": config.d_model,
                  "num_layers": config.encoder_layers, "n_heads": config.heads,
                  "ffn_dim": config.ffn_dim, "trained_reuse_pattern":
                      list(loaded.model.encoder.reuse_pattern)},
        "manifest": str(manifest),
        "encoder": encoder, "attention": attention, "peer": peer, "rtf": rtf}
    if peer_skipped:
        results["peer_skipped"] = peer_skipped
    plot_encoder(encoder, attention, out_dir)
    return results


def plot_encoder(encoder: list[dict], attention: list[dict], out_dir: Path) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    seconds = [r["seconds"] for r in encoder]
    left.plot(seconds, [r["speedup"] for r in encoder], "o-")
    left.axhline(1.0, color="grey", lw=0.8)
    left.set(xlabel="input seconds", ylabel="speed-up vs no reuse", title="Encoder reuse")
    right.plot(seconds, [100 * r["attention_share"] for r in attention], "o-")
    right.set(xlabel="input seconds", ylabel="% of encoder time",
              title="Self-attention share (no reuse)")
    for ax in (left, right):
        log_axis_at(ax, seconds)
    return save_figure(fig, out_dir / "asr_encoder.png")


def _peer_section(results: dict) -> list[str]:
    if not results.get("peer"):
        return [f"No ONNX Runtime rows: {results.get('peer_skipped', 'none measured')}."]
    rows = [dict(r, pattern_text=str(r["pattern"])) for r in results["peer"]]
    first = rows[0]
    return [f"The same encoders exported to ONNX (map reuse kept in the graph) and run by "
            f"onnxruntime {first['version']} with {first['threads']} intra-op thread(s), on the "
            "same input, timed in the same interleaved repeats as ours; ratio = onnxruntime "
            "ms / ours ms (above 1: ours is faster); max |diff|: the largest difference of "
            "their outputs.", "", markdown_table(rows, PEER_COLUMNS)]


def markdown(results: dict) -> str:
    m, c, model = results["machine"], results["config"], results["model"]
    encoder = [dict(r, pattern_text=str(r["pattern"])) for r in results["encoder"]]
    return "\n".join([
        "# ASR benchmark",
        "",
        f"Model `{model['dir']}`: Conformer D={model['d_model']}, {model['num_layers']} layers, "
        f"{model['n_heads']} heads, FFN {model['ffn_dim']}. Machine: {m['cpu']}, device "
        f"`{m['device']}`" + (f" ({m['gpu']})" if "gpu" in m else "")
        + f", {m['torch_threads']} torch threads, torch {m['torch']}. Medians of "
        f"{c['repeats']} interleaved repeats after {c['warmup']} warm-up calls.",
        "",
        "## Encoder latency",
        "",
        "This model's encoder shape with random weights, batch 1, random 80-bin input at "
        f"{FRAMES_PER_SECOND} frames/s: no reuse against attention-map reuse with the "
        "pattern shown (group sizes). `bound`: the speed-up the "
        "operation count allows (matrix products, convolutions and softmax of the whole "
        "encoder, subsampling included; `encoder_flops`).",
        "",
        markdown_table(encoder, ENCODER_COLUMNS),
        "",
        "## Self-attention share",
        "",
        "The no-reuse encoder timed again with every self-attention module replaced by a "
        "stand-in that returns its input (same run, interleaved); share = 1 − without / with.",
        "",
        markdown_table(results["attention"], ATTENTION_COLUMNS),
        "",
        "![encoder reuse speed-up and attention share](asr_encoder.png)",
        "",
        "## ONNX Runtime",
        "",
        *_peer_section(results),
        "",
        "## Real-time factor",
        "",
        f"The trained model transcribing files of `{results['manifest']}` one at a time "
        "(audio reading and fbank included), after one untimed warm-up file; "
        "RTF = processing seconds / audio seconds (lower is faster)"
        + (f"; `+ LM`: with the language model `{c['asr']['lm']}` fused, at its stored "
           "settings (β, α, beam)." if c["asr"].get("lm") else "."),
        "",
        markdown_table(results["rtf"], RTF_COLUMNS),
    ])
