"""The scripts behind recipes/synth_asr/RESULTS.md, checked without training:
shipped_asr_en.sh and shipped_asr_lm.sh (the shipped recogniser's and LM's chains) and each
study of studies.sh print their commands with --dry-run; every training run's Hydra overrides
(asr-train through run.sh stage 3, asr-train and asr-lm-train directly) and every benchmark's
compose against the current schema; the other commands' arguments are accepted by the tools
they call."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import echoformer.bench.app  # noqa: F401  (registers the bench schema, as the console script does)
from asr.cli import build_transcribe_parser
from asr.config import ASRTrainConfig, LMTrainConfig, register
from asr.data.prepare import build_parser
from echoformer import shipped
from echoformer.config_schema import to_dataclass

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "synth_asr"
RUN_SH = "recipes/synth_asr/run.sh"
SHIPPED_ASR, SHIPPED_LM = REPO / "models" / "asr-en", REPO / "models" / "asr-en-lm"
STUDIES = ["reuse-1800", "reuse-seeds", "reuse-5131", "speed-xs", "s-no-reuse", "vtlp",
           "finetune-longer", "joint-beam-dev", "lm-fusion", "lm-beam", "lm-longer",
           "lm-sentences", "smoke"]
INVOCATIONS = [("shipped_asr_en.sh",), ("shipped_asr_lm.sh",)] + [("studies.sh", s) for s in STUDIES]
TOOLS = {"run.sh", "decode_set.sh", "asr-train", "asr-lm-train", "bench", "asr.data.prepare",
         "asr.grow", "echoformer.shipped", "cp"}


def dry_run(script: str, *options: str) -> list[list[str]]:
    """The commands `script --dry-run` prints, each split as the shell would."""
    done = subprocess.run(["bash", str(RECIPE / script), *options, "--dry-run"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return [shlex.split(line) for line in done.stdout.splitlines()
            if line.strip() and not line.startswith("#")]


def tool(command: list[str]) -> str:
    """What a command runs: run.sh, decode_set.sh, a console script or `python -m MODULE`."""
    if command[0] == "bash":
        return Path(command[1]).name
    if Path(command[0]).name.startswith("python") and command[1] == "-m":
        return command[2]
    return Path(command[0]).name


@pytest.fixture(scope="module")
def printed() -> dict[tuple[str, ...], list[list[str]]]:
    return {invocation: dry_run(*invocation) for invocation in INVOCATIONS}


def of_tool(printed, name: str, invocations=None) -> list[list[str]]:
    return [c for inv in (invocations or printed) for c in printed[inv] if tool(c) == name]


@pytest.fixture(scope="module")
def fake_recipe(tmp_path_factory) -> Path:
    """A copy of the repository's run.sh beside a .venv/bin/asr-train that writes its
    arguments (NUL-separated) to $ASR_TRAIN_RECORD instead of training."""
    root = tmp_path_factory.mktemp("repo")
    (root / "recipes" / "synth_asr").mkdir(parents=True)
    shutil.copy(REPO / RUN_SH, root / RUN_SH)
    for name in ("conf", "asr", "echoformer", "nmt"):
        (root / name).symlink_to(REPO / name)
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    recorder = bin_dir / "asr-train"
    recorder.write_text('#!/usr/bin/env bash\nprintf "%s\\0" "$@" > "$ASR_TRAIN_RECORD"\n')
    recorder.chmod(0o755)
    return root


def run_sh(root: Path, options: list[str], record: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(root / RUN_SH), *options], capture_output=True, text=True,
                          timeout=30, env={**os.environ, "ASR_TRAIN_RECORD": str(record)})


def trains(command: list[str]) -> bool:
    """Whether a run.sh command's stages include 3 (training)."""
    options = command[2:]
    first = int(options[options.index("--stage") + 1]) if "--stage" in options else 1
    last = int(options[options.index("--stop-stage") + 1]) if "--stop-stage" in options else 2
    return first <= 3 <= last


def training_overrides(root: Path, command: list[str], record: Path) -> list[str]:
    """The asr-train arguments run.sh stage 3 gives for one run.sh command of a script."""
    options, rest = [], iter(command[2:])
    for option in rest:
        if option in ("--stage", "--stop-stage"):
            next(rest)
        else:
            options.append(option)
    options += ["--stage", "3", "--stop-stage", "3"]
    record.unlink(missing_ok=True)
    done = run_sh(root, options, record)
    assert done.returncode == 0, done.stderr
    return record.read_text().split("\0")[:-1]


def compose_checked(config_name: str, runs: list[list[str]], schema: type | None = None) -> list:
    """Compose conf/CONFIG_NAME with each run's overrides as the console script would (its
    structured schema refuses unknown keys), then check each against `schema` (refused
    values raise)."""
    register()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        configs = [compose(config_name=config_name, overrides=run) for run in runs]
    return [to_dataclass(cfg, schema) for cfg in configs] if schema else configs


def test_every_invocation_prints_commands_of_known_tools(printed):
    for invocation, commands in printed.items():
        assert commands, invocation
        assert {tool(c) for c in commands} <= TOOLS, invocation


def test_the_recogniser_chain_trains_seven_runs_to_the_shipped_update_counts(printed, fake_recipe,
                                                                             tmp_path):
    runs = [c for c in of_tool(printed, "run.sh", [("shipped_asr_en.sh",)]) if trains(c)]
    steps = [int(c[c.index("--max-steps") + 1]) for c in runs]
    assert steps == [5131, 8270, 4729, 4221, 1872, 2944, 3679]  # the second resumes the first
    last = training_overrides(fake_recipe, runs[-1], tmp_path / "record.jsonl")
    assert "trainer.max_steps=3679" in last and "reuse=g4" in last


def test_run_sh_accepts_every_option_the_scripts_pass(printed, fake_recipe, tmp_path):
    for command in of_tool(printed, "run.sh"):
        done = run_sh(fake_recipe, command[2:] + ["--help"], tmp_path / "record.jsonl")
        assert done.returncode == 0, (command, done.stderr)


def test_run_sh_refuses_a_misspelt_option(fake_recipe, tmp_path):
    done = run_sh(fake_recipe, ["--max-step", "10", "--help"], tmp_path / "record.jsonl")
    assert done.returncode == 2 and "--max-step" in done.stderr


def test_every_asr_train_run_composes_against_the_schema(printed, fake_recipe, tmp_path):
    runs = [training_overrides(fake_recipe, c, tmp_path / "record.jsonl")
            for c in of_tool(printed, "run.sh") if trains(c)]
    runs += [c[1:] for c in of_tool(printed, "asr-train")]
    assert len(runs) > 20
    assert all(c.trainer.max_steps > 0 for c in compose_checked("asr_train", runs, ASRTrainConfig))


def test_every_asr_lm_train_run_composes_against_the_schema(printed):
    runs = of_tool(printed, "asr-lm-train")
    configs = compose_checked("asr_lm_train", [run[1:] for run in runs], LMTrainConfig)
    assert [c.trainer.max_steps for c in configs] == [3408, 6295, 4537, 9039]
    assert configs[2].trainer.init_from == "exp/asr_lm/ding-large/model"


def test_every_benchmark_composes_against_the_schema(printed):
    runs = of_tool(printed, "bench")
    assert len(runs) == 4
    assert all(c.suite == "asr" for c in compose_checked("bench", [run[1:] for run in runs]))


@pytest.mark.parametrize("config_name, schema, typo", [
    ("asr_train", ASRTrainConfig, "trainer.warmup_step=300"),
    ("asr_lm_train", LMTrainConfig, "data.tokeniser=models/asr-en/spm.model"),
    ("bench", None, "asr.group_sizes=2"),
])
def test_a_misspelt_key_fails_to_compose(config_name, schema, typo):
    with pytest.raises(Exception, match=typo.split("=")[0].split(".")[-1]):
        compose_checked(config_name, [[typo]], schema)


def test_every_decode_passes_options_asr_transcribe_accepts(printed):
    runs = of_tool(printed, "decode_set.sh")
    assert len(runs) > 50
    for run in runs:
        build_transcribe_parser().parse_args(run[4:] + ["x.wav"])  # argparse exits on a bad one


def test_lm_text_commands_parse(printed):
    parsed = [build_parser().parse_args(run[3:]) for run in of_tool(printed, "asr.data.prepare")]
    assert [p.sentence_copies for p in parsed] == [0, 4]
    assert all(len(p.exclude) == 3 for p in parsed)


def test_export_settings_apply_to_a_shipped_model_of_the_kind(printed, tmp_path):
    """Each distinct set of --decoding settings, applied to the shipped recogniser or LM."""
    settings = {("asr_lm" in run[run.index("export") + 1], tuple(run[run.index("export") + 3:]))
                for run in of_tool(printed, "echoformer.shipped")}
    assert {is_lm for is_lm, _ in settings} == {False, True}
    for i, (is_lm, options) in enumerate(sorted(settings)):
        source = SHIPPED_LM if is_lm else SHIPPED_ASR
        assert shipped.main(["export", str(source), str(tmp_path / str(i)), *options]) == 0


def test_grow_targets_name_a_model_size_and_a_reuse_pattern(printed):
    """asr.grow reads its --model and --reuse from conf/asr_model and conf/reuse."""
    for run in of_tool(printed, "asr.grow"):
        size, reuse = run[run.index("--model") + 1], run[run.index("--reuse") + 1]
        assert (REPO / "conf" / "asr_model" / f"{size}.yaml").is_file(), run
        assert (REPO / "conf" / "reuse" / f"{reuse}.yaml").is_file(), run


def test_studies_refuse_an_unknown_study():
    done = subprocess.run(["bash", str(RECIPE / "studies.sh"), "reuse-180", "--dry-run"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "reuse-180" in done.stderr


def test_wer_per_voice_counts_espeak_variants_as_one_voice(tmp_path):
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("wer_per_voice", RECIPE / "wer_per_voice.py")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = [("a.wav", "the cat sat", "espeak-en-gb+m3", "the cat sat"),
            ("b.wav", "a dog ran", "espeak-en-gb+f1", "a dog"),
            ("c.wav", "one two", "flite-awb", "one too")]
    (tmp_path / "set.jsonl").write_text("".join(
        json.dumps({"audio": a, "duration": 1.0, "text": t, "speaker": s}) + "\n" for a, t, s, _ in rows))
    (tmp_path / "hyp.jsonl").write_text("".join(
        json.dumps({"audio": str(tmp_path / a), "text": h}) + "\n" for a, _, _, h in rows))
    assert module.main([str(tmp_path / "set.jsonl"), str(tmp_path / "hyp.jsonl"),
                        "--json", str(tmp_path / "voices.json")]) == 0
    voices = {r["name"]: r for r in json.loads((tmp_path / "voices.json").read_text())}
    assert set(voices) == {"espeak-en-gb", "flite-awb"}
    assert (voices["espeak-en-gb"]["reference_words"], voices["espeak-en-gb"]["deletions"]) == (6, 1)
    assert voices["flite-awb"]["wer"] == 0.5
