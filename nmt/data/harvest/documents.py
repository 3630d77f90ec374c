"""(english, german) blocks of documentation shipped in both languages, aligned by structure.

A document is read as a list of text blocks (headings, paragraphs, list items, table cells,
titles). Two documents are aligned by element id where the blocks carry ids (LibreOffice
help: ``<p id="par_id…">``), else block by block when both have the same number of blocks;
documents whose block structure differs give nothing (counted by the caller).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser
from pathlib import Path

from nmt.data.harvest.align import align_by_length
from nmt.data.harvest.manpages import read_man_page

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
DOCBOOK_BLOCKS = frozenset({"title", "subtitle", "para", "simpara", "term", "entry", "caption",
                            "member"})
DOCBOOK_SKIPPED = frozenset({"programlisting", "screen", "synopsis", "literallayout",
                             "articleinfo", "bookinfo", "info", "authorgroup", "legalnotice",
                             "mediaobject", "screenshot", "indexterm", "cmdsynopsis",
                             "funcsynopsis", "shortcut"})
MENU_SEQUENCES = frozenset({"menuchoice", "guiseq", "keyseq"})
_DOCTYPE = re.compile(r"<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>", re.DOTALL)
_ENTITY_DECLARATION = re.compile(r"<!ENTITY\s+([^\s%]+)\s+\"([^\"]*)\"\s*>")
_ENTITY_REFERENCE = re.compile(r"&([A-Za-z][\w.-]*);")
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})


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


def _xml_blocks(root, blocks_named: frozenset, skipped: frozenset) -> list[Block]:
    """Text of the innermost ``blocks_named`` elements under ``root``, in document order,
    ``skipped`` subtrees left out."""
    blocks: list[Block] = []

    def name_of(element) -> str:
        return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""

    def text_of(element) -> str:
        parts = [("" if name_of(child) in skipped else text_of(child)) + (child.tail or "")
                 for child in element]
        if name_of(element) in MENU_SEQUENCES:  # File > Save, not FileSave
            parts = [" > ".join(part.strip() for part in parts if part.strip())]
        return (element.text or "") + "".join(parts)

    def walk(element) -> None:
        name = name_of(element)
        if name in skipped:
            return
        if name in blocks_named and not any(name_of(child) in blocks_named for child in element):
            text = " ".join(text_of(element).split())
            if text:
                blocks.append((element.get("id"), text))
            return
        for child in element:
            walk(child)

    walk(root)
    return blocks


def _parse_xml(text: str):
    try:
        return ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise ValueError(f"not well-formed XML: {error}") from error


def mallard_blocks(text: str) -> list[Block]:
    """Text blocks of a Mallard ``.page``: titles, paragraphs, descriptions; code, screens and
    ``<info>`` left out. Raises ``ValueError`` on bad XML."""
    return _xml_blocks(_parse_xml(text), MALLARD_BLOCKS, MALLARD_SKIPPED)


def expand_entities(text: str) -> str:
    """A DocBook file without its DOCTYPE, the entities it declares expanded and any other
    entity (declared in an external DTD: KDE's ``&kde;``, ``&dolphin;``) replaced by its name,
    capitalised (``KDE``, ``Dolphin``)."""
    doctype = _DOCTYPE.search(text)
    declared = dict(_ENTITY_DECLARATION.findall(doctype.group())) if doctype else {}
    body = text[doctype.end():] if doctype else text

    def expand(match: re.Match) -> str:
        name = match.group(1)
        if name in _XML_ENTITIES:
            return match.group()
        if name in declared:
            return declared[name]
        return name.upper() if len(name) <= 3 else name[0].upper() + name[1:]  # kde → KDE

    for _ in range(3):  # declared entities may refer to other entities
        body = _ENTITY_REFERENCE.sub(expand, body)
    return body


def docbook_blocks(text: str) -> list[Block]:
    """Text blocks of a DocBook file (KDE handbooks): titles, paragraphs, terms, table
    entries; program listings, screens and the book's info left out."""
    return _xml_blocks(_parse_xml(expand_entities(text)), DOCBOOK_BLOCKS, DOCBOOK_SKIPPED)


def read_blocks(path: Path) -> list[Block]:
    """Blocks of an HTML (``.html``, ``.htm``), Mallard (``.page``, or XML in Mallard's
    namespace), DocBook (``.docbook``, other ``.xml``) file or gzipped man page (``.gz``; a
    ``.so`` link gives no blocks)."""
    suffix = Path(path).suffix
    if suffix == ".gz":
        return read_man_page(path) or []
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    if suffix in {".html", ".htm"}:
        return html_blocks(text)
    if suffix == ".page" or "projectmallard.org" in text[:2000]:
        return mallard_blocks(text)
    return docbook_blocks(text)


def align_blocks(english: list[Block], german: list[Block],
                 max_difference: float = 0.05) -> list[tuple[str, str]] | None:
    """Block pairs by id when most English blocks carry one, else in order when the counts
    match, else by length (``align_by_length``) when the counts differ by at most
    ``max_difference`` of the blocks (at least 2); None when the structures differ more."""
    with_id = [block for block in english if block[0]]
    if english and len(with_id) * 2 >= len(english):
        german_by_id: dict[str, str] = {}
        for block_id, text in german:
            if block_id:
                german_by_id.setdefault(block_id, text)
        pairs = [(text, german_by_id[block_id]) for block_id, text in with_id
                 if block_id in german_by_id]
        return pairs or None
    if not english or not german:
        return None
    if len(english) == len(german):
        return [(en, de) for (_, en), (_, de) in zip(english, german)]
    if abs(len(english) - len(german)) > max(2, max_difference * len(english)):
        return None
    return align_by_length([text for _, text in english], [text for _, text in german]) or None
