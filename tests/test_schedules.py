"""Training schedules are config groups (conf/asr_schedule, conf/nmt_schedule) that the
recipes select by model size; each one composes with the training schema."""

import pytest
from hydra import compose, initialize_config_dir

from asr.config import ASRTrainConfig
from asr.config import register as register_asr
from echoformer.config_schema import to_dataclass
from echoformer.paths import CONF_DIR
from nmt.config import NMTTrainConfig
from nmt.config import register as register_nmt

APPS = {"asr_schedule": ("asr_train", ASRTrainConfig, register_asr),
        "nmt_schedule": ("nmt_train", NMTTrainConfig, register_nmt)}


def schedules(group: str) -> list[tuple[str, str]]:
    return [(group, path.stem) for path in sorted((CONF_DIR / group).glob("*.yaml"))]


def composed(group: str, *overrides: str):
    config_name, schema, register = APPS[group]
    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return to_dataclass(compose(config_name, overrides=list(overrides)), schema)


@pytest.mark.parametrize("group, name", schedules("asr_schedule") + schedules("nmt_schedule"))
def test_each_schedule_composes_with_the_training_schema(group, name):
    assert composed(group, f"{group}={name}").trainer.lr > 0


@pytest.mark.parametrize("group", sorted(APPS))
def test_the_default_schedule_is_the_schemas_defaults(group):
    _, schema, _ = APPS[group]
    config = composed(group)
    assert config.trainer == schema().trainer and config.data == schema().data


def test_a_schedule_sets_trainer_and_batch_keys_and_overrides_still_win():
    config = composed("asr_schedule", "asr_schedule=tiny", "trainer.lr=0.0005")
    assert (config.trainer.warmup_steps, config.trainer.lr) == (50, 0.0005)
    assert config.data.max_batch_seconds == 20
