"""(english, german) blocks of documentation shipped in both languages, aligned by structure.

A document is read as a list of text blocks (headings, paragraphs, list items, table cells,
titles). Two documents are aligned by element id where the blocks carry ids (LibreOffice
help: ``<p id="par_id…">``), else block by block when both have the same number of blocks;
documents whose block structure differs give nothing (counted by the caller).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser
from pathlib import Path

Block = tuple[str | None, str]  # (element id or None, text)

HTML_BLOCKS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "th", "dt", "dd",
                         "title", "caption", "figcaption", "blockquote"})
HTML_SKIPPED = frozenset({"script", "style", "pre", "header", "nav", "aside", "footer", "head"})
# DocBook-XSL and Sphinx navigation bars are the same in every page.
SKIPPED_CLASSES = frozenset({"navheader", "navfooter", "toc", "lof", "lot", "sphinxsidebar",
                             "related", "headerlink", "footer"})
# Publican (the Debian Administrator's Handbook) writes paragraphs as <div class="para">.
BLOCK_CLASSES = frozenset({"para", "simpara"})
MALLARD_BLOCKS = frozenset({"title", "subtitle", "p", "desc", "caption"})
MALLARD_SKIPPED = frozenset({"code", "screen", "info", "synopsis", "media"})


class _BlockParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._text: list[str] = []
        self._id: str | None = None
        self._skip = 0
        # (tag, whether it started a skipped region, whether it is a block)
        self._open: list[tuple[str, bool, bool]] = []

    def _flush(self) -> None:
        text = " ".join("".join(self._text).split())
        if text:
            self.blocks.append((self._id, text))
        self._text, self._id = [], None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        skipped = tag in HTML_SKIPPED or bool(classes & SKIPPED_CLASSES)
        block = tag in HTML_BLOCKS or (tag == "div" and bool(classes & BLOCK_CLASSES))
        if tag not in {"br", "img", "meta", "link", "input", "hr", "base", "col", "wbr"}:
            self._open.append((tag, skipped, block))
            self._skip += skipped
        if block and not self._skip:
            self._flush()
            self._id = attributes.get("id")

    def handle_endtag(self, tag):
        # Close up to the matching start tag (HTML leaves some end tags out).
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index][0] == tag:
                if any(block for _, _, block in self._open[index:]) and not self._skip:
                    self._flush()
                for _, skipped, _ in self._open[index:]:
                    self._skip -= skipped
                del self._open[index:]
                break

    def handle_data(self, data):
        if not self._skip:
            self._text.append(data)


def html_blocks(text: str) -> list[Block]:
    """Text blocks of an HTML page, navigation and code left out."""
    parser = _BlockParser()
    parser.feed(text)
    parser.close()
    parser._flush()
    return parser.blocks


def mallard_blocks(text: str) -> list[Block]:
    """Text blocks of a Mallard ``.page`` (or any XML help page): titles, paragraphs,
    descriptions; code, screens and ``<info>`` left out. Raises ``ValueError`` on bad XML."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise ValueError(f"not well-formed XML: {error}") from error
    blocks: list[Block] = []

    def walk(element) -> None:
        name = element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""
        if name in MALLARD_SKIPPED:
            return
        if name in MALLARD_BLOCKS and not any(
                isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] in MALLARD_BLOCKS
                for child in element):
            text = " ".join("".join(element.itertext()).split())
            if text:
                blocks.append((element.get("id"), text))
            return
        for child in element:
            walk(child)

    walk(root)
    return blocks


def read_blocks(path: Path) -> list[Block]:
    """Blocks of an HTML (``.html``, ``.htm``, ``.xhp``) or XML (``.page``, ``.xml``) file."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    return html_blocks(text) if Path(path).suffix in {".html", ".htm"} else mallard_blocks(text)


def align_blocks(english: list[Block], german: list[Block]) -> list[tuple[str, str]] | None:
    """Block pairs by id when most English blocks carry one, else in order when the counts
    match; None when the structures differ."""
    with_id = [block for block in english if block[0]]
    if english and len(with_id) * 2 >= len(english):
        german_by_id: dict[str, str] = {}
        for block_id, text in german:
            if block_id:
                german_by_id.setdefault(block_id, text)
        pairs = [(text, german_by_id[block_id]) for block_id, text in with_id
                 if block_id in german_by_id]
        return pairs or None
    if len(english) != len(german) or not english:
        return None
    return [(en, de) for (_, en), (_, de) in zip(english, german)]
