"""What the command-line tools share at the edge of the program: output cut off by the reader.

`asr-transcribe *.wav | head -3`: once `head` has its lines and exits, the next write to
stdout fails with BrokenPipeError. That is the reader's choice, not an error to show with a
traceback: `stops_quietly_on_closed_stdout` ends the tool with status 1 and nothing on stderr.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def stops_quietly_on_closed_stdout(main: Callable[P, R]) -> Callable[P, R]:
    """Wrap a tool's main function: a closed stdout ends it with SystemExit(1), no traceback.

    Python's documented recipe (the `signal` module's notes on SIGPIPE): stdout is pointed at
    /dev/null, so that the flush at interpreter exit does not fail a second time.
    """

    @functools.wraps(main)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            try:
                return main(*args, **kwargs)
            finally:  # also on sys.exit: the last lines' failure is caught here, not at exit
                sys.stdout.flush()
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            raise SystemExit(1) from None

    return wrapper
