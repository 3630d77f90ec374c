"""asr.data.librispeech on a tiny fixture tree in the LibriSpeech layout."""

import json

import numpy as np
import pytest
import soundfile as sf

from asr.data.librispeech import LibriSpeechError, prepare_librispeech
from asr.data.manifest import read_manifest
from asr.data.prepare import main as prepare_main

TRANSCRIPTS = {
    ("train-clean-100", "19", "198"): {
        "0000": "NORTHANGER ABBEY",
        "0001": "IT WAS THE DOCTOR'S HOUSE",
    },
    ("train-clean-100", "26", "495"): {"0004": "HE SAID NOTHING"},
    ("dev-clean", "84", "121123"): {"0000": "GO DO YOU HEAR"},
}


def _flac(path, seconds):
    t = np.arange(int(16_000 * seconds)) / 16_000
    sf.write(path, (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16_000, format="FLAC")


@pytest.fixture
def librispeech(tmp_path):
    """ROOT/SUBSET/SPEAKER/CHAPTER/{SPEAKER-CHAPTER-UTT.flac, SPEAKER-CHAPTER.trans.txt}."""
    root = tmp_path / "LibriSpeech"
    for (subset, speaker, chapter), lines in TRANSCRIPTS.items():
        folder = root / subset / speaker / chapter
        folder.mkdir(parents=True)
        for n, (utt, text) in enumerate(lines.items()):
            _flac(folder / f"{speaker}-{chapter}-{utt}.flac", seconds=0.5 + 0.25 * n)
        (folder / f"{speaker}-{chapter}.trans.txt").write_text(
            "".join(f"{speaker}-{chapter}-{utt} {text}\n" for utt, text in lines.items())
        )
    return root


def test_one_manifest_per_subset_with_durations_speakers_and_normalised_text(librispeech, tmp_path):
    manifests = prepare_librispeech(
        librispeech, ["train-clean-100", "dev-clean"], tmp_path / "data"
    )
    assert set(manifests) == {"train-clean-100", "dev-clean"}
    train = read_manifest(manifests["train-clean-100"])
    assert [(u.text, u.speaker, u.duration) for u in train] == [
        ("northanger abbey", "19", 0.5),
        ("it was the doctor's house", "19", 0.75),
        ("he said nothing", "26", 0.5),
    ]
    assert train[0].audio == (librispeech / "train-clean-100/19/198/19-198-0000.flac").resolve()
    assert [u.text for u in read_manifest(manifests["dev-clean"])] == ["go do you hear"]


def test_a_transcript_line_without_its_flac_is_skipped(librispeech, tmp_path):
    (librispeech / "dev-clean/84/121123/84-121123-0000.flac").unlink()
    (librispeech / "dev-clean/84/121123/84-121123.trans.txt").write_text(
        "84-121123-0000 GO DO YOU HEAR\n84-121123-0001 ALSO GONE\n"
    )
    with pytest.raises(
        LibriSpeechError, match="no usable utterances.*84-121123-0000.*no such audio file"
    ):
        prepare_librispeech(librispeech, ["dev-clean"], tmp_path / "data")


def test_a_folder_without_librispeech_files_is_a_clear_error(tmp_path):
    (tmp_path / "root" / "train-clean-100").mkdir(parents=True)
    with pytest.raises(
        LibriSpeechError, match=r"train-clean-100: no LibriSpeech transcripts .*SPEAKER/CHAPTER"
    ):
        prepare_librispeech(tmp_path / "root", ["train-clean-100"], tmp_path / "data")


def test_a_missing_subset_lists_the_folders_that_are_there(librispeech, tmp_path):
    with pytest.raises(LibriSpeechError, match="test-other not found.*dev-clean, train-clean-100"):
        prepare_librispeech(librispeech, ["test-other"], tmp_path / "data")


def test_the_command_line_prepares_then_computes_stats(librispeech, tmp_path, capsys):
    out = tmp_path / "data"
    assert (
        prepare_main(
            [
                "librispeech",
                "--root",
                str(librispeech),
                "--subsets",
                "train-clean-100,dev-clean",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert (
        prepare_main(
            [
                "stats",
                "--manifest",
                str(out / "train-clean-100.jsonl"),
                "--vocab-size",
                "16",
                "--model-type",
                "char",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    cmvn = json.loads((out / "cmvn.json").read_text())
    assert len(cmvn["mean"]) == len(cmvn["std"]) == 80 and cmvn["frames"] > 0
    assert (out / "tokenizer.model").is_file()


def test_the_command_line_reports_errors_without_a_traceback(tmp_path, capsys):
    assert (
        prepare_main(
            [
                "librispeech",
                "--root",
                str(tmp_path / "absent"),
                "--subsets",
                "dev-clean",
                "--out",
                str(tmp_path),
            ]
        )
        == 1
    )
    assert "absent: no such folder" in capsys.readouterr().err
