"""`recipes/wmt/run.sh` on a tiny local corpus: prepare (stages 1-2), then train, translate and
score (stages 3-5, run by recipes/ding_nmt/run.sh on the wmt data and run folders)."""

import json
import subprocess
from pathlib import Path

from tiny_nmt import tiny_pairs

REPO = Path(__file__).resolve().parents[1]


def write_corpus(root: Path) -> Path:
    """`root/{train,valid,test}.{src,tgt}`: English → German, 108/12/12 line-aligned pairs."""
    root.mkdir(parents=True, exist_ok=True)
    pairs = tiny_pairs()
    for split, members in (("train", pairs), ("valid", pairs[::9]), ("test", pairs[1::9])):
        for side, ext in enumerate(("src", "tgt")):
            (root / f"{split}.{ext}").write_text("".join(p[side] + "\n" for p in members),
                                                 encoding="utf-8")
    return root


def test_wmt_recipe_prepares_trains_translates_and_scores(tmp_path):
    data, exp = tmp_path / "data", tmp_path / "exp"
    subprocess.run(["bash", "recipes/wmt/run.sh", "--corpus-dir", write_corpus(tmp_path / "c"),
                    "--src-lang", "en", "--tgt-lang", "de", "--data-dir", data,
                    "--vocab-size", "70", "--stop-stage", "5", "--model-size", "tiny",
                    "--max-steps", "10", "--train-args", "trainer.progress=false",
                    "--exp-dir", exp, "--threads", "1", "--beam-size", "2",
                    "--test-lines", "5"], cwd=REPO, check=True, capture_output=True)
    assert len((data / "test.de").read_text(encoding="utf-8").splitlines()) == 12
    assert (data / "spm.model").is_file() and (exp / "model").is_dir()
    assert len((exp / "test.full.hyp.de").read_text(encoding="utf-8").splitlines()) == 5
    scores = json.loads((exp / "test.full.scores.json").read_text())
    assert scores["sentences"] == 5 and "nrefs:1" in scores["bleu_signature"]


def test_wmt_recipe_rejects_an_unknown_option():
    run = subprocess.run(["bash", "recipes/wmt/run.sh", "--model-sise", "tiny"], cwd=REPO,
                         capture_output=True, text=True)
    assert run.returncode == 2 and "unknown option: --model-sise" in run.stderr
