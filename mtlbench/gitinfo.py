"""The git commit of a checkout, for records and for the build stamp: one mechanism, standard library only.

``setup.py`` loads this file by path (the package itself, which needs torch, is not importable while a wheel
is built) and stamps ``checkout_commit`` into ``mtlbench/_build_commit.txt``; ``mtlbench.runinfo.git_commit``
calls it for a source checkout.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

#: What "-dirty" looks at: everything but generated results (records, studies, charts, leaderboards), which a
#: long benchmark run changes while the code that runs stays the committed one.
CODE_PATHSPEC = ("--", ".", ":(exclude)results", ":(exclude)leaderboard.md")


def checkout_commit(root: Path, timeout: float = 10) -> str | None:
    """``git rev-parse --short=12 HEAD`` of ``root`` (+ ``-dirty`` when tracked code differs), or None."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, timeout=timeout)
        if head.returncode != 0 or not head.stdout.strip():
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", *CODE_PATHSPEC],
                               capture_output=True, text=True, timeout=timeout)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None
