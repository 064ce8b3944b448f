"""Optional MLflow tracking (``pip install 'mtlbench[mlflow]'``; ``mtlbench run/tune --mlflow [URI]``).

A sink, not part of training: it reads what ``mtlbench run`` and ``mtlbench tune`` wrote (result records, study
summaries) and logs them, so the training loop and the report never import mlflow.

* One MLflow run per record, in the experiment ``mtlbench-<profile>``: params (suite, model, seed, parameter
  source and every hyper-parameter, flattened as ``model.*``, ``shared.*``, ``train.*``), the per-evaluation
  validation history as metrics with ``step`` = evaluation index (``val_score``, ``train_loss``,
  ``val.<task>.<metric>``), the test metrics (``test.<task>.<metric>``, ``test_se.<task>``), and the record
  itself as the artifact ``record.json``. Tagged ``mtlbench.key``: a record already logged is not logged again.
* One parent run per tuning study (``tuning: <study>``) with one nested run per trial: params, state, objective
  and its per-epoch intermediate values. Tagged ``mtlbench.study`` / ``mtlbench.trial``: logged once per trial
  state.

The default URI is a local file store, ``./mlruns`` (MLflow 3 keeps that backend in maintenance mode and
refuses it unless ``MLFLOW_ALLOW_FILE_STORE=true``, which the sink sets for ``file:`` URIs; pass
``sqlite:///mlflow.db`` or a server URL for a database store).
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .fsio import finished
from .errors import MtlbenchError

DEFAULT_URI = "mlruns"
_BAD = re.compile(r"[^\w\-. /]")


def tracking_uri(uri: str | None) -> str:
    """An MLflow tracking URI: a URL as given (``http://…``, ``sqlite:///…``, ``file:…``), a plain path as a
    ``file:`` URI of that folder (default ``./mlruns``)."""
    uri = uri or DEFAULT_URI
    if re.match(r"^[A-Za-z][\w+.-]*:", uri) and not re.match(r"^[A-Za-z]:[\\/]", uri):
        return uri
    return Path(uri).expanduser().absolute().as_uri()


def _name(text: str) -> str:
    """A valid MLflow metric / param name (letters, digits, _ - . space /)."""
    return _BAD.sub("_", text)


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        return {k: v for key, val in d.items() for k, v in _flat(val, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): d}


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and x == x and abs(x) != float("inf") else None


class MlflowSink:
    """Logs records and study summaries to one MLflow tracking store (``uri``)."""

    def __init__(self, uri: str | None = None):
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise MtlbenchError("--mlflow needs MLflow: pip install 'mtlbench[mlflow]' (or pip install mlflow).") from None
        self.uri = tracking_uri(uri)
        if self.uri.startswith("file:"):  # MLflow 3 keeps its file store but refuses it unless this is set
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = MlflowClient(tracking_uri=self.uri)
        self._experiments: dict[str, str] = {}

    # ------------------------------------------------------------------ helpers
    def experiment(self, profile: str) -> str:
        """The id of the experiment ``mtlbench-<profile>`` (created when missing)."""
        name = f"mtlbench-{profile}"
        if name not in self._experiments:
            exp = self.client.get_experiment_by_name(name)
            self._experiments[name] = exp.experiment_id if exp else self.client.create_experiment(name)
        return self._experiments[name]

    def _find(self, exp: str, **tags: str) -> list[Any]:
        query = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
        return self.client.search_runs([exp], filter_string=query, max_results=1000)

    def _log(self, run_id: str, params: dict[str, Any], metrics: list[tuple[str, float, int]], tags: dict[str, str]) -> None:
        from mlflow.entities import Metric, Param, RunTag

        ps = [Param(_name(k), str(v)[:6000]) for k, v in sorted(params.items())]
        ms = [Metric(_name(k), v, 0, step) for k, v, step in metrics]
        ts = [RunTag(k, v) for k, v in tags.items()]
        if ts:
            self.client.log_batch(run_id, tags=ts)
        for i in range(0, len(ps), 100):  # MLflow's batch limits: 100 params, 1000 metrics
            self.client.log_batch(run_id, params=ps[i:i + 100])
        for i in range(0, len(ms), 1000):
            self.client.log_batch(run_id, metrics=ms[i:i + 1000])

    # ------------------------------------------------------------------ records
    def log_record(self, record: dict[str, Any]) -> str | None:
        """Log one result record as an MLflow run; returns its run id, or None when it was logged before."""
        exp = self.experiment(record["profile"])
        if self._find(exp, **{"mtlbench.key": record["key"]}):
            return None
        run = self.client.create_run(exp, run_name=f"{record['suite']}/{record['model']}/seed{record['seed']}",
                                     tags={"mtlbench.key": record["key"], "mtlbench.suite": record["suite"],
                                           "mtlbench.model": record["model"]})
        rid = run.info.run_id
        params = {"suite": record["suite"], "suite_version": record["suite_version"], "model": record["model"],
                  "seed": record["seed"], "profile": record["profile"], "params_source": record["params_source"],
                  "data_checksum": record["data_checksum"], **_flat(record.get("params") or {})}
        metrics: list[tuple[str, float, int]] = []
        tasks = record["tasks"]
        for i, h in enumerate(record.get("history") or []):
            step = int(h.get("eval", i))
            for key in ("val_score", "train_loss"):
                if (v := _num(h.get(key))) is not None:
                    metrics.append((key, v, step))
            for t, val in zip(tasks, h.get("val") or []):
                v = _num(val.get(t["metric"]) if isinstance(val, dict) else val)
                if v is not None:
                    metrics.append((f"val.{t['name']}.{t['metric']}", v, step))
        for k, t in enumerate(tasks):
            if (v := _num(record["test_metrics"][k].get(t["metric"]))) is not None:
                metrics.append((f"test.{t['name']}.{t['metric']}", v, 0))
            se = (record.get("test_se") or [])
            if k < len(se) and (v := _num(se[k])) is not None:
                metrics.append((f"test_se.{t['name']}", v, 0))
        for key in ("train_seconds", "n_params", "flops_per_sample"):
            if (v := _num(record.get(key))) is not None:
                metrics.append((key, v, 0))
        self._log(rid, params, metrics, {})
        self.client.log_text(rid, json.dumps(record, sort_keys=True, indent=1, allow_nan=True), "record.json")
        self.client.set_terminated(rid, "FINISHED")
        return rid

    def log_records(self, records: Iterable[dict[str, Any]]) -> list[str]:
        return [rid for r in records if (rid := self.log_record(r)) is not None]

    # ------------------------------------------------------------------ tuning studies
    def log_study(self, summary: dict[str, Any]) -> list[str]:
        """Log a study summary (``tuning.summarize_study``): a parent run for the study, a nested run per trial
        in a state not logged before. Returns the ids of the trial runs created."""
        exp = self.experiment(str(summary.get("profile") or "quick"))
        study = str(summary["study"])
        parents = [r for r in self._find(exp, **{"mtlbench.study": study}) if "mtlbench.trial" not in r.data.tags]
        if parents:
            parent = parents[0].info.run_id
        else:
            parent = self.client.create_run(exp, run_name=f"tuning: {study}", tags={
                "mtlbench.study": study, "mtlbench.model": str(summary.get("model")),
                "mtlbench.suite": str(summary.get("suite"))}).info.run_id
            budget = {f"budget.{k}": v for k, v in (summary.get("budget") or {}).items() if v is not None}
            self._log(parent, {"model": summary.get("model"), "suite": summary.get("suite"),
                               "objective": summary.get("objective"), **budget}, [], {})
        logged = {(r.data.tags.get("mtlbench.trial"), r.data.tags.get("mtlbench.state"))
                  for r in self._find(exp, **{"mtlbench.study": study}) if "mtlbench.trial" in r.data.tags}
        created = []
        for t in summary.get("trials") or []:
            state = str(t.get("state"))
            if state == "RUNNING" or (str(t["number"]), state) in logged:
                continue
            ref = bool((t.get("user_attrs") or {}).get("reference"))
            run = self.client.create_run(exp, run_name=f"trial {t['number']}" + (" (defaults)" if ref else ""), tags={
                "mlflow.parentRunId": parent, "mtlbench.study": study, "mtlbench.trial": str(t["number"]),
                "mtlbench.state": state, "mtlbench.reference": str(ref).lower()})
            metrics = [("intermediate_value", v, int(k)) for k, v in (t.get("intermediate_values") or {}).items()
                       if _num(v) is not None]
            if (v := _num(t.get("value"))) is not None:
                metrics.append(("objective", v, 0))
            for i, v in enumerate(t.get("values") or []):
                if _num(v) is not None:
                    metrics.append((f"objective_{i}", float(v), 0))
            self._log(run.info.run_id, dict(t.get("params") or {}), metrics, {})
            self.client.set_terminated(run.info.run_id, "FINISHED" if state in ("COMPLETE", "PRUNED") else "FAILED")
            created.append(run.info.run_id)
        self.client.set_terminated(parent, "FINISHED")
        return created


def new_records(before: dict[str, float], records_dir: Path) -> list[dict[str, Any]]:
    """Records in ``records_dir`` written since ``before`` (``record_mtimes``): new keys or rewritten files."""
    out = []
    for p, mtime in record_mtimes(records_dir).items():
        if before.get(p) != mtime:
            try:
                out.append(json.loads(Path(p).read_text()))
            except (OSError, json.JSONDecodeError, UnicodeDecodeError):
                continue
    return out


def record_mtimes(records_dir: Path) -> dict[str, float]:
    """Path → modification time of every record file (to find what a command wrote)."""
    return {str(p): p.stat().st_mtime_ns for p in finished(records_dir)}
