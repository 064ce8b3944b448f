"""Worker processes that end with the process that started them, however it ends (SIGKILL included).

A driver (``mtlbench run/tune --jobs N``) that is killed runs no Python cleanup, so its workers must notice
on their own. Two independent mechanisms, both set up by ``die_with_parent`` in the worker:

* Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` — the kernel kills the worker when its parent *thread* ends,
  so the driver must start its workers from a thread that lives as long as they do (the main thread, or
  the one that holds the pool until it has shut down). A parent that died before the call is caught by
  comparing ``os.getppid()`` with the driver's pid right after it.
* everywhere: a daemon thread blocks reading a pipe (the ``Lifeline``) whose write end only the driver holds
  and never writes to; the kernel closes it when the driver dies, the read sees EOF and the thread ends the
  worker with ``os._exit``.

What a killed worker leaves behind is safe by construction elsewhere: records and checkpoints are written
atomically (``mtlbench.fsio``; a hidden temporary file is never read as a result), per-key claims are
``flock`` locks the kernel releases at death, and a trial of a dead tuning worker is failed by
``mtlbench.tuning.workers`` before the study resumes.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

#: ``prctl`` option (linux/prctl.h): the signal this process gets when its parent thread ends.
PR_SET_PDEATHSIG = 1
#: Exit status of a worker that ended because its driver was gone.
EXIT_ORPHANED = 70


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent ends (Linux only). Returns whether
    the request was accepted; False elsewhere, or when libc has no ``prctl``."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def watch_lifeline(read_end: Any) -> threading.Thread:
    """Start a daemon thread that ends this process (``os._exit(EXIT_ORPHANED)``) once ``read_end`` — the
    read end of a one-way ``multiprocessing`` pipe whose write end only the parent holds — is at EOF."""

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            read_end.recv_bytes()  # the parent never writes: this returns only when its end is closed
        os._exit(EXIT_ORPHANED)

    thread = threading.Thread(target=watch, name="mtlbench-lifeline", daemon=True)
    thread.start()
    return thread


def die_with_parent(parent_pid: int, read_end: Any) -> None:
    """In a worker: end this process when the driver ``parent_pid`` ends (both mechanisms of the module
    docstring); ends it at once when the driver is already gone."""
    set_parent_death_signal()
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        os._exit(EXIT_ORPHANED)
    watch_lifeline(read_end)


@contextlib.contextmanager
def lifeline(ctx: Any) -> Iterator[Any]:
    """In the driver: a one-way pipe from ``ctx`` (a ``multiprocessing`` context); yields its read end for the
    workers (pass it to them when they start). The write end stays in this process and is closed on exit of
    the block — close it only after the workers have finished, or they end at once."""
    read_end, write_end = ctx.Pipe(duplex=False)
    try:
        yield read_end
    finally:
        write_end.close()
        read_end.close()
