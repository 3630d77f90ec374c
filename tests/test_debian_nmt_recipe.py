"""recipes/debian_nmt/run.sh beyond the harvest: the vocabulary stage, and the stages not built."""

import subprocess
from pathlib import Path

import sentencepiece as spm

ROOT = Path(__file__).resolve().parents[1]
RUN_SH = ROOT / "recipes" / "debian_nmt" / "run.sh"


def write_corpus(data: Path) -> None:
    data.mkdir(parents=True)
    english = [f"Open the file number {i} and save it again." for i in range(120)]
    german = [f"Öffnen Sie die Datei Nummer {i} und speichern Sie sie erneut." for i in range(120)]
    (data / "train.en").write_text("\n".join(english) + "\n", encoding="utf-8")
    (data / "train.de").write_text("\n".join(german) + "\n", encoding="utf-8")


def test_stage_3_trains_one_joint_sentencepiece_of_the_asked_size(tmp_path):
    data = tmp_path / "corpus"
    write_corpus(data)
    done = subprocess.run(["bash", str(RUN_SH), "--stage", "3", "--stop-stage", "3",
                           "--data-dir", str(data), "--vocab-size", "48"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    model = spm.SentencePieceProcessor(model_file=str(data / "spm.model"))
    assert model.get_piece_size() == 48
    assert model.encode("Datei", out_type=str) and model.encode("file", out_type=str)


def test_a_stage_past_the_vocabulary_is_refused_with_the_last_one_named(tmp_path):
    done = subprocess.run(["bash", str(RUN_SH), "--stage", "4", "--stop-stage", "4"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "--stop-stage 3" in done.stderr
