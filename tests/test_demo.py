"""`make demo` at tiny sizes: every step runs, the report has every section with real numbers,
the models decode, and a second run reuses everything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from echoformer.data.ding import DING_PATH

pytestmark = pytest.mark.skipif(not DING_PATH.is_file(), reason="trans-de-en is not installed")


def run_demo(data: Path, exp: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "demo", "--tiny", str(data), "--exp", str(exp)],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    first = run_demo(root / "data", root / "exp")
    assert first.returncode == 0, first.stderr[-3000:]
    return root, first


def test_report_has_every_section_with_numbers(demo_run):
    root, first = demo_run
    exp = root / "exp"
    report = json.loads((exp / "report.json").read_text())
    assert {row["name"] for row in report["asr_wer"]["demo"]} == {"test", "test_unseen_voice"}
    assert all(0.0 <= row["wer"] for row in report["asr_wer"]["demo"])
    from echoformer.shipped import shipped_lm

    if shipped_lm() is not None:  # the shipped recogniser as asr-transcribe runs it
        assert {row["name"] for row in report["asr_wer"]["shipped + LM"]} == \
            {"test", "test_unseen_voice"}
    assert report["nmt_scores"]["demo"]["sentences"] == 20
    assert report["models"]["demo"]["asr"]["reuse_pattern"] == [2, 2]
    assert report["models"]["demo"]["nmt"]["reuse_pattern"] == [2, 2]
    assert all(report["bench"][suite] for suite in ("layers", "asr", "nmt"))
    examples = report["speech_translation"]
    assert {e["test_set"] for e in examples} == {"test", "test_unseen_voice"}
    assert all("translation" in e["demo"] for e in examples)
    markdown = (exp / "report.md").read_text()
    for heading in ("## Models", "## Speech recognition", "## Translation",
                    "## Speech translation examples", "## Latency", "Attention map reuse",
                    "SVD-softmax"):
        assert heading in markdown
    plots = sorted(p.name for p in exp.glob("*.png"))
    assert "layers_attention_speedup.png" in plots and len(plots) >= 3
    assert "Three things to try next" in first.stdout


def test_models_decode_every_input(demo_run):
    root, _ = demo_run
    exp, data = root / "exp", root / "data"
    for test_set in ("test", "test_unseen_voice"):
        manifest = (data / "synth_asr" / f"{test_set}.jsonl").read_text().splitlines()
        decoded = (exp / "asr/decode_attention_rescoring" / f"{test_set}.jsonl")
        assert len(decoded.read_text().splitlines()) == len(manifest)
    assert len((exp / "nmt/test.svd.hyp.de").read_text().splitlines()) == 20


def test_second_run_reuses_every_step(demo_run):
    root, _ = demo_run
    second = run_demo(root / "data", root / "exp")
    assert second.returncode == 0, second.stderr[-3000:]
    steps = [line for line in second.stdout.splitlines() if line.startswith("[demo")]
    reused = [line for line in steps if line.endswith("done before, reused")]
    assert len(reused) == len(steps) - 1  # all but the closing "report:" line


def test_a_newer_model_is_decoded_again(demo_run):
    root, _ = demo_run
    model = root / "exp/nmt/model/model.yaml"
    model.touch()
    again = run_demo(root / "data", root / "exp")
    assert again.returncode == 0, again.stderr[-3000:]
    redone = [line for line in again.stdout.splitlines()
              if line.startswith("[demo") and line.endswith(" ...")]
    assert len(redone) == 3, redone  # the translation, the st examples, the NMT benchmark
    assert any("translate the NMT test split" in line for line in redone)


def test_other_training_settings_start_that_run_over(tmp_path):
    from demo.run import Step

    run_dir = tmp_path / "asr"
    model = run_dir / "model/model.yaml"
    runs = []

    def train():
        model.parent.mkdir(parents=True, exist_ok=True)
        model.write_text("trained")
        runs.append(1)

    def step(minutes):
        return Step("train", [model], train, made_with=f"xs minutes={minutes}", run_dir=run_dir)

    first = step(5)
    assert not first.done()
    first.perform()
    (run_dir / "checkpoint.pt").write_text("kept while the settings stay")
    assert step(5).done()
    longer = step(20)
    assert not longer.done()
    longer.perform()
    assert longer.done() and not step(5).done() and len(runs) == 2
    assert not (run_dir / "checkpoint.pt").exists()
    # A model from before the settings were recorded is taken as it is.
    longer.stamp.unlink()
    assert step(5).done()
