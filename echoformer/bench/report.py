"""Benchmark reports: results.json, report.md and PNG plots in one output directory."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

from echoformer.markdown import markdown_rows

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def write_json(results: dict, out_dir: Path) -> Path:
    path = out_dir / "results.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


def markdown_table(records: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """columns: (key, header, format) triples."""
    return markdown_rows([h for _, h, _ in columns],
                         [[format(r[k], f) for k, _, f in columns] for r in records])


ATTENTION_COLUMNS = [("L", "L", "d"), ("group", "group", "d"),
                     ("baseline_ms", "fused SDPA ms", ".2f"), ("reuse_ms", "reuse ms", ".2f"),
                     ("speedup", "speed-up", ".2f"), ("bound", "bound", ".2f"),
                     ("of_bound", "of bound", ".0%")]
OUTPUT_COLUMNS = [("V", "V", "d"), ("D", "D", "d"), ("rows", "rows", "d"), ("W", "W", "d"),
                  ("N", "N", "d"), ("path", "path", "s"), ("full_ms", "full ms", ".2f"), ("svd_ms", "SVD ms", ".2f"),
                  ("speedup", "speed-up", ".2f"), ("union_fraction", "U/V", ".3f"),
                  ("bytes_bound", "bytes bound", ".2f"), ("top1_agreement", "top-1", ".4f"),
                  ("top5_agreement", "top-5", ".4f")]


def layers_markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        "# Layer benchmark",
        "",
        f"Machine: {m['cpu']}, device `{m['device']}`"
        + (f" ({m['gpu']})" if "gpu" in m else "")
        + f", {m['torch_threads']} torch threads, torch {m['torch']}. "
        f"Medians of {results['config']['repeats']} interleaved repeats after "
        f"{results['config']['warmup']} warm-up calls; ratios come from the same run.",
        "",
    ]
    if results.get("attention"):
        a = results["attention_setup"]
        records = [dict(r, of_bound=r["speedup"] / r["bound"]) for r in results["attention"]]
        lines += [
            "## Attention map reuse",
            "",
            f"A group of `group` self-attention layers (D={a['d_model']}, {a['heads']} heads, "
            f"batch {a['batch']}, projections included) without reuse, using fused "
            "`scaled_dot_product_attention`, against one leader and `group-1` followers. "
            "`bound` is the speed-up allowed by the operation count (matrix products plus "
            "5 flops per softmax score).",
            "",
            markdown_table(records, ATTENTION_COLUMNS),
            "",
            "![attention speed-up](attention_speedup.png)",
            "",
        ]
    if results.get("output_layer"):
        o = results["output_layer_setup"]
        lines += [
            "## Output layer: SVD-softmax vs full softmax",
            "",
            "Full = the faster of `log_softmax(F.linear(h, A, b))` and `log_softmax((A·hᵀ+b)ᵀ)`. "
            f"Synthetic weights: {o['weights']}. Hidden states: {o['states']}. Agreement on "
            f"{o['agreement_rows']} states: top-1 = same best word, top-5 = mean overlap of the "
            "five best. U/V: distinct candidates over all rows per vocabulary word; bytes bound: "
            "the speed-up allowed by the weight bytes each method reads (V·(D+1) vs "
            "D² + V·(W+1) + U·(D−W)). path `full`: more rows than `max_rows`, where SVD-softmax "
            "computes the full layer because the candidates' union covers most words.",
            "",
            markdown_table(results["output_layer"], OUTPUT_COLUMNS),
            "",
            "![output layer speed-up](output_layer_speedup.png)",
            "",
        ]
    return "\n".join(lines)


def plot_attention(records: list[dict], out_dir: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    for group in sorted({r["group"] for r in records}):
        rs = sorted((r for r in records if r["group"] == group), key=lambda r: r["L"])
        line, = ax.plot([r["L"] for r in rs], [r["speedup"] for r in rs], "o-",
                        label=f"group {group}")
        ax.plot([r["L"] for r in rs], [r["bound"] for r in rs], "--", color=line.get_color(),
                label=f"group {group} bound")
    ax.axhline(1.0, color="grey", lw=0.8)
    log_axis_at(ax, sorted({r["L"] for r in records}))
    ax.set(xlabel="sequence length L", ylabel="speed-up vs fused SDPA",
           title="Attention map reuse")
    ax.legend()
    return save_figure(fig, out_dir / "attention_speedup.png")


def plot_output_layer(records: list[dict], out_dir: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    for dim in sorted({r["D"] for r in records}):
        for rows in sorted({r["rows"] for r in records}):
            rs = sorted((r for r in records if r["D"] == dim and r["rows"] == rows),
                        key=lambda r: r["V"])
            ax.plot([r["V"] for r in rs], [r["speedup"] for r in rs], "o-",
                    label=f"D={dim}, rows={rows}")
    ax.axhline(1.0, color="grey", lw=0.8)
    log_axis_at(ax, sorted({r["V"] for r in records}))
    ax.set(xlabel="vocabulary V", ylabel="speed-up vs full softmax", title="SVD-softmax")
    ax.legend(fontsize="small")
    return save_figure(fig, out_dir / "output_layer_speedup.png")


def log_axis_at(ax, values: list[int]) -> None:
    """A log x axis labelled only at the measured values."""
    ax.set_xscale("log")
    ax.set_xticks(values, [str(v) for v in values])
    ax.minorticks_off()


def save_figure(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
