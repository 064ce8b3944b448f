"""The task suites (docs/protocol.md §3, issue 5): generator properties, census preprocessing, user suite files, bad input."""
from __future__ import annotations

import dataclasses
import json
import shutil
import tomllib
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from sklearn.metrics import roc_auc_score

from mtlbench import MtlbenchError, get_profile, load_suite
from mtlbench.data import Split
from mtlbench.loss import masked_task_losses
from mtlbench.model import SharedConfig, build_model
from mtlbench.train import TrainConfig, fit, predict

from conftest import SHARED, run_cli

QUICK = get_profile("quick")
STANDARD = get_profile("standard")
TASKS_DIR = Path(__file__).resolve().parents[1] / "tasks"
EXAMPLE = TASKS_DIR / "examples" / "example_suite.toml"


# ------------------------------------------------------------------------------------------ registry
def test_list_suites_shows_every_suite_and_sweep_point(tmp_path):
    for profile in (QUICK, STANDARD):
        res = run_cli(tmp_path, "list", "suites", "--profile", profile.name, timeout=120, COLUMNS="400")
        assert res.returncode == 0, res.stderr
        expected = ["census_income[group=1]", "census_income[group=2]", "funnel", "video",
                    *(f"synthetic[p={p:g}]" for p in profile.sweep)]
        for name in expected:
            assert name in res.stdout, f"{name} missing from `mtlbench list suites --profile {profile.name}`"


# ------------------------------------------------------------------------------------------ synthetic
def test_synthetic_label_correlation_grows_with_p():
    from mtlbench.tasks.synthetic import generate

    ps = [-0.5, 0.0, 0.25, 0.5, 0.75, 1.0]
    corr = [np.corrcoef(generate(p, 100, 10, 1.0, 0.1, 20_000, 0)[1].T)[0, 1] for p in ps]
    assert all(a < b for a, b in zip(corr, corr[1:])), corr
    assert corr[ps.index(1.0)] > 0.95 and abs(corr[ps.index(0.0)]) < 0.1


def test_synthetic_records_every_generator_parameter():
    data = load_suite("synthetic[p=0.3,n_train=500,n_val=200,n_test=200]", QUICK)
    for key, value in {"p": 0.3, "d": 100, "m": 10, "c": 1.0, "noise": 0.1, "seed": 0, "n_train": 500}.items():
        assert data.params[key] == value
    assert (len(data.train), len(data.val), len(data.test)) == (500, 200, 200)


# ------------------------------------------------------------------------------------------ funnel
@pytest.fixture(scope="module")
def funnel():
    return load_suite("funnel", QUICK)


def test_funnel_rates_and_conversions_per_split(funnel):
    for split in (funnel.train, funnel.val, funnel.test):
        click, conv, delta = split.y[:, 0], split.y[:, 1], split.mask
        assert delta[:, 0].all()  # CTR on every impression
        assert torch.equal(delta[:, 1], click == 1)  # CVR only after a click
        assert (conv[~delta[:, 1]] == 0).all()  # no conversion without a click
        ctr = float(click.mean())
        cvr = float(conv[delta[:, 1]].mean())
        assert 0.02 <= ctr <= 0.08, ctr  # "CTR a few %"
        assert 0.06 <= cvr <= 0.15, cvr  # "CVR ~ 10 % of clicks"
        assert int(conv.sum()) >= 300  # several hundred conversions in every split, quick included
    assert max(funnel.inputs.cat_cardinalities) > 10_000  # high-cardinality id fields


def test_funnel_masked_loss_ignores_unclicked_conversion_labels(funnel):
    b = funnel.train.head(4096)
    out = torch.randn(len(b), 2, requires_grad=True)
    is_binary = torch.tensor([True, True])
    base = masked_task_losses(out, b.y, b.mask, is_binary)
    (g_base,) = torch.autograd.grad(base.sum(), out)
    y = b.y.clone()
    y[~b.mask[:, 1], 1] = 1.0  # claim every unclicked impression converted
    changed = masked_task_losses(out, y, b.mask, is_binary)
    (g_changed,) = torch.autograd.grad(changed.sum(), out)
    assert torch.equal(base, changed) and torch.equal(g_base, g_changed)
    y[~b.mask[:, 1], 1] = float("nan")  # or that the label is missing
    assert torch.equal(masked_task_losses(out, y, b.mask, is_binary), base)


def test_funnel_cvr_trained_without_the_mask_is_worse_on_clicked_samples(funnel):
    """Treating unclicked impressions as non-conversions learns the click factors (selection bias)."""
    from mtlbench.model import make_config

    def clicked_cvr_auc(data) -> float:
        torch.manual_seed(0)
        model = build_model("hard_sharing", data.inputs, data.tasks,
                            make_config("hard_sharing", {"bottom": (64,), "tower": (16,)}), SharedConfig(emb_dim=8))
        fit(model, data, TrainConfig(max_epochs=2, patience=2), 0, torch.device("cpu"), evaluate_test=False)
        clicked = funnel.test.mask[:, 1].numpy()
        return roc_auc_score(funnel.test.y[clicked, 1].numpy(), predict(model, funnel.test)[clicked, 1])

    tr = funnel.train
    unmasked = dataclasses.replace(funnel, train=Split(tr.x_num, tr.x_cat, tr.y, torch.ones_like(tr.mask)))
    with_mask, without_mask = clicked_cvr_auc(funnel), clicked_cvr_auc(unmasked)
    assert with_mask > 0.58, with_mask  # the masked model learns something about conversions
    print(f"clicked-sample CVR AUC: with mask {with_mask:.3f}, without {without_mask:.3f}")
    assert with_mask - without_mask > 0.05, (with_mask, without_mask)


# ------------------------------------------------------------------------------------------ video
def test_video_correlation_depends_on_play_mode():
    from mtlbench.tasks.video import AUTOPLAY, CLICK_TO_PLAY, TAU, generate

    g = generate(30_000, 0)
    corr = {m: np.corrcoef(g.vcr[g.mode == m], g.vtr[g.mode == m])[0, 1] for m in (AUTOPLAY, CLICK_TO_PLAY)}
    assert abs(corr[AUTOPLAY] - corr[CLICK_TO_PLAY]) > 0.1, corr
    assert ((g.vcr >= 0) & (g.vcr <= 1)).all()
    assert np.array_equal(g.vtr == 1, g.vcr * g.duration > TAU)  # a valid view = watch time > τ
    assert (g.vtr[g.duration <= TAU] == 0).all()  # a short video fully watched is not a valid view
    q05, q95 = np.quantile(g.duration, [0.05, 0.95])
    assert q95 / q05 > 10  # durations vary widely


def test_video_suite_tasks_and_splits():
    data = load_suite("video", QUICK)
    assert [(t.name, t.kind, t.metric) for t in data.tasks] == [("vcr", "regression", "mse"), ("vtr", "binary", "auc")]
    assert (len(data.train), len(data.val), len(data.test)) == (20_000, 5_000, 5_000)
    mode = data.inputs.cat_names.index("play_mode")
    assert set(data.train.x_cat[:, mode].unique().tolist()) == {1, 2}  # both modes, ids fitted on train
    assert float(data.train.x_num.mean(0).abs().max()) < 1e-4  # standardised on train


# ------------------------------------------------------------------------------------------ census
def _assert_no_leakage(data, group: int) -> None:
    from mtlbench.tasks.census_income import NUMERIC

    features = set(data.inputs.num_names) | set(data.inputs.cat_names)
    assert not features & {"instance_weight", "marital_stat"}
    assert ("income_50k" in features, "education" in features) == ((False, True) if group == 1 else (True, False))
    assert set(data.inputs.num_names) == set(NUMERIC) and len(data.inputs.cat_names) == 32
    # no feature determines a label on every row (a label's own column would)
    y = data.train.y.numpy()
    for j in range(data.inputs.n_cat):
        ids = data.train.x_cat[:, j].numpy()
        for k in range(data.n_tasks):
            sums, counts = np.bincount(ids, y[:, k]), np.bincount(ids)
            seen = counts > 0
            pure = ((sums[seen] == 0) | (sums[seen] == counts[seen])) * counts[seen]
            assert pure.sum() / len(ids) < 0.9, (data.inputs.cat_names[j], data.tasks[k].name)


@pytest.mark.parametrize("group", [1, 2])
def test_census_quick_profile_preprocessing(group):
    data = load_suite(f"census_income[group={group}]", QUICK)
    names = {1: ["income_50k", "never_married"], 2: ["education_college", "never_married"]}[group]
    assert [t.name for t in data.tasks] == names and all(t.metric == "auc" for t in data.tasks)
    assert (len(data.train), len(data.val), len(data.test)) == (10_000, 4_000, 4_000)
    assert data.emb_dim == 4
    _assert_no_leakage(data, group)
    # encoders fitted on the train split only: every train value has an id, some val/test values are unseen (0)
    assert (data.train.x_cat > 0).all()
    assert (data.val.x_cat == 0).any() or (data.test.x_cat == 0).any()
    for j in range(data.inputs.n_cat):
        assert int(data.train.x_cat[:, j].max()) == data.inputs.cat_cardinalities[j] - 1
    assert float(data.train.x_num.mean(0).abs().max()) < 1e-4
    assert float((data.train.x_num.std(0, unbiased=False) - 1).abs().max()) < 1e-3
    assert data.params["data_source"] == "vendored" and len(data.params["train_sha256"]) == 64


def test_census_full_data_protocol():
    from mtlbench.tasks import census_income as C

    raw_train = C.read_raw(C.locate(C.VENDORED_DIR, "census-income.data"))
    raw_test = C.read_raw(C.locate(C.VENDORED_DIR, "census-income.test"))
    assert (raw_train.height, raw_test.height) == (199_523, 99_762)
    perm = np.random.default_rng(1).permutation(99_762)
    for group in (1, 2):
        data = load_suite(f"census_income[group={group}]", STANDARD)
        assert (len(data.train), len(data.val), len(data.test)) == (199_523, 49_881, 49_881)
        tasks = tuple(t.name for t in data.tasks)
        assert np.array_equal(data.train.y.numpy(), C.labels(raw_train, tasks))
        assert np.array_equal(data.val.y.numpy(), C.labels(raw_test[perm[:49_881]], tasks))
        assert np.array_equal(data.test.y.numpy(), C.labels(raw_test[perm[49_881:]], tasks))
        _assert_no_leakage(data, group)
        # vocabularies = the official train file's distinct values (+ unknown); ages standardised on train
        for j, col in enumerate(data.inputs.cat_names):
            assert data.inputs.cat_cardinalities[j] == raw_train[col].n_unique() + 1, col
        age = raw_train["age"].cast(pl.Float64).to_numpy()
        assert np.allclose(data.train.x_num[:, 0].numpy(), (age - age.mean()) / age.std(), atol=1e-4)
    assert float(data.train.y[:, 0].mean()) == pytest.approx(39_183 / 199_523)  # G2 education ≥ college


def test_census_is_parsed_once(monkeypatch):
    from mtlbench.tasks import census_income as C

    first = load_suite("census_income[group=1]", QUICK)
    monkeypatch.setattr(C, "read_raw", lambda path: pytest.fail("the cached suite was parsed again"))
    assert load_suite("census_income[group=1]", QUICK).checksum == first.checksum


def _copy_census(tmp_path: Path) -> Path:
    from mtlbench.tasks.census_income import VENDORED_DIR

    folder = tmp_path / "census"
    folder.mkdir()
    for name in ("census-income.data.gz", "census-income.test.gz"):
        shutil.copy(VENDORED_DIR / name, folder / name)
    return folder


def test_census_local_copy_via_env_and_parameter(tmp_path, monkeypatch):
    import gzip

    folder = _copy_census(tmp_path)
    # a copy compressed differently is accepted by the sha256 of its content
    raw = gzip.decompress((folder / "census-income.test.gz").read_bytes())
    (folder / "census-income.test.gz").unlink()
    (folder / "census-income.test").write_bytes(raw)
    monkeypatch.setenv("MTLBENCH_CENSUS_DIR", str(folder))
    data = load_suite("census_income[group=2,n_train=2000,n_val=1000,n_test=1000]", QUICK)
    assert data.params["data_source"].startswith("$MTLBENCH_CENSUS_DIR")
    monkeypatch.delenv("MTLBENCH_CENSUS_DIR")
    again = load_suite(f"census_income[group=2,n_train=2000,n_val=1000,n_test=1000,data_dir={folder}]", QUICK)
    assert again.checksum == data.checksum


def test_census_corrupted_file_is_refused(tmp_path, monkeypatch):
    folder = _copy_census(tmp_path)
    path = folder / "census-income.data.gz"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    monkeypatch.setenv("MTLBENCH_CENSUS_DIR", str(folder))
    with pytest.raises(MtlbenchError) as err:
        load_suite("census_income[group=1]", QUICK)
    msg = str(err.value)
    assert "census-income.data.gz" in msg and "corrupted" in msg and "re-copy" in msg and "\n" not in msg
    path.unlink()
    with pytest.raises(MtlbenchError, match="not found"):
        load_suite("census_income[group=1]", QUICK)


def test_vendored_census_files_are_package_data():
    pyproject = tomllib.loads((TASKS_DIR.parent / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["mtlbench.tasks"]
    shipped = {p for pat in patterns for p in TASKS_DIR.glob(pat)}
    for name in ("census-income.data.gz", "census-income.test.gz", "census-income.names", "PROVENANCE.md"):
        assert TASKS_DIR / "data" / "census_income" / name in shipped
    assert EXAMPLE in shipped and EXAMPLE.with_name("example_shop.csv") in shipped


# ------------------------------------------------------------------------------------------ user suite files
def _shop(n: int = 1_500, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    user = rng.integers(0, 50, n)
    price = rng.gamma(2.0, 10.0, n)
    click = (rng.random(n) < 0.3 + 0.2 * (user % 2)).astype(np.int64)
    buy = [int(b) if c else None for b, c in zip(rng.random(n) < 0.4, click)]  # only labelled after a click
    return pl.DataFrame({"user": [f"u{u}" for u in user], "item": rng.integers(0, 30, n), "price": price,
                         "click": click, "buy": pl.Series(buy, dtype=pl.Int64),
                         "split": rng.choice(["train", "val", "test"], n, p=[0.6, 0.2, 0.2])})


TOML = """\
name = "{name}"
[data]
{data}
[features]
categorical = ["user", "item"]
numeric = ["price"]
[[tasks]]
name = "click"
kind = "binary"
[[tasks]]
name = "buy"
kind = "binary"
mask = "click"
{extra_tasks}
[split]
{split}
"""


def write_suite(tmp_path: Path, df: pl.DataFrame | None = None, *, name: str = "shop", data: str = 'path = "shop.csv"',
                split: str = 'column = "split"', extra_tasks: str = "", text: str | None = None) -> Path:
    (_shop() if df is None else df).write_csv(tmp_path / "shop.csv")
    path = tmp_path / f"{name}.toml"
    path.write_text(text if text is not None else TOML.format(name=name, data=data, split=split, extra_tasks=extra_tasks))
    return path


def test_user_suite_file_end_to_end(tmp_path):
    from mtlbench import load_records, run

    path = write_suite(tmp_path)
    summary = run(["hard_sharing"], seeds=1, results_dir=tmp_path / "res", device="cpu", suite_files=[path])
    assert summary.done == ["shop/hard_sharing/seed0"] and not summary.failed
    (record,) = load_records("quick", tmp_path / "res")
    assert record["suite"] == "shop" and [t["name"] for t in record["tasks"]] == ["click", "buy"]
    assert record["suite_params"]["suite_file_sha256"] and record["suite_params"]["data_sha256"]["all"]
    from mtlbench import report as R

    # the leaderboard's reproduce command names the suite file (a bare --suite shop would be unknown)
    assert f"mtlbench run hard_sharing --suite-file {path} --seeds 1 --profile quick --params-from default" in R._commands(
        R.build_report("quick", tmp_path / "res", "user"))
    from typer.testing import CliRunner

    from mtlbench.cli import app

    res = CliRunner().invoke(app, ["status", "hard_sharing", "--suite-file", str(path), "--results-dir", str(tmp_path / "res")],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "1 done, 0 failed, 1 missing" in res.output, res.output
    # δ: buy is labelled only where click = 1
    from mtlbench.tasks.user_file import load_suite_file, parse_suite_file

    data = load_suite_file(parse_suite_file(path))
    assert torch.equal(data.train.mask[:, 1], data.train.y[:, 0] == 1)
    # editing the data file changes the data checksum and so the record key: a new run, nothing mixed up
    df = _shop()
    df = df.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(999.0).otherwise(pl.col("price")).alias("price"))
    df.write_csv(tmp_path / "shop.csv")
    summary = run(["hard_sharing"], seeds=1, results_dir=tmp_path / "res", device="cpu", suite_files=[path])
    assert summary.done and not summary.skipped
    checksums = {r["data_checksum"] for r in load_records("quick", tmp_path / "res")}
    assert len(checksums) == 2


def test_example_suite_file_loads():
    from mtlbench.tasks.user_file import register_suite_file

    name = register_suite_file(EXAMPLE)
    data = load_suite(name, QUICK)
    assert name == "example_shop" and data.n_tasks == 2 and len(data.train) > 2_000
    assert data.inputs.cat_names == ("user", "item", "category") and data.emb_dim == 4


def test_user_suite_ratios_parquet_and_per_split_files(tmp_path):
    from mtlbench.tasks.user_file import load_suite_file, parse_suite_file

    df = _shop(2_000).drop("split")
    df.write_parquet(tmp_path / "shop.parquet")
    ratios = tmp_path / "ratios.toml"
    ratios.write_text(TOML.format(name="r", data='path = "shop.parquet"', split="ratios = [0.7, 0.15, 0.15]\nseed = 3", extra_tasks=""))
    data = load_suite_file(parse_suite_file(ratios))
    assert (len(data.train), len(data.val), len(data.test)) == (1_400, 300, 300)
    for i, part in enumerate(("train", "val", "test")):
        df[i * 600:(i + 1) * 600].write_csv(tmp_path / f"{part}.csv")
    files = tmp_path / "files.toml"
    files.write_text(TOML.format(name="f", data='train = "train.csv"\nval = "val.csv"\ntest = "test.csv"', split="", extra_tasks=""))
    data = load_suite_file(parse_suite_file(files))
    assert (len(data.train), len(data.val), len(data.test)) == (600, 600, 600)
    carve = tmp_path / "carve.toml"
    carve.write_text(TOML.format(name="c", data='train = "train.csv"\ntest = "test.csv"', split="val_ratio = 0.25", extra_tasks=""))
    data = load_suite_file(parse_suite_file(carve))
    assert (len(data.train), len(data.val), len(data.test)) == (450, 150, 600)


@pytest.mark.skipif(not (SHARED / "data" / "ali-ccp").is_dir(), reason="needs the Ali-CCP format fixtures in ../shared/data (absent)")
def test_user_suite_on_the_ali_ccp_fixtures(tmp_path):
    from mtlbench.tasks.user_file import load_suite_file, parse_suite_file

    folder = SHARED / "data" / "ali-ccp"
    header = pl.read_csv(folder / "ali_ccp_train_sample.csv.gz", n_rows=1).columns
    dense = [c for c in header if c.startswith("D")]
    sparse = [c for c in header if c not in dense and c not in ("click", "purchase")]
    path = tmp_path / "aliccp.toml"
    path.write_text(f"""
[data]
train = "{folder / 'ali_ccp_train_sample.csv.gz'}"
val = "{folder / 'ali_ccp_val_sample.csv.gz'}"
test = "{folder / 'ali_ccp_test_sample.csv.gz'}"
[features]
categorical = {json.dumps(sparse)}
numeric = {json.dumps(dense)}
[[tasks]]
name = "click"
kind = "binary"
[[tasks]]
name = "purchase"
kind = "binary"
mask = "click"
""")
    data = load_suite_file(parse_suite_file(path))
    assert (len(data.train), len(data.val), len(data.test)) == (100, 50, 50)
    assert data.inputs.n_cat == len(sparse) and data.inputs.n_num == len(dense)
    assert int(data.train.mask[:, 1].sum()) == 7  # purchase labelled on the 7 clicks only


@pytest.mark.skipif(not (SHARED / "data" / "aliexpress").is_dir(), reason="needs the AliExpress format fixtures in ../shared/data (absent)")
def test_user_suite_on_the_aliexpress_fixture_refuses_a_split_without_conversions(tmp_path):
    from mtlbench.tasks.user_file import load_suite_file, parse_suite_file

    folder = SHARED / "data" / "aliexpress"
    path = tmp_path / "aliexpress.toml"
    path.write_text(f"""
[data]
train = "{folder / 'aliexpress_train_sample.csv.gz'}"
test = "{folder / 'aliexpress_test_sample.csv.gz'}"
[features]
categorical = {json.dumps([f"categorical_{i}" for i in range(1, 17)])}
numeric = {json.dumps([f"numerical_{i}" for i in range(1, 64)])}
[[tasks]]
name = "click"
kind = "binary"
[[tasks]]
name = "conversion"
kind = "binary"
mask = "click"
[split]
val_ratio = 0.2
seed = 0
""")
    # 100 training rows hold 2 conversions: some split ends up without a positive, a one-line error says so
    try:
        data = load_suite_file(parse_suite_file(path))
    except MtlbenchError as err:
        assert "no positive label" in str(err) and "conversion" in str(err) and "\n" not in str(err)
    else:
        assert len(data.train) + len(data.val) == 100 and len(data.test) == 20


# ------------------------------------------------------------------------------------------ bad input
def _garbage(tmp_path: Path) -> Path:
    path = write_suite(tmp_path)
    (tmp_path / "shop.csv").write_bytes(b'a,b\n1,2\n"3,4\n5,6,7,8\n\x00\xff\xfe')
    return path


def _with(tmp_path: Path, fn) -> Path:
    return write_suite(tmp_path, fn(_shop()))


BAD = {
    "missing suite file": (lambda t: t / "nope.toml", "does not exist"),
    "missing data file": (lambda t: write_suite(t, data='path = "absent.csv"'), "absent.csv"),
    "invalid TOML": (lambda t: write_suite(t, text="[data\npath="), "not valid TOML"),
    "unreadable CSV": (_garbage, "shop.csv"),
    "unknown column": (lambda t: write_suite(t, _shop().rename({"price": "prize"})), "'price'"),
    "binary label not 0/1": (lambda t: _with(t, lambda d: d.with_columns(pl.col("click") * 2)), "other than 0/1"),
    "NaN in a feature": (lambda t: _with(t, lambda d: d.with_columns(
        pl.when(pl.int_range(pl.len()) % 100 == 7).then(float("nan")).otherwise(pl.col("price")).alias("price"))), "'price'"),
    "inf in a label": (lambda t: _with(t, lambda d: d.with_columns(
        pl.when(pl.int_range(pl.len()) < 3).then(float("inf")).otherwise(pl.col("click")).alias("click"))), "NaN, inf"),
    "no positive in a split": (lambda t: _with(t, lambda d: d.with_columns(
        pl.when(pl.col("split") == "val").then(0).otherwise(pl.col("buy")).alias("buy"))), "no positive label"),
    "no sample in a split": (lambda t: write_suite(t, _shop().with_columns((pl.col("split") != "val").cast(pl.Int64).alias("seen"), (2 * pl.col("price")).alias("spend")),
                                                  extra_tasks='[[tasks]]\nname = "spend"\nkind = "regression"\nmask = "seen"'),
                             "no sample in the val split"),
    "fewer than 2 tasks": (lambda t: write_suite(t, text='[data]\npath = "shop.csv"\n[features]\nnumeric = ["price"]\n'
                                                 '[[tasks]]\nname = "click"\nkind = "binary"\n[split]\ncolumn = "split"\n'), "at least 2"),
    "split with zero rows": (lambda t: _with(t, lambda d: d.with_columns(
        pl.when(pl.col("split") == "test").then(pl.lit("val")).otherwise(pl.col("split")).alias("split"))), "zero rows"),
    "feature is a label": (lambda t: write_suite(t, text=TOML.format(name="s", data='path = "shop.csv"', split='column = "split"',
                                                                     extra_tasks="").replace('["price"]', '["price", "click"]')), "leakage"),
    "typo in a key": (lambda t: write_suite(t, split='colum = "split"'), "did you mean 'column'"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_user_input_is_one_line(tmp_path, case):
    from mtlbench.tasks.user_file import register_suite_file

    make, expected = BAD[case]
    path = make(tmp_path)
    with pytest.raises(MtlbenchError) as err:
        register_suite_file(path)
    msg = str(err.value)
    assert expected in msg, msg
    assert "\n" not in msg and ";" in msg  # one line: the problem; the fix


@pytest.mark.parametrize("case", ["binary label not 0/1", "unknown column", "no positive in a split"])
def test_bad_suite_file_via_cli_exits_2_and_writes_nothing(tmp_path, case):
    make, expected = BAD[case]
    path = make(tmp_path)
    res = run_cli(tmp_path, "run", "hard_sharing", "--suite-file", str(path), "--seeds", "1", "--device", "cpu")
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], res.stderr
    results = tmp_path / "results"
    assert not results.exists() or not list(results.rglob("*.json"))


def test_bad_value_message_names_the_file_row(tmp_path):
    from mtlbench.tasks.user_file import register_suite_file

    df = _shop()
    first_val = int(np.flatnonzero((df["split"] == "val").to_numpy())[0])
    df = df.with_columns(pl.when(pl.int_range(pl.len()) == first_val).then(float("nan")).otherwise(pl.col("price")).alias("price"))
    with pytest.raises(MtlbenchError, match=rf"1 row\(s\) \(first at data row {first_val + 1}\) of the val split"):
        register_suite_file(write_suite(tmp_path, df))
