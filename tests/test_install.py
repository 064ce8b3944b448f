"""The installed package: plug-ins live under mtlbench.*, no generic top-level names leak."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
