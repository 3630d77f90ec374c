"""recipes/synth_asr/shipped_asr_en.sh and shipped_asr_lm.sh, the scripts that reproduce the
shipped recogniser and its language model, checked without training: with --dry-run they
print their commands; every training run's Hydra overrides (asr-train through run.sh stage 3,
asr-lm-train directly) compose against the current schema; the other commands' arguments are
accepted by the tools they call."""

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

from asr.config import ASRTrainConfig, LMTrainConfig, register
from asr.data.prepare import build_parser
from echoformer import shipped
from echoformer.config_schema import to_dataclass

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "synth_asr"
RUN_SH = "recipes/synth_asr/run.sh"
SCRIPTS = {"shipped_asr_en.sh": REPO / "models" / "asr-en",
           "shipped_asr_lm.sh": REPO / "models" / "asr-en-lm"}


def dry_run(script: str, *options: str) -> list[list[str]]:
    """The commands `script --dry-run` prints, each split as the shell would."""
    done = subprocess.run(["bash", str(RECIPE / script), "--dry-run", *options],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return [shlex.split(line) for line in done.stdout.splitlines()
            if line.strip() and not line.startswith("#")]


def tool(command: list[str]) -> str:
    """What a command runs: run.sh, asr-lm-train or `python -m MODULE`."""
    if command[0] == "bash":
        return Path(command[1]).name
    if Path(command[0]).name.startswith("python") and command[1] == "-m":
        return command[2]
    return Path(command[0]).name


def commands(script: str, name: str) -> list[list[str]]:
    return [c for c in dry_run(script) if tool(c) == name]


@pytest.fixture(scope="module")
def fake_recipe(tmp_path_factory) -> Path:
    """A copy of the repository's run.sh beside a .venv/bin/asr-train that records its
    arguments (one JSON list a line in $ASR_TRAIN_RECORD) instead of training."""
    root = tmp_path_factory.mktemp("repo")
    (root / "recipes" / "synth_asr").mkdir(parents=True)
    shutil.copy(REPO / RUN_SH, root / RUN_SH)
    for name in ("conf", "asr", "echoformer", "nmt"):
        (root / name).symlink_to(REPO / name)
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    recorder = bin_dir / "asr-train"
    recorder.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                        "with open(os.environ['ASR_TRAIN_RECORD'], 'a') as f:\n"
                        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n")
    recorder.chmod(0o755)
    return root


def run_sh(root: Path, options: list[str], record: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(root / RUN_SH), *options], capture_output=True,
                          text=True, timeout=30, env={**os.environ, "ASR_TRAIN_RECORD": str(record)})


def stage_range(options: list[str]) -> tuple[int, int]:
    stage = int(options[options.index("--stage") + 1])
    return stage, int(options[options.index("--stop-stage") + 1])


def training_overrides(root: Path, command: list[str], record: Path) -> list[str]:
    """The asr-train arguments run.sh stage 3 gives for one run.sh command of a script."""
    options = command[2:]
    i = options.index("--stage")
    options = options[:i] + options[i + 4:] + ["--stage", "3", "--stop-stage", "3"]
    record.unlink(missing_ok=True)
    done = run_sh(root, options, record)
    assert done.returncode == 0, done.stderr
    (overrides,) = [json.loads(line) for line in record.read_text().splitlines()]
    return overrides


def compose_checked(config_name: str, overrides: list[str], schema: type):
    """Compose conf/CONFIG_NAME with `overrides` as the console script would, then check it
    against its schema (unknown keys and refused values raise)."""
    register()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides)
    return to_dataclass(cfg, schema)


def test_dry_run_prints_commands_of_known_tools():
    for script in SCRIPTS:
        tools = {tool(c) for c in dry_run(script)}
        assert tools <= {"run.sh", "asr-lm-train", "asr.data.prepare", "asr.grow",
                         "echoformer.shipped"}, script


def test_the_recogniser_chain_trains_seven_runs_to_the_shipped_update_counts(fake_recipe, tmp_path):
    runs = [c for c in commands("shipped_asr_en.sh", "run.sh") if stage_range(c[2:])[0] == 3]
    steps = [int(c[c.index("--max-steps") + 1]) for c in runs]
    assert steps == [5131, 8270, 4729, 4221, 1872, 2944, 3679]  # the second resumes the first
    last = training_overrides(fake_recipe, runs[-1], tmp_path / "record.jsonl")
    assert "trainer.max_steps=3679" in last and "reuse=g4" in last


@pytest.mark.parametrize("script", ["shipped_asr_en.sh", "shipped_asr_lm.sh"])
def test_run_sh_accepts_every_option_the_script_passes(fake_recipe, tmp_path, script):
    for command in commands(script, "run.sh"):
        done = run_sh(fake_recipe, command[2:] + ["--help"], tmp_path / "record.jsonl")
        assert done.returncode == 0, (command, done.stderr)


def test_run_sh_refuses_a_misspelt_option(fake_recipe, tmp_path):
    done = run_sh(fake_recipe, ["--max-step", "10", "--help"], tmp_path / "record.jsonl")
    assert done.returncode == 2 and "--max-step" in done.stderr


def test_every_asr_train_run_composes_against_the_schema(fake_recipe, tmp_path):
    runs = [c for c in commands("shipped_asr_en.sh", "run.sh") if stage_range(c[2:])[0] == 3]
    for command in runs:
        overrides = training_overrides(fake_recipe, command, tmp_path / "record.jsonl")
        config = compose_checked("asr_train", overrides, ASRTrainConfig)
        assert config.trainer.save_every == 100 and config.data.cache_features is False


def test_every_asr_lm_train_run_composes_against_the_schema():
    runs = commands("shipped_asr_lm.sh", "asr-lm-train")
    assert len(runs) == 3
    configs = [compose_checked("asr_lm_train", run[1:], LMTrainConfig) for run in runs]
    assert [c.trainer.max_steps for c in configs] == [3408, 6295, 4537]
    assert configs[-1].trainer.init_from == "exp/asr_lm/ding-large/model"


@pytest.mark.parametrize("config_name, schema, typo", [
    ("asr_train", ASRTrainConfig, "trainer.warmup_step=300"),
    ("asr_lm_train", LMTrainConfig, "data.tokeniser=models/asr-en/spm.model"),
])
def test_a_misspelt_key_fails_to_compose(config_name, schema, typo):
    with pytest.raises(Exception, match=typo.split("=")[0].split(".")[-1]):
        compose_checked(config_name, [typo], schema)


def test_lm_text_commands_parse():
    runs = commands("shipped_asr_lm.sh", "asr.data.prepare")
    parsed = [build_parser().parse_args(run[3:]) for run in runs]
    assert [p.sentence_copies for p in parsed] == [0, 4]
    assert all(len(p.exclude) == 3 for p in parsed)


@pytest.mark.parametrize("script", ["shipped_asr_en.sh", "shipped_asr_lm.sh"])
def test_export_settings_apply_to_the_shipped_model(tmp_path, script):
    """Each export's --decoding settings (each distinct set once), applied to the shipped
    model of the same kind."""
    exports = commands(script, "echoformer.shipped")
    settings = {tuple(run[run.index("export") + 3:]) for run in exports}
    assert settings
    for i, options in enumerate(sorted(settings)):
        assert shipped.main(["export", str(SCRIPTS[script]), str(tmp_path / str(i)), *options]) == 0


def test_grow_accepts_the_target_size_and_reuse(tmp_path):
    """asr.grow with the script's --model and --reuse (from the shipped s model: the same
    depth, which grow allows), so a renamed size or reuse group fails here."""
    from asr import grow

    (run,) = commands("shipped_asr_en.sh", "asr.grow")
    options = run[run.index("--model"):]
    assert grow.main([str(SCRIPTS["shipped_asr_en.sh"]), str(tmp_path / "grown"), *options]) == 0
