"""What the tasks add to the core, registered by the tasks themselves.

    decoding options   the options record of each model.yaml task kind (``task.task``:
                       speech_recognition, translation, language_model), which
                       `python -m echoformer.shipped export --decoding` checks against
    bench suites       `bench suite=NAME`: a config schema node, its quick grid, run, markdown
    exporters          `python -m echoformer.export FORMAT MODEL_DIR OUT`: per format
                       (ctranslate2, onnx) and model.yaml ``model_type``, its options and
                       its export function

The core names no task. It finds them as Python plugins: each installed task is an entry point
of the group ``echoformer.tasks`` (pyproject.toml ``[project.entry-points."echoformer.tasks"]``),
a module whose import registers its task with `register_decoding_options`,
`register_bench_suite` and `register_exporter`, as model classes register with
`echoformer.model_dir.register_model`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

ENTRY_POINT_GROUP = "echoformer.tasks"

_DECODING: dict[str, type] = {}
_SUITES: dict[str, BenchSuite] = {}
_EXPORTERS: dict[tuple[str, str], Exporter] = {}  # by (format, model_type)
_TASKS: list[str] | None = None  # the entry points' names, once loaded


@dataclass(frozen=True)
class BenchSuite:
    """`bench suite=NAME model=DIR`: a task's benchmark of a trained model directory.

    schema: the dataclass of its config node ``cfg.NAME`` (a Hydra structured config, so an
    unknown key is an error); quick: overrides of that node under ``quick=true``;
    run(cfg, out_dir) -> results (JSON-able; it may write plots into out_dir);
    markdown(results) -> the report.
    """

    name: str
    schema: type
    run: Callable[[Any, Path], dict]
    markdown: Callable[[dict], str]
    quick: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Exporter:
    """`python -m echoformer.export FORMAT MODEL_DIR OUT`: one format for one model type.

    format: the command's first word (ctranslate2, onnx); model_type: the model.yaml
    ``model_type`` it converts; help: what it writes and what it cannot express (shown by
    ``--help`` of the format); add_arguments(parser): its options (exporters of one format
    may add the same option, which must then mean the same); export(model_dir, out, args)
    -> the path written, raising ValueError (ModelDirError) or RuntimeError with a message
    for the user; requires: importable modules it needs (an optional extra's packages).
    """

    format: str
    model_type: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    export: Callable[[Path, Path, argparse.Namespace], Path]
    requires: tuple[str, ...] = ()


def register_decoding_options(kind: str, options: type) -> None:
    """Models whose model.yaml says ``task.task: kind`` decode with the dataclass `options`,
    built from their ``task.decoding``."""
    assert _DECODING.get(kind, options) is options, f"decoding options of {kind} registered twice"
    _DECODING[kind] = options


def register_bench_suite(suite: BenchSuite) -> None:
    assert _SUITES.get(suite.name, suite) == suite, f"bench suite {suite.name} registered twice"
    _SUITES[suite.name] = suite


def register_exporter(exporter: Exporter) -> None:
    key = (exporter.format, exporter.model_type)
    assert _EXPORTERS.get(key, exporter) == exporter, f"exporter {key} registered twice"
    _EXPORTERS[key] = exporter


def exporters() -> dict[str, dict[str, Exporter]]:
    """The installed tasks' exporters: format -> model_type -> exporter, sorted by name."""
    load_tasks()
    by_format: dict[str, dict[str, Exporter]] = {}
    for (format_name, model_type), exporter in sorted(_EXPORTERS.items()):
        by_format.setdefault(format_name, {})[model_type] = exporter
    return by_format


def decoding_options_class(kind: str | None) -> type | None:
    """The decoding options dataclass of a model.yaml task kind (None for a kind no installed
    task registered)."""
    load_tasks()
    return _DECODING.get(kind) if kind else None


def bench_suites() -> dict[str, BenchSuite]:
    """The installed tasks' bench suites by name, sorted by name."""
    load_tasks()
    return dict(sorted(_SUITES.items()))


def load_tasks() -> list[str]:
    """Import every installed task (once); returns their entry-point names.

    With none installed (a source tree used without `pip install -e .`), the core works alone:
    no task suites, no task decoding options and no exporters."""
    global _TASKS
    if _TASKS is None:
        points = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name)
        _TASKS = [point.name for point in points]
        for point in points:
            point.load()
    return list(_TASKS)
