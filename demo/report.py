"""The demo's report: EXP/report.md and EXP/report.json from what the steps wrote.

Everything in it is read from the recipes' and benchmarks' own output files (scores JSON,
bench results.json, st_examples.json); a missing part is reported as missing, not filled in.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from echoformer.markdown import markdown_rows

REPORT_MD, REPORT_JSON = "report.md", "report.json"


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _model_facts(model_dir: Path) -> dict | None:
    meta_path = model_dir / "model.yaml"
    if not meta_path.is_file():
        return None
    meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
    training = meta.get("task", {}).get("training", {})
    return {"dir": str(model_dir), "model_type": meta.get("model_type"),
            "parameters": training.get("parameters"), "steps": training.get("steps"),
            "train_minutes": _minutes(training.get("seconds_this_run")),
            "reuse_pattern": meta.get("architecture", {}).get("reuse_pattern"),
            "weights_dtype": meta.get("weights_dtype", "float32")}


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def collect(settings, timings: dict[str, float], total_seconds: float) -> dict:
    """All the demo's figures as one JSON-able dict."""
    exp = settings.exp
    models = {"demo": {"asr": exp / "asr/model", "nmt": exp / "nmt/model"},
              "shipped": {"asr": settings.shipped["asr"], "nmt": settings.shipped["nmt"]}}
    decode = "decode_attention_rescoring/wer.json"
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "total_seconds_this_run": round(total_seconds, 1),
        "step_seconds_this_run": timings,
        "models": {kind: {task: _model_facts(path) for task, path in tasks.items()}
                   for kind, tasks in models.items()},
        "asr_wer": {"demo": _json(exp / "asr" / decode),
                    "shipped": _json(exp / "shipped/asr" / decode),
                    "shipped + LM": _json(exp / "shipped/asr_lm/decode_joint_beam/wer.json")},
        "nmt_scores": {"demo": _json(exp / "nmt/test.svd.scores.json"),
                       "shipped": _json(exp / "shipped/nmt/test.svd.scores.json")},
        "nmt_test_lines": settings.nmt_test_lines,
        "speech_translation": _json(exp / "st_examples.json"),
        "bench": {suite: _json(exp / "bench" / suite / "results.json")
                  for suite in ("layers", "asr", "nmt")},
    }


def write_report(settings, timings: dict[str, float], total_seconds: float) -> Path:
    """Write report.json and report.md (plots copied beside them); returns report.md's path."""
    exp = settings.exp
    data = collect(settings, timings, total_seconds)
    (exp / REPORT_JSON).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    sections = [_header(data), _models(data), _asr(data), _nmt(data), _st(data),
                _bench(exp, data)]
    path = exp / REPORT_MD
    path.write_text("\n\n".join(sections) + "\n", encoding="utf-8")
    return path


def _header(data: dict) -> str:
    machine = (data["bench"].get("layers") or {}).get("machine", {})
    steps = data["step_seconds_this_run"]
    ran = ", ".join(f"{title.split(' (')[0]} {seconds:.0f} s" for title, seconds in steps.items())
    return (f"# Echoformer demo report\n\n{data['created']}; machine: {machine.get('cpu', '?')}, "
            f"{machine.get('torch_threads', '?')} threads, torch {machine.get('torch', '?')}. "
            f"This run took {data['total_seconds_this_run'] / 60:.1f} min"
            + (f" ({ran}); other steps reused earlier outputs." if ran else
               "; every step reused earlier outputs.")
            + "\n\nThe *demo* models were trained for minutes here: they show the pipeline, "
              "not quality. The *shipped* models were trained longer by the recipes; "
              "`models/README.md` says how long and how well they do.")


def _models(data: dict) -> str:
    rows = []
    for kind, tasks in data["models"].items():
        for task, facts in tasks.items():
            if facts is None:
                rows.append([kind, task, "not present", "", "", "", ""])
                continue
            rows.append([kind, task, facts["dir"], f"{facts['parameters'] or 0:,}",
                         facts["steps"], facts["train_minutes"], facts["reuse_pattern"]])
    return "## Models\n\n" + markdown_rows(
        ["", "task", "directory", "parameters", "updates", "training min (last run)", "reuse pattern"],
        rows)


def _asr(data: dict) -> str:
    rows = []
    for kind, scores in data["asr_wer"].items():
        for entry in scores or []:
            rows.append([kind, entry["name"], entry["utterances"], f"{100 * entry['wer']:.1f}",
                         entry["substitutions"], entry["deletions"], entry["insertions"],
                         "" if entry.get("rtf") is None else f"{entry['rtf']:.3f}"])
    text = ("## Speech recognition (WER)\n\nAttention rescoring, beam 10, SVD-softmax asked "
            "for; rescoring scores whole hypotheses in one pass, more rows than SVD-softmax's "
            "`max_rows` (16), so the decoder's full output layer scores them. `test`: voices "
            "seen in training; `test_unseen_voice`: held-out voices. *shipped + LM*: the "
            "shipped model as `asr-transcribe` runs it by default: `joint_beam` with the "
            "shipped language model (`models/asr-en-lm`) at its stored settings (β, α, "
            "beam).\n\n")
    if not rows:
        return text + "Not measured (the decoding step has not run)."
    return text + markdown_rows(["model", "test set", "utterances", "WER %", "sub", "del",
                                  "ins", "RTF"], rows)


def _nmt(data: dict) -> str:
    rows = []
    for kind, scores in data["nmt_scores"].items():
        if scores:
            rows.append([kind, scores["sentences"], f"{scores['bleu']:.2f}",
                         f"{scores['chrf']:.2f}"])
    lines = data["nmt_test_lines"]
    text = ("## Translation English→German (BLEU, chrF)\n\nBeam 5, SVD-softmax, one sentence "
            "at a time (5 rows, within `max_rows`: the SVD path), on "
            + (f"the first {lines} pairs of" if lines else "all of") + " the Ding test split; "
            "sacreBLEU, detokenised.\n\n")
    if not rows:
        return text + "Not measured (the translation step has not run)."
    signature = next(s["bleu_signature"] for s in data["nmt_scores"].values() if s)
    return text + markdown_rows(["model", "sentences", "BLEU", "chrF"], rows) + \
        f"\n\nBLEU signature: `{signature}`"


def _st(data: dict) -> str:
    examples = data["speech_translation"]
    text = ("## Speech translation examples (st-translate)\n\nSix utterances of each ASR "
            "test set; the shipped models as `st-translate` runs them by default (with the "
            "shipped language model where present).\n\n")
    if not examples:
        return text + "Not run."
    kinds = [k for k in ("demo", "shipped") if k in examples[0]]
    rows = []
    for example in examples:
        row = [example["test_set"], example["text"], example.get("german_reference") or ""]
        for kind in kinds:
            row += [example[kind]["transcript"], example[kind]["translation"]]
        rows.append(row)
    header = ["test set", "spoken English", "German reference"]
    for kind in kinds:
        header += [f"{kind}: heard", f"{kind}: German"]
    return text + markdown_rows(header, rows)


def _bench(exp: Path, data: dict) -> str:
    """Each suite's own markdown report, its plots copied next to report.md."""
    parts = ["## Latency"]
    for suite in ("layers", "asr", "nmt"):
        folder = exp / "bench" / suite
        report = folder / "report.md"
        if not report.is_file():
            parts.append(f"Suite `{suite}`: not run.")
            continue
        text = report.read_text(encoding="utf-8")
        for plot in folder.glob("*.png"):
            shutil.copyfile(plot, exp / f"{suite}_{plot.name}")
            text = text.replace(f"]({plot.name})", f"]({suite}_{plot.name})")
        parts.append(text.replace("\n#", "\n##").replace("# ", "### ", 1))
    return "\n\n".join(parts)
