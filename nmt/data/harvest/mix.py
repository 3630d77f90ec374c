"""Stage 4: the training mix of the large-vocabulary model. The harvested corpus is mostly
software messages and documentation; the Ding corpus (``nmt.data.prepare ding``) holds the
everyday dictionary sentences its test split measures. The mix is the harvested train plus
``copies`` copies of the Ding train (its valid/test English was held out of the harvested
train by stage 2), the harvested valid plus the Ding valid (``valid.source`` names ``ding``),
and the harvested multi-domain test; the Ding test stays in the Ding folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from nmt.data.prepare import STATS_FILE

DING_SOURCE = "ding"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _need(folder: Path, names: list[str], hint: str) -> None:
    for name in names:
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name} not found: {hint}")


def mix_corpus(corpus: Path, ding: Path, out: Path, copies: int = 3) -> dict:
    """Write the mix to ``out`` (``{train,valid,test}.{en,de}``, ``{valid,test}.source``,
    ``stats.json``) and return its stats."""
    if copies < 0:
        raise ValueError(f"--ding-copies {copies}: give 0 or more copies of the Ding train.")
    files = [f"{split}.{lang}" for split in ("train", "valid", "test") for lang in ("en", "de")]
    _need(Path(corpus), files + ["valid.source", "test.source"],
          "build the harvested corpus first (recipes/debian_nmt/run.sh --stop-stage 2).")
    _need(Path(ding), files, f"build the Ding corpus first "
                             f"(python -m nmt.data.prepare ding --out {ding}).")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = {}
    for lang in ("en", "de"):
        train = _lines(corpus / f"train.{lang}") + _lines(ding / f"train.{lang}") * copies
        valid = _lines(corpus / f"valid.{lang}") + _lines(ding / f"valid.{lang}")
        (out / f"train.{lang}").write_text("".join(s + "\n" for s in train), encoding="utf-8")
        (out / f"valid.{lang}").write_text("".join(s + "\n" for s in valid), encoding="utf-8")
        shutil.copyfile(corpus / f"test.{lang}", out / f"test.{lang}")
        sizes.update(train=len(train), valid=len(valid))
    ding_valid = len(_lines(ding / "valid.en"))
    (out / "valid.source").write_text(
        (corpus / "valid.source").read_text() + "".join(DING_SOURCE + "\n"
                                                        for _ in range(ding_valid)))
    shutil.copyfile(corpus / "test.source", out / "test.source")
    stats = {"mode": "mix", "langs": ["en", "de"],
             "corpus": json.loads((corpus / STATS_FILE).read_text()) if
             (corpus / STATS_FILE).is_file() else None,
             "ding": {"folder": str(ding), "copies": copies,
                      "train_pairs": len(_lines(ding / "train.en")), "valid_pairs": ding_valid},
             "pairs": {"train": sizes["train"], "valid": sizes["valid"],
                       "test": len(_lines(out / "test.en"))}}
    (out / STATS_FILE).write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    return stats
