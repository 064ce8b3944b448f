"""Your own data end to end (issue 23): a user CSV + TOML through tune, run, reproduce, report, export and compare
from the CLI and the API; user results kept out of the leaderboard; MLflow tracking against a real local store."""
from __future__ import annotations

import hashlib
import shutil
import warnings
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import mtlbench
from mtlbench.cli import app

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "userdata"
REPORT_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "report" / "results"
ENV = {"COLUMNS": "200", "MTLBENCH_STATIC_CHARTS": "0"}


def cli(*args: str):
    res = CliRunner().invoke(app, list(args), env=ENV)
    return res


@pytest.fixture
def shop(tmp_path) -> Path:
    """The fixture suite copied next to the test (records keep the suite file's path)."""
    d = tmp_path / "data"
    d.mkdir()
    for name in ("shop.toml", "shop.csv"):
        shutil.copy(FIXTURE / name, d / name)
    return d / "shop.toml"


def _keys(res: Path, profile: str = "quick") -> list[str]:
    return sorted(p.stem for p in (res / profile / "records").glob("*.json"))


def test_user_suite_through_every_command_of_the_cli(tmp_path, shop):
    res = tmp_path / "res"
    r = cli("tune", "hard_sharing", "--suite-file", str(shop), "--trials", "1", "--results-dir", str(res), "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert "my_shop" in r.output and (res / "quick" / "studies").is_dir()
    r = cli("run", "single_task", "hard_sharing", "--suite-file", str(shop), "--seeds", "2", "--results-dir", str(res),
            "--device", "cpu")
    assert r.exit_code == 0, r.output
    # the run ends with its metrics: mean ± std per (model, task) and the gain over single_task
    assert "Test metrics" in r.output and "click auc↑" in r.output and "gain " in r.output, r.output
    assert "your suites' report" in r.output
    assert not (res / "quick" / "leaderboard.md").exists()  # no official report from user data
    assert (res / "quick" / "user" / "leaderboard.md").is_file()
    assert not (res / "quick" / "locks").exists()  # lock files are removed with their claim
    keys = _keys(res)
    assert len(keys) == 4
    r = cli("status", "--suite-file", str(shop), "--results-dir", str(res))
    assert r.exit_code == 0 and "8 done" not in r.output, r.output
    r = cli("reproduce", keys[0][:8], "--results-dir", str(res), "--save")  # the record finds its suite file itself
    assert r.exit_code == 0 and "reproduced." in r.output and "check saved:" in r.output, r.output
    assert len(list((res / "quick" / "reproductions").glob(f"{keys[0]}@*.json"))) == 1
    r = cli("report", "--results-dir", str(res), "--no-charts", "--suite-file", str(shop))
    assert r.exit_code == 0 and "user/leaderboard.md" in r.output, r.output
    md = (res / "quick" / "user" / "leaderboard.md").read_text()
    assert "(`my_shop`) re-run at the same commit on cpu: largest test-metric difference 0 (bit-identical)" in md
    assert "your suites" in md and "--suite-file" in md and "pip install -c constraints-ci.txt ." in md
    r = cli("export", "--results-dir", str(res), "--format", "csv", "--out", str(tmp_path / "ex"))
    assert r.exit_code == 0, r.output
    results = pl.read_csv(tmp_path / "ex" / "results.csv")
    hist = pl.read_csv(tmp_path / "ex" / "histories.csv")
    assert results.height == 8 and set(results["profile"]) == {"quick"} and set(results["task"]) == {"click", "buy"}
    assert hist.height > 0 and hist["chosen"].sum() >= 4 and set(hist["task"]) == {"click", "buy"}
    r = cli("compare", keys[0][:8], keys[1][:8], "--results-dir", str(res))
    assert r.exit_code == 0 and "paired 95 % interval" in r.output and "B − A" in r.output, r.output


def test_the_api_mirrors_the_cli(tmp_path, shop):
    res = tmp_path / "res"
    summaries = mtlbench.tune(["hard_sharing"], n_trials=1, results_dir=res, device="cpu", suite_files=[shop])
    assert [s["suite"] for s in summaries] == ["my_shop"]
    summary = mtlbench.run(["single_task", "hard_sharing"], seeds=1, results_dir=res, device="cpu", suite_files=[shop])
    assert len(summary.done) == 2 and len(summary.keys) == 2 and not summary.failed
    out = mtlbench.reproduce(summary.keys[0][:8], results_dir=res, suite_files=[shop])
    assert max(row["diff"] for row in out["rows"]) == 0.0
    files = mtlbench.report(results_dir=res, charts=False)
    assert [f.markdown for f in files] == [res / "quick" / "user" / "leaderboard.md"]
    paths = mtlbench.export("quick", "parquet", tmp_path / "ex", results_dir=res)
    assert [p.name for p in paths] == ["results.parquet", "histories.parquet"]
    c = mtlbench.compare(summary.keys[0][:8], summary.keys[1][:8], results_dir=res)
    assert {m.task for m in c.metrics} == {"click", "buy"}
    assert all(m.paired is not None and m.paired[0] <= m.diff <= m.paired[1] for m in c.metrics)
    assert any(name == "model" for name, _, _ in c.config)
    df = mtlbench.load_results(results_dir=res)  # no profile: every profile, with a profile column
    assert df.height == 4 and df["profile"].unique().to_list() == ["quick"]
    assert mtlbench.load_histories(results_dir=res).height > 0


def test_load_results_warns_instead_of_returning_an_empty_frame_silently(tmp_path):
    with pytest.warns(UserWarning, match="no result records"):
        df = mtlbench.load_results(results_dir=tmp_path / "nothing")
    assert df.height == 0 and "profile" in df.columns
    with pytest.warns(UserWarning, match="profile 'standard'"):
        mtlbench.load_results("standard", results_dir=tmp_path / "nothing")


def _tree_digest(paths: list[Path]) -> dict[str, str]:
    out = {}
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for p in files:
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_a_standard_run_of_user_data_leaves_the_leaderboard_and_its_charts_byte_identical(tmp_path, shop, monkeypatch):
    """A clone with a committed standard leaderboard (the report fixture's records): running your own data on the
    standard profile, and --set runs of a registered suite, must not change leaderboard.md or its charts."""
    repo = tmp_path / "clone"
    shutil.copytree(REPORT_FIXTURE, repo / "results")
    monkeypatch.chdir(repo)
    monkeypatch.delenv("MTLBENCH_RESULTS")
    r = cli("report", "--profile", "standard")
    assert r.exit_code == 0, r.output
    watched = [repo / "leaderboard.md", repo / "results" / "standard" / "charts"]
    before = _tree_digest(watched)
    assert repo / "leaderboard.md" in map(Path, before) and len(before) > 2
    r = cli("run", "hard_sharing", "--suite-file", str(shop), "--profile", "standard", "--seeds", "1", "--device", "cpu",
            "--set", "lr=0.01")
    assert r.exit_code == 0, r.output
    assert _tree_digest(watched) == before
    assert (repo / "results" / "standard" / "user" / "leaderboard.md").is_file()
    r = cli("report", "--profile", "standard")  # regenerating every report keeps the leaderboard as it was, too
    assert r.exit_code == 0, r.output
    assert _tree_digest(watched) == before
    r = cli("leaderboard", "--check", "--profile", "standard")
    assert r.exit_code == 0, r.output


def test_set_runs_of_a_registered_suite_go_to_the_user_report():
    from mtlbench.report.scope import record_in_scope

    rec = {"suite_family": "video", "params_source": "default", "params_sources": ["default", "default+set:lr=0.01"]}
    assert record_in_scope(rec, "official")["params_sources"] == ["default"]
    assert record_in_scope(rec, "user")["params_sources"] == ["default+set:lr=0.01"]
    user = {"suite_family": "my_shop", "suite_params": {"suite_file": "shop.toml"}, "params_source": "default"}
    assert record_in_scope(user, "official") is None and record_in_scope(user, "user") is user


def test_ctrl_c_says_what_is_kept_and_how_to_resume(tmp_path, shop, monkeypatch):
    import mtlbench.api

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(mtlbench.api, "run", interrupted)
    r = cli("run", "hard_sharing", "--suite-file", str(shop), "--results-dir", str(tmp_path / "res"))
    assert r.exit_code == 130
    assert "interrupted:" in r.output and "are kept in" in r.output and "checkpoint" in r.output and "Resume with:" in r.output


def test_help_and_defaults_agree():
    from mtlbench import cli as C
    from mtlbench.profiles import DEFAULT_PROFILE
    from mtlbench.tuning import DEFAULT_TRIALS

    assert C.DEFAULT_PROFILE == DEFAULT_PROFILE == mtlbench.DEFAULT_PROFILE
    r = CliRunner().invoke(app, ["tune", "--help"], env={"COLUMNS": "300"})
    assert f"quick {DEFAULT_TRIALS['quick']}, standard {DEFAULT_TRIALS['standard']}" in r.output
    for extra in ("ray", "mlflow"):  # an unescaped [extra] in help text is eaten as rich markup
        assert f"pip install 'mtlbench[{extra}]'" in r.output
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    from mtlbench.report.markdown.commands import INSTALL

    assert INSTALL in readme
    assert f"quick {DEFAULT_TRIALS['quick']}, standard {DEFAULT_TRIALS['standard']}" in readme


def test_data_file_errors_never_show_the_internal_row_column(tmp_path, shop):
    from mtlbench.errors import MtlbenchError
    from mtlbench.tasks.user_file import ROW, register_suite_file

    shop.write_text(shop.read_text().replace('numeric = ["price"]', 'numeric = ["prize"]'))
    with pytest.raises(MtlbenchError) as err:
        register_suite_file(shop)
    assert ROW not in str(err.value) and "'price'" in str(err.value)
    # a file that has a column of that very name still loads
    df = pl.read_csv(shop.with_name("shop.csv")).with_columns(pl.lit(1).alias(ROW))
    df.write_csv(shop.with_name("shop.csv"))
    shop.write_text(shop.read_text().replace('numeric = ["prize"]', 'numeric = ["price"]'))
    assert register_suite_file(shop) == "my_shop"


# ------------------------------------------------------------------ MLflow: a real local store, no mock
def test_mlflow_logs_records_and_trials_to_a_local_store(tmp_path, shop):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from mtlbench.tracking import tracking_uri

    res, store = tmp_path / "res", tmp_path / "mlruns"
    summary = mtlbench.run(["hard_sharing"], seeds=1, results_dir=res, device="cpu", suite_files=[shop], mlflow=str(store))
    client = MlflowClient(tracking_uri=tracking_uri(str(store)))
    exp = client.get_experiment_by_name("mtlbench-quick")
    (run,) = client.search_runs([exp.experiment_id], filter_string="tags.`mtlbench.key` = '%s'" % summary.keys[0])
    (record,) = mtlbench.load_records("quick", res)
    assert run.data.params["model"] == "hard_sharing" and run.data.params["suite"] == "my_shop"
    assert float(run.data.metrics["test.click.auc"]) == pytest.approx(record["test_metrics"][0]["auc"])
    steps = client.get_metric_history(run.info.run_id, "val_score")
    assert [m.step for m in steps] == list(range(len(record["history"])))
    local = client.download_artifacts(run.info.run_id, "record.json", str(tmp_path))
    assert '"key": "%s"' % record["key"] in Path(local).read_text()
    # logging again (the run is skipped) adds nothing
    mtlbench.run(["hard_sharing"], seeds=1, results_dir=res, device="cpu", suite_files=[shop], mlflow=str(store))
    assert len(client.search_runs([exp.experiment_id], filter_string="tags.`mtlbench.key` != ''")) == 1
    # tuning: a parent run per study, a nested run per trial
    mtlbench.tune(["hard_sharing"], n_trials=1, results_dir=res, device="cpu", suite_files=[shop], mlflow=str(store))
    runs = client.search_runs([exp.experiment_id], filter_string="tags.`mtlbench.study` != ''")
    parents = [r for r in runs if "mtlbench.trial" not in r.data.tags]
    trials = [r for r in runs if "mtlbench.trial" in r.data.tags]
    assert len(parents) == 1 and len(trials) >= 2  # the reference trial and one trial of the search
    assert {r.data.tags["mlflow.parentRunId"] for r in trials} == {parents[0].info.run_id}
    assert any(r.data.tags["mtlbench.reference"] == "true" for r in trials)


def test_the_training_loop_and_the_report_never_import_mlflow():
    import subprocess
    import sys

    code = "import sys, mtlbench.train, mtlbench.multiseed, mtlbench.report; print('mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_mlflow_logs_to_a_started_tracking_server(tmp_path, shop):
    """A real `mlflow server` on loopback, logged to over HTTP."""
    pytest.importorskip("mlflow")
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from mlflow.tracking import MlflowClient

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                               "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
                               "--default-artifact-root", str(tmp_path / "artifacts"), "--workers", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=1)
                break
            except OSError:
                time.sleep(1)
        summary = mtlbench.run(["hard_sharing"], seeds=1, results_dir=tmp_path / "res", device="cpu", suite_files=[shop],
                               mlflow=uri)
        client = MlflowClient(tracking_uri=uri)
        exp = client.get_experiment_by_name("mtlbench-quick")
        (run,) = client.search_runs([exp.experiment_id])
        assert run.data.tags["mtlbench.key"] == summary.keys[0] and "test.buy.auc" in run.data.metrics
    finally:
        server.terminate()
        server.wait(timeout=30)
