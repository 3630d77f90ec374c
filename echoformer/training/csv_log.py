"""Training log as CSV: one row per logged interval or validation, appended across resumes."""

from __future__ import annotations

import csv
from pathlib import Path

COLUMNS = ("step", "epoch", "split", "loss", "nll", "ppl", "lr", "tokens_per_s", "elapsed_s",
           "skipped_updates")


class CSVLog:
    """Appends rows (dicts) to `path`. The header, written once, is `COLUMNS` and then any
    other metric names of the first row (e.g. a task's extra losses); later unknown keys
    are left out."""

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
        with open(self.path, "a", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=self.columns, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow({key: _format(value) for key, value in row.items()})


def _format(value):
    return f"{value:.6g}" if isinstance(value, float) else value
