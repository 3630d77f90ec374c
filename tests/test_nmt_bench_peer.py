"""`bench suite=nmt` peer rows: CTranslate2 on the same weights (nmt.bench_peer), and the
vocabulary map of its vmap rows (nmt.vmap). The bench rows are skipped with a reason only
when the optional peer ctranslate2 is not installed; so is the suite's own note for that."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from echoformer.model_dir import load_model_dir
from echoformer.tokenizer import Tokenizer
from nmt import bench_peer
from nmt.vmap import VMAP_FILE, build_vmap, mean_shortlist, write_vmap
from test_quantize import train_tiny
from tiny_nmt import random_model_dir, tiny_pairs, write_tiny_corpus

BENCH = [sys.executable, "-m", "echoformer.bench.app", "suite=nmt", "quick=true", "threads=1",
         "nmt.large_vocab=0", "nmt.beams=[4]", "nmt.batches=[1,8]", "repeats=1", "warmup=0"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_tiny_corpus(tmp_path_factory.mktemp("peer_corpus"))


def test_the_vmap_maps_a_source_piece_to_its_translation_first(corpus):
    tokenizer = Tokenizer(corpus / "spm.model")
    vmap = build_vmap(tokenizer, tiny_pairs(), per_source=3, common=5)
    # the tiny vocabulary keeps the verbs whole: "▁sleeps" -> "▁schläft"
    assert vmap["▁sleeps"][0] == "▁schläft" and vmap["▁eats"][0] == "▁isst"
    assert all(len(targets) <= 3 for key, targets in vmap.items() if key)
    assert len(vmap[""]) == 5 and vmap[""][0] == "."  # in every pair: the most frequent
    # Dice, not raw counts: the full stop is seen with every verb as often as its
    # translation, yet ranks below it
    assert vmap["▁sleeps"].index(".") > 0


def test_the_vmap_file_has_the_always_candidates_first_and_one_line_per_piece(corpus, tmp_path):
    tokenizer = Tokenizer(corpus / "spm.model")
    vmap = build_vmap(tokenizer, tiny_pairs(), per_source=4, common=6)
    lines = write_vmap(vmap, tmp_path / VMAP_FILE).read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(vmap) and lines[0].startswith("\t")
    assert all(len(line.split("\t")) == 2 for line in lines)
    allowed = mean_shortlist(vmap, tokenizer, ["The cat sleeps."])
    assert 6 < allowed < tokenizer.vocab_size


def test_the_vmap_needs_text_on_both_sides(corpus):
    with pytest.raises(ValueError, match="no sentence pairs"):
        build_vmap(Tokenizer(corpus / "spm.model"), [("", "Hallo."), ("Hi.", "")])


def test_without_ctranslate2_the_peer_rows_are_skipped_with_the_install_line(
        corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # `import ctranslate2` fails
    model_dir = random_model_dir(tmp_path / "model", corpus)
    c = SimpleNamespace(peer=True, peer_compute_types=["float32"], peer_vmap=True)
    peers = bench_peer.prepare(c, model_dir, load_model_dir(model_dir).model, None, "cpu",
                               [], tmp_path / "work", tmp_path)
    assert peers.rows == [] and "ctranslate2 is not installed" in peers.notes[0]
    assert "echoformer[peers]" in peers.notes[0]
    report = "\n".join(bench_peer.markdown({"peer": [], "peer_notes": peers.notes}))
    assert "## Peer: CTranslate2" in report and "not installed" in report


def test_the_study_script_is_a_thin_caller_of_bench(capsys):
    path = Path(__file__).parents[1] / "recipes" / "bench" / "ctranslate2_peer.py"
    spec = importlib.util.spec_from_file_location("ctranslate2_peer", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--dry-run", "--threads", "2", "1", "--lines", "50", "--",
                        "nmt.peer_vmap=false"]) == 0
    command = capsys.readouterr().err.split()
    assert command[1:4] == ["-m", "echoformer.bench.app", "-m"]  # a multirun over threads
    for part in ("threads=2,1", "suite=nmt", "model=models/nmt-en-de",
                 "nmt.max_sentences=50", "'nmt.beams=[5]'", "'nmt.batches=[1]'",
                 "nmt.peer_vmap=false"):
        assert part in command


ctranslate2 = pytest.importorskip("ctranslate2", reason="the optional peer ctranslate2 is not "
                                  "installed (pip install 'echoformer[peers]')")


@pytest.fixture(scope="module")
def trained_reuse_dir(corpus, tmp_path_factory):
    """A tiny model trained with encoder map reuse [1, 3], with its corpus in its run config."""
    directory = random_model_dir(tmp_path_factory.mktemp("peer_model") / "model", corpus,
                                 reuse_pattern=[1, 3])
    return train_tiny(directory, run_config={"data": {"dir": str(corpus), "src_lang": "en",
                                                      "tgt_lang": "de"}})


@pytest.fixture(scope="module")
def peer_run(trained_reuse_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("peer_bench")
    done = subprocess.run(BENCH + [f"model={trained_reuse_dir}", f"hydra.run.dir={out}"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads((out / "results.json").read_text()), out


def test_peer_rows_cover_fp32_and_int8_with_and_without_vmap_at_each_case(peer_run):
    results, _ = peer_run
    cases = {(r["compute_type"], r["vmap"], r["beam"], r["batch"]) for r in results["peer"]}
    assert cases == {(t, v, 4, n) for t in ("float32", "int8") for v in (False, True)
                     for n in (1, 8)}
    assert len(results["peer"]) == len(cases)
    ours = {(r["softmax"], r["dtype"], r["beam"], r["batch"]): r for r in results["decoding"]}
    for r in results["peer"]:
        assert r["engine"] == "ctranslate2" and r["without_reuse"] is True
        mine = ours["svd", r["ours_dtype"], r["beam"], r["batch"]]  # timed in the same repeats
        assert r["ours_dtype"] == ("int8" if r["compute_type"] == "int8" else "float32")
        assert r["ours_sentences_per_s"] == mine["sentences_per_s"]
        # sacreBLEU may give 100.00000000000004 for a perfect match
        assert r["ours_bleu"] == mine["bleu"] and 0 <= r["bleu"] <= 100 + 1e-9
        assert r["ratio"] == pytest.approx(r["ours_sentences_per_s"] / r["sentences_per_s"])
        assert r["sentences"] == results["setup"]["sentences"]
        assert 1 <= r["mean_batch"] <= r["batch"]


def test_the_fp32_peer_runs_the_function_of_our_no_reuse_variant(peer_run):
    results, _ = peer_run
    for r in results["peer"]:
        if r["compute_type"] == "float32" and not r["vmap"]:
            assert r["same_function_lines"] == r["sentences"]


def test_the_peer_setup_names_the_export_and_the_vmap(peer_run):
    results, out = peer_run
    setup = results["peer_setup"]
    assert setup["without_reuse"] and setup["export"].endswith("--without-reuse")
    assert setup["reuse_pattern"] == [1, 3] and setup["intra_threads"] == 1
    vmap = setup["vmap"]
    assert vmap["pairs"] == len(tiny_pairs()) and vmap["per_source"] == 20
    assert 0 < vmap["mean_shortlist"] <= vmap["vocab"]
    assert (out / VMAP_FILE).is_file()
    report = (out / "report.md").read_text()
    assert "## Peer: CTranslate2 on the same weights" in report
    assert "no-reuse variant" in report and "ours ÷ peer" in report


def test_a_compute_type_the_peer_lacks_is_one_clear_error(trained_reuse_dir, tmp_path):
    done = subprocess.run(BENCH + [f"model={trained_reuse_dir}",
                                   "nmt.peer_compute_types=[float32,int3]",
                                   f"hydra.run.dir={tmp_path}"], capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("bench suite=nmt: nmt.peer_compute_types: ['int3']")


def test_without_a_training_corpus_only_the_vmap_rows_are_left_out(corpus, tmp_path):
    model_dir = random_model_dir(tmp_path / "model", corpus)  # no run config: no corpus
    sentences = tmp_path / "own.en"
    sentences.write_text("The cat sleeps.\nThe dog eats.\n", encoding="utf-8")
    done = subprocess.run(BENCH + [f"model={model_dir}", f"nmt.sentences={sentences}",
                                   "nmt.dtypes=[float32]", "nmt.batches=[1]",
                                   f"hydra.run.dir={tmp_path / 'out'}"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {r["vmap"] for r in results["peer"]} == {False}
    assert {r["ours_dtype"] for r in results["peer"]} == {"float32"}  # no int8 row of ours
    assert any("vmap rows skipped" in note for note in results["peer_notes"])
    assert all(r["bleu"] is None for r in results["peer"])
