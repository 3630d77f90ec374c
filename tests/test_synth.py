"""asr.data.synth: the synthetic English speech corpus (espeak-ng + flite)."""

import dataclasses
import json
import os
import shutil
from collections import defaultdict

import pytest
import soundfile as sf

from asr.data.manifest import read_manifest
from asr.data.synth import (
    SIZES,
    SPLITS,
    plain_sentence_transcript,
    plan_corpus,
    select_sentences,
    synthesize_corpus,
)
from asr.data.synth_voices import SynthEngineMissing, is_held_out

SENTENCES = select_sentences(
    [
        "The cat sat on the warm mat.",
        "Where did you put my keys?",
        "She plays the piano every day.",
        "We walked home after the rain.",
        "It's colder than it was yesterday.",
        "Please close the door behind you.",
        "The children laughed at the clown.",
        "He never drinks coffee at night.",
        "Our train leaves in the morning.",
        "They painted the fence bright green.",
        "Nobody knew the answer to that.",
        "The garden looks lovely in spring.",
        "I'd like a glass of water, please.",
        "The dog barked at the postman.",
        "My brother lives near the sea.",
        "That was the best meal of my life!",
    ]
)
engines_installed = shutil.which("espeak-ng") is not None and shutil.which("flite") is not None
needs_engines = pytest.mark.skipif(
    not engines_installed, reason="espeak-ng/flite not installed (apt-get install espeak-ng flite)"
)


def test_plain_sentences_are_kept_and_normalised():
    assert (
        plain_sentence_transcript("It's colder than it was, I think.")
        == "it's colder than it was i think"
    )


@pytest.mark.parametrize(
    "sentence",
    [
        "Too short here.",
        "He paid 20 dollars for it.",
        "The USA is a big country.",
        "Ask sb. to do sth. now.",
        "He left. She stayed behind then.",
        "no capital letter at the start.",
        "No final punctuation in this one",
        "Mr. Smith went to the city.",
        "Le café était très bon hier.",
    ],
)
def test_sentences_that_engines_would_not_read_as_written_are_dropped(sentence):
    assert plain_sentence_transcript(sentence) is None


def test_the_plan_keeps_splits_disjoint_by_sentence_and_held_out_voices_out_of_training():
    plan = plan_corpus(SENTENCES, SIZES["tiny"], seed=3)
    sentences_of = defaultdict(set)
    for utt in plan:
        sentences_of[utt.split].add(utt.transcript)
        assert is_held_out(utt.rendition.voice) == (utt.split == "test_unseen_voice")
    assert {split: len(s) for split, s in sentences_of.items()} == {
        "train": 8,
        "dev": 2,
        "test": 2,
        "test_unseen_voice": 2,
    }
    for i, a in enumerate(SPLITS):
        for b in SPLITS[i + 1 :]:
            assert not sentences_of[a] & sentences_of[b], (a, b)


def test_the_plan_is_a_function_of_the_seed():
    assert plan_corpus(SENTENCES, SIZES["tiny"], seed=7) == plan_corpus(
        SENTENCES, SIZES["tiny"], seed=7
    )
    assert plan_corpus(SENTENCES, SIZES["tiny"], seed=7) != plan_corpus(
        SENTENCES, SIZES["tiny"], seed=8
    )


def test_extra_training_sentences_keep_the_smaller_sizes_plan_and_come_last():
    base = SIZES["tiny"]
    larger = dataclasses.replace(base, extra_train_sentences=2, extra_train_variants=1)
    plan, bigger = plan_corpus(SENTENCES, base, seed=5), plan_corpus(SENTENCES, larger, seed=5)
    assert bigger[: len(plan)] == plan  # every utterance of the smaller size, test sets too
    extra = bigger[len(plan) :]
    assert [u.utt_id for u in extra] == ["train-00008-0", "train-00009-0"]
    assert not {u.transcript for u in extra} & {u.transcript for u in plan}
    assert not any(is_held_out(u.rendition.voice) for u in extra)
    with pytest.raises(ValueError, match="split train needs 3 distinct sentences, only 2"):
        plan_corpus(SENTENCES, dataclasses.replace(larger, extra_train_sentences=3))


def test_the_large_size_is_the_full_size_plus_training_sentences():
    full, large = SIZES["full"], SIZES["large"]
    assert dataclasses.replace(large, extra_train_sentences=0) == full
    assert large.extra_train_sentences > 0


def test_too_few_sentences_for_the_size_is_a_clear_error():
    with pytest.raises(ValueError, match="split train needs 8 distinct sentences, only 3"):
        plan_corpus(SENTENCES[:3], SIZES["tiny"])


def test_each_split_draws_from_its_family_of_the_shared_split():
    family = {t: "train" if i < 8 else "valid" if i < 10 else "test"
              for i, (_, t) in enumerate(SENTENCES)}
    plan = plan_corpus(SENTENCES, SIZES["tiny"], seed=1, family_of=family.__getitem__)
    expected = {"train": "train", "dev": "valid", "test": "test", "test_unseen_voice": "test"}
    assert all(family[u.transcript] == expected[u.split] for u in plan)


def test_missing_engines_say_how_to_install_them(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        SynthEngineMissing, match="espeak-ng and flite not found.*apt-get install espeak-ng flite"
    ):
        synthesize_corpus(tmp_path / "out", "tiny", sentences=SENTENCES)


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth_tiny")
    info = synthesize_corpus(out, "tiny", seed=0, jobs=2, sentences=SENTENCES, progress=False)
    return out, info


@needs_engines
def test_tiny_corpus_has_one_manifest_per_split_with_16k_mono_audio(tiny_corpus):
    out, info = tiny_corpus
    assert info["failures"] == []
    assert info["utterances"] == {"train": 16, "dev": 2, "test": 2, "test_unseen_voice": 2}
    for split in SPLITS:
        for utt in read_manifest(out / f"{split}.jsonl"):
            header = sf.info(str(utt.audio))
            assert (header.samplerate, header.channels) == (16_000, 1)
            assert header.duration == pytest.approx(utt.duration, abs=1e-3) and utt.duration > 0.3
            assert utt.text in {transcript for _, transcript in SENTENCES}
    assert json.loads((out / "synth_info.json").read_text())["utterances"] == info["utterances"]


@needs_engines
def test_tiny_corpus_splits_share_no_sentence_and_training_has_no_held_out_voice(tiny_corpus):
    out, _ = tiny_corpus
    manifests = {split: read_manifest(out / f"{split}.jsonl") for split in SPLITS}
    texts = {split: {u.text for u in utts} for split, utts in manifests.items()}
    assert sum(len(t) for t in texts.values()) == len(set().union(*texts.values()))
    assert not any(
        is_held_out(u.speaker) for split in ("train", "dev", "test") for u in manifests[split]
    )
    assert all(is_held_out(u.speaker) for u in manifests["test_unseen_voice"])
    assert {u.speaker.split("-")[0] for u in manifests["train"]} == {"espeak", "flite"}


@needs_engines
def test_a_failing_utterance_is_reported_and_skipped(tmp_path, monkeypatch):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "flite").write_text("#!/bin/sh\necho 'flite: broken on purpose' >&2\nexit 3\n")
    (fake_bin / "flite").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:{os.environ['PATH']}")
    info = synthesize_corpus(
        tmp_path / "out", "tiny", seed=0, jobs=2, sentences=SENTENCES, progress=False
    )
    planned_flite = sum(
        u.rendition.engine == "flite" for u in plan_corpus(SENTENCES, SIZES["tiny"], seed=0)
    )
    assert planned_flite > 0 and len(info["failures"]) == planned_flite
    assert "broken on purpose" in info["failures"][0]
    assert sum(info["utterances"].values()) == 22 - planned_flite


@pytest.mark.skipif(
    not os.path.isfile("/usr/share/trans/de-en"),
    reason="Ding dictionary not installed (apt-get install trans-de-en)",
)
def test_the_ding_dictionary_gives_enough_plain_sentences_for_the_full_and_large_sizes():
    from asr.data.synth import ding_sentences
    from echoformer.data.split import ding_split

    sentences = ding_sentences()
    for size in ("full", "large"):  # each split from its family of the shared split
        plan = plan_corpus(sentences, SIZES[size], family_of=ding_split)
        assert len({u.transcript for u in plan if u.split == "train"}) == (
            SIZES[size].train_sentences + SIZES[size].extra_train_sentences)
    assert all(
        plain_sentence_transcript(spoken) == transcript for spoken, transcript in sentences[:100]
    )
