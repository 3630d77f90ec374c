"""Text for the ASR language model (`asr.lm`), in the ASR's transcript form
(`normalize_transcript`: lower case, no punctuation).

Dictionary text (`write_lm_text`; `python -m asr.data.prepare lm-text`): every `;`
alternative of every English part of the Ding dictionary (words, phrases and sentences, ~390K
parts), dictionary placeholders and remarks removed. The lines go to the shared Ding split's
train and valid families (`echoformer.data.split.ding_split`), so the ASR test sentences (test
family) are never LM training text; besides, any line that holds an excluded transcript (the
ASR dev and test manifests') as a run of its words is left out, so a longer dictionary phrase
cannot carry a test sentence in. `--sentence-copies K` repeats the sentence-like lines (4
words or more) K extra times in the training text; lm_valid_sentences.txt holds the valid
ones alone.

Broad text (`write_broad_lm_text`; `python -m asr.data.lm_text --broad`): the dictionary's
lines plus the sentence-like prose (`prose_line`) of plain English text files (the English
side of the NMT corpus) and of English man pages (rendered with groff), small numbers spelt
out as the real-speech transcripts have them. Every line goes through the same split and the
held-out check (`HeldOut`: equal to an excluded transcript, or holding one of 4+ words), and
is kept once: lm_text_summary.json counts, per source, what was kept and what was dropped,
and why.

    python -m asr.data.lm_text --broad --out data/lm_broad \\
        --exclude data/synth_asr_large/{dev,test,test_unseen_voice}.jsonl \\
        data/real_speech/real_{dev,test}.jsonl \\
        [--english data/debian_nmt/train.en] [--man-pages data/harvest/tree]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from echoformer.data.ding import DING_PATH, iter_ding_pairs, plain_alternative
from echoformer.data.split import ding_split
from echoformer.text_norm import normalize_text, normalize_transcript


def lm_line(alternative: str) -> str | None:
    """The ASR form of one dictionary alternative (`plain_alternative`), or None when no plain
    words are left (digits, symbols, non-Latin letters: `normalize_transcript` refuses them)."""
    text = plain_alternative(alternative)
    return (normalize_transcript(text) or None) if text else None


def contains_any(line: str, excluded: set[str], longest: int) -> bool:
    """Whether a run of `line`'s words (up to `longest` words) is one of `excluded`."""
    words = line.split()
    for start in range(len(words)):
        for end in range(start + 1, min(len(words), start + longest) + 1):
            if " ".join(words[start:end]) in excluded:
                return True
    return False


def ding_lm_lines(english_parts: Iterable[str], excluded: Iterable[str] = ()
                  ) -> dict[str, list[str]]:
    """Distinct LM lines of `english_parts` by shared split family: {"train": [...],
    "valid": [...]} in input order; test-family lines and lines holding an `excluded`
    transcript are dropped."""
    excluded = {e for e in excluded if e}
    longest = max((len(e.split()) for e in excluded), default=0)
    families: dict[str, dict[str, None]] = {"train": {}, "valid": {}}
    for part in english_parts:
        for alternative in part.split(";"):
            line = lm_line(alternative)
            if line is None:
                continue
            family = ding_split(line)
            if family == "test" or line in families.get(family, {}):
                continue
            if excluded and contains_any(line, excluded, longest):
                continue
            families[family][line] = None
    return {family: list(lines) for family, lines in families.items()}


def english_parts(path: str | Path = DING_PATH) -> Iterator[str]:
    """The English side of every aligned part of the Ding file."""
    return (english for _, english in iter_ding_pairs(path))


SENTENCE_WORDS = 4  # a line of this many words or more counts as sentence-like


def sentence_like(line: str) -> bool:
    return len(line.split()) >= SENTENCE_WORDS


def weighted(lines: Iterable[str], sentence_copies: int) -> Iterator[str]:
    """`lines` with each sentence-like one (≥ SENTENCE_WORDS words) given `sentence_copies`
    extra copies in place: the dictionary's words and short phrases outnumber its sentences
    six to one, while speech is sentences."""
    for line in lines:
        yield from [line] * (1 + (sentence_copies if sentence_like(line) else 0))


def write_lm_text(out_dir: Path, excluded: Iterable[str], ding_path: str | Path = DING_PATH,
                  sentence_copies: int = 0) -> dict[str, object]:
    """lm_train.txt (sentence-like lines `sentence_copies` extra times), lm_valid.txt and
    lm_valid_sentences.txt (its sentence-like lines) in `out_dir`; returns their counts."""
    if sentence_copies < 0:
        raise ValueError(f"--sentence-copies {sentence_copies}: use 0 or more")
    families = ding_lm_lines(english_parts(ding_path), excluded)
    texts = {"lm_train": list(weighted(families["train"], sentence_copies)),
             "lm_valid": families["valid"],
             "lm_valid_sentences": [line for line in families["valid"] if sentence_like(line)]}
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, object] = {}
    for name, lines in texts.items():
        path = out_dir / f"{name}.txt"
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        summary[name] = {"path": str(path), "lines": len(lines),
                         "words": sum(len(line.split()) for line in lines)}
    return summary


# Broad text: prose lines of other English sources beside the dictionary's.

PROSE_MAX_WORDS = 40  # longer lines are lists and run-on paragraphs, not sentences
MAX_VALID_LINES = 5000
ENGLISH_TEXT = Path("data/debian_nmt/train.en")
MAN_PAGE_TREES = Path("data/harvest/tree")

_CODE = re.compile(
    r"%[-+ #0-9.lhz]*[a-zA-Z(]|%\d"  # printf / Qt placeholders
    r"|[{}\[\]<>_*|\\/=@#$~^&`+]"  # markup, paths, code and spoken symbols
    r"|(?:^|[\s(])--?[A-Za-z]"  # command-line options
    r"|\w\.\w|\w\(|::|\.\.\.|https?:|www\.")  # file names, e.g., calls, URLs, ellipses
_IDENTIFIER = re.compile(r"[A-Z]{2,}|[a-z][A-Z]")  # acronyms, CamelCase names
_VOWEL = re.compile(r"[aeiouy]")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])|\s{2,}")
PROSE_ABBREVIATIONS = frozenset(  # read differently from written
    "eg ie etc vs approx sb sth mr mrs ms dr st jr sr co inc ltd".split())
SINGLE_LETTER_WORDS = frozenset({"a", "i"})


def prose_line(raw: str) -> tuple[str | None, str]:
    """(transcript form, "") of a sentence-like line of prose, or (None, why it is not one).

    Refused: code and markup (placeholders `%s` `{x}`, paths, options `--x`, file names,
    URLs), acronyms and CamelCase names, digits other than whole numbers 0-99 standing alone
    (spelt out with num2words, as `asr.data.real_speech` does), abbreviations, words that are
    not words (no vowel, single letters other than a and i), fewer than SENTENCE_WORDS or
    more than PROSE_MAX_WORDS words."""
    from asr.data.real_speech import spell_small_numbers

    raw = normalize_text(raw)
    if _CODE.search(raw):
        return None, "code or markup"
    if _IDENTIFIER.search(raw):
        return None, "acronym or identifier"
    line = normalize_transcript(spell_small_numbers(raw))
    if line is None:
        return None, "digits or symbols"
    words = line.split()
    if len(words) < SENTENCE_WORDS:
        return None, f"under {SENTENCE_WORDS} words"
    if len(words) > PROSE_MAX_WORDS:
        return None, f"over {PROSE_MAX_WORDS} words"
    if PROSE_ABBREVIATIONS.intersection(words):
        return None, "abbreviation"
    if any(not _VOWEL.search(w) if len(w) > 1 else w not in SINGLE_LETTER_WORDS for w in words):
        return None, "not a word"
    return line, ""


def split_sentences(paragraph: str) -> list[str]:
    """A paragraph's sentences: breaks after `.?!` followed by a capital or a quote, and at
    runs of spaces (groff sets a `.TP` tag apart from its text so)."""
    return [s for s in _SENTENCE_BREAK.split(paragraph.strip()) if s]


class HeldOut:
    """Transcripts (ASR dev and test sets) that no LM line may equal, nor, for those of
    SENTENCE_WORDS words or more, hold as a run of its words: a single-word test item such
    as "camel" only keeps the line "camel" out."""

    def __init__(self, transcripts: Iterable[str]) -> None:
        self.exact = {t for t in (normalize_transcript(t) or t for t in transcripts) if t}
        self._by_start: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for transcript in self.exact:
            words = tuple(transcript.split())
            if len(words) >= SENTENCE_WORDS:
                self._by_start.setdefault(words[:SENTENCE_WORDS], []).append(words)

    def verdict(self, line: str) -> str:
        """"held out: equal", "held out: contains" or "" (the line may be LM text)."""
        if line in self.exact:
            return "held out: equal"
        words = tuple(line.split())
        for start in range(len(words) - SENTENCE_WORDS + 1):
            for held in self._by_start.get(words[start:start + SENTENCE_WORDS], ()):
                if words[start:start + len(held)] == held:
                    return "held out: contains"
        return ""


Candidates = Iterator[tuple[str | None, str]]  # (LM line, "") or (None, why it was dropped)


def ding_candidates(parts: Iterable[str]) -> Candidates:
    """Each `;` alternative of the dictionary's English parts, as `ding_lm_lines` reads it."""
    for part in parts:
        for alternative in part.split(";"):
            line = lm_line(alternative)
            yield (line, "") if line else (None, "no plain words")


def prose_candidates(raw_lines: Iterable[str]) -> Candidates:
    return (prose_line(raw) for raw in raw_lines)


def text_file_lines(path: Path) -> Iterator[str]:
    if not path.is_file():
        raise FileNotFoundError(f"--english {path} not found; build it first (the NMT "
                                "corpus: recipes/debian_nmt/run.sh) or leave it out")
    with path.open(encoding="utf-8", errors="replace") as lines:
        yield from lines


def english_man_pages(roots: Iterable[Path]) -> list[Path]:
    """English man pages under `roots` (`.../man/manN/NAME`; translations sit in
    `man/LANG/manN`), one per file name, `.so` links left out."""
    pages: dict[str, Path] = {}
    for root in roots:
        if not root.is_dir():
            raise FileNotFoundError(f"--man-pages {root}: no such folder (the harvest cache's "
                                    "unpacked packages: recipes/debian_nmt/run.sh stage 1)")
        for path in sorted(root.glob("**/man/man*/*")):
            if path.is_file() and not path.name.startswith("."):
                pages.setdefault(path.name, path)
    return [path for name, path in sorted(pages.items()) if not _is_link(path)]


def _roff(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _is_link(path: Path) -> bool:
    return _roff(path).lstrip().startswith(b".so ")


def render_man_page(path: Path) -> str:
    """The page as groff prints it for a terminal, one paragraph a line (no wrapping, no
    hyphenation, no bold or underline)."""
    done = subprocess.run(["groff", "-man", "-Tutf8", "-P-cbou", "-rLL=100000n", "-rHY=0"],
                          input=_roff(path), capture_output=True, timeout=60)
    return done.stdout.decode("utf-8", errors="replace")


def man_page_sentences(pages: Iterable[Path]) -> Iterator[str]:
    for page in pages:
        for paragraph in render_man_page(page).splitlines():
            yield from split_sentences(paragraph)


def broad_lm_lines(sources: dict[str, Candidates], held_out: HeldOut
                   ) -> tuple[dict[str, list[str]], dict[str, dict]]:
    """Distinct LM lines of the `sources` (name -> candidates, in order: a line is counted
    for the first source that has it) by shared split family {"train": [...], "valid": [...]},
    and per source what it gave and what it lost: not an LM line (by reason), duplicates,
    the split's test family, held out (equal / contains)."""
    families: dict[str, list[str]] = {"train": [], "valid": []}
    seen: set[str] = set()
    counts: dict[str, dict] = {}
    for name, candidates in sources.items():
        dropped, kept, read = Counter(), Counter(), 0
        for read, (line, reason) in enumerate(candidates, 1):
            if line is not None and line in seen:
                reason = "duplicate"
            elif line is not None:
                seen.add(line)
                family = ding_split(line)
                reason = "test family" if family == "test" else held_out.verdict(line)
            if reason:
                dropped[reason] += 1
                continue
            families[family].append(line)
            kept[f"{family}_lines"] += 1
            kept[f"{family}_words"] += len(line.split())
        counts[name] = {"read": read, **{key: kept[key] for key in (
            "train_lines", "valid_lines", "train_words", "valid_words")},
            "dropped": dict(dropped.most_common())}
    return families, counts


def evenly(lines: list[str], at_most: int) -> list[str]:
    """At most `at_most` of `lines`, evenly spaced (so each source keeps its share)."""
    step = max(1, -(-len(lines) // at_most)) if at_most > 0 else len(lines) + 1
    return lines[::step][:at_most]


def write_broad_lm_text(out_dir: Path, excluded: Iterable[str],
                        ding_path: str | Path | None = DING_PATH,
                        english_files: Iterable[Path] = (), man_roots: Iterable[Path] = (),
                        sentence_copies: int = 0, max_valid_lines: int = MAX_VALID_LINES
                        ) -> dict[str, object]:
    """lm_train.txt, lm_valid.txt (at most `max_valid_lines` of the valid family, evenly
    spaced), lm_valid_sentences.txt and lm_text_summary.json in `out_dir` from the Ding
    dictionary (None: left out), `english_files` and the English man pages under
    `man_roots`; returns the summary."""
    if sentence_copies < 0:
        raise ValueError(f"--sentence-copies {sentence_copies}: use 0 or more")
    if max_valid_lines < 1:
        raise ValueError(f"--max-valid-lines {max_valid_lines}: use 1 or more")
    held_out = HeldOut(excluded)
    sources: dict[str, Candidates] = {}
    if ding_path is not None:
        sources["ding"] = ding_candidates(english_parts(ding_path))
    for path in english_files:
        sources[str(path)] = prose_candidates(text_file_lines(Path(path)))
    man_roots = list(man_roots)
    if man_roots and shutil.which("groff") is None:
        raise FileNotFoundError("groff not found: install the Debian package groff-base, or "
                                "leave out --man-pages")
    pages = english_man_pages(man_roots) if man_roots else []
    if pages:
        sources["man_pages"] = prose_candidates(man_page_sentences(pages))
    if not sources:
        raise ValueError("no source: give --ding, --english or --man-pages")
    families, per_source = broad_lm_lines(sources, held_out)
    if "man_pages" in per_source:
        per_source["man_pages"]["pages"] = len(pages)
    valid = evenly(families["valid"], max_valid_lines)
    texts = {"lm_train": list(weighted(families["train"], sentence_copies)),
             "lm_valid": valid,
             "lm_valid_sentences": [line for line in valid if sentence_like(line)]}
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, object] = {"excluded_transcripts": len(held_out.exact),
                                  "valid_family_lines": len(families["valid"])}
    for name, lines in texts.items():
        path = out_dir / f"{name}.txt"
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        summary[name] = {"path": str(path), "lines": len(lines),
                         "words": sum(len(line.split()) for line in lines)}
    summary["sources"] = per_source
    (out_dir / "lm_text_summary.json").write_text(json.dumps(summary, indent=2) + "\n",
                                                   encoding="utf-8")
    return summary


def excluded_transcripts(manifests: Iterable[Path]) -> list[str]:
    from asr.data.manifest import read_manifest

    return [utt.text for manifest in manifests
            for utt in read_manifest(manifest, check_audio=False)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m asr.data.lm_text", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--exclude", type=Path, nargs="*", default=[], metavar="MANIFEST",
                        help="manifests whose transcripts no LM line may be (or contain, "
                             "4+ words): the ASR dev and test sets")
    parser.add_argument("--ding", type=Path, default=DING_PATH,
                        help="the Ding dictionary file (Debian package trans-de-en)")
    parser.add_argument("--no-ding", action="store_true", help="leave the dictionary out "
                        "(--broad only)")
    parser.add_argument("--broad", action="store_true",
                        help="add the prose of --english and --man-pages to the dictionary")
    parser.add_argument("--english", type=Path, nargs="*", default=None, metavar="FILE",
                        help=f"plain English text files, one line a message or sentence "
                             f"(--broad; default {ENGLISH_TEXT}, the NMT corpus)")
    parser.add_argument("--man-pages", type=Path, nargs="*", default=None, metavar="DIR",
                        help=f"folders holding man/manN/ page trees (--broad; default "
                             f"{MAN_PAGE_TREES}, the harvest cache; needs groff)")
    parser.add_argument("--sentence-copies", type=int, default=0, metavar="K",
                        help="extra copies of each sentence-like training line (4+ words)")
    parser.add_argument("--max-valid-lines", type=int, default=MAX_VALID_LINES, metavar="N",
                        help=f"--broad: lm_valid.txt keeps at most N of the valid family's "
                             f"lines, evenly spaced (default {MAX_VALID_LINES})")
    return parser


def run(args: argparse.Namespace) -> dict[str, object]:
    excluded = excluded_transcripts(args.exclude)
    if not args.broad:
        given = [name for name in ("english", "man_pages", "no_ding") if getattr(args, name)
                 not in (None, False)]
        if given:
            raise ValueError(f"--{given[0].replace('_', '-')} needs --broad")
        return {"excluded_transcripts": len(excluded),
                **write_lm_text(args.out, excluded, args.ding, args.sentence_copies)}
    english = [ENGLISH_TEXT] if args.english is None else args.english
    man_roots = [MAN_PAGE_TREES] if args.man_pages is None else args.man_pages
    return write_broad_lm_text(args.out, excluded, None if args.no_ding else args.ding, english,
                               man_roots, args.sentence_copies, args.max_valid_lines)


def main(argv: list[str] | None = None) -> int:
    from asr.data.manifest import ManifestError

    args = build_parser().parse_args(argv)
    try:
        summary = run(args)
    except (ManifestError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
