"""The Ding NMT recipe's result scripts (recipes/ding_nmt/shipped_nmt_en_de.sh, studies.sh):
their --dry-run output is a list of commands, and every training command in it composes
against the current nmt-train schema, so a misspelt or renamed key fails here, not hours into
a run. Nothing is trained: run.sh's stage 3 runs with a stand-in nmt-train that records the
arguments it was given, which are then composed with Hydra's compose API."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import ConfigCompositionException

import echoformer.bench.app  # noqa: F401  (registers the bench schema)
import nmt.train  # noqa: F401  (registers the nmt-train schema, as the console script does)
from echoformer import shipped
from echoformer.config_schema import to_dataclass
from echoformer.model_dir import ModelDirError, load_model_dir, read_meta
from echoformer.paths import CONF_DIR
from nmt.config import NMTTrainConfig
from tiny_nmt import random_model_dir, write_tiny_corpus

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "ding_nmt"
STUDIES = ("reuse", "de-en", "terms", "subword", "select-dropout", "resume-d01",
           "dropout-more", "soup", "vocab4k", "length-beam", "svd-window", "svd-speed")
SCRIPTS = [("shipped_nmt_en_de.sh",)] + [("studies.sh", study) for study in STUDIES]
RUN_SH = "recipes/ding_nmt/run.sh"
CONSOLE_SCRIPTS = ("python", "python3", "nmt-translate", "bench")


@lru_cache(maxsize=None)
def dry_run(*script: str) -> tuple[tuple[str, ...], ...]:
    """The commands a script prints with --dry-run, each split as the shell would."""
    name, *args = script
    done = subprocess.run(["bash", str(RECIPE / name), *args, "--dry-run"], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return tuple(tuple(shlex.split(line)) for line in done.stdout.splitlines()
                 if line.strip() and not line.startswith("#"))


def all_commands() -> list[tuple[str, ...]]:
    return [command for script in SCRIPTS for command in dry_run(*script)]


def training_commands() -> list[tuple[str, ...]]:
    return [c for c in all_commands()
            if c[:2] == ("bash", RUN_SH) and "--stage" in c and c[c.index("--stage") + 1] == "3"]


@pytest.fixture(scope="module")
def recipe_copy(tmp_path_factory) -> Path:
    """A tree holding run.sh and a stand-in .venv/bin/nmt-train that writes its arguments,
    NUL-separated, to $NMT_TRAIN_ARGS and exits."""
    tree = tmp_path_factory.mktemp("recipe")
    (tree / "recipes" / "ding_nmt").mkdir(parents=True)
    shutil.copy(ROOT / RUN_SH, tree / RUN_SH)
    (tree / "conf").symlink_to(CONF_DIR)
    stub = tree / ".venv" / "bin" / "nmt-train"
    stub.parent.mkdir(parents=True)
    stub.write_text('#!/bin/sh\nfor a in "$@"; do printf \'%s\\0\' "$a"; done > "$NMT_TRAIN_ARGS"\n')
    stub.chmod(0o755)
    return tree


def nmt_train_overrides(tree: Path, command: tuple[str, ...]) -> list[str]:
    """The overrides run.sh hands nmt-train for this dry-run command line."""
    record = tree / "args"
    record.unlink(missing_ok=True)
    done = subprocess.run(["bash", str(tree / RUN_SH), *command[2:]], cwd=tree,
                          env={**os.environ, "NMT_TRAIN_ARGS": str(record)},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return [a for a in record.read_text().split("\0") if a]


def compose_nmt_train(overrides: list[str]) -> NMTTrainConfig:
    """nmt-train's configuration for these overrides (hydra.* ones aside), checked against
    the schema as nmt-train checks it; raises on an unknown key or a bad value."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("nmt_train", [o for o in overrides if not o.startswith("hydra.")])
    return to_dataclass(cfg, NMTTrainConfig)


def test_dry_run_prints_commands_and_runs_nothing(tmp_path):
    copy = tmp_path / "recipes" / "ding_nmt"
    copy.mkdir(parents=True)
    for name in ("shipped_nmt_en_de.sh", "studies.sh"):
        shutil.copy(RECIPE / name, copy / name)
    shutil.copy(RECIPE.parent / "chain_lib.sh", copy.parent / "chain_lib.sh")  # they source it
    done = subprocess.run(["bash", str(copy / "shipped_nmt_en_de.sh"), "--dry-run"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "nmt-train" not in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["recipes"]  # no data/, no exp/


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: " ".join(s))
def test_dry_run_lines_are_commands_of_the_repository(script):
    commands = dry_run(*script)
    assert commands
    for command in commands:
        program = command[1] if command[0] == "bash" else command[0]
        assert program in (RUN_SH, "cp") or Path(program).name in CONSOLE_SCRIPTS, command
        if Path(program).name.startswith("python") and command[1].endswith(".py"):
            assert (ROOT / command[1]).is_file(), command


def test_every_training_command_composes_against_the_schema(recipe_copy):
    commands = training_commands()
    assert len(commands) >= 15
    for command in commands:
        overrides = nmt_train_overrides(recipe_copy, command)
        config = compose_nmt_train(overrides)
        assert config.model.d_model == 256, command  # nmt_model=small
        assert config.trainer.max_steps == int(command[command.index("--max-steps") + 1])


def test_a_misspelt_key_fails_to_compose(recipe_copy):
    command = training_commands()[0]
    overrides = nmt_train_overrides(recipe_copy, command)
    with pytest.raises(ConfigCompositionException, match="trainer.warmup"):
        compose_nmt_train([o.replace("trainer.warmup_steps=", "trainer.warmup=")
                           for o in overrides])


def test_shipped_chain_fine_tunes_start_from_the_step_before(recipe_copy):
    configs = [compose_nmt_train(nmt_train_overrides(recipe_copy, c))
               for c in dry_run("shipped_nmt_en_de.sh")
               if c[:2] == ("bash", RUN_SH) and "--max-steps" in c]
    assert [c.trainer.max_steps for c in configs] == [2009, 1500, 4307]  # 7,816 updates
    base, sentences, bleu = configs
    assert base.trainer.init_from is None and base.reuse.group_size == 2
    assert sentences.trainer.init_from.endswith("small-g2-half")
    assert bleu.trainer.init_from.endswith("ft-sentences-half")
    assert (bleu.trainer.best_metric, bleu.trainer.average_by, bleu.eval_bleu.sentences) == \
        ("bleu", "best", 1505)


def test_shipped_chain_exports_with_the_stored_svd_softmax_settings():
    exports = [c for c in dry_run("shipped_nmt_en_de.sh") if c[1:3] == ("-m", "echoformer.shipped")]
    final = exports[-1]
    assert final[3] == "export" and final[4].endswith("ft-bleu-d01/model")
    assert final[final.index("--svd-window") + 1] == "64"
    assert final[final.index("--svd-candidates") + 1] == "1000"


def help_flags(monkeypatch, main, *argv: str) -> set[str]:
    """The --options that the command line `main` (reading sys.argv) lists in its --help."""
    out = io.StringIO()
    monkeypatch.setattr(sys, "argv", ["prog", *argv, "--help"])
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 0
    return set(re.findall(r"--[a-z][a-z-]*", out.getvalue()))


def console_script(name: str):
    return entry_points(group="console_scripts")[name].load()


def test_translate_and_export_flags_exist(monkeypatch):
    used = {"nmt-translate": set(), "export": set()}
    for command in all_commands():
        if Path(command[0]).name == "nmt-translate":
            used["nmt-translate"].update(a for a in command if a.startswith("--"))
        elif command[1:4] == ("-m", "echoformer.shipped", "export"):
            used["export"].update(a for a in command if a.startswith("--"))
    known = {"nmt-translate": help_flags(monkeypatch, console_script("nmt-translate")),
             "export": help_flags(monkeypatch, shipped.main, "export")}
    for program, flags in used.items():
        assert flags and flags <= known[program], (program, flags - known[program])


def test_bench_overrides_compose():
    benches = [c for c in all_commands() if Path(c[0]).name == "bench"]
    assert benches
    for command in benches:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("bench", [o for o in command[1:] if not o.startswith("hydra.")])
        assert cfg.suite == "nmt" and cfg.model.startswith("exp/ding_nmt/")


def load_soup_script():
    spec = importlib.util.spec_from_file_location("ding_nmt_soup", RECIPE / "soup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def two_tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("soup")
    corpus = write_tiny_corpus(root / "corpus")
    return (random_model_dir(root / "a", corpus, seed=0),
            random_model_dir(root / "b", corpus, seed=1), root)


def test_soup_is_the_weighted_mean_of_two_models(two_tiny_models):
    a, b, root = two_tiny_models
    soup = load_soup_script()
    out = soup.soup(a, b, root / "soup", weight=0.7)
    mixed, first, second = (load_model_dir(d).model.state_dict() for d in (out, a, b))
    for name, tensor in mixed.items():
        torch.testing.assert_close(tensor, 0.7 * first[name] + 0.3 * second[name])
    assert read_meta(out)["task"]["soup"]["weights"] == pytest.approx([0.7, 0.3])


def test_soup_refuses_models_of_another_architecture(two_tiny_models, tmp_path):
    a, _, root = two_tiny_models
    other = random_model_dir(tmp_path / "g2", root / "corpus", reuse_pattern=[2, 2])
    with pytest.raises(ModelDirError, match="architecture"):
        load_soup_script().soup(a, other, tmp_path / "soup")
