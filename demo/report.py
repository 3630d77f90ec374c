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
REAL_SPEECH_SETS = ("real_dev", "real_test")
# system label -> its folder under EXP/real_speech, as recipes/synth_asr/real_speech.sh names them
REAL_SPEECH_SYSTEMS = {"asr-en + LM": "asr_en_lm", "asr-en": "asr_en",
                       "pocketsphinx": "pocketsphinx"}


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


def _audio_seconds(manifest: Path) -> float:
    rows = manifest.read_text(encoding="utf-8").splitlines() if manifest.is_file() else []
    return sum(json.loads(row).get("duration") or 0.0 for row in rows if row.strip())


def _cpu_seconds(time_file: Path) -> float | None:
    """User + system CPU seconds from the recipe's `wall user sys` timing line."""
    if not time_file.is_file():
        return None
    words = time_file.read_text(encoding="utf-8").split()
    try:
        _, user, system = map(float, words[-3:])
    except ValueError:  # not a timing line: a decode that failed before it finished
        return None
    return user + system


def real_speech_results(exp: Path, real_data: Path) -> list[dict] | None:
    """asr-score's rows of EXP/real_speech/wer.json, each with `cpu_per_audio_second`:
    the CPU seconds of the whole decode command (start-up and model loading included) per
    audio second; None when the scoring step has not run."""
    rows = _json(exp / "real_speech/wer.json")
    if rows is None:
        return None
    for row in rows:
        folder = exp / "real_speech" / REAL_SPEECH_SYSTEMS.get(row["system"], row["system"])
        cpu = _cpu_seconds(folder / f"{row['name']}.time")
        audio = _audio_seconds(real_data / f"{row['name']}.jsonl")
        row["cpu_per_audio_second"] = None if cpu is None or not audio else cpu / audio
    return rows


def collect(settings, timings: dict[str, float], total_seconds: float,
            skipped: dict[str, str] | None = None) -> dict:
    """All the demo's figures as one JSON-able dict; `skipped`: step title -> why."""
    exp = settings.exp
    models = {"demo": {"asr": exp / "asr/model", "nmt": exp / "nmt/model"},
              "shipped": {"asr": settings.shipped["asr"], "nmt": settings.shipped["nmt"]}}
    decode = "decode_attention_rescoring/wer.json"
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "total_seconds_this_run": round(total_seconds, 1),
        "step_seconds_this_run": timings,
        "skipped_steps": dict(skipped or {}),
        "models": {kind: {task: _model_facts(path) for task, path in tasks.items()}
                   for kind, tasks in models.items()},
        "asr_wer": {"demo": _json(exp / "asr" / decode),
                    "shipped": _json(exp / "shipped/asr" / decode),
                    "shipped + LM": _json(exp / "shipped/asr_lm/decode_joint_beam/wer.json")},
        "real_speech_wer": real_speech_results(exp, settings.real_data),
        "nmt_scores": {"demo": _json(exp / "nmt/test.svd.scores.json"),
                       "shipped": _json(exp / "shipped/nmt/test.svd.scores.json")},
        "nmt_test_lines": settings.nmt_test_lines,
        "speech_translation": _json(exp / "st_examples.json"),
        "bench": {suite: _json(exp / "bench" / suite / "results.json")
                  for suite in ("layers", "asr", "nmt")},
    }


def write_report(settings, timings: dict[str, float], total_seconds: float,
                 skipped: dict[str, str] | None = None) -> Path:
    """Write report.json and report.md (plots copied beside them); returns report.md's path."""
    exp = settings.exp
    data = collect(settings, timings, total_seconds, skipped)
    (exp / REPORT_JSON).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    sections = [_header(data), _models(data), _asr(data), _real_speech(data), _nmt(data),
                _st(data), _bench(exp, data)]
    path = exp / REPORT_MD
    path.write_text("\n\n".join(sections) + "\n", encoding="utf-8")
    return path


def _header(data: dict) -> str:
    machine = (data["bench"].get("layers") or {}).get("machine", {})
    steps = data["step_seconds_this_run"]
    ran = ", ".join(f"{title.split(' (')[0]} {seconds:.0f} s" for title, seconds in steps.items())
    skipped = "; ".join(f"{title} ({why})" for title, why in data["skipped_steps"].items())
    return (f"# Echoformer demo report\n\n{data['created']}; machine: {machine.get('cpu', '?')}, "
            f"{machine.get('torch_threads', '?')} threads, torch {machine.get('torch', '?')}. "
            f"This run took {data['total_seconds_this_run'] / 60:.1f} min"
            + (f" ({ran}); other steps reused earlier outputs." if ran else
               "; every step reused earlier outputs.")
            + (f" Skipped: {skipped}." if skipped else "")
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


def _real_speech(data: dict) -> str:
    text = ("## Real recorded speech (WER, RTF)\n\nThe shipped recogniser on recordings of "
            "people (Debian's asterisk telephone prompts, klettres letters, ktuberling words; "
            "`python -m asr.data.real_speech`), beside pocketsphinx, a recogniser a user "
            "might install instead (its bundled en-us model). *asr-en + LM*: `asr-transcribe` "
            "as it runs by default (`joint_beam` with `models/asr-en-lm`); *asr-en*: "
            "`--no-lm`. One thread each. RTF: decode wall time per audio second (ours "
            "without features, pocketsphinx with its own); CPU: user + system seconds of "
            "the whole decode command per audio second, start-up and model loading "
            "included. `recipes/synth_asr/real_speech.sh` runs the same decodes; "
            "`recipes/synth_asr/REAL_SPEECH.md` describes the sets.\n\n")
    left_out = [f"{title.split(': ', 1)[-1]} ({why})" for title, why
                in data["skipped_steps"].items() if title.startswith("real speech")]
    results = data["real_speech_wer"]
    if not results:
        return text + "Not measured: " + ("; ".join(left_out) or "the scoring step has not "
                                          "run") + "."
    rows = [[r["system"], r["name"], r["utterances"], r["reference_words"],
             f"{100 * r['wer']:.2f}", r["substitutions"], r["deletions"], r["insertions"],
             None if r.get("rtf") is None else f"{r['rtf']:.3f}",
             None if r.get("cpu_per_audio_second") is None
             else f"{r['cpu_per_audio_second']:.3f}"] for r in results]
    return text + markdown_rows(["system", "test set", "utterances", "words", "WER %", "sub",
                                 "del", "ins", "RTF", "CPU s / audio s"], rows) + \
        "".join(f"\n\nNot run: {entry}." for entry in left_out)


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
