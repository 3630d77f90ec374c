"""Keeping freed memory in the process (echoformer.cpu_memory)."""

import sys

import pytest
import torch

from echoformer.cpu_memory import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_the_thresholds_take_effect_on_linux_and_tensors_still_work():
    assert keep_freed_memory() is True
    big = torch.ones(4096, 4096)
    assert float(big.sum()) == 4096 * 4096


def test_the_environment_can_turn_it_off(monkeypatch):
    monkeypatch.setenv("ECHOFORMER_KEEP_FREED_MEMORY", "0")
    assert keep_freed_memory() is False


def test_the_environment_overrides_the_callers_default(monkeypatch):
    monkeypatch.delenv("ECHOFORMER_KEEP_FREED_MEMORY", raising=False)
    assert keep_freed_memory(default=False) is False
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("ECHOFORMER_KEEP_FREED_MEMORY", "1")
        assert keep_freed_memory(default=False) is True
