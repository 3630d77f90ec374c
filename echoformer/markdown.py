"""Markdown tables for reports (bench, demo, asr-score); no plotting imports."""


def markdown_rows(header: list[str], rows: list[list]) -> str:
    """A markdown table of cells already formatted (None shows as empty; `|` is escaped)."""
    def line(cells) -> str:
        return "| " + " | ".join("" if c is None else str(c).replace("|", "\\|")
                                 for c in cells) + " |"
    return "\n".join([line(header), "|" + "|".join("---:" for _ in header) + "|",
                      *map(line, rows)])
