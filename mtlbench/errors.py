"""User-facing errors: one line naming the problem and the fix, never a traceback."""
from __future__ import annotations


class MtlbenchError(Exception):
    """A mistake in the user's input. The CLI prints ``str(err)`` on one line and exits 2.

    Raise it with a message that says what is wrong *and* how to fix it.
    """

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))


class DivergedError(RuntimeError):
    """Training produced a non-finite loss; the run is recorded as failed, never crashes a sweep."""
