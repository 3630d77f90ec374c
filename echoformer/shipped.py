"""The small pretrained models shipped in the repository, and how one is made from a run.

    models/asr-en/       English speech recognition (asr-transcribe, st-translate)
    models/nmt-en-de/    English→German translation (nmt-translate, st-translate)
    models/asr-en-lm/    the word-piece language model fused with asr-en's decoding

A shipped model is an ordinary model directory (echoformer.model_dir) whose weights are stored
in half precision; loading casts them back to the model's float32 parameters. A model whose
vocabulary matrix is most of its size (32K pieces × 256 is 8.2M of nmt_model=small's 14.2M
parameters) may store that matrix in int8 with one float16 scale per row
(`--int8-embedding`, model.yaml `int8_rows`), which loading turns back into float32.

    python -m echoformer.shipped export exp/ding_nmt/en-de/small-g2/model models/nmt-en-de \
        --svd-window 64
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
from pathlib import Path

import torch
import yaml

from echoformer.model_dir import (INT8_SCALE_SUFFIX, META_FILE, WEIGHTS_FILE, ModelDirError,
                                  file_sha256, read_meta)
from echoformer.paths import PROJECT_ROOT
from echoformer.tasks import decoding_options_class

MODELS_DIR = PROJECT_ROOT / "models"
SHIPPED = {"asr": MODELS_DIR / "asr-en", "nmt": MODELS_DIR / "nmt-en-de",
           "asr_lm": MODELS_DIR / "asr-en-lm"}
MAX_SHIPPED_BYTES = 25 * 1000 * 1000
# Files of a model directory worth shipping (svd_factors.pt is rebuilt on first use).
_SHIPPED_FILES = ("model.yaml", "weights.pt", "spm.model", "train_config.yaml")


def default_model(task: str, flag: str = "--model") -> Path:
    """The shipped model directory for `task` ("asr" or "nmt"), or a clear error naming the
    command's option `flag` when this checkout has none."""
    path = SHIPPED[task]
    if not (path / META_FILE).is_file():
        raise ModelDirError(
            f"no {flag} given and this checkout has no shipped model in {path}; "
            f"pass {flag} DIR (a model/ folder written by training)")
    return path


def shipped_lm() -> Path | None:
    """The shipped language model of the shipped recogniser, or None when this checkout has
    none (it is optional: asr-transcribe then decodes without one)."""
    path = SHIPPED["asr_lm"]
    return path if (path / META_FILE).is_file() else None


def export_half(source: Path, target: Path, limit: int = MAX_SHIPPED_BYTES,
                decoding: dict | None = None, softmax: dict | None = None,
                int8_embedding: bool = False) -> dict:
    """Copy model directory `source` to `target` with float weights in half precision.

    `decoding` overrides entries of the model's decoding defaults (``task.decoding`` in
    model.yaml, e.g. ``{"method": "joint_beam"}``); each key must be there or be a field of
    the task's decoding options (one added since the model was written), the value of the
    same type, and the task's decoding options must accept the result.
    `softmax` sets the model's SVD-softmax defaults (``architecture.softmax``: ``window`` W,
    ``candidates`` N), which `--softmax svd` without `--svd-window`/`--svd-candidates` uses;
    the kind (full or svd) stays the source's. `int8_embedding` stores the float matrices of
    shape (vocab_size, d) in int8 rows (see the module docstring). Raises
    ``ModelDirError`` when the result would exceed `limit` bytes or an override does not fit.
    Returns a summary (parameters, bytes). The copy replaces `target` only once it is complete.
    """
    source, target = Path(source), Path(target)
    meta = read_meta(source)
    _override_decoding(meta, decoding or {}, source)
    _override_softmax(meta, softmax or {}, source)
    state = torch.load(source / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    half = _half_precision(state)
    int8_keys: list[str] = []
    if int8_embedding:
        vocab = (meta.get("architecture") or {}).get("vocab_size")
        half, int8_keys = int8_rows(half, vocab)
        if not int8_keys:
            raise ModelDirError(f"--int8-embedding: {source} has no float matrix of "
                                f"{vocab} rows (its vocabulary) to store in int8")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name in _SHIPPED_FILES:
            if (source / name).is_file() and name not in (WEIGHTS_FILE, META_FILE):
                shutil.copyfile(source / name, staging / name)
        torch.save(half, staging / WEIGHTS_FILE)
        meta["weights_sha256"] = file_sha256(staging / WEIGHTS_FILE)
        meta["weights_dtype"] = "float16"
        if int8_keys:
            meta["int8_rows"] = int8_keys
        (staging / META_FILE).write_text(
            yaml.safe_dump(meta, sort_keys=False, allow_unicode=True), encoding="utf-8")
        for path in staging.iterdir():
            path.chmod(0o644)
        staging.chmod(0o755)
        size = shipped_bytes(staging)
        if size > limit:
            raise ModelDirError(f"{source} in half precision takes {size / 1e6:.1f} MB, more "
                                f"than the {limit / 1e6:.0f} MB a shipped model may; train a "
                                "smaller model")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    distinct = {t.data_ptr(): t.numel() for name, t in half.items()
                if (t.is_floating_point() and not name.endswith(INT8_SCALE_SUFFIX))
                or name in int8_keys}
    return {"parameters": sum(distinct.values()), "bytes": size}


def _override_decoding(meta: dict, overrides: dict, source: Path) -> None:
    defaults = (meta.get("task") or {}).get("decoding")
    if overrides and not isinstance(defaults, dict):
        raise ModelDirError(f"{source}/{META_FILE} has no task.decoding defaults to override")
    options = decoding_options_class(meta["task"].get("task"))
    known = {f.name: f.default for f in dataclasses.fields(options)} if options else {}
    for key, value in overrides.items():
        if key not in defaults and key not in known:  # a newer option: its default then
            raise ModelDirError(f"--decoding {key}=...: {source} has no decoding default "
                                f"named {key!r}; it has {', '.join(sorted(set(defaults) | set(known)))}")
        old = defaults.get(key, known.get(key))
        if type(value) is not type(old) and not (isinstance(old, float)
                                                 and type(value) is int):
            raise ModelDirError(f"--decoding {key}={value}: expected a {type(old).__name__} "
                                f"like the current {old!r}")
        defaults[key] = type(old)(value)
    if overrides:
        _check_decoding(meta["task"], source)


def _override_softmax(meta: dict, overrides: dict, source: Path) -> None:
    """`--svd-window` / `--svd-candidates`: checked against the model's width D and
    vocabulary V (1 ≤ W ≤ D, 1 ≤ N ≤ V), as the SVD-softmax layer would check them on use."""
    architecture = meta.get("architecture") or {}
    limits = {"window": ("--svd-window", "D", (architecture.get("model") or {}).get("d_model")),
              "candidates": ("--svd-candidates", "V", architecture.get("vocab_size"))}
    for key, value in overrides.items():
        flag, name, limit = limits[key]
        if not isinstance(value, int) or value < 1 or (limit is not None and value > limit):
            bound = f"1..{name}={limit}" if limit is not None else "≥ 1"
            raise ModelDirError(f"{flag} {value}: must be in {bound} for model {source}")
    if overrides:
        architecture.setdefault("softmax", {"kind": "full"}).update(overrides)


def _check_decoding(task: dict, source: Path) -> None:
    """Build the task's decoding options from the new defaults, so that a value the options
    refuse (e.g. ``method=joint-beam``) fails at export, not when the copy is first used."""
    options = decoding_options_class(task.get("task"))
    if options is None:
        return
    try:
        options(**task["decoding"])
    except (TypeError, ValueError) as error:
        raise ModelDirError(f"--decoding: {error} (model {source})") from error


def _decoding_override(text: str) -> tuple[str, object]:
    """argparse type for --decoding KEY=VALUE (VALUE read as YAML: 10 → int, 0.5 → float)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE, e.g. method=joint_beam")
    return key, yaml.safe_load(value)


def shipped_bytes(directory: Path) -> int:
    """Bytes of the files a shipped model consists of (not the SVD cache written on use)."""
    return sum((Path(directory) / name).stat().st_size for name in _SHIPPED_FILES
               if (Path(directory) / name).is_file())


def _half_precision(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Float tensors in float16. Equal tensors (tied embeddings, which averaging checkpoints
    may have unshared) share one storage, so they are stored once."""
    halves: dict[tuple, list[tuple[torch.Tensor, torch.Tensor]]] = {}
    result = {}
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            result[name] = tensor
            continue
        same_shape = halves.setdefault(tuple(tensor.shape), [])
        twin = next((h for original, h in same_shape if torch.equal(original, tensor)), None)
        if twin is None:
            twin = tensor.half()
            same_shape.append((tensor, twin))
        result[name] = twin
    return result


def int8_rows(state: dict[str, torch.Tensor], vocab_size: int | None
              ) -> tuple[dict[str, torch.Tensor], list[str]]:
    """`state` with each float matrix of `vocab_size` rows stored as int8 (symmetric, one
    float16 scale per row, key `NAME::scale`); tied names still share one int8 storage.
    Returns the new state and the names stored so (model_dir reads them back)."""
    result, keys, done = {}, [], {}
    for name, tensor in state.items():
        if not (tensor.is_floating_point() and tensor.dim() == 2 and vocab_size
                and tensor.shape[0] == vocab_size):
            result[name] = tensor
            continue
        if tensor.data_ptr() not in done:
            rows = tensor.float()
            scale = rows.abs().amax(dim=1).clamp_min(1e-12) / 127.0
            scale = scale.half()
            quantised = torch.round(rows / scale.float()[:, None]).clamp(-127, 127)
            done[tensor.data_ptr()] = (quantised.to(torch.int8), scale)
        result[name], result[name + INT8_SCALE_SUFFIX] = done[tensor.data_ptr()]
        keys.append(name)
    return result, keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m echoformer.shipped",
        description="Make a shippable (half-precision, ≤ 25 MB) copy of a model directory.")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="copy SOURCE to TARGET in half precision")
    export.add_argument("source", type=Path, help="model directory written by training")
    export.add_argument("target", type=Path, help="e.g. models/nmt-en-de or models/asr-en")
    export.add_argument(
        "--decoding", type=_decoding_override, action="append", default=[],
        metavar="KEY=VALUE", help="set a decoding default in the copy's model.yaml "
        "(task.decoding), e.g. --decoding method=joint_beam; repeatable")
    export.add_argument(
        "--svd-window", type=int, metavar="W", help="the copy's SVD-softmax window, used by "
        "--softmax svd when no --svd-window is given (default: the source's)")
    export.add_argument(
        "--svd-candidates", type=int, metavar="N", help="the copy's SVD-softmax candidates "
        "(default: the source's)")
    export.add_argument(
        "--int8-embedding", action="store_true", help="store the vocabulary matrices "
        "(embedding, output layer) in int8 with a float16 scale per row: half their size, "
        "for a large vocabulary that would not fit in 25 MB")
    args = parser.parse_args(argv)
    softmax = {key: value for key, value in (("window", args.svd_window),
                                             ("candidates", args.svd_candidates))
               if value is not None}
    try:
        summary = export_half(args.source, args.target, decoding=dict(args.decoding),
                              softmax=softmax, int8_embedding=args.int8_embedding)
    except (ModelDirError, OSError) as error:  # OSError: e.g. SOURCE without weights.pt
        print(f"echoformer.shipped: {error}", file=sys.stderr)
        return 1
    print(f"{args.target}: {summary['parameters']:,} parameters, "
          f"{summary['bytes'] / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
