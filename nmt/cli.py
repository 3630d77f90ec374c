"""Console scripts of the machine-translation task (see pyproject.toml)."""

from __future__ import annotations

import sys


def train_main() -> None:
    """`nmt-train`: a Hydra app (conf/nmt_train.yaml)."""
    from nmt.train import main

    main()


def translate_main() -> None:
    """`nmt-translate --model DIR [options] [FILE...]`."""
    from nmt.translate import main

    sys.exit(main())
