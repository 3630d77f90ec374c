"""The `bench` app: output files, record fields, config errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from asr.bench import ASRBenchConfig
from echoformer.attention import Role
from echoformer.bench.config import reuse_rows_pattern
from echoformer.bench.layers import attention_bound, attention_flops
from echoformer.bench.timing import time_share
from nmt.bench import NMTBenchConfig

BENCH = [sys.executable, "-m", "echoformer.bench.app"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    subprocess.run(BENCH + ["quick=true", f"hydra.run.dir={out}", "threads=1",
                            "attention.lengths=[32,64]", "output_layer.vocabs=[2048]",
                            "output_layer.agreement_rows=16"], check=True, capture_output=True)
    return out


def test_quick_layers_run_writes_json_markdown_and_plots(quick_run):
    for name in ("results.json", "report.md", "attention_speedup.png",
                 "output_layer_speedup.png", ".hydra/config.yaml"):
        assert (quick_run / name).is_file(), name


def test_results_have_the_documented_records(quick_run):
    results = json.loads((quick_run / "results.json").read_text())
    assert results["machine"]["torch_threads"] == 1
    attention = results["attention"]
    assert {(r["L"], r["group"]) for r in attention} == {(32, 2), (32, 4), (64, 2), (64, 4)}
    for r in attention:
        assert {"baseline_ms", "reuse_ms", "speedup", "bound"} <= r.keys()
        assert r["speedup"] == pytest.approx(r["baseline_ms"] / r["reuse_ms"])
    rows = {r["rows"] for r in results["output_layer"]}
    assert rows == {1, 5}
    for r in results["output_layer"]:
        assert (r["W"], r["N"]) == (r["D"] // 8, r["V"] // 16)
        assert 0.0 <= r["top5_agreement"] <= 1.0
        assert r["speedup"] == pytest.approx(r["full_ms"] / r["svd_ms"])


def test_unknown_config_key_is_an_error(tmp_path):
    run = subprocess.run(BENCH + ["quick=true", "atention.lengths=[8]",
                                  f"hydra.run.dir={tmp_path}"], capture_output=True, text=True)
    assert run.returncode != 0
    assert "atention" in run.stderr


def test_task_suites_need_a_model_directory(tmp_path):
    run = subprocess.run(BENCH + ["suite=asr", f"hydra.run.dir={tmp_path}"],
                         capture_output=True, text=True)
    assert run.returncode != 0 and "needs a trained model directory" in run.stderr


def test_bound_counts_operations():
    length, d, h = 100, 64, 4
    plain = attention_flops(length, d, h, Role.PLAIN)
    assert plain == 8 * length * d * d + 4 * length * length * d + 5 * h * length * length
    follower = attention_flops(length, d, h, Role.FOLLOWER)
    assert follower == 4 * length * d * d + 2 * length * length * d
    assert attention_bound(length, d, h, 4) == pytest.approx(4 * plain / (plain + 3 * follower))
    assert attention_bound(length, d, h, 1) == 1.0


def test_gpu_script_smoke_runs_on_cpu(tmp_path):
    out = tmp_path / "report"
    script = Path(__file__).resolve().parents[1] / "recipes" / "bench" / "gpu.sh"
    run = subprocess.run(["bash", str(script), "--device", "cpu", "--quick",
                          "--threads", "1", "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    report = (out / "README.md").read_text()
    assert "## Layer benchmark" in report and "layers_cpu/attention_speedup.png" in report
    assert (out / "layers_cpu" / "results.json").is_file()


def test_time_share_counts_the_named_methods_once_when_one_calls_another():
    now = [0.0]

    class Layer:
        def outer(self):
            now[0] += 1.0
            return self.inner() + 1

        def inner(self):
            now[0] += 2.0
            return 1

    layer = Layer()

    def work():
        assert layer.outer() == 2 and layer.inner() == 1
        now[0] += 4.0

    share = time_share(layer, ("outer", "inner"), work, clock=lambda: now[0])
    assert share == pytest.approx(5.0 / 9.0)  # outer 3 (inner inside it once) + inner 2, of 9
    assert "outer" not in vars(layer) and "inner" not in vars(layer)  # the class's again


def test_model_suites_time_an_explicit_pattern_or_groups_of_group_size():
    assert reuse_rows_pattern("asr", ASRBenchConfig(group_size=4), 8) == [4, 4]
    assert reuse_rows_pattern("nmt", NMTBenchConfig(group_size=4), 6) == [2, 4]
    assert reuse_rows_pattern("asr", ASRBenchConfig(pattern=[1, 1, 2, 4]), 8) == [1, 1, 2, 4]
    with pytest.raises(SystemExit, match="bench suite=nmt: nmt.pattern: .*covers 5 layers"):
        reuse_rows_pattern("nmt", NMTBenchConfig(pattern=[1, 4]), 6)
