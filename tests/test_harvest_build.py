"""Harvest stage 2: cleaning across sources, Ding hold-out, split, parallel-text layout."""

import json

import pytest

from echoformer.data.split import english_split_key
from nmt.data.harvest.build import build_corpus, ding_corpus_keys, round_robin, write_raw
from nmt.data.harvest.report import corpus_tables

_NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _sentence(index: int) -> tuple[str, str]:
    words = " ".join(_NUMBERS[int(digit)] for digit in str(index))
    return f"Sentence {words} is shown here.", f"Satz {words} wird hier gezeigt."


def _write_sources(folder, ui_count=300, doc_count=300):
    ui = [(*_sentence(index), "demo/ui") for index in range(ui_count)]
    ui.append(("_Open", "Ö_ffnen", "demo/ui"))
    docs = [(*_sentence(index), "doc/page") for index in range(ui_count, ui_count + doc_count)]
    docs.append((*_sentence(0), "doc/page"))  # also in the first source: a duplicate
    write_raw(folder / "ui.jsonl", ui)
    write_raw(folder / "docs.jsonl", docs)


def _read(out, split, lang):
    return (out / f"{split}.{lang}").read_text().splitlines()


def test_corpus_is_written_line_aligned_with_per_source_stats(tmp_path):
    _write_sources(tmp_path)
    out = tmp_path / "corpus"
    stats = build_corpus(tmp_path, out, ["ui", "docs"], valid_fraction=0.1, test_fraction=0.1)
    for split in ("train", "valid", "test"):
        assert len(_read(out, split, "en")) == len(_read(out, split, "de")) == stats["pairs"][split]
    assert ("Open", "Öffnen") in set(zip(_read(out, "train", "en"), _read(out, "train", "de")))
    assert stats["sources"]["docs"]["dropped"]["duplicate"] == 1
    assert json.loads((out / "stats.json").read_text())["langs"] == ["en", "de"]


def test_no_english_sentence_is_in_two_splits(tmp_path):
    _write_sources(tmp_path)
    out = tmp_path / "corpus"
    build_corpus(tmp_path, out, ["ui", "docs"], valid_fraction=0.2, test_fraction=0.2)
    keys = {split: {english_split_key(line) for line in _read(out, split, "en")}
            for split in ("train", "valid", "test")}
    assert keys["valid"] and keys["test"]
    assert not keys["train"] & keys["valid"] and not keys["train"] & keys["test"]
    assert not keys["valid"] & keys["test"]


def test_ding_valid_and_test_english_is_held_out_of_train(tmp_path):
    _write_sources(tmp_path)
    held = {english_split_key(_sentence(index)[0]) for index in range(100)}
    ding_keys = {"train": set(), "valid": set(), "test": held}
    out = tmp_path / "corpus"
    stats = build_corpus(tmp_path, out, ["ui", "docs"], valid_fraction=0.1, test_fraction=0.1,
                         ding_keys=ding_keys)
    train_keys = {english_split_key(line) for line in _read(out, "train", "en")}
    assert not train_keys & held
    assert stats["sources"]["ui"]["dropped"]["ding_heldout"] > 50
    eval_keys = {english_split_key(line) for split in ("valid", "test")
                 for line in _read(out, split, "en")}
    assert not eval_keys & held


def test_test_split_draws_sentence_like_pairs_from_every_source(tmp_path):
    _write_sources(tmp_path)
    out = tmp_path / "corpus"
    stats = build_corpus(tmp_path, out, ["ui", "docs"], valid_fraction=0.1, test_fraction=0.3,
                         test_pairs=40)
    assert stats["pairs"]["test"] == 40
    assert stats["sources"]["ui"]["test"] == stats["sources"]["docs"]["test"] == 20
    assert all(line.endswith(".") for line in _read(out, "test", "en"))
    assert (out / "test.source").read_text().splitlines()[:2] == ["ui", "docs"]


def test_round_robin_takes_one_per_source_in_turn_until_the_limit():
    candidates = {"a": [("a1", ""), ("a2", ""), ("a3", "")], "b": [("b1", "")]}
    assert [pair[0] for pair, _ in round_robin(candidates, 3)] == ["a1", "b1", "a2"]


def test_pairs_not_drawn_for_valid_or_test_go_to_train(tmp_path):
    _write_sources(tmp_path)
    out = tmp_path / "corpus"
    stats = build_corpus(tmp_path, out, ["ui", "docs"], valid_fraction=0.3, test_fraction=0.3,
                         valid_pairs=10, test_pairs=10)
    kept = sum(source["kept"] for source in stats["sources"].values())
    assert stats["pairs"] == {"train": kept - 20, "valid": 10, "test": 10}


def test_another_translation_of_a_drawn_english_is_kept_out_of_train(tmp_path):
    english, german = _sentence(7)
    write_raw(tmp_path / "ui.jsonl", [(english, german, "demo/ui"),
                                      (english, "Ein anderer Satz wird hier gezeigt.", "demo/ui")])
    out = tmp_path / "corpus"
    stats = build_corpus(tmp_path, out, ["ui"], valid_fraction=0.0, test_fraction=0.99,
                         test_pairs=1)
    assert stats["pairs"] == {"train": 0, "valid": 0, "test": 1}
    assert stats["sources"]["ui"]["dropped"]["eval_english"] == 1


def test_ding_corpus_keys_hold_out_its_valid_and_test_english(tmp_path):
    ding = tmp_path / "ding"
    ding.mkdir()
    for split, index in (("train", 1), ("valid", 2), ("test", 3)):
        (ding / f"{split}.en").write_text(_sentence(index)[0] + "\n")
    _write_sources(tmp_path, ui_count=20, doc_count=0)
    out = tmp_path / "corpus"
    build_corpus(tmp_path, out, ["ui", "docs"], valid_fraction=0.0, test_fraction=0.0,
                 ding_keys=ding_corpus_keys(ding))
    train = _read(out, "train", "en")
    assert _sentence(1)[0] in train
    assert _sentence(2)[0] not in train and _sentence(3)[0] not in train


def test_missing_ding_corpus_names_the_command_that_builds_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nmt.data.prepare ding"):
        ding_corpus_keys(tmp_path / "absent")


def test_report_tables_give_pairs_per_source_and_rule(tmp_path):
    _write_sources(tmp_path)
    stats = build_corpus(tmp_path, tmp_path / "corpus", ["ui", "docs"], valid_fraction=0.1,
                         test_fraction=0.1)
    tables = corpus_tables(stats)
    assert f"| `docs` | 301 |  | 300 | 300 | {stats['sources']['docs']['train']:,} |" in tables
    assert "| `docs` | 1 |" in tables.split("Pairs dropped, per rule:")[1]  # the duplicate
