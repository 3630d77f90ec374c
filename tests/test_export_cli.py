"""`python -m echoformer.export FORMAT MODEL_DIR OUT`: one command, the exporter chosen by
the model directory's model_type from what the tasks registered."""

import importlib.util
import subprocess
import sys

import pytest

import echoformer.export as export_cli
from asr_fixtures import untrained_model_dir
from echoformer.export import main
from echoformer.tasks import exporters
from tiny_nmt import random_model_dir, write_tiny_corpus

EXPORT = [sys.executable, "-m", "echoformer.export"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_tiny_corpus(tmp_path_factory.mktemp("export_cli_corpus"))


def test_the_tasks_register_ctranslate2_for_translation_and_onnx_for_both_encoders():
    by_format = exporters()
    assert {f: list(t) for f, t in by_format.items()} == {
        "ctranslate2": ["transformer_nmt"], "onnx": ["conformer_asr", "transformer_nmt"]}


def test_ctranslate2_help_says_that_map_reuse_cannot_be_exported():
    run = subprocess.run(EXPORT + ["ctranslate2", "--help"], capture_output=True, text=True,
                         check=True)
    text = " ".join(run.stdout.split())
    assert "Attention map reuse cannot be expressed in CTranslate2" in text
    assert "a model trained with reuse is refused" in text
    assert "--without-reuse" in text and "--quantization" in text


def test_onnx_help_names_both_model_types_and_the_check():
    run = subprocess.run(EXPORT + ["onnx", "--help"], capture_output=True, text=True,
                         check=True)
    assert "conformer_asr:" in run.stdout and "transformer_nmt:" in run.stdout
    assert "--check" in run.stdout


def test_the_ctranslate2_command_writes_what_nmt_export_ctranslate2_writes(corpus, tmp_path):
    pytest.importorskip("ctranslate2", reason="the optional peer ctranslate2 is not installed "
                                              "(pip install 'echoformer[peers]')")
    from nmt.export_ctranslate2 import main as ctranslate2_main

    model_dir = random_model_dir(tmp_path / "model", corpus)
    assert main(["ctranslate2", str(model_dir), str(tmp_path / "ours"),
                 "--quantization", "int8"]) == 0
    assert ctranslate2_main([str(model_dir), str(tmp_path / "direct"),
                             "--quantization", "int8"]) == 0
    for name in ("model.bin", "config.json"):
        assert (tmp_path / "ours" / name).read_bytes() == (tmp_path / "direct" / name
                                                           ).read_bytes(), name


def test_a_reuse_model_is_refused_by_ctranslate2_unless_without_reuse(corpus, tmp_path,
                                                                      capsys):
    pytest.importorskip("ctranslate2", reason="the optional peer ctranslate2 is not installed "
                                              "(pip install 'echoformer[peers]')")
    model_dir = random_model_dir(tmp_path / "model", corpus, reuse_pattern=[2, 2])
    assert main(["ctranslate2", str(model_dir), str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "map reuse" in error and "--without-reuse" in error
    assert not (tmp_path / "out").exists()
    assert main(["ctranslate2", str(model_dir), str(tmp_path / "out"), "--without-reuse"]) == 0
    assert (tmp_path / "out" / "model.bin").is_file()


def test_a_format_the_model_type_has_not_is_an_error_naming_the_formats_it_has(
        tmp_path, capsys):
    model_dir = untrained_model_dir(tmp_path)
    assert main(["ctranslate2", str(model_dir), str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "holds a 'conformer_asr' model" in error
    assert "ctranslate2 export is for transformer_nmt" in error
    assert "formats for 'conformer_asr': onnx" in error


def test_a_missing_model_directory_is_named(tmp_path):
    run = subprocess.run(EXPORT + ["onnx", str(tmp_path / "nothing"), str(tmp_path / "out")],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert "nothing is not a model directory" in run.stderr and "Traceback" not in run.stderr


def test_an_exporter_whose_package_is_missing_names_the_extra(corpus, tmp_path, monkeypatch,
                                                               capsys):
    model_dir = random_model_dir(tmp_path / "model", corpus)
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ctranslate2" else find_spec(name, *a))
    assert main(["ctranslate2", str(model_dir), str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "needs ctranslate2" in error and "echoformer[peers]" in error


def test_without_installed_tasks_the_command_says_how_to_install_them(monkeypatch, capsys):
    monkeypatch.setattr(export_cli, "exporters", dict)
    assert main(["onnx", "x", "y"]) == 2
    assert "pip install -e ." in capsys.readouterr().err
