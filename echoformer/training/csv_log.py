"""Training log as CSV: one row per logged interval or validation, appended across resumes."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from echoformer.atomic_file import atomic_write

COLUMNS = ("step", "epoch", "split", "loss", "nll", "ppl", "lr", "tokens_per_s", "elapsed_s",
           "skipped_updates")


class CSVLog:
    """Appends rows (dicts) to `path`. The header is `COLUMNS` and then any other metric
    names of the first row (e.g. a task's extra losses); a later row with new names (e.g. the
    first validation's BLEU) widens it: the file is rewritten once with the new columns,
    empty in the rows before."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.columns: list[str] | None = None
        if self.path.is_file() and self.path.stat().st_size:
            with open(self.path, newline="", encoding="utf-8") as stream:
                self.columns = next(csv.reader(stream), None)

    def write(self, row: dict) -> None:
        new = self.columns is None
        if new:
            self.columns = list(COLUMNS) + sorted(set(row) - set(COLUMNS))
        elif set(row) - set(self.columns):
            self._widen(sorted(set(row) - set(self.columns)))
        with open(self.path, "a", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=self.columns, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow({key: _format(value) for key, value in row.items()})

    def _widen(self, names: list[str]) -> None:
        rows = self._rows(self.path.read_text(encoding="utf-8").splitlines(keepends=True))
        self.columns = self.columns + names
        self._rewrite(rows)

    def _rows(self, lines: list[str]) -> list[dict]:
        return list(csv.DictReader(lines[1:], fieldnames=self.columns))

    def _rewrite(self, rows: list[dict]) -> None:
        out = io.StringIO(newline="")
        writer = csv.DictWriter(out, fieldnames=self.columns)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write(self.path, lambda stream: stream.write(out.getvalue().encode("utf-8")))

    def drop_after(self, step: int) -> int:
        """Remove the rows of steps after `step` (logged after the checkpoint a resumed run
        starts from) and a last line cut short by a crash, so that every step appears once;
        returns how many rows went."""
        if self.columns is None:
            return 0
        text = self.path.read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        complete = lines if text.endswith("\n") else lines[:-1]
        rows = self._rows(complete)
        kept = [row for row in rows if _step(row) <= step]
        if len(complete) < len(lines) or len(kept) < len(rows):
            self._rewrite(kept)
        return len(lines) - 1 - len(kept)


def _step(row: dict) -> int:
    try:
        return int(row["step"])
    except (TypeError, ValueError):
        return -1


def _format(value):
    return f"{value:.6g}" if isinstance(value, float) else value
