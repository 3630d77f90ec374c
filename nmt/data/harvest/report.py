"""Markdown tables of a harvested corpus: pairs per source and split, and what each cleaning
rule dropped, from the corpus's ``stats.json`` (and the harvest cache's ``harvest.json``)."""

from __future__ import annotations

CHANGES = ("accelerator", "markup", "placeholders_kept", "split_paragraphs", "split_sentences")
RULES = ("untranslated", "duplicate", "no_text", "placeholder_mismatch", "german_reads_english",
         "english_reads_german", "length", "credits", "ding_heldout", "eval_english")


def _row(cells) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _number(value: int) -> str:
    return f"{value:,}"


def corpus_tables(stats: dict, harvest: dict | None = None) -> str:
    """Three tables: per source the raw messages (and documents aligned), pairs kept,
    sentence-like, train/valid/test; per source the pairs each rule dropped; per source the
    pairs each rule changed. Totals in the last row."""
    harvest = harvest or {}
    sources = stats["sources"]
    head = ["source", "raw messages", "documents aligned", "pairs kept", "sentence-like",
            "train", "valid", "test"]
    lines = [_row(head), _row(["---"] + ["---:"] * (len(head) - 1))]
    totals = dict.fromkeys(("messages", "kept", "sentence_like", "train", "valid", "test"), 0)
    for name, counts in sources.items():
        extracted = harvest.get(f"extract:{name}", {})
        aligned = extracted.get("documents_aligned")
        read = (aligned or 0) + sum(extracted.get(key, 0) for key in
                                    ("documents_not_aligned", "unreadable_documents",
                                     "empty_documents"))
        documents = "" if aligned is None else f"{aligned:,} / {read:,}"
        lines.append(_row([f"`{name}`", _number(counts["messages"]), documents]
                          + [_number(counts[key]) for key in
                             ("kept", "sentence_like", "train", "valid", "test")]))
        for key in totals:
            totals[key] += counts[key]
    lines.append(_row(["**total**", f"**{_number(totals['messages'])}**", ""]
                      + [f"**{_number(totals[key])}**" for key in
                         ("kept", "sentence_like", "train", "valid", "test")]))
    dropped = _rule_table(sources, "dropped", [rule for rule in RULES if any(
        rule in counts["dropped"] for counts in sources.values())])
    changed = _rule_table(sources, "changed", list(CHANGES))
    return ("\n".join(lines) + "\n\nPairs dropped, per rule:\n\n" + dropped
            + "\nPairs changed (kept), per rule:\n\n" + changed)


def _rule_table(sources: dict, field: str, rules: list[str]) -> str:
    table = [_row(["source"] + rules), _row(["---"] + ["---:"] * len(rules))]
    for name, counts in sources.items():
        table.append(_row([f"`{name}`"] + [_number(counts[field].get(rule, 0))
                                           for rule in rules]))
    table.append(_row(["**total**"] + [_number(sum(counts[field].get(rule, 0)
                                                    for counts in sources.values()))
                                       for rule in rules]))
    return "\n".join(table) + "\n"
