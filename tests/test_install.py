"""The installed package: plug-ins live under mtlbench.*, no generic top-level names leak."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import mtlbench


def test_plugins_install_under_the_mtlbench_namespace(tmp_path):
    code = (
        "import importlib.util, mtlbench, mtlbench.baselines, mtlbench.tasks;"
        "assert importlib.util.find_spec('baselines') is None, 'baselines leaked as a top-level name';"
        "assert importlib.util.find_spec('tasks') is None, 'tasks leaked as a top-level name';"
        "print(len(mtlbench.list_models()), len(mtlbench.list_suites()))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert res.returncode == 0, res.stderr
    n_models, n_suites = map(int, res.stdout.split())
    assert n_models >= 2 and n_suites >= 1


def test_every_plugin_module_is_registered():
    import mtlbench.baselines as b

    files = {p.stem for p in Path(b.__path__[0]).glob("*.py") if not p.stem.startswith("_")}
    modules = {mtlbench.model.get_model_class(m).__module__.rsplit(".", 1)[-1] for m in mtlbench.list_models()}
    assert files <= modules | {"__init__"}


def test_a_non_editable_install_names_the_commit_it_was_built_from(tmp_path):
    """Records name the code that ran even when the checkout changes after `pip install .` (setup.py stamps it)."""
    pkg = Path(mtlbench.__file__).resolve().parent
    if (pkg.parent / ".git").exists():
        pytest.skip("editable install: git_commit reads the checkout itself")
    repo = Path(__file__).resolve().parents[1]
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("the tests do not sit in a git checkout, so there is no commit to compare with")
    stamp = (pkg / "_build_commit.txt").read_text().strip()
    assert stamp.removesuffix("-dirty") == head.stdout.strip()
    # from a directory without the sources (where the old heuristic said "unknown"), the stamp still answers
    code = "from mtlbench.runinfo import git_commit; print(git_commit())"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == stamp, res.stderr


def test_dirty_means_changed_code_not_changed_results(tmp_path):
    """A benchmark run that lasts hours rewrites results/ and leaderboard.md while the code stays committed:
    its records must name the clean commit. setup.py (build stamp) and git_commit share mtlbench/gitinfo.py."""
    from mtlbench.gitinfo import CODE_PATHSPEC

    setup = (Path(__file__).resolve().parents[1] / "setup.py").read_text()
    assert "gitinfo.py" in setup and "CODE_PATHSPEC =" not in setup and "rev-parse" not in setup  # one mechanism

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), *args], capture_output=True, text=True, check=True).stdout

    git("init", "-q")
    (tmp_path / "results" / "standard").mkdir(parents=True)
    for name in ("code.py", "leaderboard.md", "results/standard/r.json"):
        (tmp_path / name).write_text("1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    dirty = lambda: bool(git("status", "--porcelain", "--untracked-files=no", *CODE_PATHSPEC).strip())  # noqa: E731
    (tmp_path / "leaderboard.md").write_text("2\n")
    (tmp_path / "results" / "standard" / "r.json").write_text("2\n")
    assert not dirty()
    (tmp_path / "code.py").write_text("2\n")
    assert dirty()


def test_every_subpackage_is_listed_for_a_non_editable_install():
    """pyproject lists packages explicitly (baselines/ and tasks/ are mapped into the namespace); a new
    subpackage missing from the list would be absent from a wheel while every editable test passes."""
    # the standard library reads TOML from Python 3.11; the test extra installs tomli on 3.10
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli",
                                  reason="reading pyproject.toml on Python 3.10 needs tomli (pip install '.[test]')")
    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {p.parent.relative_to(root).as_posix().replace("/", ".") for p in (root / "mtlbench").rglob("__init__.py")}
    assert found - listed == set(), "add these packages to [tool.setuptools] packages in pyproject.toml"


def test_the_package_and_its_docs_cite_the_projects_own_protocol():
    """Users get docs/protocol.md; the SPEC.md it was written from is not part of the project, so nothing a
    user reads (code, help texts, generated report text, README, docs) may send them there."""
    import re

    repo = Path(__file__).resolve().parents[1]
    files = [p for d in ("mtlbench", "baselines", "tasks", "benchmarks", "docs") for p in (repo / d).rglob("*")
             if p.suffix in (".py", ".md", ".toml")] + [repo / "README.md"]
    cite = re.compile(r"\bSPEC(\.md| §)")
    hits = [f"{p.relative_to(repo)}:{i}" for p in files if p.is_file()
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if cite.search(line)]
    assert not hits, f"cite docs/protocol.md instead of SPEC.md: {hits}"
    assert (repo / "docs" / "protocol.md").is_file()
