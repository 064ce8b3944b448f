"""The layering promises, checked at run time: the report never loads torch or optuna, the training loop
never loads optuna, and the torch-free copies of registry facts (``mtlbench.metadata``, the report's reading
of study exports, the shared score) agree with the registries and the training side."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from mtlbench.metadata import INDEPENDENT_TASK_MODELS, MODEL_ORDER, suite_meta

REPO = Path(__file__).resolve().parents[1]
STANDARD = REPO / "results" / "standard"


def _loaded_after(code: str) -> set[str]:
    """Top-level packages among torch/optuna that a fresh interpreter has loaded after running ``code``."""
    probe = code + "\nimport sys\nprint(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'optuna'}))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    return set(json.loads(out.stdout.strip().splitlines()[-1].replace("'", '"')))


def test_importing_the_report_loads_neither_torch_nor_optuna():
    assert _loaded_after("import mtlbench.report, mtlbench.report.charts, mtlbench.report.findings") == set()


@pytest.mark.skipif(not (STANDARD / "records").is_dir(), reason="no committed standard-profile records")
def test_building_and_rendering_the_standard_report_loads_neither_torch_nor_optuna(tmp_path):
    code = ("from mtlbench.report import build_report, render_markdown\n"
            "from mtlbench.report.charts import figure_digests\n"
            f"rep = build_report('standard', {str(REPO / 'results')!r})\n"
            "assert render_markdown(rep)\nassert figure_digests(rep)")
    assert _loaded_after(code) == set()


def test_the_training_loop_loads_no_optuna():
    assert "optuna" not in _loaded_after("import mtlbench.train, mtlbench.multiseed")


def test_model_metadata_matches_the_model_registry():
    from mtlbench.model import get_model_class, list_models

    registered = list_models()
    assert set(registered) <= set(MODEL_ORDER), "add the new model to metadata.MODEL_ORDER (its display place)"
    assert {m for m in registered if get_model_class(m).independent_tasks} == set(INDEPENDENT_TASK_MODELS)


def test_suite_metadata_matches_the_suite_registry():
    from mtlbench.profiles import PROFILES
    from mtlbench.report.markdown.commands import family_instances
    from mtlbench.suites import expand_suites, get_family, list_suites

    for name in list_suites():
        fam, meta = get_family(name), suite_meta(name)
        assert (meta.is_sweep, meta.sweep_param) == (fam.is_sweep, fam.sweep_param), name
        for profile in PROFILES.values():
            assert family_instances(name, profile) == expand_suites([name], profile), (name, profile.name)


def test_registered_suites_are_told_from_user_suites_without_torch(tmp_path):
    from mtlbench.metadata import is_registered_suite
    from mtlbench.suites import get_family, list_suites
    from mtlbench.tasks.user_file import UserFileSuite, register_suite_file

    user = register_suite_file(Path(__file__).resolve().parents[1] / "tasks" / "examples" / "example_suite.toml")
    for name in list_suites():
        assert is_registered_suite(name) == (not issubclass(type(get_family(name)), UserFileSuite)), name
    assert not is_registered_suite(user) and not is_registered_suite("user_file") and not is_registered_suite("census_income_meta")


@pytest.mark.skipif(not (STANDARD / "studies").is_dir(), reason="no committed study exports")
def test_the_report_reads_the_trials_run_takes_by_the_runs_rule():
    from mtlbench.params import run_trials
    from mtlbench.report.load import chosen_trials

    exports = sorted((STANDARD / "studies").glob("*.json"))
    assert exports
    for p in exports:
        summary = json.loads(p.read_text())
        assert chosen_trials(summary) == run_trials(summary).numbers, p.name
    task_wise = {"model": "single_task", "task_names": ["a", "b"], "run_trial": 1,
                 "per_task_best": [{"number": 3}, {"number": 7}]}
    assert chosen_trials(task_wise) == run_trials(task_wise).numbers == (3, 7)


def test_report_and_training_score_with_the_same_function():
    from mtlbench.data import TaskSpec
    from mtlbench.metrics import score
    from mtlbench.report.stats import test_score

    tasks = [TaskSpec("ctr", "binary"), TaskSpec("watch", "regression")]
    metrics = [{"auc": 0.73}, {"mse": 0.42}]
    plain = [{"name": t.name, "metric": t.metric} for t in tasks]
    assert test_score(plain, [0.73, 0.42]) == score(tasks, metrics)
    assert score(tasks, metrics) == pytest.approx(-(math.log(0.27) + math.log(0.42)) / 2)
    assert math.isnan(test_score(plain, [float("nan"), 0.42])) and math.isnan(score(tasks, [{"auc": float("nan")}, metrics[1]]))
