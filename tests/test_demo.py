"""`make demo` at tiny sizes: every step runs, the report has every section with real numbers,
the models decode, and a second run reuses everything. The real-speech steps on their own:
listed, skipped with the reason where they cannot run, and reported from their result files."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from echoformer.data.ding import DING_PATH

from demo.report import write_report
from demo.run import Demo, Settings, Step

needs_ding = pytest.mark.skipif(not DING_PATH.is_file(), reason="trans-de-en is not installed")


def run_demo(data: Path, exp: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "demo", "--tiny", str(data), "--exp", str(exp)],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    first = run_demo(root / "data", root / "exp")
    assert first.returncode == 0, first.stderr[-3000:]
    return root, first


@needs_ding
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
    assert report["real_speech_wer"] is None  # left out of tiny runs, and the report says so
    assert "left out of --tiny runs" in markdown.split("## Real recorded speech")[1]
    for heading in ("## Models", "## Speech recognition", "## Translation",
                    "## Speech translation examples", "## Latency", "Attention map reuse",
                    "SVD-softmax"):
        assert heading in markdown
    plots = sorted(p.name for p in exp.glob("*.png"))
    assert "layers_attention_speedup.png" in plots and len(plots) >= 3
    assert "Three things to try next" in first.stdout


@needs_ding
def test_models_decode_every_input(demo_run):
    root, _ = demo_run
    exp, data = root / "exp", root / "data"
    for test_set in ("test", "test_unseen_voice"):
        manifest = (data / "synth_asr" / f"{test_set}.jsonl").read_text().splitlines()
        decoded = (exp / "asr/decode_attention_rescoring" / f"{test_set}.jsonl")
        assert len(decoded.read_text().splitlines()) == len(manifest)
    assert len((exp / "nmt/test.svd.hyp.de").read_text().splitlines()) == 20


@needs_ding
def test_second_run_reuses_every_step(demo_run):
    root, _ = demo_run
    second = run_demo(root / "data", root / "exp")
    assert second.returncode == 0, second.stderr[-3000:]
    steps = [line for line in second.stdout.splitlines() if line.startswith("[demo")]
    reused = [line for line in steps if line.endswith("done before, reused")]
    skipped = [line for line in steps if ": skipped, " in line]
    assert len(skipped) == 4  # the real-speech steps: left out of tiny runs
    assert len(reused) == len(steps) - len(skipped) - 1  # all but the closing "report:" line


@needs_ding
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


REAL_SPEECH_TITLES = ["real speech: build", "real speech: the shipped ASR model",
                      "real speech: pocketsphinx", "real speech: score"]


def fake_shipped(root: Path, tasks=("asr", "nmt", "asr_lm")) -> dict[str, Path]:
    shipped = {task: root / task for task in ("asr", "nmt", "asr_lm")}
    for task in tasks:
        shipped[task].mkdir(parents=True)
        (shipped[task] / "model.yaml").write_text("{}\n")
    return shipped


def real_speech_steps(settings: Settings) -> list[Step]:
    steps = [s for s in Demo(settings).steps() if s.title.startswith("real speech")]
    assert [next(t for t in REAL_SPEECH_TITLES if s.title.startswith(t)) for s in steps] == \
        REAL_SPEECH_TITLES
    return steps


def test_real_speech_steps_run_with_the_shipped_models(tmp_path):
    settings = Settings(exp=tmp_path / "exp", real_data=tmp_path / "real",
                        shipped=fake_shipped(tmp_path / "models"))
    build, ours, peer, score = real_speech_steps(settings)
    assert not build.skip and not ours.skip and not score.skip
    assert build.outputs[:2] == [tmp_path / "real/real_dev.jsonl",
                                 tmp_path / "real/real_test.jsonl"]
    assert {p.parent.name for p in ours.outputs[:-1]} == {"asr_en_lm", "asr_en"}
    assert ours.outputs[-1].name == "stage2.done"  # a decode that failed half-way is redone
    assert tmp_path / "models/asr_lm/model.yaml" in ours.inputs  # a new LM is decoded again
    has_pocketsphinx = importlib.util.find_spec("pocketsphinx") is not None
    assert (peer.skip == "") == has_pocketsphinx
    assert ("pocketsphinx" in score.made_with) == has_pocketsphinx
    if not has_pocketsphinx:
        assert "pip install '.[peers]'" in peer.skip


@pytest.mark.parametrize("absent", ["asr", "asr_lm"])
def test_real_speech_steps_skip_without_a_shipped_model(tmp_path, absent):
    present = [task for task in ("asr", "nmt", "asr_lm") if task != absent]
    settings = Settings(exp=tmp_path / "exp", shipped=fake_shipped(tmp_path / "models", present))
    what = "ASR model" if absent == "asr" else "language model"
    assert [step.skip for step in real_speech_steps(settings)] == \
        [f"no shipped {what} in {tmp_path / 'models' / absent}"] * 4


def test_a_skipped_step_prints_why_and_does_not_run(tmp_path, capsys):
    def fail():
        raise AssertionError("a skipped step ran")

    demo = Demo(Settings(exp=tmp_path / "exp"))
    demo.perform_steps([Step("real speech: score", [tmp_path / "wer.json"], fail,
                             skip="no shipped ASR model in models/asr-en")])
    assert "1/1 real speech: score: skipped, no shipped ASR model in models/asr-en" in \
        capsys.readouterr().out
    assert demo.skipped == {"real speech: score": "no shipped ASR model in models/asr-en"}
    assert demo.timings == {}


def write_real_speech_results(exp: Path, real: Path) -> None:
    """What the real-speech steps leave: manifests, asr-score's wer.json, the decodes' times."""
    real.mkdir(parents=True)
    for name, seconds in (("real_dev", [2.0, 3.0]), ("real_test", [5.0])):
        (real / f"{name}.jsonl").write_text("".join(
            json.dumps({"audio": f"{i}.wav", "duration": s, "text": "press one"}) + "\n"
            for i, s in enumerate(seconds)))
    rows = []
    for system, folder, wer in (("asr-en + LM", "asr_en_lm", 0.5), ("asr-en", "asr_en", 0.75),
                                ("pocketsphinx", "pocketsphinx", 0.25)):
        (exp / "real_speech" / folder).mkdir(parents=True)
        for name in ("real_dev", "real_test"):
            (exp / "real_speech" / folder / f"{name}.time").write_text("9.0 1.5 0.5\n")
            rows.append({"name": name, "utterances": 2, "reference_words": 4,
                         "substitutions": int(4 * wer), "deletions": 0, "insertions": 0,
                         "missing": 0, "rtf": 0.125, "system": system, "wer": wer})
    (exp / "real_speech/wer.json").write_text(json.dumps(rows))


def real_speech_section(markdown: str) -> str:
    return markdown.split("## Real recorded speech")[1].split("\n## ")[0]


def test_report_shows_the_real_speech_rows(tmp_path):
    exp, real = tmp_path / "exp", tmp_path / "real"
    write_real_speech_results(exp, real)
    settings = Settings(exp=exp, real_data=real, shipped=fake_shipped(tmp_path / "models"))
    section = real_speech_section(write_report(settings, {}, 1.0).read_text())
    table = [line for line in section.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| system | test set |") and "CPU s / audio s" in table[0]
    # CPU: 1.5 + 0.5 s of each decode over the 5 s of audio of each set
    assert table[1:] == [
        "| asr-en + LM | real_dev | 2 | 4 | 50.00 | 2 | 0 | 0 | 0.125 | 0.400 |",
        "| asr-en + LM | real_test | 2 | 4 | 50.00 | 2 | 0 | 0 | 0.125 | 0.400 |",
        "| asr-en | real_dev | 2 | 4 | 75.00 | 3 | 0 | 0 | 0.125 | 0.400 |",
        "| asr-en | real_test | 2 | 4 | 75.00 | 3 | 0 | 0 | 0.125 | 0.400 |",
        "| pocketsphinx | real_dev | 2 | 4 | 25.00 | 1 | 0 | 0 | 0.125 | 0.400 |",
        "| pocketsphinx | real_test | 2 | 4 | 25.00 | 1 | 0 | 0 | 0.125 | 0.400 |"]
    report = json.loads((exp / "report.json").read_text())
    assert [r["cpu_per_audio_second"] for r in report["real_speech_wer"]] == [0.4] * 6


def test_report_says_why_real_speech_was_not_measured(tmp_path):
    settings = Settings(exp=tmp_path / "exp", real_data=tmp_path / "real",
                        shipped=fake_shipped(tmp_path / "models", ["nmt"]))
    settings.exp.mkdir()
    why = "no shipped ASR model in models/asr-en"
    skipped = {f"real speech: {part}": why for part in ("build the sets", "score")}
    section = real_speech_section(write_report(settings, {}, 1.0, skipped).read_text())
    assert f"Not measured: build the sets ({why}); score ({why})." in section
    assert "| asr-en" not in section


def test_a_decode_that_fails_leaves_no_finished_marker(tmp_path, monkeypatch):
    from demo.run import DemoError

    demo = Demo(Settings(exp=tmp_path / "exp", real_data=tmp_path / "real",
                         shipped=fake_shipped(tmp_path / "models")))
    ours = demo.real_speech_steps()[1]
    for output in ours.outputs:  # what a stage that failed in its last decode leaves
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("")
    calls = []

    def fail(args, capture=False):
        calls.append(args)
        raise DemoError("asr-transcribe ... failed")

    monkeypatch.setattr(demo, "call", fail)
    with pytest.raises(DemoError):
        ours.run()
    assert not ours.done()
    assert calls[0][:6] == ["bash", "recipes/synth_asr/real_speech.sh", "--stage", "2",
                            "--stop-stage", "2"]
    monkeypatch.setattr(demo, "call", lambda args, capture=False: "")
    ours.run()
    assert ours.done()
