"""asr.peers (pocketsphinx with its bundled en-us model) and its rows in asr-score's table."""

import importlib.util
import json
import shutil
import subprocess
import sys

import pytest

from asr.audio import audio_duration
from asr.peers import PeerError, decode_manifest, load_peer, main as peers_main, peer_transcript
from asr.score import main as score_main

SPOKEN = "thank you very much"
needs_pocketsphinx = pytest.mark.skipif(
    importlib.util.find_spec("pocketsphinx") is None,
    reason="pocketsphinx is not installed (make test installs it: pip install '.[peers]')")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    """One espeak-ng clip of SPOKEN and its manifest."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/install_system_packages.sh installs it)")
    folder = tmp_path_factory.mktemp("peer")
    wav = folder / "thanks.wav"
    subprocess.run(["espeak-ng", "-v", "en-us+f3", "-s", "140", "-w", str(wav), SPOKEN],
                   check=True)
    path = folder / "test.jsonl"
    path.write_text(json.dumps({"audio": "thanks.wav", "duration": audio_duration(wav),
                                "text": SPOKEN, "speaker": "espeak"}) + "\n")
    return path


def test_peer_words_are_put_in_transcript_form():
    assert peer_transcript("Thank you, MA'AM") == "thank you ma'am"
    assert peer_transcript("a 2 b") == "a b"
    assert peer_transcript("") == ""


@needs_pocketsphinx
def test_pocketsphinx_decodes_a_clip_with_its_bundled_model(manifest):
    (row,) = decode_manifest(load_peer("pocketsphinx"), manifest)
    assert {"thank", "you"} <= set(row.text.split())
    assert row.duration == pytest.approx(audio_duration(manifest.parent / "thanks.wav"), abs=1e-3)
    assert row.processing_seconds > 0


@needs_pocketsphinx
def test_peer_rows_are_scored_like_ours_beside_ours(manifest, tmp_path, capsys):
    assert peers_main(["pocketsphinx", str(manifest)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert set(rows[0]) == {"audio", "text", "duration", "processing_seconds"}
    ps_hyp = tmp_path / "pocketsphinx.jsonl"
    ps_hyp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ours = tmp_path / "ours.jsonl"
    ours.write_text(json.dumps({**rows[0], "text": SPOKEN, "processing_seconds": 0.1}) + "\n")
    assert score_main(["--ref", str(manifest), "--hyp", str(ours), "--label", "ours",
                       "--ref", str(manifest), "--hyp", str(ps_hyp), "--label", "pocketsphinx",
                       "--json", str(tmp_path / "wer.json")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("| system | test set |")
    assert table[2].startswith("| ours | test | 1 | 4 | 0.00 |")
    assert table[3].startswith("| pocketsphinx | test | 1 | 4 |")
    scored = json.loads((tmp_path / "wer.json").read_text())
    assert [r["system"] for r in scored] == ["ours", "pocketsphinx"]
    assert scored[1]["rtf"] > 0


@needs_pocketsphinx
def test_asr_score_peer_adds_a_pocketsphinx_row_per_test_set(manifest, tmp_path, capsys):
    ours = tmp_path / "ours.txt"
    ours.write_text(SPOKEN + "\n")
    assert score_main(["--ref", str(manifest), "--hyp", str(ours), "--label", "ours",
                       "--peer", "pocketsphinx"]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [row.split(" | ")[0:2] for row in rows] == [["| ours", "test"],
                                                        ["| pocketsphinx", "test"]]


def test_a_missing_pocketsphinx_is_named_with_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # import fails
    with pytest.raises(PeerError, match=r"pip install '\.\[peers\]'"):
        load_peer("pocketsphinx")


def test_an_unknown_peer_lists_the_known_ones(manifest, tmp_path, capsys):
    hyp = tmp_path / "h.txt"
    hyp.write_text(SPOKEN + "\n")
    assert score_main(["--ref", str(manifest), "--hyp", str(hyp), "--peer", "sphinx4"]) == 1
    assert "unknown peer 'sphinx4'; choose one of pocketsphinx" in capsys.readouterr().err
