"""recipes/debian_nmt/run.sh beyond the harvest: the training mix and vocabulary stage, the
model stages' wiring, and the stage bound."""

import subprocess
from pathlib import Path

import sentencepiece as spm

ROOT = Path(__file__).resolve().parents[1]
RUN_SH = ROOT / "recipes" / "debian_nmt" / "run.sh"


def write_split(data: Path, split: str, english: list[str], german: list[str]) -> None:
    data.mkdir(parents=True, exist_ok=True)
    (data / f"{split}.en").write_text("\n".join(english) + "\n", encoding="utf-8")
    (data / f"{split}.de").write_text("\n".join(german) + "\n", encoding="utf-8")


def write_corpora(tmp_path: Path) -> tuple[Path, Path]:
    corpus, ding = tmp_path / "corpus", tmp_path / "ding"
    for split, n in (("train", 120), ("valid", 4), ("test", 5)):
        write_split(corpus, split, [f"Open the file number {i} and save it again." for i in range(n)],
                    [f"Öffnen Sie die Datei Nummer {i} und speichern Sie sie erneut." for i in range(n)])
        write_split(ding, split, [f"The cat sleeps in room {i}." for i in range(n // 2)],
                    [f"Die Katze schläft in Zimmer {i}." for i in range(n // 2)])
    (corpus / "valid.source").write_text("man_pages\n" * 4)
    (corpus / "test.source").write_text("man_pages\n" * 5)
    return corpus, ding


def test_stage_3_mixes_in_the_ding_train_and_trains_one_joint_sentencepiece(tmp_path):
    corpus, ding = write_corpora(tmp_path)
    mix = tmp_path / "mix"
    done = subprocess.run(["bash", str(RUN_SH), "--stage", "3", "--stop-stage", "3",
                           "--data-dir", str(corpus), "--ding-data", str(ding), "--mix-dir", str(mix),
                           "--ding-copies", "2", "--vocab-size", "60"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    train = (mix / "train.en").read_text().splitlines()
    assert len(train) == 120 + 2 * 60 and train.count("The cat sleeps in room 0.") == 2
    valid_sources = (mix / "valid.source").read_text().splitlines()
    assert valid_sources == ["man_pages"] * 4 + ["ding"] * 2
    assert (mix / "test.en").read_text() == (corpus / "test.en").read_text()
    model = spm.SentencePieceProcessor(model_file=str(mix / "spm.model"))
    assert model.get_piece_size() == 60
    assert model.encode("Katze", out_type=str) and model.encode("file", out_type=str)


def test_the_model_stages_print_their_commands_with_the_chosen_folders(tmp_path):
    done = subprocess.run(["bash", str(RUN_SH), "--help"], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0
    for option in ("--init-from", "--mix-dir", "--ding-copies", "--test-lines"):
        assert option in done.stdout


def test_a_stage_past_the_last_is_refused_with_the_last_one_named(tmp_path):
    done = subprocess.run(["bash", str(RUN_SH), "--stage", "8", "--stop-stage", "8"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "last stage is 7" in done.stderr
