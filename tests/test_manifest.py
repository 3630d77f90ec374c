"""asr.data.manifest: JSON-lines rows, relative paths, bad rows reported as FILE:LINE."""

import json

import pytest

from asr.data.manifest import ManifestError, Utterance, read_manifest, scan_manifest, write_manifest


def _write_lines(path, rows):
    path.write_text(
        "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)
    )
    return path


@pytest.fixture
def corpus(tmp_path):
    """A folder with corpus/wav/a.wav (contents irrelevant: rows are not decoded)."""
    (tmp_path / "corpus" / "wav").mkdir(parents=True)
    (tmp_path / "corpus" / "wav" / "a.wav").write_bytes(b"RIFF")
    return tmp_path / "corpus"


def test_relative_audio_paths_resolve_against_the_manifest_folder(corpus, monkeypatch):
    manifest = _write_lines(
        corpus / "train.jsonl",
        [{"audio": "wav/a.wav", "duration": 1.5, "text": "hi", "speaker": "s1"}],
    )
    monkeypatch.chdir(corpus.parent)  # the working folder does not matter
    [utt] = read_manifest(manifest)
    assert utt.audio == (corpus / "wav" / "a.wav").resolve()
    assert (utt.duration, utt.text, utt.speaker) == (1.5, "hi", "s1")


def test_malformed_lines_are_reported_with_their_line_numbers(corpus):
    manifest = _write_lines(
        corpus / "dev.jsonl",
        [
            {"audio": "wav/a.wav", "duration": 1.0, "text": "fine"},
            "{not json",
            "",
            {"audio": "wav/a.wav", "text": "no duration"},
            {"audio": "wav/a.wav", "duration": -2, "text": "negative"},
            ["a", "list"],
        ],
    )
    with pytest.raises(ManifestError) as raised:
        read_manifest(manifest)
    message = str(raised.value)
    assert "4 bad row(s)" in message
    for line, what in [
        (2, "Expecting"),
        (4, "missing key(s) duration"),
        (5, "positive number"),
        (6, "JSON object"),
    ]:
        assert f"dev.jsonl:{line}: " in message and what in message


def test_a_missing_audio_file_is_reported_with_its_resolved_path(corpus):
    manifest = _write_lines(
        corpus / "test.jsonl", [{"audio": "wav/gone.wav", "duration": 1.0, "text": "x"}]
    )
    with pytest.raises(ManifestError, match=r"test.jsonl:1: audio file .*wav/gone.wav not found"):
        read_manifest(manifest)
    assert read_manifest(manifest, check_audio=False)[0].audio.name == "gone.wav"


def test_bad_rows_can_be_skipped_while_their_errors_are_collected(corpus):
    manifest = _write_lines(
        corpus / "mixed.jsonl",
        [
            {"audio": "wav/a.wav", "duration": 1.0, "text": "good"},
            {"audio": "wav/gone.wav", "duration": 1.0, "text": "bad"},
        ],
    )
    assert [u.text for u in read_manifest(manifest, skip_bad=True)] == ["good"]
    scan = scan_manifest(manifest)
    assert [u.text for u in scan.utterances] == ["good"] and len(scan.errors) == 1
    assert scan.errors[0].startswith(f"{manifest}:2: ")


def test_a_missing_manifest_is_named(tmp_path):
    with pytest.raises(ManifestError, match="nothing.jsonl: no such manifest"):
        read_manifest(tmp_path / "nothing.jsonl")


def test_write_then_read_round_trips_and_keeps_inner_paths_relative(corpus, tmp_path):
    outside = tmp_path / "elsewhere.flac"
    outside.write_bytes(b"fLaC")
    utterances = [
        Utterance(corpus / "wav" / "a.wav", 1.25, "hello", "s1", {"id": "u1"}),
        Utterance(outside, 2.0, "world", "s2"),
    ]
    manifest = write_manifest(corpus / "out.jsonl", utterances)
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert rows[0]["audio"] == "wav/a.wav" and rows[0]["id"] == "u1"
    assert rows[1]["audio"] == str(outside.resolve())
    assert read_manifest(manifest) == [
        Utterance(u.audio.resolve(), u.duration, u.text, u.speaker) for u in utterances
    ]
