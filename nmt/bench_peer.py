"""The peer rows of `bench suite=nmt`: CTranslate2 on the same weights, beside our decoder.

The model is exported with `nmt.export_ctranslate2` (float32 weights; CTranslate2 converts them
to each `nmt.peer_compute_types` entry when it loads them). A model trained with encoder map
reuse cannot be expressed there: its `--without-reuse` variant is exported (every follower
computes its own map with its leader's query/key weights), a different function, and every
peer record says so (`without_reuse`). `same_function_lines` counts the peer's translations
equal to our code running that same function (no reuse, full softmax, float32), decoded once
per case, untimed.

With `nmt.peer_vmap`, each compute type gets a second row with CTranslate2's vocabulary
shortlist (`use_vmap`), the map built from the model's training corpus (`nmt.vmap`).

Rows are timed in the same interleaved repeats as our decoding rows of the same beam and batch,
on the same sentences with the same threads (CTranslate2 `intra_threads` = torch's threads,
`inter_threads` 1). CTranslate2 takes one length limit per call, so sentences share a call
only with sentences of the same length limit: at batch > 1 its calls hold fewer sentences
(`mean_batch`).
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from echoformer.bench import report
from echoformer.model_dir import RUN_CONFIG_FILE, load_model_dir, save_model_dir
from echoformer.output_layer import SoftmaxConfig
from echoformer.search import DecodingOptions
from nmt.data.local import read_lines
from nmt.export_ctranslate2 import export, source_pieces, translate_lines
from nmt.model import TransformerNMT
from nmt.translate import Translator
from nmt.vmap import VMAP_FILE, build_vmap, mean_shortlist, write_vmap

ENGINE = "ctranslate2"
INSTALL = "pip install 'echoformer[peers]' (or pip install ctranslate2)"


@dataclass
class PeerRow:
    """One CTranslate2 row: a loaded translator at one compute type, with or without vmap."""

    name: str
    compute_type: str
    vmap: bool
    translator: object  # ctranslate2.Translator


@dataclass
class Peers:
    """What `prepare` set up: the rows (none when skipped, `notes` say why)."""

    rows: list[PeerRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    setup: dict = field(default_factory=dict)
    same_function: Translator | None = None  # ours on the function the peer runs


def corpus_files(model_dir: Path, split: str) -> tuple[Path, Path] | None:
    """`split`.{src,tgt} of the corpus the model's run config names (None: none found)."""
    config_file = model_dir / RUN_CONFIG_FILE
    data = yaml.safe_load(config_file.read_text()).get("data", {}) if config_file.is_file() else {}
    if not data:
        return None
    return tuple(Path(data.get("dir", "")) / f"{split}.{data.get(lang)}"
                 for lang in ("src_lang", "tgt_lang"))


def no_reuse_variant(model_dir: Path, out_dir: Path) -> Path:
    """A model directory of the same weights with every layer plain: a follower gets its
    leader's query/key projections (what `export --without-reuse` writes for CTranslate2)."""
    loaded = load_model_dir(model_dir)
    model = loaded.model
    plain = TransformerNMT(model.config, model.vocab_size, None,
                           dataclasses.replace(model.output.softmax))
    weights = dict(model.state_dict())
    d, leader = model.embedding.embedding_dim, None
    for i, role in enumerate(model.encoder.roles):
        prefix = f"encoder.layers.{i}.attention"
        if role.value != "follower":
            leader = prefix
            continue
        for part in ("weight", "bias"):
            own_value = weights.pop(f"{prefix}.value.{part}")
            weights[f"{prefix}.qkv.{part}"] = torch.cat(
                [weights[f"{leader}.qkv.{part}"][: 2 * d], own_value])
    plain.load_state_dict(weights)
    return save_model_dir(out_dir, plain, plain.state_dict(), model_dir / "spm.model",
                          loaded.task)


def prepare(c, model_dir: Path, model: TransformerNMT, tokenizer, device: str,
            sentences: Sequence[str], work: Path, out_dir: Path) -> Peers:
    """Export, build the vmap and load the CTranslate2 rows that `c` (the nmt node) asks
    for; rows are skipped, with a note, when ctranslate2 is absent or the device is not one
    it runs on."""
    peers = Peers()
    if not c.peer:
        peers.notes.append("off (nmt.peer=false)")
        return peers
    try:
        import ctranslate2
    except ImportError:
        peers.notes.append(f"skipped: ctranslate2 is not installed ({INSTALL})")
        return peers
    kind = torch.device(device).type
    try:
        supported = set(ctranslate2.get_supported_compute_types(kind))
    except (RuntimeError, ValueError) as error:  # e.g. a build or a machine without CUDA
        peers.notes.append(f"skipped: CTranslate2 {ctranslate2.__version__} does not run on "
                           f"{kind} here ({error})")
        return peers
    unknown = [t for t in c.peer_compute_types if t not in supported]
    if unknown:
        sys.exit(f"bench suite=nmt: nmt.peer_compute_types: {unknown} not supported by "
                 f"CTranslate2 {ctranslate2.__version__} on {kind}; use some of "
                 f"{sorted(supported)}")
    reuse = any(size > 1 for size in model.encoder.pattern)
    exported = export(model_dir, work / "ct2", without_reuse=reuse)
    threads = torch.get_num_threads()
    peers.setup = {"engine": ENGINE, "version": ctranslate2.__version__,
                   "without_reuse": reuse, "reuse_pattern": list(model.encoder.pattern),
                   "intra_threads": threads, "inter_threads": 1,
                   "export": f"python -m nmt.export_ctranslate2 {model_dir} OUT"
                             + (" --without-reuse" if reuse else "")}
    with_vmap = [False]
    if c.peer_vmap:
        vmap = _vmap(c, model_dir, tokenizer, sentences, exported, out_dir, peers)
        if vmap:
            with_vmap.append(True)
    for compute_type in c.peer_compute_types:
        translator = ctranslate2.Translator(str(exported), device=kind,
                                            compute_type=compute_type, inter_threads=1,
                                            intra_threads=threads)
        for use_vmap in with_vmap:
            name = f"{ENGINE}/{compute_type}" + ("/vmap" if use_vmap else "")
            peers.rows.append(PeerRow(name, compute_type, use_vmap, translator))
    variant = no_reuse_variant(model_dir, work / "no_reuse") if reuse else model_dir
    peers.same_function = Translator(variant, device, SoftmaxConfig("full"))
    return peers


def _vmap(c, model_dir: Path, tokenizer, sentences: Sequence[str], exported: Path,
          out_dir: Path, peers: Peers) -> bool:
    """Build the vmap from the training corpus into the exported model (and `out_dir`)."""
    files = corpus_files(model_dir, "train")
    if files is None or not all(f.is_file() for f in files):
        where = files[0] if files else model_dir / RUN_CONFIG_FILE
        peers.notes.append(f"vmap rows skipped: no training corpus to build a vocabulary map "
                           f"from (looked for {where})")
        return False
    pairs = list(itertools.islice(zip(read_lines(files[0]), read_lines(files[1])),
                                  c.vmap_pairs or None))
    vmap = build_vmap(tokenizer, pairs, c.vmap_targets, c.vmap_common)
    write_vmap(vmap, exported / VMAP_FILE)
    write_vmap(vmap, out_dir / VMAP_FILE)
    peers.setup["vmap"] = {"corpus": str(files[0]), "pairs": len(pairs),
                           "per_source": c.vmap_targets, "common": c.vmap_common,
                           "source_pieces": len(vmap) - 1,
                           "mean_shortlist": mean_shortlist(vmap, tokenizer, sentences),
                           "vocab": tokenizer.vocab_size}
    return True


class _WithVmap:
    """A ctranslate2.Translator whose `translate_batch` calls get `use_vmap`."""

    def __init__(self, translator, use_vmap: bool) -> None:
        self.translator, self.use_vmap = translator, use_vmap

    def translate_batch(self, source, **kwargs):
        return self.translator.translate_batch(source, use_vmap=self.use_vmap, **kwargs)


def decoder(row: PeerRow, tokenizer, options: DecodingOptions, max_length: int,
            batch: int) -> Callable[[Sequence[str]], list[str]]:
    """`row` translating lines as our beam search with `options` would (best hypothesis),
    at most `batch` sentences of one length limit a call. Its length limit is at most the
    model's `max_length`: CTranslate2 has position encodings for that many positions only."""
    translator = _WithVmap(row.translator, row.vmap)
    options = dataclasses.replace(options, max_length=min(options.max_length, max_length))

    def translate(lines: Sequence[str]) -> list[str]:
        return [nbest[0][0] for nbest in translate_lines(translator, tokenizer, options, lines,
                                                          max_length, batch_size=batch)]
    return translate


def calls_per_pass(tokenizer, lines: Sequence[str], max_length: int, batch: int) -> int:
    """`translate_batch` calls one pass of `decoder` makes (its grouping by length limit)."""
    groups: dict[int, int] = {}
    for line in lines:
        pieces = source_pieces(tokenizer, line)
        if pieces:
            length = min(len(pieces), max_length - 1)
            groups[length] = groups.get(length, 0) + 1
    return sum(-(-n // batch) for n in groups.values())


def records(peers: Peers, ours: dict[str, str], texts: dict[str, list[str]],
            speed: dict[str, float], bleu: dict[str, float | None], ms: dict[str, float],
            sentences: Sequence[str], beam: int, batch: int) -> list[dict]:
    """The peer records of one beam × batch case. ours: dtype -> the name of our SVD-softmax
    row in that dtype (the model as trained: reuse and SVD-softmax), which an int8 peer is
    paired with when present, a float32 one always."""
    same = peers.same_function
    same.options = dataclasses.replace(same.options, beam_size=beam, nbest=1)
    same_texts = [r.text for r in same.translate(sentences, batch_size=batch)]
    calls = calls_per_pass(same.tokenizer, sentences, same.max_length, batch)
    rows = []
    for row in peers.rows:
        dtype = "int8" if row.compute_type.startswith("int8") and "int8" in ours else "float32"
        mine = ours[dtype]
        rows.append({
            "engine": ENGINE, "compute_type": row.compute_type, "vmap": row.vmap,
            "beam": beam, "batch": batch, "sentences": len(sentences), "ms": ms[row.name],
            "sentences_per_s": speed[row.name], "ours": mine, "ours_dtype": dtype,
            "ours_sentences_per_s": speed[mine], "ratio": speed[mine] / speed[row.name],
            "bleu": bleu[row.name], "ours_bleu": bleu[mine],
            "without_reuse": peers.setup["without_reuse"],
            "same_function_lines": sum(a == b for a, b in zip(texts[row.name], same_texts)),
            "mean_batch": len(sentences) / max(1, calls)})
    return rows


def markdown(results: dict) -> list[str]:
    """The report's peer section."""
    lines = ["", "## Peer: CTranslate2 on the same weights", ""]
    setup, notes = results.get("peer_setup") or {}, results.get("peer_notes") or []
    if not results.get("peer"):
        return lines + (notes or ["no peer rows"])
    model = "the model as trained"
    if setup["without_reuse"]:
        model = (f"**its no-reuse variant**: the model shares encoder maps "
                 f"(reuse_pattern {setup['reuse_pattern']}), which CTranslate2 cannot express, "
                 "so the peer runs `--without-reuse` weights (followers compute their own maps "
                 "with their leader's query/key weights), a different function")
    vmap = setup.get("vmap")
    lines += [
        f"CTranslate2 {setup['version']} (intra_threads={setup['intra_threads']}, "
        "inter_threads=1) on "
        f"{model}; `{setup['export']}`. Ours: SVD-softmax as `nmt-translate --softmax svd`, "
        "in the peer's number format (int8: `--dtype int8`) where timed. Ours ÷ peer: "
        "sentences/s ratio, the same interleaved repeats. Same-function lines: the peer's "
        "translations equal to our code running the function the peer runs (no reuse, full "
        "softmax, float32). Mean batch: sentences per CTranslate2 call (one length limit a "
        "call).",
    ]
    if vmap:
        lines += ["", f"vmap: from {vmap['pairs']} training pairs ({vmap['corpus']}), "
                  f"{vmap['per_source']} target pieces per source piece by Dice coefficient, "
                  f"{vmap['common']} most frequent target pieces always; a test sentence "
                  f"allows {vmap['mean_shortlist']:.0f} of {vmap['vocab']} pieces on average."]
    shown = [dict(r, vmap="yes" if r["vmap"] else "no", bleu=score_text(r["bleu"]),
                  ours_bleu=score_text(r["ours_bleu"])) for r in results["peer"]]
    lines += ["", report.markdown_table(shown, [
        ("beam", "beam", "d"), ("batch", "batch", "d"), ("compute_type", "compute", "s"),
        ("vmap", "vmap", "s"), ("sentences_per_s", "peer sent/s", ".2f"),
        ("ours", "ours", "s"), ("ours_sentences_per_s", "ours sent/s", ".2f"),
        ("ratio", "ours ÷ peer", ".2f"), ("bleu", "peer BLEU", "s"),
        ("ours_bleu", "ours BLEU", "s"), ("same_function_lines", "same-function lines", "d"),
        ("mean_batch", "mean batch", ".1f")])]
    return lines + ([""] + notes if notes else [])


def score_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
