"""Parameter sources as typed values, record keys without them, and the schema-1 -> 2 record migration."""
from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path

import pytest

import mtlbench
from mtlbench import report as REP
from mtlbench import runner as R
from mtlbench.migrations import key_without_source as MIG
from mtlbench.params import apply_overrides, default_params, params_from_dict
from mtlbench.profiles import get_profile
from mtlbench.provenance import ParamsSource, RunId, StudyId
from mtlbench.records import RecordStore, key_of

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "results" / "standard" / "records"
QUICK = get_profile("quick")
SUITE = "synthetic[p=0.5,n_train=500,n_val=200,n_test=200]"

#: Sources the tests and the code's docstrings spell out (beyond the committed records).
FORMS = [
    "default", "trial", "file:/tmp/params.json", "file:b", "study:hs@toy@quick#0", "study:mmoe@toy@quick#7",
    "study:mmoe@synthetic[p=0.2,d=50,seed=3]@quick@mo#12", "study:single_task@funnel@standard#t10,t11",
    "study:single_task@funnel@standard#t10,t11 task 2", "study:single_task@funnel@standard#t3,t7+set:lr=0.005 task 1",
    "default+set:lr=0.005", "file:s+set:bottom=[64, 32],lr=0.001", "study:ple@video@standard#4+set:n_experts=4",
]


def committed_sources() -> list[str]:
    """Every source string in the committed records: their labels and the labels of their fits."""
    out = set()
    for p in COMMITTED.glob("*.json"):
        r = json.loads(p.read_text())
        out.update(r.get("params_sources") or [r["params_source"]])
        out.update(f["params_source"] for f in (r.get("extra") or {}).get("fits") or [])
    return sorted(out)


# ------------------------------------------------------------------ formatting and parsing
def test_every_committed_and_documented_source_reads_back_byte_for_byte():
    committed = committed_sources()
    assert len(committed) > 50 and "default" in committed  # the committed records are there
    for text in committed + FORMS:
        src = ParamsSource.parse(text)
        assert str(src) == src.to_str() == text
        assert ParamsSource.parse(str(src)) == src


def test_parsed_sources_have_typed_fields():
    s = ParamsSource.parse("study:single_task@synthetic[p=0.2,d=50]@standard@mo#t3,t7+set:bottom=[64, 32],lr=0.1 task 2")
    assert s.kind == "study" and s.study == StudyId("single_task", "synthetic[p=0.2,d=50]", "standard", True)
    assert s.trials == (3, 7) and s.per_task_trials and s.task == 1
    assert s.overrides == (("bottom", "[64, 32]"), ("lr", "0.1")) and s.study_suite == "synthetic[p=0.2,d=50]"
    assert s.study.name == "single_task@synthetic[p=0.2,d=50]@standard@mo"
    assert ParamsSource.parse("file:x.json").file == "x.json" and not ParamsSource.default().is_tuned
    for bad in ("", "study:x#3", "study:a@b@c#", "study:a@b@c#3x", "tuned", "default+set:=1"):
        with pytest.raises(mtlbench.MtlbenchError, match="cannot read"):
            ParamsSource.parse(bad)


def test_writers_build_the_strings_records_always_had(tiny_suite):
    study = StudyId("hard_sharing", tiny_suite.name, "quick")
    rp = dataclasses.replace(default_params("hard_sharing", tiny_suite, QUICK), source=ParamsSource.from_study(study, (4,)))
    over = apply_overrides("hard_sharing", rp, {"lr": 0.005, "bottom": [64, 32]})
    assert str(over.source) == f"study:hard_sharing@{tiny_suite.name}@quick#4+set:bottom=[64, 32],lr=0.005"
    per = params_from_dict("single_task", tiny_suite, QUICK, {"per_task": [{}, {}]},
                           ParamsSource.from_study(study, (3, 7), per_task=True))
    assert str(per.source) == f"study:{study.name}#t3,t7"
    assert [str(p.source) for p in per.per_task] == [f"study:{study.name}#t3,t7 task 1", f"study:{study.name}#t3,t7 task 2"]


def test_run_ids_and_failure_files():
    run = RunId("synthetic[p=0.5,d=50]", "mmoe", 3)
    assert str(run) == "synthetic[p=0.5,d=50]/mmoe/seed3"
    assert RunId.from_failure({**run.as_dict(), "run": "ignored"}) == run
    assert RunId.from_failure({"run": str(run)}) == run  # failure files of older versions
    assert RunId.from_failure({"run": "nonsense"}) is None


# ------------------------------------------------------------------ the key leaves the label out
def test_key_depends_on_what_changes_the_result_not_on_the_label(tiny_suite):
    rp = default_params("hard_sharing", tiny_suite, QUICK)
    parts = dict(suite=tiny_suite.name, suite_version=tiny_suite.version, data_checksum=tiny_suite.checksum,
                 profile="quick", model="hard_sharing", params=rp.as_dict(), seed=0)
    assert key_of(**parts, params_source="default") == key_of(**parts, params_source="study:x@y@quick#1") == key_of(**parts)
    assert key_of(**parts) != key_of(**{**parts, "seed": 1})
    assert key_of(**parts) != key_of(**{**parts, "params": apply_overrides("hard_sharing", rp, {"lr": 0.01}).as_dict()})
    assert key_of(**parts) != key_of(**parts, replicate=1)


def test_a_finished_run_requested_under_another_label_gets_the_label_without_training(tmp_path, monkeypatch):
    res = tmp_path / "r"
    first = mtlbench.run(["hard_sharing"], [SUITE], seeds=2, profile="quick", results_dir=res, device="cpu")
    assert len(first.done) == 2
    before = {r["seed"]: r for r in mtlbench.load_records("quick", res)}
    trained = []
    monkeypatch.setattr(R, "fit", lambda *a, **kw: trained.append(a) or pytest.fail("trained again"))
    kept = ParamsSource.from_study(StudyId("hard_sharing", SUITE, "quick"), (0,))  # a study that kept its defaults
    as_kept = lambda m, d, p: dataclasses.replace(default_params(m, d, p), source=kept)  # noqa: E731
    again = mtlbench.run(["hard_sharing"], [SUITE], seeds=2, profile="quick", results_dir=res, device="cpu", params=as_kept)
    assert not trained and not again.done and len(again.labelled) == 2
    after = {r["seed"]: r for r in mtlbench.load_records("quick", res)}
    assert after.keys() == before.keys()  # no new record
    for seed, old in before.items():
        new = after[seed]
        assert new["params_sources"] == ["default", str(kept)] and new["params_source"] == "default"
        assert {k: v for k, v in new.items() if k != "params_sources"} == {k: v for k, v in old.items() if k != "params_sources"}
    third = mtlbench.run(["hard_sharing"], [SUITE], seeds=2, profile="quick", results_dir=res, device="cpu", params=as_kept)
    assert len(third.skipped) == 2 and not third.labelled  # now simply done
    views = REP.record_views(mtlbench.load_records("quick", res))
    assert sorted((v["params_source"], v["seed"]) for v in views) == [
        ("default", 0), ("default", 1), (str(kept), 0), (str(kept), 1)]
    assert len({v["key"] for v in views}) == 2  # two trainings, each seen under both labels
    md = REP.render_markdown(REP.build_report("quick", res))
    assert "training summed over 2 runs" in md and "over 4 runs" not in md  # trainings are counted, not labels


@pytest.mark.parametrize("stacked", ["0", "1"])
def test_force_retrains_and_keeps_every_label_one_by_one_and_stacked(tmp_path, monkeypatch, stacked):
    monkeypatch.setenv("MTLBENCH_STACK_SEEDS", stacked)  # one process (jobs=1), so "1" trains the 2 seeds stacked
    res = tmp_path / "r"
    mtlbench.run(["hard_sharing"], [SUITE], seeds=2, profile="quick", results_dir=res, device="cpu", jobs=1)
    kept = ParamsSource.from_study(StudyId("hard_sharing", SUITE, "quick"), (0,))
    as_kept = lambda m, d, p: dataclasses.replace(default_params(m, d, p), source=kept)  # noqa: E731
    assert len(mtlbench.run(["hard_sharing"], [SUITE], seeds=2, profile="quick", results_dir=res, device="cpu", jobs=1,
                            params=as_kept).labelled) == 2
    again = mtlbench.run(["hard_sharing"], [SUITE], seeds=2, profile="quick", results_dir=res, device="cpu", force=True, jobs=1)
    assert len(again.done) == 2  # trained again, over the records
    after = mtlbench.load_records("quick", res)
    assert sorted(r["seed"] for r in after) == [0, 1]
    assert all(r["params_sources"] == ["default", str(kept)] for r in after)


def test_status_reads_the_run_of_a_failure_from_its_fields(tmp_path):
    store = RecordStore("quick", tmp_path)
    store.write_failure("k1", {**R._failure(RunId(SUITE, "mmoe", 1)), "reason": "diverged"})
    store.write_failure("k2", {"run": f"{SUITE}/hard_sharing/seed0", "reason": "old file"})
    store.write_failure("k3", {**R._failure(RunId(SUITE, "mmoe", 0), "pcgrad"), "reason": "nan"})
    rows = {(r["model"], r["weighting"], r["seed"]): r
            for r in R.status("quick", tmp_path, ["mmoe", "hard_sharing"], [SUITE])}
    assert rows[("mmoe", "static", 1)]["state"] == "failed" and rows[("mmoe", "static", 1)]["reason"] == "diverged"
    assert rows[("hard_sharing", "static", 0)]["reason"] == "old file" and rows[("mmoe", "static", 0)]["state"] == "missing"
    # a weighting's run is its own row, and only where the weighting was tried
    assert rows[("mmoe", "pcgrad", 0)]["state"] == "failed" and rows[("mmoe", "pcgrad", 1)]["state"] == "missing"
    assert not any(w == "pcgrad" for m, w, _ in rows if m == "hard_sharing")


# ------------------------------------------------------------------ migrating schema-1 records
def _old(key: str, source: str, seed: int, test: float, ts: str, reused: str | None = None, lr: float = 0.01) -> dict:
    """A schema-1 record (its key held the label)."""
    extra = {"hardware": "CPU (1 thread)", **({"reused": {"key": reused, "params_source": "default"}} if reused else {})}
    return {"key": key, "suite": "toy", "suite_family": "toy", "suite_version": "1", "suite_params": {}, "data_checksum": "c0",
            "profile": "quick", "model": "mmoe", "params": {"train": {"lr": lr}}, "params_source": source, "seed": seed,
            "test_metrics": [{"auc": test}], "train_seconds": 2.0, "timestamp": ts, "schema_version": 1, "extra": extra}


def _git(d: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(d), *args], check=True, capture_output=True)


@pytest.fixture
def old_records(tmp_path) -> Path:
    d = tmp_path / "repo" / "records"
    d.mkdir(parents=True)
    recs = [
        _old("a0", "default", 0, 0.80, "2026-01-01T00:00:00Z"),
        _old("a1", "study:mmoe@toy@quick#3", 0, 0.80, "2026-01-01T00:00:00Z", reused="a0"),  # reuse copy of a0
        _old("a2", "study:mmoe@toy@other@quick#5", 0, 0.80, "2026-01-01T00:00:00Z", reused="a0"),  # another copy
        _old("b0", "default", 1, 0.81, "2026-01-01T00:00:00Z"),
        _old("b1", "study:mmoe@toy@quick#3", 1, 0.79, "2026-01-05T00:00:00Z"),  # trained again elsewhere
        _old("c0", "default", 0, 0.70, "2026-01-01T00:00:00Z", lr=0.1),  # another configuration
    ]
    for r in recs:
        (d / f"{r['key']}.json").write_text(json.dumps(r, sort_keys=True) + "\n")
    _git(d.parent, "init", "-q")
    _git(d.parent, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    _git(d.parent, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "records")
    return d


def _by(d: Path) -> dict[tuple[int, float, int], dict]:
    """Records by (seed, lr, replicate)."""
    return {(r["seed"], r["params"]["train"]["lr"], r["replicate"]): r for r in map(json.loads, map(Path.read_text, d.glob("*.json")))}


def test_migration_merges_reuse_copies_keeps_independent_trainings_and_every_label(old_records, capsys):
    views_before = sorted((r["params_source"], r["seed"], r["test_metrics"][0]["auc"])
                          for r in map(json.loads, map(Path.read_text, old_records.glob("*.json"))))
    assert MIG.main([str(old_records), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "merge a0.json + a1.json + a2.json -> " in out and "would write 4 records from 6 files" in out
    assert sorted(p.name for p in old_records.glob("*.json")) == ["a0.json", "a1.json", "a2.json", "b0.json", "b1.json", "c0.json"]


def test_migration_result(old_records):
    MIG.migrate(old_records)
    recs = _by(old_records)
    assert sorted(recs) == [(0, 0.01, 0), (0, 0.1, 0), (1, 0.01, 0), (1, 0.01, 1)]
    merged = recs[(0, 0.01, 0)]
    assert merged["params_sources"] == ["default", "study:mmoe@toy@other@quick#5", "study:mmoe@toy@quick#3"]
    assert merged["params_source"] == "default" and "reused" not in merged["extra"] and merged["schema_version"] == 2
    assert merged["test_metrics"] == [{"auc": 0.80}] and merged["extra"]["hardware"] == "CPU (1 thread)"
    again = recs[(1, 0.01, 1)]  # the later, independent training of seed 1 stays, as replicate 1
    assert again["params_sources"] == ["study:mmoe@toy@quick#3"] and again["test_metrics"] == [{"auc": 0.79}]
    for r in recs.values():
        assert (old_records / f"{r['key']}.json").exists() and r["key"] == key_of(**r)
    views = REP.record_views(list(recs.values()))
    assert len(views) == 6 and len({v["key"] for v in views}) == 4  # every old record, as one view per label
    # migrated records are what the runner looks for: a label of replicate 1 is already carried
    parts = {k: merged[k] for k in ("suite", "suite_version", "data_checksum", "profile", "model", "params")}
    store = RecordStore("x")
    store.records_dir = old_records
    assert R._carries(store, {**parts, "seed": 1}, ParamsSource.parse("study:mmoe@toy@quick#3"))
    assert not R._carries(store, {**parts, "seed": 1}, ParamsSource.parse("study:mmoe@toy@quick#9"))


def test_migration_refuses_a_dirty_folder_and_changes_nothing_twice(old_records):
    (old_records / "a0.json").write_text((old_records / "a0.json").read_text().replace("0.8", "0.9"))
    before = sorted(p.name for p in old_records.glob("*.json"))
    with pytest.raises(mtlbench.MtlbenchError, match="uncommitted changes"):
        MIG.migrate(old_records, dry_run=True)
    assert sorted(p.name for p in old_records.glob("*.json")) == before
    _git(old_records.parent, "checkout", "--", ".")
    MIG.migrate(old_records)
    _git(old_records.parent, "add", "-A")
    _git(old_records.parent, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "migrated")
    assert MIG.migrate(old_records, dry_run=True) == ["would write 4 records from 4 files (0 merged, 1 replicates)."]


def test_committed_records_are_migrated():
    """The committed records have label-free keys: a file's name is the key of its contents."""
    for p in sorted(COMMITTED.glob("*.json"))[:200]:
        r = json.loads(p.read_text())
        assert r["schema_version"] == 2 and p.stem == r["key"] == key_of(**r) and "reused" not in r["extra"]
        assert r["params_sources"][0] == r["params_source"]
    assert re.fullmatch(r"[0-9a-f]{20}", p.stem)
