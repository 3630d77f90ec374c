"""Command-line entry points whose task is not built yet: a real --help, then a plain no."""

from __future__ import annotations

import argparse
import sys


def not_built(prog: str, usage: str, description: str, issue: str):
    """A `main()` that explains the command and exits 1 because it is not built yet."""

    def main(argv: list[str] | None = None) -> None:
        parser = argparse.ArgumentParser(
            prog=prog, usage=usage, description=description,
            epilog=f"Status: not built yet ({issue}). Nothing is run.")
        parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
        parser.parse_known_args(argv)
        sys.exit(f"{prog}: not built yet ({issue}); see README.md for what works now.")

    return main
