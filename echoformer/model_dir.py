"""Self-contained, relocatable model directories and the registry of model classes.

    model.yaml          format version, model type, architecture, task info, weights checksum
    weights.pt          the (averaged) state dict, loaded with torch.load(weights_only=True)
    spm.model           the sentencepiece model
    train_config.yaml   the resolved training config (provenance; not read back)
    svd_factors.pt      SVD-softmax factors, written on first use (see echoformer.svd_cache)

Every path inside is relative, so the folder can be moved or copied. The model class comes
from this project's registry by name; a class path read from a directory is never imported.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from echoformer.tokenizer import Tokenizer

FORMAT_VERSION = 1
# weights.pt key of the per-row scales of a matrix stored in int8 (model.yaml `int8_rows`)
INT8_SCALE_SUFFIX = "::scale"
META_FILE, WEIGHTS_FILE, TOKENIZER_FILE = "model.yaml", "weights.pt", "spm.model"
RUN_CONFIG_FILE = "train_config.yaml"

_REGISTRY: dict[str, type[nn.Module]] = {}

# Keys of the ASR and NMT model configs (architecture.model in model.yaml, model in a run's
# run_config.yaml) under the names they had before both configs used the same ones, old ->
# new. Model directories and runs written with the old names still load and resume.
RENAMED_MODEL_KEYS = {"n_heads": "heads", "num_layers": "encoder_layers", "ff_dim": "ffn_dim"}


class ModelDirError(ValueError):
    """A model directory that cannot be used as it is."""


def register_model(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: `name` in model.yaml builds this class via `cls.from_config(dict)`;
    the class gives its own config with `config_dict()`."""

    def register(cls: type[nn.Module]) -> type[nn.Module]:
        assert name not in _REGISTRY or _REGISTRY[name] is cls, f"{name} registered twice"
        _REGISTRY[name] = cls
        cls.model_type = name
        return cls

    return register


def current_model_keys(model: dict[str, Any]) -> dict[str, Any]:
    """An encoder-decoder's model config `model` (a dict) with the old key names of
    RENAMED_MODEL_KEYS renamed; a new dict. An old and a new name together is a
    ModelDirError (the config would say two things)."""
    renamed = {}
    for key, value in model.items():
        new = RENAMED_MODEL_KEYS.get(key, key)
        if new in renamed or (new != key and new in model):
            raise ModelDirError(f"model config has both {key!r} and {new!r} (the same "
                                f"setting under its old and new name); keep {new!r}")
        renamed[new] = value
    return renamed


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class LoadedModel:
    """A model (eval mode, on its device), its tokenizer, model.yaml's contents and its folder."""

    model: nn.Module
    tokenizer: Tokenizer
    meta: dict[str, Any]
    path: Path

    @property
    def task(self) -> dict[str, Any]:
        return self.meta.get("task", {})

    def decoding_options(self, options_class: Callable[..., Any]) -> Any:
        """`options_class` built from the decoding settings saved with the model
        (model.yaml task.decoding); a key it does not know or a value it refuses is a
        ModelDirError naming the file."""
        try:
            return options_class(**self.task.get("decoding", {}))
        except (TypeError, ValueError) as error:
            raise ModelDirError(f"{self.path / META_FILE}, decoding: {error}") from error


def save_model_dir(directory: Path, model: nn.Module, state_dict: dict[str, torch.Tensor],
                   tokenizer_model: Path, task: dict[str, Any] | None = None,
                   run_config: dict[str, Any] | None = None) -> Path:
    """Write a model directory for `model` (a registered class) with weights `state_dict`.

    task: task-specific facts (languages, decoding defaults, training summary), stored as is.
    The folder is assembled next to `directory` and renamed into place, replacing an old one.
    """
    directory = Path(directory)
    model_type = getattr(type(model), "model_type", None)
    assert model_type in _REGISTRY, f"{type(model).__name__} is not a registered model class"
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        torch.save(state_dict, staging / WEIGHTS_FILE)
        shutil.copyfile(tokenizer_model, staging / TOKENIZER_FILE)
        if run_config is not None:
            _write_yaml(staging / RUN_CONFIG_FILE, run_config)
        _write_yaml(staging / META_FILE, {
            "format_version": FORMAT_VERSION, "model_type": model_type,
            "architecture": model.config_dict(), "task": task or {},
            "weights_sha256": file_sha256(staging / WEIGHTS_FILE)})
        for path in staging.iterdir():
            with open(path, "rb") as stream:
                os.fsync(stream.fileno())
        old = directory.with_name(f".{directory.name}.old")
        if directory.exists():
            shutil.rmtree(old, ignore_errors=True)
            directory.rename(old)
        staging.rename(directory)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def read_meta(directory: Path) -> dict[str, Any]:
    """model.yaml of `directory`, checked for presence and format version."""
    directory = Path(directory)
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise ModelDirError(f"{directory} is not a model directory (no {META_FILE}); pass the "
                            "model/ folder a training run wrote (asr-train or nmt-train)")
    meta = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelDirError(
            f"{meta_path} has format_version {version!r}, but this echoformer reads format "
            f"{FORMAT_VERSION}; use the echoformer version that wrote it, or export the "
            "model again from its training run")
    return meta


def load_model_dir(directory: Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Build the registered model class, load its weights (weights_only), and its tokenizer."""
    directory = Path(directory)
    meta = read_meta(directory)
    model_type = meta.get("model_type")
    if model_type not in _REGISTRY:
        raise ModelDirError(
            f"{directory / META_FILE}: model_type {model_type!r} is unknown here (known: "
            f"{', '.join(sorted(_REGISTRY)) or 'none'}); load it with its task's command "
            "(nmt-translate, asr-transcribe)")
    model = _REGISTRY[model_type].from_config(meta["architecture"])
    model.load_state_dict(_read_weights(directory, meta))
    tokenizer = Tokenizer(directory / TOKENIZER_FILE)
    return LoadedModel(model.to(device).eval(), tokenizer, meta, directory)


def initialise_from(model: nn.Module, directory: Path, tokenizer_model: Path) -> dict[str, Any]:
    """Load the weights of model directory `directory` into `model` (a new training run's
    model, e.g. to fine-tune a shipped model); returns its model.yaml.

    The directory must hold the same model type, size, reuse pattern and sentencepiece model
    (`tokenizer_model`, the run's own): anything else is a ModelDirError saying which.
    Everything in the state dict is taken, buffers too (an ASR model's CMVN statistics),
    converted to `model`'s dtypes (a half-precision shipped copy trains in float32).
    """
    directory = Path(directory)
    meta = read_meta(directory)
    wanted = getattr(type(model), "model_type", None)
    if meta.get("model_type") != wanted:
        raise ModelDirError(f"{directory / META_FILE}: model_type {meta.get('model_type')!r}, "
                            f"but this run trains a {wanted!r}; pass a model directory of "
                            "the same task")
    if file_sha256(directory / TOKENIZER_FILE) != file_sha256(tokenizer_model):
        raise ModelDirError(f"{directory / TOKENIZER_FILE} differs from this run's "
                            f"sentencepiece model {tokenizer_model}: its weights would read "
                            "other pieces; train with that directory's spm.model")
    try:
        model.load_state_dict(_read_weights(directory, meta))
    except RuntimeError as error:
        lines = str(error).splitlines()
        detail = (lines[1] if len(lines) > 1 else lines[0]).strip()
        detail = detail if len(detail) <= 200 else detail[:200] + "…"
        raise ModelDirError(
            f"{directory / WEIGHTS_FILE} does not fit this run's model ({detail}); its "
            f"architecture in {META_FILE} must match the run's model size and reuse pattern"
        ) from None
    return meta


def _read_weights(directory: Path, meta: dict[str, Any]) -> dict[str, torch.Tensor]:
    """weights.pt of `directory`, checked against model.yaml's checksum, tensors only; the
    matrices model.yaml lists in `int8_rows` (echoformer.shipped --int8-embedding) are turned
    back into float (int8 × the row's scale)."""
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelDirError(f"{weights} is missing; the model directory is incomplete")
    if file_sha256(weights) != meta.get("weights_sha256"):
        raise ModelDirError(f"{weights} does not match the checksum in {META_FILE}: the file "
                            "is damaged or was replaced; export the model again")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ModelDirError(
            f"{weights} was refused: it holds more than tensors (objects that would run code "
            f"when loaded), so it is not loaded; use a model directory written by "
            f"asr-train or nmt-train. ({str(error).splitlines()[0]})") from None
    dequantised: dict[int, torch.Tensor] = {}
    for name in meta.get("int8_rows") or []:
        scale = state.pop(name + INT8_SCALE_SUFFIX, None)
        if name not in state or scale is None:
            raise ModelDirError(f"{weights} lacks {name} or its scale {name}{INT8_SCALE_SUFFIX}, "
                                f"which {META_FILE} lists in int8_rows; export the model again")
        rows = state[name]
        if rows.data_ptr() not in dequantised:  # tied names: one float copy
            dequantised[rows.data_ptr()] = rows.float() * scale.float()[:, None]
        state[name] = dequantised[rows.data_ptr()]
    return state


def _write_yaml(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
