"""echoformer.tasks: the tasks register with the core, which finds them by entry point and
imports none of them itself."""

import ast
import re
from importlib.metadata import entry_points

import pytest
from omegaconf import OmegaConf
from omegaconf.errors import ConfigAttributeError

from asr.bench import ASRBenchConfig
from asr.decoding import METHODS, ASRDecodingOptions
from asr.lm import LMFusionOptions
from echoformer.bench import app
from echoformer.bench.config import bench_schema, quick_overrides
from echoformer.paths import PROJECT_ROOT
from echoformer.search.options import DecodingOptions
from echoformer.tasks import ENTRY_POINT_GROUP, bench_suites, decoding_options_class
from nmt.bench import NMTBenchConfig

TASKS = ("asr", "nmt", "st", "demo")


def test_each_task_is_an_entry_point_naming_its_registering_module():
    points = {p.name: p.value for p in entry_points(group=ENTRY_POINT_GROUP)}
    assert points == {"asr": "asr.task", "nmt": "nmt.task"}


def test_each_model_kind_decodes_with_the_options_its_task_registered():
    assert decoding_options_class("speech_recognition") is ASRDecodingOptions
    assert decoding_options_class("language_model") is LMFusionOptions
    assert decoding_options_class("translation") is DecodingOptions
    assert decoding_options_class("image_captioning") is None


def test_the_tasks_register_their_bench_suites_with_their_schemas():
    suites = bench_suites()
    assert list(suites) == ["asr", "nmt"]
    assert (suites["asr"].schema, suites["nmt"].schema) == (ASRBenchConfig, NMTBenchConfig)
    for suite in suites.values():  # quick=true only sets keys the schema has
        assert set(suite.quick) <= set(OmegaConf.structured(suite.schema))


def test_the_bench_schema_has_a_node_per_suite_and_refuses_unknown_keys():
    cfg = OmegaConf.structured(bench_schema(bench_suites()))
    assert cfg.suite == "layers" and list(cfg.asr.methods) == list(METHODS)
    assert cfg.nmt.beams == [1, 5]
    with pytest.raises(ConfigAttributeError):
        cfg.asr.lmm = "models/asr-en-lm"
    quick = quick_overrides(bench_suites())
    assert quick["asr"]["max_utterances"] == 2 and quick["repeats"] == 3


def test_without_installed_tasks_a_task_suite_is_an_error_naming_the_fix(monkeypatch):
    monkeypatch.setattr(app, "TASK_SUITES", {})
    cfg = OmegaConf.create({"suite": "asr", "model": "models/asr-en", "device": "cpu"})
    with pytest.raises(SystemExit, match=r"unknown suite='asr'; choose one of layers "
                                         r"\(.*pip install -e \."):
        app.check(cfg)


def _task_references(path):
    """(line, what) for each import of a task module and each string naming one."""
    module_name = re.compile(rf"^({'|'.join(TASKS)})(\.\w+)+(:\w+)?$")
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value] if module_name.match(node.value) else []
            found += [(node.lineno, f"string {n!r}") for n in names]
            continue
        else:
            continue
        found += [(node.lineno, f"import {n}") for n in names if n.split(".")[0] in TASKS]
    return found


def test_the_core_imports_no_task_not_even_inside_functions_or_by_name():
    found = {str(path.relative_to(PROJECT_ROOT)): refs
             for path in sorted((PROJECT_ROOT / "echoformer").rglob("*.py"))
             if (refs := _task_references(path))}
    assert found == {}
