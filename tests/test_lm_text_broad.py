"""Broad LM text (`python -m asr.data.lm_text --broad`): which prose lines are kept and in
what form, the held-out check, de-duplication across sources, the files written, and the
commands of recipes/synth_asr/broad_lm.sh (printed with --dry-run, checked without training)."""

from __future__ import annotations

import gzip
import json
import shlex
import shutil
import subprocess
from itertools import product
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from asr.cli import build_transcribe_parser
from asr.config import LMTrainConfig, register
from asr.data import lm_text
from asr.data.lm_text import (HeldOut, broad_lm_lines, build_parser, english_man_pages, evenly,
                              prose_candidates, prose_line, split_sentences, write_broad_lm_text)
from echoformer.config_schema import to_dataclass
from echoformer.data.split import ding_split

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "recipes" / "synth_asr" / "broad_lm.sh"
NOUNS = ["cat", "dog", "fox", "hen", "owl", "bee", "cow", "pig", "ant", "elk", "yak", "emu"]


def sentences_of(family: str, count: int) -> list[str]:
    """`count` prose sentences (transcript form) that the shared split puts in `family`."""
    made = (f"the {a} saw the {b} today" for a, b in product(NOUNS, NOUNS) if a != b)
    return [s for s in made if ding_split(s) == family][:count]


def test_a_sentence_of_prose_is_kept_in_transcript_form_with_small_numbers_spelt_out():
    assert prose_line("Press 1, then wait for the  “Done” message!") == \
        ("press one then wait for the done message", "")
    assert prose_line("Don't remove the user's files.") == ("don't remove the user's files", "")


@pytest.mark.parametrize("raw, reason", [
    ("Cannot open %s for writing", "code or markup"),
    ("Could not read %1 at all", "code or markup"),
    ("Set {name} to the value here", "code or markup"),
    ("Edit the file /etc/fstab to mount it", "code or markup"),
    ("Use --force to override this check", "code or markup"),
    ("Open the file config.txt now please", "code or markup"),
    ("See the manual, e.g. the second chapter", "code or markup"),
    ("Visit https://example.org for more help", "code or markup"),
    ("Call the value() function on it", "code or markup"),
    ("Export the page as HTML with frames", "acronym or identifier"),
    ("Call the getValue method on it", "acronym or identifier"),
    ("Wait 300 seconds before trying again", "digits or symbols"),
    ("Version 4th of the tool is out", "digits or symbols"),
    ("Save the file", "under 4 words"),
    (" ".join(["word"] * 41), "over 40 words"),
    ("Use tabs, spaces, etc for the indent", "abbreviation"),
    ("Answer a llow d eny or q uit", "not a word"),
    ("Run the pkg tool on the archive", "not a word"),
])
def test_code_markup_numbers_and_short_lines_are_not_prose(raw, reason):
    assert prose_line(raw) == (None, reason)


def test_paragraphs_split_into_sentences_at_end_marks_before_a_capital_and_wide_gaps():
    assert split_sentences("It works. Then it stops! Why? see below.") == \
        ["It works.", "Then it stops!", "Why? see below."]
    assert split_sentences("  -v     Print more messages.") == ["-v", "Print more messages."]


def test_held_out_lines_equal_a_transcript_or_hold_one_of_four_words_or_more():
    held = HeldOut(["camel", "please enter your number", "Agent logged off."])
    assert held.verdict("camel") == "held out: equal"
    assert held.verdict("agent logged off") == "held out: equal"  # compared in transcript form
    assert held.verdict("a camel sat in the sand") == ""  # one word: only equality counts
    assert held.verdict("now please enter your number and wait") == "held out: contains"
    assert held.verdict("please enter your name") == ""


def test_lines_are_kept_once_by_family_and_each_loss_is_counted_by_source():
    train, valid, test = sentences_of("train", 3), sentences_of("valid", 1), sentences_of("test", 1)
    ding = [(train[0], ""), (None, "no plain words"), (train[1], "")]
    prose = prose_candidates([f"{train[0].capitalize()}.", train[2], valid[0], test[0],
                              f"So {train[1]} and more", "Open %s now please"])
    families, counts = broad_lm_lines({"ding": iter(ding), "nmt": prose},
                                      HeldOut([train[1]]))
    assert families == {"train": [train[0], train[2]], "valid": [valid[0]]}
    assert counts["ding"]["dropped"] == {"no plain words": 1, "held out: equal": 1}
    assert counts["nmt"]["dropped"] == {"duplicate": 1, "test family": 1,
                                        "held out: contains": 1, "code or markup": 1}
    assert (counts["nmt"]["read"], counts["nmt"]["train_lines"], counts["nmt"]["valid_lines"],
            counts["nmt"]["train_words"]) == (6, 1, 1, len(train[2].split()))


def test_evenly_keeps_each_part_of_the_valid_lines():
    assert evenly(list("abcdefghij"), 4) == ["a", "d", "g", "j"]
    assert evenly(list("abc"), 5) == ["a", "b", "c"]


MAN_PAGE = r""".TH DEMO 1
.SH NAME
demo \- shows a demo
.SH DESCRIPTION
The demo program shows how the pages are read.
It prints nothing at all.
.TP
.B \-v
Print more messages while working.
"""


def write_man_tree(root: Path) -> Path:
    """pkg/usr/share/man: an English page, its German translation, a .so link; a second
    package with a page of the same name."""
    for package in ("pkg", "other"):
        man1 = root / package / "usr" / "share" / "man" / "man1"
        man1.mkdir(parents=True)
        (man1 / "demo.1.gz").write_bytes(gzip.compress(MAN_PAGE.encode()))
    man = root / "pkg" / "usr" / "share" / "man"
    (man / "man1" / "alias.1.gz").write_bytes(gzip.compress(b".so man1/demo.1\n"))
    (man / "de" / "man1").mkdir(parents=True)
    (man / "de" / "man1" / "demo.1.gz").write_bytes(gzip.compress(MAN_PAGE.encode()))
    return root


def test_english_man_pages_once_by_name_without_translations_or_links(tmp_path):
    pages = english_man_pages([write_man_tree(tmp_path)])
    assert [p.relative_to(tmp_path).as_posix() for p in pages] == \
        ["other/usr/share/man/man1/demo.1.gz"]


def test_a_missing_man_page_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="--man-pages .*nowhere"):
        english_man_pages([tmp_path / "nowhere"])


@pytest.mark.skipif(shutil.which("groff") is None,
                    reason="groff absent (Debian package groff-base renders the man pages)")
def test_broad_text_from_dictionary_prose_and_man_pages(tmp_path):
    train, valid = sentences_of("train", 4), sentences_of("valid", 1)
    ding = tmp_path / "de-en"
    ding.write_text(f"Hund :: dog\nKatze; Kater :: cat; tomcat\nSatz :: {train[0]}.\n",
                    encoding="utf-8")
    english = tmp_path / "train.en"
    english.write_text("".join(f"{line}\n" for line in [
        f"{train[0].capitalize()}.", f"{train[1].capitalize()}!", valid[0], train[2],
        "Cannot open %s here now", train[1]]), encoding="utf-8")
    summary = write_broad_lm_text(tmp_path / "out", [train[2]], ding, [english],
                                  [write_man_tree(tmp_path / "tree")], sentence_copies=1)
    out = tmp_path / "out"
    man_lines = ["demo shows a demo", "the demo program shows how the pages are read",
                 "it prints nothing at all", "print more messages while working"]
    kept = ["dog", "cat", "tomcat", train[0], train[1], *man_lines]
    expected = [line for line in kept if ding_split(line) == "train"
                for _ in range(2 if len(line.split()) >= 4 else 1)]
    assert (out / "lm_train.txt").read_text().splitlines() == expected
    assert valid[0] in (out / "lm_valid.txt").read_text().splitlines()
    sources = json.loads((out / "lm_text_summary.json").read_text())["sources"]
    assert sources == summary["sources"]
    assert sources[str(english)]["dropped"] == {"duplicate": 2, "held out: equal": 1,
                                                "code or markup": 1}
    man = sources["man_pages"]
    assert man["pages"] == 1
    assert man["train_lines"] + man["valid_lines"] == \
        sum(ding_split(line) != "test" for line in man_lines)


def test_without_broad_the_prose_sources_are_refused(tmp_path, capsys):
    assert lm_text.main(["--out", str(tmp_path), "--english", "x.en"]) == 1
    assert "--english needs --broad" in capsys.readouterr().err


def test_a_missing_english_file_is_named(tmp_path, capsys):
    code = lm_text.main(["--broad", "--out", str(tmp_path), "--no-ding", "--man-pages",
                         "--english", str(tmp_path / "absent.en")])
    assert code == 1 and "absent.en not found" in capsys.readouterr().err


def test_the_cli_holds_out_the_manifests_transcripts(tmp_path, capsys):
    train = sentences_of("train", 2)
    manifest = tmp_path / "test.jsonl"
    manifest.write_text(json.dumps({"audio": "a.wav", "duration": 1.0, "text": train[0],
                                    "speaker": "s"}) + "\n")
    english = tmp_path / "train.en"
    english.write_text(f"{train[0]}\n{train[1]}\n")
    assert lm_text.main(["--broad", "--out", str(tmp_path / "out"), "--no-ding",
                         "--man-pages", "--english", str(english),
                         "--exclude", str(manifest)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["excluded_transcripts"] == 1
    assert (tmp_path / "out" / "lm_train.txt").read_text() == f"{train[1]}\n"


# recipes/synth_asr/broad_lm.sh

def dry_run(*options: str) -> list[list[str]]:
    done = subprocess.run(["bash", str(SCRIPT), *options, "--dry-run"], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return [shlex.split(line) for line in done.stdout.splitlines()
            if line.strip() and not line.startswith("#")]


def lm_train_config(commands: list[list[str]]) -> LMTrainConfig:
    [run] = [c for c in commands if Path(c[0]).name == "asr-lm-train"]
    register()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return to_dataclass(compose(config_name="asr_lm_train", overrides=run[1:]),
                            LMTrainConfig)


def test_the_script_builds_the_broad_text_with_every_held_out_set():
    [build] = [c for c in dry_run() if c[1:3] == ["-m", "asr.data.lm_text"]]
    args = build_parser().parse_args(build[3:])
    assert args.broad and args.english == [Path("data/debian_nmt/train.en")]
    assert {p.name for p in args.exclude} == {"dev.jsonl", "test.jsonl",
                                              "test_unseen_voice.jsonl", "real_dev.jsonl",
                                              "real_test.jsonl"}


def test_the_script_trains_from_random_weights_or_fine_tunes_and_composes():
    config = lm_train_config(dry_run("--max-steps", "700"))
    assert (config.trainer.max_steps, config.trainer.init_from, config.trainer.lr) == \
        (700, None, 0.002)
    assert config.data.train == "data/lm_broad/lm_train.txt"
    tuned = lm_train_config(dry_run("--init-from", "models/asr-en-lm", "--text", "t"))
    assert (tuned.trainer.init_from, tuned.trainer.lr, tuned.data.valid) == \
        ("models/asr-en-lm", 0.001, "t/lm_valid.txt")


def test_the_script_decodes_with_options_asr_transcribe_accepts():
    [decode] = [c for c in dry_run() if Path(c[1]).name == "decode_set.sh"]
    options = build_transcribe_parser().parse_args(decode[4:] + ["x.wav"])
    assert options.lm == "exp/asr_lm/asr-en-lm-broad" and options.method == "joint_beam"


def test_the_script_runs_only_the_steps_asked_for_and_refuses_a_bad_option():
    assert [Path(c[0]).name for c in dry_run("--from-step", "4", "--to-step", "4")] == \
        ["asr-lm-train"]
    done = subprocess.run(["bash", str(SCRIPT), "--max-step", "5"], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2 and "--max-step" in done.stderr
