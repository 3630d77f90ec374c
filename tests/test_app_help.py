"""The Hydra apps' --help: their own usage, the configuration groups they use (as conf/ has
them, no other app's), and their defaults."""

import subprocess
import sys
from pathlib import Path

import pytest

from echoformer.paths import CONF_DIR

BIN = Path(sys.executable).parent
GROUPS = {"asr-train": ["asr_model", "reuse", "softmax", "asr_schedule", "asr_augment"],
          "nmt-train": ["nmt_model", "reuse", "softmax", "nmt_schedule"], "asr-lm-train": [],
          "bench": []}
ALL_GROUPS = {"asr_model", "nmt_model", "reuse", "softmax", "asr_schedule", "nmt_schedule",
              "asr_augment"}


@pytest.mark.parametrize("app", sorted(GROUPS))
def test_help_names_the_app_its_groups_and_defaults(app):
    run = subprocess.run([BIN / app, "--help"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    text = run.stdout
    assert text.startswith(f"{app}: ") and "powered by Hydra" not in text
    listed = {line.split(":")[0] for line in text.splitlines()
              if line.split(":")[0] in ALL_GROUPS}
    assert listed == set(GROUPS[app])
    for group in GROUPS[app]:  # every option conf/ has, in order
        options = ", ".join(sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml")))
        assert f"{group}: {options} " in text, group
    assert "== Config: the defaults" in text and "--hydra-help" in text
