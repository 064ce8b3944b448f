"""AliExpress and Ali-CCP (issue 27): the loaders parse the real formats (tests/fixtures), split and cache as
documented, and refuse a missing folder, a truncated file or wrong columns with one line."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import polars as pl
import pytest
import torch

import mtlbench
from mtlbench import MtlbenchError, get_profile, load_suite
from mtlbench.suites import expand_suites

from conftest import run_cli

FIXTURES = Path(__file__).resolve().parent / "fixtures"
QUICK = get_profile("quick")
ALIEXPRESS = f"aliexpress[country=US,data_dir={FIXTURES / 'aliexpress'},val_fraction=0.3,split_seed=0]"
ALI_CCP = f"ali_ccp[data_dir={FIXTURES / 'ali_ccp'}]"


def raw(path: Path) -> pl.DataFrame:
    return pl.read_csv(path)


def test_aliexpress_parses_mtreclib_files_and_splits_validation_by_search():
    from mtlbench.tasks.aliexpress import split_by_search

    data = load_suite(ALIEXPRESS, QUICK)
    assert [t.name for t in data.tasks] == ["ctr", "cvr"] and data.tasks[1].after == "ctr"
    assert (data.inputs.n_cat, data.inputs.n_num) == (16, 63)
    train, test = (raw(FIXTURES / "aliexpress" / "AliExpress_US" / f) for f in ("train.csv.gz", "test.csv.gz"))
    assert len(data.train) + len(data.val) == train.height and len(data.test) == test.height
    clicks = sum(float(s.y[:, 0].sum()) for s in (data.train, data.val))
    convs = sum(float(s.y[:, 1].sum()) for s in (data.train, data.val))
    assert (clicks, convs) == (train["click"].sum(), train["conversion"].sum())
    for s in (data.train, data.val, data.test):
        assert s.mask[:, 0].all() and torch.equal(s.mask[:, 1], s.y[:, 0] == 1)
    a, b = split_by_search(train, 0.3, 0)
    assert set(a["search_id"]).isdisjoint(b["search_id"]) and a.height + b.height == train.height
    assert data.params["train_sha256"] and data.params["country"] == "US"


def test_ali_ccp_parses_torch_rechub_files():
    data = load_suite(ALI_CCP, QUICK)
    assert (len(data.train), len(data.val), len(data.test)) == (100, 50, 50)
    assert (data.inputs.n_cat, data.inputs.n_num) == (23, 8) and "301" in data.inputs.cat_names
    for split, name in zip((data.train, data.val, data.test), ("train", "val", "test")):
        df = raw(FIXTURES / "ali_ccp" / f"ali_ccp_{name}.csv.gz")
        assert float(split.y[:, 0].sum()) == df["click"].sum() and float(split.y[:, 1].sum()) == df["purchase"].sum()
        assert torch.equal(split.mask[:, 1], split.y[:, 0] == 1)
    assert data.params["max_rows"] == 100_000  # quick: the first 100,000 rows of each file


def test_the_environment_variable_names_the_folder_and_the_parse_is_cached(monkeypatch):
    import mtlbench.tasks._funnel_files as files

    monkeypatch.setenv("MTLBENCH_ALI_CCP_DIR", str(FIXTURES / "ali_ccp"))
    first = load_suite("ali_ccp", QUICK)
    monkeypatch.setattr(files, "read_table", lambda *a: pytest.fail("parsed again instead of using the cache"))
    import mtlbench.tasks.ali_ccp as ali_ccp

    monkeypatch.setattr(ali_ccp, "read_table", files.read_table)
    assert load_suite("ali_ccp", QUICK).checksum == first.checksum


def test_max_rows_reads_the_first_rows_of_each_file():
    from mtlbench.tasks.ali_ccp import FORMAT
    from mtlbench.tasks._funnel_files import read_table

    df = read_table(FIXTURES / "ali_ccp" / "ali_ccp_train.csv.gz", FORMAT, 30)
    assert df.height == 30 and df["click"].to_list() == raw(FIXTURES / "ali_ccp" / "ali_ccp_train.csv.gz")["click"].head(30).to_list()
    with pytest.raises(MtlbenchError, match="max_rows"):
        load_suite(f"ali_ccp[data_dir={FIXTURES / 'ali_ccp'},max_rows=0]", QUICK)


@pytest.mark.parametrize("suite,env", [("aliexpress", "MTLBENCH_ALIEXPRESS_DIR"), ("ali_ccp", "MTLBENCH_ALI_CCP_DIR")])
def test_a_missing_folder_is_one_line_naming_the_files_and_where_to_get_them(suite, env, tmp_path, monkeypatch):
    monkeypatch.delenv(env, raising=False)
    for instance in (suite, f"{suite}[data_dir={tmp_path / 'nowhere'}]", f"{suite}[data_dir={tmp_path}]"):
        with pytest.raises(MtlbenchError) as err:
            load_suite(instance, QUICK)
        msg = str(err.value)
        assert "\n" not in msg and "train" in msg and "README" in msg and "tianchi" in msg, msg


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _cases():
    return [("aliexpress", "AliExpress_US/train.csv.gz", "val_fraction=0.3,split_seed=0,country=US,"),
            ("ali_ccp", "ali_ccp_val.csv.gz", "")]


@pytest.mark.parametrize("suite,file,extra", _cases())
def test_a_truncated_file_is_refused_in_one_line(suite, file, extra, tmp_path):
    folder = _copy(FIXTURES / suite, tmp_path / suite)
    path = folder / file
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])  # a cut download: the gzip stream ends early
    with pytest.raises(MtlbenchError, match="truncated") as err:
        load_suite(f"{suite}[{extra}data_dir={folder}]", QUICK)
    assert "\n" not in str(err.value)
    text = gzip.decompress(blob)
    path.unlink()
    plain = path.with_suffix("")  # the same file uncompressed, cut inside a row
    for cut in (text[: len(text) // 2], text[:-1]):
        plain.write_bytes(cut)
        with pytest.raises(MtlbenchError, match="truncated"):
            load_suite(f"{suite}[{extra}data_dir={folder}]", QUICK)


@pytest.mark.parametrize("suite,file,extra", _cases())
@pytest.mark.parametrize("edit", ["drop", "rename", "bad_label", "conversion_without_click"])
def test_wrong_columns_or_labels_are_refused_in_one_line(suite, file, extra, edit, tmp_path):
    folder = _copy(FIXTURES / suite, tmp_path / suite)
    path = folder / file
    df = pl.read_csv(path)
    click, conv = df.columns[-2:] if suite == "aliexpress" else df.columns[:2]
    df = {"drop": lambda d: d.drop(d.columns[5]),
          "rename": lambda d: d.rename({d.columns[5]: "something_else"}),
          "bad_label": lambda d: d.with_columns(pl.lit(2).alias(click)),
          "conversion_without_click": lambda d: d.with_columns(pl.lit(0).alias(click), pl.lit(1).alias(conv))}[edit](df)
    path.unlink()
    df.write_csv(path.with_suffix(""))
    with pytest.raises(MtlbenchError) as err:
        load_suite(f"{suite}[{extra}data_dir={folder}]", QUICK)
    msg = str(err.value)
    assert "\n" not in msg and str(path.with_suffix("")) in msg, msg
    expected = {"drop": "expected the", "rename": "unexpected something_else", "bad_label": "other than 0/1",
                "conversion_without_click": "without a"}[edit]
    assert expected in msg, msg


def test_local_data_suites_join_the_default_list_only_when_configured(monkeypatch):
    monkeypatch.delenv("MTLBENCH_ALIEXPRESS_DIR", raising=False)
    monkeypatch.delenv("MTLBENCH_ALI_CCP_DIR", raising=False)
    default = expand_suites(None, QUICK)
    assert not any(s.startswith(("aliexpress", "ali_ccp")) for s in default) and "funnel" in default
    monkeypatch.setenv("MTLBENCH_ALI_CCP_DIR", str(FIXTURES / "ali_ccp"))
    assert "ali_ccp" in expand_suites(None, QUICK)
    assert expand_suites(["aliexpress"], QUICK) == [f"aliexpress[country={c}]" for c in ("NL", "ES", "FR", "US")]


def test_list_suites_shows_the_local_data_families(tmp_path):
    res = run_cli(tmp_path, "list", "suites", timeout=120, COLUMNS="400")
    assert res.returncode == 0, res.stderr
    for name in ("aliexpress[country=NL]", "aliexpress[country=US]", "ali_ccp"):
        assert name in res.stdout
    lines = [line for line in res.stdout.splitlines() if line.strip("│ ").startswith(("aliexpress ", "ali_ccp "))]
    assert lines and all("needs local data" in line for line in lines), lines


def test_funnel_models_train_on_a_local_suite(tmp_path):
    summary = mtlbench.run(["esmm", "aitm", "hard_sharing"], [ALI_CCP], seeds=1, profile="quick", device="cpu",
                           results_dir=tmp_path / "res")
    assert summary.failed == [] and len(summary.done) == 3
