"""Build hook (the rest of the metadata is in pyproject.toml): stamp the git commit of the checkout a wheel is
built from into the package as ``mtlbench/_build_commit.txt``, so every result record names the code that ran,
even when the checkout is edited or gone after ``pip install .`` (see ``mtlbench.runinfo.git_commit``)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


def _gitinfo():
    """mtlbench/gitinfo.py, loaded by path: the one commit mechanism, without importing the package."""
    spec = importlib.util.spec_from_file_location("_mtlbench_gitinfo", Path(__file__).resolve().parent / "mtlbench" / "gitinfo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithCommit(build_py):
    def run(self) -> None:
        super().run()
        commit = _gitinfo().checkout_commit(Path(__file__).resolve().parent)
        if commit and not getattr(self, "editable_mode", False):  # an editable install reads its checkout directly
            target = Path(self.build_lib) / "mtlbench" / "_build_commit.txt"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(commit + "\n")


setup(cmdclass={"build_py": BuildPyWithCommit})
