"""Beam rows of the output-layer benchmark: real beam states, the generator, the bytes bound."""

import pytest
import torch

from echoformer.bench import beam_states, layers
from echoformer.bench.layers import hidden_states, synthetic_output_layer
from echoformer.svd_softmax import SVDSoftmax

V, D = 2048, 64


@pytest.fixture(scope="module")
def svd():
    return SVDSoftmax(synthetic_output_layer(V, D, seed=0), D // 8, V // 16).eval()


def union_fraction(svd, h):
    with torch.inference_mode():
        return svd.union_size(h) / V


def test_a_beam_without_spread_is_one_state_repeated():
    beam = beam_states.beam_hidden_states(5, D, 0.0, 3, hidden_states)
    assert torch.equal(beam, beam[:1].expand(5, D))


def test_wider_beams_cover_more_of_the_vocabulary(svd):
    fractions = [union_fraction(svd, beam_states.beam_hidden_states(5, D, s, 3, hidden_states))
                 for s in (0.0, 0.3, 3.0)]
    assert fractions[0] < fractions[1] < fractions[2]
    assert fractions[2] <= union_fraction(svd, hidden_states(5, D, 3)) * 1.2


def test_calibrated_spread_meets_the_target_union_fraction(svd):
    spread, achieved = beam_states.calibrate_spread(lambda h: union_fraction(svd, h), 0.12, 5,
                                                    D, hidden_states)
    assert spread > 0
    assert achieved == pytest.approx(0.12, abs=0.01)


def test_bytes_formula_counts_rotation_preview_and_union_tails():
    assert layers.output_bytes(1000, 64, 8, None) == (4 * 1000 * 65, 4 * 1000 * 65)
    assert layers.output_bytes(1000, 64, 8, 100) == (4 * 1000 * 65,
                                                     4 * (64 * 64 + 1000 * 9 + 100 * 56))


def test_records_of_both_kinds_carry_their_bound(monkeypatch):
    monkeypatch.setattr(layers, "beam_union_target", lambda *args: (0.12, "test"))
    records = layers.output_layer_records([V], [D], [1, 5, 64], 0.125, 0.0625, 16, True,
                                          "cpu", 0, 1)
    kinds = {(r["rows_kind"], r["rows"]) for r in records}
    assert kinds == {("random", 1), ("random", 5), ("random", 64), ("beam", 1), ("beam", 5)}
    for r in records:
        assert r["bytes_bound"] == pytest.approx(r["bytes_full"] / r["bytes_svd"])
        assert r["of_bound"] == pytest.approx(r["topk_speedup"] / r["bytes_bound"])
        if r["rows_kind"] == "beam":
            assert r["beam_union_target"] == 0.12
            assert r["beam_union_generated"] == pytest.approx(0.12, abs=0.01)
    beam5 = next(r for r in records if r["rows_kind"] == "beam" and r["rows"] == 5)
    random5 = next(r for r in records if r["rows_kind"] == "random" and r["rows"] == 5)
    assert beam5["union_fraction"] < random5["union_fraction"]


def test_unknown_rows_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="rows kinds \\['greedy'\\]"):
        layers.output_layer_records([V], [D], [1], 0.125, 0.0625, 16, True, "cpu", 0, 1,
                                    rows_kinds=["greedy"])


@pytest.mark.skipif(not (beam_states.DEFAULT_MODEL / "model.yaml").is_file(),
                    reason="the shipped NMT model (models/nmt-en-de) is not here")
def test_real_beam_states_are_captured_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    lines = tmp_path / "lines.en"
    lines.write_text("the house is small.\nwhere is the station?\n")
    states, layer = beam_states.capture_beam_states(beam_states.DEFAULT_MODEL, lines, 2)
    vocab, dim = layer.weight.shape
    assert states and all(s.shape[1] == dim and 1 <= len(s) <= 5 for s in states)
    assert len(list((tmp_path / "echoformer" / "beam_states").glob("*.pt"))) == 1
    again, _ = beam_states.capture_beam_states(beam_states.DEFAULT_MODEL, lines, 2)
    assert all(torch.equal(a, b) for a, b in zip(states, again))
    fractions = beam_states.union_fractions(layer, states, 0.125, 0.0625, 5)
    assert ((fractions >= 1 / 16) & (fractions <= 1)).all()


def test_missing_lines_file_names_the_recipe_that_builds_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="recipes/ding_nmt/run.sh"):
        beam_states.capture_beam_states(beam_states.DEFAULT_MODEL, tmp_path / "none.en")
