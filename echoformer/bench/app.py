"""`bench`: latency benchmarks as a Hydra app (see conf/bench.yaml and --help)."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from echoformer.bench import layers, report
from echoformer.bench.config import CORE_SUITE, quick_overrides, register
from echoformer.bench.timing import machine_facts
from echoformer.paths import CONF_DIR
from echoformer.tasks import ENTRY_POINT_GROUP, bench_suites

# The tasks' suites (registered by the installed tasks, see echoformer.tasks) and their config
# nodes: known before Hydra composes the config, so that their keys are checked too.
TASK_SUITES = bench_suites()
register(TASK_SUITES)


def run_layers(cfg: DictConfig) -> dict:
    a, o = cfg.attention, cfg.output_layer
    return {
        "suite": "layers",
        "machine": machine_facts(cfg.device),
        "config": OmegaConf.to_container(cfg),
        "attention_setup": {"d_model": a.d_model, "heads": a.heads, "batch": a.batch},
        "attention": layers.attention_records(
            a.lengths, a.groups, a.d_model, a.heads, a.batch, cfg.device, cfg.warmup,
            cfg.repeats),
        "output_layer_setup": {
            "weights": "A = G·diag(s)·Rᵀ, G Gaussian, R random orthogonal, "
                       "s_j = exp(-16j/D) + 0.05"
                       + ("; bias = log Zipf(1) prior over a random word order"
                          if o.zipf_bias else "; zero bias"),
            "states": "independent Gaussian rows, logit std ≈ 3",
            "agreement_rows": o.agreement_rows},
        "output_layer": layers.output_layer_records(
            o.vocabs, o.dims, o.rows, o.window_fraction, o.candidates_fraction,
            o.agreement_rows, o.zipf_bias, cfg.device, cfg.warmup, cfg.repeats),
    }


def check(cfg: DictConfig) -> None:
    if cfg.suite != CORE_SUITE and cfg.suite not in TASK_SUITES:
        hint = ("" if TASK_SUITES else f" (no task registered a suite: install the project "
                f"with `pip install -e .`, which declares the {ENTRY_POINT_GROUP} entry points)")
        sys.exit(f"bench: unknown suite={cfg.suite!r}; choose one of "
                 f"{', '.join([CORE_SUITE, *TASK_SUITES])}{hint}")
    if cfg.suite in TASK_SUITES and not cfg.model:
        sys.exit(f"bench suite={cfg.suite} needs a trained model directory: "
                 f"bench suite={cfg.suite} model=exp/.../model")
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit(f"bench: device={cfg.device} asked for, but CUDA is not available here; "
                 "use device=cpu")


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="bench")
def main(cfg: DictConfig) -> None:
    check(cfg)
    if cfg.quick:  # the reduced grid, then the command line's own overrides on top of it
        given = [o for o in HydraConfig.get().overrides.task if not o.startswith(("~", "+"))]
        cfg = OmegaConf.merge(cfg, quick_overrides(TASK_SUITES), OmegaConf.from_dotlist(given))
    if cfg.threads:  # 0: torch's default
        torch.set_num_threads(cfg.threads)
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    if cfg.suite in TASK_SUITES:
        suite = TASK_SUITES[cfg.suite]
        results = suite.run(cfg, out_dir)
        markdown = suite.markdown(results)
    else:
        results = run_layers(cfg)
        report.plot_attention(results["attention"], out_dir)
        report.plot_output_layer(results["output_layer"], out_dir)
        markdown = report.layers_markdown(results)
    report.write_json(results, out_dir)
    (out_dir / "report.md").write_text(markdown + "\n")
    print(markdown)
    print(f"\nWrote results.json, report.md and plots to {out_dir}")


if __name__ == "__main__":
    main()
