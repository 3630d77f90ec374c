"""echoformer.parameters.parameter_count: the one parameter count of every model."""

import pytest
from torch import nn

import asr.lm  # noqa: F401  (registers the model types)
import asr.model  # noqa: F401
import nmt.model  # noqa: F401
from echoformer.model_dir import load_model_dir
from echoformer.parameters import parameter_count
from echoformer.shipped import SHIPPED


def test_a_tied_matrix_counts_once():
    embedding, output = nn.Embedding(10, 4), nn.Linear(4, 10, bias=False)
    output.weight = embedding.weight
    assert parameter_count(nn.ModuleList([embedding, output])) == 10 * 4


@pytest.mark.parametrize("task", sorted(SHIPPED))
def test_the_shipped_models_count_what_their_training_recorded(task):
    if not (SHIPPED[task] / "model.yaml").is_file():
        pytest.skip(f"no shipped model in {SHIPPED[task]}")
    loaded = load_model_dir(SHIPPED[task])
    assert parameter_count(loaded.model) == loaded.task["training"]["parameters"]
