"""Where and with what a run ran, for the records it writes: the code's git commit, the library versions and
the time. The writing side only: ``versions`` imports torch, so the report (which reads records) never imports
this module (pyproject's import contract).
"""
from __future__ import annotations

import functools
import sys
from datetime import datetime, timezone
from pathlib import Path

from .gitinfo import checkout_commit


@functools.cache
def git_commit() -> str:
    """The git commit of the code that runs: its own checkout (editable install); for an installed copy, the
    commit stamped at build time (``_build_commit.txt``, written by ``setup.py`` when a wheel is built from a
    git checkout); else the checkout in the working directory when its ``mtlbench/`` sources are
    byte-identical to the installed ones. ``-dirty`` marks uncommitted changes. Computed once per process
    (``runner.run`` asks before training, while the checkout still matches the loaded code)."""
    src = Path(__file__).resolve().parent
    stamp = src / "_build_commit.txt"
    if not (src.parent / ".git").exists() and stamp.is_file():
        commit = stamp.read_text().strip()
        if commit:
            return commit
    candidates = [src.parent]
    here = Path.cwd().resolve()
    candidates += [d for d in (here, *here.parents) if (d / "mtlbench" / "__init__.py").exists()][:1]
    for root in candidates:
        if not (root / ".git").exists() or (root != src.parent and not _same_sources(src, root / "mtlbench")):
            continue
        commit = checkout_commit(root, timeout=5)
        if commit:
            return commit
    return "unknown"


def _same_sources(a: Path, b: Path) -> bool:
    files = sorted(p.name for p in a.glob("*.py"))
    return files == sorted(p.name for p in b.glob("*.py")) and all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


def versions() -> dict[str, str]:
    import numpy
    import torch

    from . import __version__

    return {"mtlbench": __version__, "torch": torch.__version__, "numpy": numpy.__version__, "python": sys.version.split()[0]}


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
