"""Device names from configs and command lines (echoformer/device.py)."""

import pytest
import torch

from echoformer.device import resolve_device


def test_auto_follows_cuda_availability(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_absent_cuda_is_an_error_in_the_callers_spelling(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"device=cuda:1 asked for.*use device=cpu"):
        resolve_device("cuda:1")
    with pytest.raises(ValueError, match=r"--device cuda asked for.*use --device cpu"):
        resolve_device("cuda", flag="--device ")


def test_a_name_that_is_no_device_is_an_error():
    with pytest.raises(ValueError, match="gpu0: not a device"):
        resolve_device("gpu0")
    assert resolve_device("cpu") == torch.device("cpu")
