"""Build hook (the rest of the metadata is in pyproject.toml): stamp the git commit of the checkout a wheel is
built from into the package as ``mtlbench/_build_commit.txt``, so every result record names the code that ran,
even when the checkout is edited or gone after ``pip install .`` (see ``mtlbench.records.git_commit``)."""
from __future__ import annotations

import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


#: What "-dirty" looks at: everything but generated results (records, studies, charts, leaderboards), which a
#: long benchmark run changes while the code that runs stays the committed one.
CODE_PATHSPEC = ("--", ".", ":(exclude)results", ":(exclude)leaderboard.md")


def checkout_commit(root: Path) -> str | None:
    """``git rev-parse --short=12 HEAD`` of ``root`` (+ ``-dirty`` when tracked code differs), or None."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        if head.returncode != 0 or not head.stdout.strip():
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", *CODE_PATHSPEC],
                               capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


class BuildPyWithCommit(build_py):
    def run(self) -> None:
        super().run()
        commit = checkout_commit(Path(__file__).resolve().parent)
        if commit and not getattr(self, "editable_mode", False):  # an editable install reads its checkout directly
            target = Path(self.build_lib) / "mtlbench" / "_build_commit.txt"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(commit + "\n")


setup(cmdclass={"build_py": BuildPyWithCommit})
