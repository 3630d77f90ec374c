"""`make demo`: speech recognition, translation and speech translation on the embedded data.

Drives the recipes' stages (recipes/synth_asr, recipes/ding_nmt) and the latency benchmarks,
then writes EXP/report.md and EXP/report.json with PNG plots beside them:

  1 corpora      the Ding English–German pairs and the synthetic English speech (stages 1-2)
  2 training     a small ASR and a small NMT model, each within a time budget, with attention
                 map reuse in both encoders (stage 3) -> EXP/asr/model, EXP/nmt/model
  3 decoding     the ASR test sets and the NMT test split, beam search with SVD-softmax, by the
                 just-trained models and the shipped ones (stages 4-5; the shipped recogniser
                 also as asr-transcribe runs it by default: joint_beam with its language
                 model); speech translation examples with st-translate
  4 real speech  the shipped recogniser with and without its language model, and pocketsphinx
                 where the peers extra is installed, on recorded English speech (the
                 real-speech dev and test sets; recipes/synth_asr/real_speech.sh stages 1-4)
  5 latency      bench suites layers, asr and nmt
  6 report

A step that cannot run here (no shipped model, pocketsphinx not installed) prints why and is
skipped; the report says what it left out.

A step whose outputs exist, newer than the models they came from, is skipped, so a second
run reuses what the first built (delete EXP/asr, EXP/nmt, ... to redo a part; a new shipped
model is decoded again; other training settings, e.g. a larger --asr-minutes, train that
model again from the start). Interrupted training resumes where it stopped.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from demo.report import REAL_SPEECH_SETS, REAL_SPEECH_SYSTEMS, write_report
from echoformer.paths import PROJECT_ROOT
from echoformer.shipped import SHIPPED

ST_EXAMPLES = 6  # audio files of each ASR test set sent through st-translate
REAL_SPEECH_THREADS = 1  # as recipes/synth_asr/REAL_SPEECH.md: pocketsphinx decodes on one


@dataclass
class Settings:
    """What the demo builds and how big; `tiny` shrinks everything for a CI test."""

    exp: Path = Path("exp/demo")
    nmt_data: Path = Path("data/ding_nmt")
    asr_data: Path = Path("data/synth_asr")
    real_data: Path = Path("data/real_speech")  # python -m asr.data.real_speech --out
    real_speech: bool = True  # decode the real-speech sets (left out of tiny runs)
    asr_corpus: str = "demo"  # synth size: tiny | demo | full
    asr_model: str = "demo"
    nmt_model: str = "demo"
    nmt_vocab: int = 8000
    asr_minutes: float = 5.0
    nmt_minutes: float = 5.0
    max_steps: int | None = None  # a step budget instead (tiny runs)
    reuse: str = "g2"
    nmt_test_lines: int | None = 400  # the first N test pairs are translated (None = all)
    threads: int = 2
    bench_overrides: list[str] = field(default_factory=lambda: list(BENCH_OVERRIDES))
    shipped: dict[str, Path] = field(default_factory=lambda: dict(SHIPPED))

    @classmethod
    def tiny(cls, exp: Path, data: Path) -> Settings:
        return cls(exp=exp, nmt_data=data / "ding_nmt", asr_data=data / "synth_asr",
                   real_data=data / "real_speech", real_speech=False,
                   asr_corpus="tiny", asr_model="tiny", nmt_model="tiny", nmt_vocab=1000,
                   asr_minutes=2, nmt_minutes=2, max_steps=20, nmt_test_lines=20,
                   bench_overrides=TINY_BENCH_OVERRIDES)


# The demo's benchmark grid: the grid of recipes/bench/RESULTS.md at fewer points.
BENCH_OVERRIDES = [
    "repeats=5", "attention.lengths=[256,1024,4096]", "attention.groups=[2,4]",
    "output_layer.vocabs=[32768,262144]", "output_layer.dims=[512]", "output_layer.rows=[1,5]",
    "output_layer.agreement_rows=128", "asr.seconds=[5.0,10.0,30.0,60.0]",
    "asr.max_utterances=8", "nmt.max_sentences=16", "nmt.batches=[1,16]",
    "nmt.agreement_sentences=100", "nmt.large_vocab_tokens=16"]


# Seconds, not minutes: an untrained tiny decoder runs to its length limit on every sentence.
TINY_BENCH_OVERRIDES = ["quick=true", "repeats=2", "warmup=0", "asr.seconds=[5.0]",
                        "nmt.max_sentences=4", "nmt.beams=[2]", "nmt.batches=[1,4]",
                        "nmt.agreement_sentences=8"]


@dataclass
class Step:
    title: str
    outputs: list[Path]
    run: Callable[[], None]
    inputs: list[Path] = field(default_factory=list)
    # The settings the outputs are made with (a training's model, reuse and budget) and the
    # folder they are made in: other settings than last time clear the folder and run again.
    made_with: str = ""
    run_dir: Path | None = None
    skip: str = ""  # why the step cannot run here (e.g. no shipped model), or "" when it can

    @property
    def stamp(self) -> Path:
        return self.outputs[0].with_name(self.outputs[0].name + ".made_with")

    def settings_changed(self) -> bool:
        return bool(self.made_with) and self.stamp.is_file() and \
            self.stamp.read_text(encoding="utf-8") != self.made_with

    def done(self) -> bool:
        """Every output exists, is newer than every input (e.g. the model it decoded) and was
        made with the same settings."""
        if not all(path.exists() for path in self.outputs) or self.settings_changed():
            return False
        newest_input = max((p.stat().st_mtime for p in self.inputs if p.exists()), default=0)
        return all(path.stat().st_mtime >= newest_input for path in self.outputs)

    def perform(self) -> None:
        if self.settings_changed() and self.run_dir is not None:
            print(f"  other settings than last time ({self.stamp.read_text(encoding='utf-8')}"
                  f" → {self.made_with}): starting {self.run_dir} over", flush=True)
            shutil.rmtree(self.run_dir)
        self.run()
        if self.made_with:
            self.stamp.write_text(self.made_with, encoding="utf-8")


class Demo:
    def __init__(self, settings: Settings) -> None:
        for name in ("exp", "nmt_data", "asr_data", "real_data"):  # relative paths: to the checkout
            setattr(settings, name, PROJECT_ROOT / getattr(settings, name))
        self.s = settings
        self.bin = Path(sys.executable).parent
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}
        self.skipped: dict[str, str] = {}

    # -- the steps -------------------------------------------------------------------------
    def steps(self) -> list[Step]:
        s, exp = self.s, self.s.exp
        asr_model, nmt_model = exp / "asr/model", exp / "nmt/model"
        shipped = {task: s.shipped[task] for task in ("asr", "nmt") if self.has_shipped(task)}
        steps = [
            Step("NMT corpus: Ding + gettext pairs, joint sentencepiece",
                 [s.nmt_data / "spm.model", s.nmt_data / "test.de"],
                 lambda: self.nmt_recipe("--stage", "1", "--stop-stage", "2",
                                         "--vocab-size", str(s.nmt_vocab))),
            Step(f"ASR corpus: synthetic speech ({s.asr_corpus}), CMVN, sentencepiece",
                 [s.asr_data / "tokenizer.model", s.asr_data / "cmvn.json"],
                 lambda: self.asr_recipe("--stage", "1", "--stop-stage", "2",
                                         "--size", s.asr_corpus)),
            Step(f"train ASR ({s.asr_model}, reuse {s.reuse}, {s.asr_minutes:g} min budget)",
                 [asr_model / "model.yaml"], self.train_asr,
                 made_with=self.training_settings(s.asr_model, s.asr_minutes),
                 run_dir=exp / "asr"),
            Step(f"train NMT ({s.nmt_model}, reuse {s.reuse}, {s.nmt_minutes:g} min budget)",
                 [nmt_model / "model.yaml"], self.train_nmt,
                 made_with=self.training_settings(s.nmt_model, s.nmt_minutes),
                 run_dir=exp / "nmt"),
            Step("decode the ASR test sets (attention rescoring, SVD-softmax)",
                 [exp / "asr/decode_attention_rescoring/wer.json"],
                 lambda: self.decode_asr(exp / "asr", asr_model), [asr_model / "model.yaml"]),
            Step("translate the NMT test split (beam 5, batch 1, SVD-softmax)",
                 [exp / "nmt/test.svd.scores.json"],
                 lambda: self.translate(exp / "nmt", nmt_model), [nmt_model / "model.yaml"]),
        ]
        if "asr" in shipped:
            steps.append(Step("shipped ASR model on the test sets",
                              [exp / "shipped/asr/decode_attention_rescoring/wer.json"],
                              lambda: self.decode_asr(exp / "shipped/asr", shipped["asr"]),
                              [shipped["asr"] / "model.yaml"]))
        if "asr" in shipped and self.has_shipped("asr_lm"):
            lm = s.shipped["asr_lm"]
            steps.append(Step("shipped ASR model with its language model (joint_beam)",
                              [exp / "shipped/asr_lm/decode_joint_beam/wer.json"],
                              lambda: self.decode_asr(exp / "shipped/asr_lm", shipped["asr"],
                                                      "joint_beam", lm),
                              [shipped["asr"] / "model.yaml", lm / "model.yaml"]))
        if "nmt" in shipped:
            steps.append(Step("shipped NMT model on the test split",
                              [exp / "shipped/nmt/test.svd.scores.json"],
                              lambda: self.translate(exp / "shipped/nmt", shipped["nmt"]),
                              [shipped["nmt"] / "model.yaml"]))
        models = [asr_model / "model.yaml", nmt_model / "model.yaml",
                  *(path / "model.yaml" for path in shipped.values()),
                  *([s.shipped["asr_lm"] / "model.yaml"] if self.has_shipped("asr_lm") else [])]
        steps += [
            Step("speech translation examples (st-translate)", [exp / "st_examples.json"],
                 self.speech_translation, models),
            *self.real_speech_steps(),
            Step("latency: layers (reuse vs fused attention, SVD vs full softmax)",
                 [exp / "bench/layers/results.json"], lambda: self.bench("layers")),
            Step("latency: ASR encoder per input length, real-time factor",
                 [exp / "bench/asr/results.json"], lambda: self.bench("asr", asr_model),
                 [asr_model / "model.yaml"]),
            Step("latency: NMT decoding, full vs SVD-softmax",
                 [exp / "bench/nmt/results.json"], lambda: self.bench("nmt", nmt_model),
                 [nmt_model / "model.yaml"]),
        ]
        return steps

    def real_speech_steps(self) -> list[Step]:
        """recipes/synth_asr/real_speech.sh's stages: build the sets, decode them with the
        shipped recogniser (its default joint_beam with its LM, and --no-lm) and with
        pocketsphinx, score; each stage its own step, skipped with the reason where it
        cannot run."""
        s, out = self.s, self.s.exp / "real_speech"
        manifests = [s.real_data / f"{name}.jsonl" for name in REAL_SPEECH_SETS]
        hyps = {label: [out / folder / f"{name}.jsonl" for name in REAL_SPEECH_SETS]
                for label, folder in REAL_SPEECH_SYSTEMS.items()}
        ours = hyps["asr-en + LM"] + hyps["asr-en"]
        # A decode that fails leaves its jsonl behind: a stage's marker says it finished.
        ours_done, peer_done = out / "stage2.done", out / "stage3.done"
        skip = self.real_speech_skip()
        peer_skip = skip or ("" if importlib.util.find_spec("pocketsphinx") else
                             "pocketsphinx is not installed: pip install '.[peers]'")
        scored = [label for label in REAL_SPEECH_SYSTEMS if label != "pocketsphinx" or
                  not peer_skip]
        models = [s.shipped[task] / "model.yaml" for task in ("asr", "asr_lm")]
        return [
            Step("real speech: build the dev and test sets (recordings in Debian packages)",
                 [*manifests, s.real_data / "summary.json"],  # summary.json: written last
                 lambda: self.real_speech_recipe("1"), skip=skip),
            Step("real speech: the shipped ASR model with and without its LM",
                 [*ours, ours_done], lambda: self.real_speech_recipe("2", ours_done),
                 manifests + models, skip=skip),
            Step("real speech: pocketsphinx (peers extra, its bundled en-us model)",
                 [*hyps["pocketsphinx"], peer_done],
                 lambda: self.real_speech_recipe("3", peer_done), manifests, skip=peer_skip),
            Step("real speech: score (asr-score)", [out / "wer.json"],
                 lambda: self.score_real_speech(scored),
                 manifests + [path for label in scored for path in hyps[label]],
                 made_with=", ".join(scored), skip=skip),
        ]

    def real_speech_skip(self) -> str:
        if not self.s.real_speech:
            return "left out of --tiny runs"
        for task, what in (("asr", "ASR model"), ("asr_lm", "language model")):
            if not self.has_shipped(task):
                return f"no shipped {what} in {self.s.shipped[task]}"
        return ""

    def real_speech_recipe(self, stage: str, marker: Path | None = None) -> None:
        """One stage of recipes/synth_asr/real_speech.sh (stage 1 installs the Debian
        packages of the recordings where missing, as `make demo` already did); `marker` is
        written once the stage has finished."""
        if marker is not None:
            marker.unlink(missing_ok=True)
        self.call(["bash", "recipes/synth_asr/real_speech.sh", "--stage", stage,
                   "--stop-stage", stage, "--data-dir", str(self.s.real_data),
                   "--exp-dir", str(self.s.exp / "real_speech"),
                   "--threads", str(REAL_SPEECH_THREADS),
                   "--sets", " ".join(REAL_SPEECH_SETS)])
        if marker is not None:
            marker.write_text(f"real_speech.sh stage {stage} finished\n", encoding="utf-8")

    def score_real_speech(self, labels: list[str]) -> None:
        """asr-score of each system on each set -> EXP/real_speech/wer.json (and wer.md),
        as the recipe's stage 4 scores them."""
        out, args = self.s.exp / "real_speech", []
        for label in labels:
            for name in REAL_SPEECH_SETS:
                args += ["--ref", str(self.s.real_data / f"{name}.jsonl"), "--hyp",
                         str(out / REAL_SPEECH_SYSTEMS[label] / f"{name}.jsonl"),
                         "--label", label]
        table = self.call([sys.executable, "-m", "asr.score", *args,
                           "--json", str(out / "wer.json")], capture=True)
        (out / "wer.md").write_text(table, encoding="utf-8")

    def has_shipped(self, task: str) -> bool:
        return (self.s.shipped[task] / "model.yaml").is_file()

    def nmt_recipe(self, *args: str) -> None:
        self.call(["bash", "recipes/ding_nmt/run.sh", "--data-dir", str(self.s.nmt_data),
                   "--threads", str(self.s.threads), *args])

    def asr_recipe(self, *args: str) -> None:
        self.call(["bash", "recipes/synth_asr/run.sh", "--data-dir", str(self.s.asr_data),
                   "--jobs", str(self.s.threads), *args])

    def training_settings(self, model: str, minutes: float) -> str:
        steps = f" max_steps={self.s.max_steps}" if self.s.max_steps else ""
        return f"{model} reuse={self.s.reuse} minutes={minutes:g}{steps}"

    def budget(self, minutes: float) -> list[str]:
        args = ["--max-minutes", str(minutes)]
        return args + (["--max-steps", str(self.s.max_steps)] if self.s.max_steps else [])

    def train_asr(self) -> None:
        s = self.s
        self.asr_recipe("--stage", "3", "--stop-stage", "3", "--model", s.asr_model,
                        "--reuse", s.reuse, "--exp-dir", str(s.exp / "asr"),
                        *self.budget(s.asr_minutes), "--train-args", f"threads={s.threads}")

    def train_nmt(self) -> None:
        s = self.s
        self.nmt_recipe("--stage", "3", "--stop-stage", "3", "--model-size", s.nmt_model,
                        "--reuse", s.reuse, "--exp-dir", str(s.exp / "nmt"),
                        *self.budget(s.nmt_minutes))

    def decode_asr(self, exp_dir: Path, model: Path, method: str = "attention_rescoring",
                   lm: Path | None = None) -> None:
        self.asr_recipe("--stage", "4", "--stop-stage", "5", "--exp-dir", str(exp_dir),
                        "--model-dir", str(model), "--methods", method,
                        "--softmax", "svd", "--threads", str(self.s.threads),
                        *(["--lm", str(lm)] if lm else []))

    def translate(self, exp_dir: Path, model: Path) -> None:
        self.nmt_recipe("--stage", "4", "--stop-stage", "5", "--exp-dir", str(exp_dir),
                        "--model-dir", str(model), "--softmax", "svd", "--beam-size", "5",
                        "--batch-size", "1",  # ≤ max_rows (16) rows: the SVD path, not the full layer
                        *(["--test-lines", str(self.s.nmt_test_lines)]
                          if self.s.nmt_test_lines else []))

    def speech_translation(self) -> None:
        """A few test utterances (seen and held-out voices) through st-translate, with the
        just-trained models and, where shipped, the shipped ones."""
        from demo.examples import pick_examples, reference_translations

        examples = pick_examples(self.s.asr_data, ST_EXAMPLES)
        references = reference_translations(self.s.nmt_data, [e["text"] for e in examples])
        pairs = {"demo": (self.s.exp / "asr/model", self.s.exp / "nmt/model", [])}
        if self.has_shipped("asr") and self.has_shipped("nmt"):  # as st-translate's default
            lm = ["--lm", str(self.s.shipped["asr_lm"])] if self.has_shipped("asr_lm") else []
            pairs["shipped"] = (self.s.shipped["asr"], self.s.shipped["nmt"], lm)
        results = {}
        for name, (asr, nmt, lm) in pairs.items():
            out = self.call([str(self.bin / "st-translate"), "--asr", str(asr), "--nmt",
                             str(nmt), *lm, "--softmax", "svd", "--format", "jsonl",
                             "--threads", str(self.s.threads),
                             *[e["audio"] for e in examples]], capture=True)
            results[name] = [json.loads(line) for line in out.splitlines() if line.strip()]
        rows = [{**example, "german_reference": reference,
                 **{name: {"transcript": r[i]["transcript"], "translation": r[i]["translation"]}
                    for name, r in results.items()}}
                for i, (example, reference) in enumerate(zip(examples, references))]
        (self.s.exp / "st_examples.json").write_text(
            json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def bench(self, suite: str, model: Path | None = None) -> None:
        args = [str(self.bin / "bench"), f"suite={suite}", f"threads={self.s.threads}",
                f"hydra.run.dir={self.s.exp / 'bench' / suite}", *self.s.bench_overrides]
        if model is not None:
            args.append(f"model={model}")
        if suite == "asr":
            args.append(f"asr.manifest={self.s.asr_data / 'test.jsonl'}")
        self.call(args)

    # -- running ---------------------------------------------------------------------------
    def call(self, args: list[str], capture: bool = False) -> str:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        done = subprocess.run(args, cwd=PROJECT_ROOT, env=env, text=True,
                              stdout=subprocess.PIPE if capture else None)
        if done.returncode != 0:
            raise DemoError(f"{' '.join(args[:4])} ... failed with exit status "
                            f"{done.returncode} (its messages are above)")
        return done.stdout or ""

    def elapsed(self) -> str:
        seconds = time.perf_counter() - self.started
        return f"{int(seconds // 60):d}:{int(seconds % 60):02d}"

    def perform_steps(self, steps: list[Step]) -> None:
        for number, step in enumerate(steps, start=1):
            prefix = f"[demo {self.elapsed()}] {number}/{len(steps)} {step.title}"
            if step.skip:
                print(f"{prefix}: skipped, {step.skip}", flush=True)
                self.skipped[step.title] = step.skip
                continue
            if step.done():
                print(f"{prefix}: done before, reused", flush=True)
                continue
            print(f"{prefix} ...", flush=True)
            begun = time.perf_counter()
            step.perform()
            self.timings[step.title] = round(time.perf_counter() - begun, 1)

    def run(self) -> Path:
        self.perform_steps(self.steps())
        report = write_report(self.s, self.timings, time.perf_counter() - self.started,
                              self.skipped)
        print(report.read_text(encoding="utf-8"))
        print(f"[demo {self.elapsed()}] report: {report} (and report.json, plots beside it)")
        print(NEXT_COMMANDS.format(exp=self.s.exp))
        return report


NEXT_COMMANDS = """Three things to try next:
  .venv/bin/asr-transcribe --model {exp}/asr/model data/synth_asr/wav/*/*.wav | head
  echo "where is the railway station" | .venv/bin/nmt-translate --softmax svd
  .venv/bin/st-translate --format jsonl YOUR_ENGLISH_RECORDING.wav
(without --model the shipped models in models/ are used; recipes/*/README.md train real ones)"""


class DemoError(RuntimeError):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp", type=Path, default=Path("exp/demo"), help="output folder")
    parser.add_argument("--asr-minutes", type=float, default=5.0,
                        help="ASR training budget in minutes (default 5)")
    parser.add_argument("--nmt-minutes", type=float, default=5.0,
                        help="NMT training budget in minutes (default 5)")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                        help="CPU threads for training, decoding and benchmarks")
    parser.add_argument("--tiny", metavar="DATA_DIR", type=Path,
                        help="everything at tiny sizes with its corpora in DATA_DIR (a test)")
    parser.add_argument("--fresh", action="store_true",
                        help="delete --exp first (corpora are kept)")
    args = parser.parse_args(argv)
    settings = Settings.tiny(args.exp, args.tiny) if args.tiny else Settings(
        exp=args.exp, asr_minutes=args.asr_minutes, nmt_minutes=args.nmt_minutes)
    settings.threads = args.threads
    if args.fresh:
        shutil.rmtree(PROJECT_ROOT / settings.exp, ignore_errors=True)
    try:
        Demo(settings).run()
    except DemoError as error:
        print(f"demo: {error}; rerun `make demo` to continue from this step", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndemo: interrupted; rerun `make demo` to continue (training resumes from its "
              "last checkpoint)", file=sys.stderr)
        return 130
    return 0
