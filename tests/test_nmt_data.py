"""Building NMT corpora (nmt.data): cleaning, splitting, ASR-style copies, local files, CLI."""

import json
import subprocess
from pathlib import Path

import pytest

from nmt.data.corpus import LengthFilter, clean_pairs, split_by_english, with_asr_copies
from nmt.data.local import read_parallel
from echoformer.data.split import english_split_key
from echoformer.text_norm import normalize_text, normalize_transcript
from nmt.data.prepare import main, prepare_ding, prepare_local
from echoformer.data.split import split_of

SUBJECTS = ["The cat", "My brother", "Our teacher", "The old man", "A small child", "Her friend"]
PLACES = ["in the garden", "at the station", "near the river", "in the kitchen", "on the roof"]


def write_ding_fixture(path: Path) -> Path:
    """A Ding-format file with 30 distinct sentence pairs, two of them repeated."""
    lines = ["# Ding fixture :: for tests"]
    for i, subject in enumerate(SUBJECTS):
        for j, place in enumerate(PLACES):
            lines.append(f"Satz {{m}} | Satz Nummer {i} {j} ist hier. :: "
                         f"sentence [Am.] | {subject} is waiting {place}.")
    lines += lines[1:3]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_split(out: Path, split: str, lang: str) -> list[str]:
    return (out / f"{split}.{lang}").read_text(encoding="utf-8").splitlines()


@pytest.fixture
def ding_corpus(tmp_path) -> Path:
    out = tmp_path / "ding_nmt"
    prepare_ding(out, write_ding_fixture(tmp_path / "de-en"), use_gettext=False, seed=7,
                 valid_fraction=0.2, test_fraction=0.2, min_eval_pairs=1)
    return out


def test_normalize_text_composes_unicode_and_tidies_spaces():
    assert normalize_text(" Mu\u0308ller\u00a0 kam.\t") == "Müller kam."


def test_asr_form_english_is_lower_case_letters_and_apostrophes():
    assert normalize_transcript("Don’t e-mail me, Tom!") == "don't e mail me tom"
    assert normalize_transcript("'Quoted' words.") == "quoted words"


def test_clean_pairs_drops_duplicates_empty_and_badly_proportioned_pairs():
    pairs = [("A cat sat.", "Eine Katze saß."), ("A  cat sat.", "Eine Katze saß."),
             ("", "Leer."), ("Hi.", "Das ist ein sehr langer deutscher Satz.")]
    kept, counts = clean_pairs(pairs, LengthFilter(max_ratio=3))
    assert kept == [("A cat sat.", "Eine Katze saß.")]
    assert (counts["duplicate"], counts["empty"], counts["length"]) == (1, 1, 1)


def test_bad_length_filter_is_a_clear_error():
    with pytest.raises(ValueError, match="min_words"):
        LengthFilter(min_words=5, max_words=2)


def test_split_is_a_pure_function_of_seed_and_sentence():
    first = [split_of(f"sentence {i}", 1, 0.1, 0.1) for i in range(500)]
    assert first == [split_of(f"sentence {i}", 1, 0.1, 0.1) for i in range(500)]
    assert first != [split_of(f"sentence {i}", 2, 0.1, 0.1) for i in range(500)]
    assert 20 < first.count("test") < 80


def test_english_differing_only_in_case_and_punctuation_shares_a_split():
    words = ["late", "early", "raining", "over", "cold", "dark", "noon", "time", "fine", "true"]
    pairs = [(f"Is it {word}?", "Ist es so?") for word in words]
    pairs += [(f"is it {word}.", "Es ist so.") for word in words]
    splits = split_by_english(pairs, seed=3, valid_fraction=0.3, test_fraction=0.3)
    split_of_english = {english: split for split, members in splits.items() for english, _ in members}
    assert len(set(split_of_english.values())) > 1
    for word in words:
        assert split_of_english[f"Is it {word}?"] == split_of_english[f"is it {word}."]


def test_asr_copies_follow_their_pair_and_skip_unspeakable_english():
    pairs = [("He’s here.", "Er ist da."), ("Call 112 now.", "Ruf 112 an."), ("hello there", "hallo")]
    assert with_asr_copies(pairs) == (
        [("He’s here.", "Er ist da."), ("he's here", "Er ist da."),
         ("Call 112 now.", "Ruf 112 an."), ("hello there", "hallo")], 1)


def test_ding_corpus_has_no_english_sentence_in_two_splits(ding_corpus):
    keys = {split: {english_split_key(line) for line in read_split(ding_corpus, split, "en")}
            for split in ("train", "valid", "test")}
    assert not keys["train"] & keys["valid"] and not keys["train"] & keys["test"]
    assert not keys["valid"] & keys["test"]
    assert all(keys.values())


def test_ding_corpus_files_are_line_aligned_and_deduplicated(ding_corpus):
    for split in ("train", "valid", "test"):
        english, german = read_split(ding_corpus, split, "en"), read_split(ding_corpus, split, "de")
        assert len(english) == len(german)
        assert len(set(zip(english, german))) == len(english)
    stats = json.loads((ding_corpus / "stats.json").read_text())
    originals = sum(stats["pairs"].values()) - stats["asr_copies_in_train"]
    assert originals == len(SUBJECTS) * len(PLACES)


def test_asr_style_copies_are_only_in_train(ding_corpus):
    for split in ("valid", "test"):
        assert all(line[0].isupper() for line in read_split(ding_corpus, split, "en"))
    train = read_split(ding_corpus, "train", "en")
    copies = [line for line in train if line == normalize_transcript(line)]
    assert len(copies) == len(train) // 2


def test_ding_split_is_reproducible(tmp_path, ding_corpus):
    again = tmp_path / "again"
    prepare_ding(again, write_ding_fixture(tmp_path / "de-en2"), use_gettext=False, seed=7,
                 valid_fraction=0.2, test_fraction=0.2, min_eval_pairs=1)
    for name in ("train.en", "train.de", "valid.en", "test.de"):
        assert (again / name).read_bytes() == (ding_corpus / name).read_bytes()


def test_terms_follow_the_sentences_in_train_only_and_never_a_held_out_sentence(tmp_path):
    ding = write_ding_fixture(tmp_path / "de-en")
    plain = tmp_path / "plain"
    prepare_ding(plain, ding, use_gettext=False, seed=7, valid_fraction=0.2, test_fraction=0.2,
                 min_eval_pairs=1)
    held_out = read_split(plain, "test", "en")[0]  # the same sentence as a term (no end mark)
    with ding.open("a", encoding="utf-8") as lines:
        lines.write("Aal {m} | jdn. fassen :: eel | to capture sb.\n")
        lines.write(f"Die Katze wartet dort :: {held_out.rstrip('.')}\n")
    out = tmp_path / "terms"
    stats = prepare_ding(out, ding, use_gettext=False, seed=7, valid_fraction=0.2,
                         test_fraction=0.2, min_eval_pairs=1, terms=True)
    assert stats["terms"] == {"added": 3, "held_out": 1}  # and ("sentence", "Satz")
    train = list(zip(read_split(out, "train", "en"), read_split(out, "train", "de")))
    assert train[:-3] == list(zip(read_split(plain, "train", "en"), read_split(plain, "train", "de")))
    assert train[-3:] == [("sentence", "Satz"), ("eel", "Aal"), ("to capture", "fassen")]
    for split in ("valid", "test"):
        assert read_split(out, split, "en") == read_split(plain, split, "en")


def test_too_small_test_split_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="min_eval_pairs"):
        prepare_ding(tmp_path / "out", write_ding_fixture(tmp_path / "de-en"), use_gettext=False,
                     min_eval_pairs=1000)


NUMBERS = ["zero", "one", "two", "three", "four", "five"]


def write_local_corpus(root: Path) -> dict[str, tuple[Path, Path]]:
    """``{split}.src`` (English) / ``{split}.tgt`` (German) with 6, 2 and 2 lines."""
    files = {}
    for split, size in (("train", 6), ("valid", 2), ("test", 2)):
        src, tgt = root / f"{split}.src", root / f"{split}.tgt"
        src.write_text("".join(f"This is {split} line {NUMBERS[i]}.\n" for i in range(size)), encoding="utf-8")
        tgt.write_text("".join(f"Das ist {split} Zeile {NUMBERS[i]}.\n" for i in range(size)), encoding="utf-8")
        files[split] = (src, tgt)
    return files


def test_local_corpus_is_written_by_language_with_copies_in_train_only(tmp_path):
    stats = prepare_local(tmp_path / "out", write_local_corpus(tmp_path), "en", "de")
    assert stats["pairs"] == {"train": 12, "valid": 2, "test": 2}
    assert read_split(tmp_path / "out", "train", "en")[:2] == ["This is train line zero.",
                                                                "this is train line zero"]
    assert read_split(tmp_path / "out", "test", "de") == ["Das ist test Zeile zero.",
                                                          "Das ist test Zeile one."]


def test_local_corpus_into_english_gets_no_asr_style_copies(tmp_path):
    files = write_local_corpus(tmp_path)
    flipped = {split: (tgt, src) for split, (src, tgt) in files.items()}
    stats = prepare_local(tmp_path / "out", flipped, "de", "en")
    assert stats["pairs"] == {"train": 6, "valid": 2, "test": 2}
    assert "asr_copies_in_train" not in stats


def test_local_line_count_mismatch_names_files_and_counts(tmp_path):
    files = write_local_corpus(tmp_path)
    files["valid"][1].write_text("Nur eine Zeile.\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"valid\.src has 2 lines but .*valid\.tgt has 1"):
        prepare_local(tmp_path / "out", files, "en", "de")


def test_non_utf8_line_is_reported_with_file_and_line_number(tmp_path):
    src, tgt = tmp_path / "a.src", tmp_path / "a.tgt"
    src.write_bytes(b"fine\nbad \xe4 byte\n")
    tgt.write_text("gut\nauch gut\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"a\.src: 1 line\(s\) are not valid UTF-8 \(line 2\)"):
        read_parallel(src, tgt)


def test_cli_prepares_local_corpus_and_trains_joint_sentencepiece(tmp_path, capsys):
    files = write_local_corpus(tmp_path)
    out = tmp_path / "out"
    args = ["local", "--src-lang", "en", "--tgt-lang", "de", "--out", str(out)]
    for split, (src, tgt) in files.items():
        args += [f"--{split}-src", str(src), f"--{split}-tgt", str(tgt)]
    assert main(args) == 0
    assert main(["spm", "--data", str(out), "--vocab-size", "30"]) == 0
    assert (out / "spm.model").is_file() and (out / "spm.vocab").is_file()


def test_cli_reports_missing_ding_file_without_traceback(tmp_path, capsys):
    assert main(["ding", "--ding-path", str(tmp_path / "absent"), "--out", str(tmp_path)]) == 2
    assert "apt-get install trans-de-en" in capsys.readouterr().err


def test_recipe_stage_1_passes_terms_and_no_asr_copies_to_the_corpus(tmp_path):
    # 18,000 sentence pairs: enough for the recipe's 1,000-pair valid and test splits
    lines = [f"Satz {i} {j} {k} ist hier. :: Person {i} waits at place {j} {k}."
             for i in range(30) for j in range(30) for k in range(20)]
    ding = tmp_path / "de-en"
    ding.write_text("\n".join(lines + ["Aal {m} :: eel"]) + "\n", encoding="utf-8")
    out = tmp_path / "corpus"
    recipe = Path(__file__).resolve().parents[1] / "recipes/ding_nmt/run.sh"
    subprocess.run(["bash", str(recipe), "--stage", "1", "--stop-stage", "1", "--ding-path",
                    str(ding), "--data-dir", str(out), "--terms", "--no-asr-copies"],
                   check=True, capture_output=True)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["terms"]["added"] == 1 and "asr_copies_in_train" not in stats
    assert read_split(out, "train", "en")[-1] == "eel"
