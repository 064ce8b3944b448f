"""`census_income`: UCI Census-Income (KDD), task groups G1 and G2 of the MMoE paper (docs/protocol.md §3).

Registered as one family with two instances, one per task group (``is_sweep`` is False: they are two
different suites that share a loader, not points of one sweep):

- ``census_income[group=1]``: tasks ``income_50k`` (income > 50K) and ``never_married``
  (marital status = "Never married").
- ``census_income[group=2]``: tasks ``education_college`` and ``never_married``. ``education_college`` = 1
  exactly for these education values: "Associates degree-occup /vocational", "Associates degree-academic
  program", "Bachelors degree(BA AB BS)", "Masters degree(MA MS MEng MEd MSW MBA)", "Prof school degree (MD DDS
  DVM LLB JD)", "Doctorate degree(PhD EdD)" ("Some college but no degree" and everything below are 0).

Both tasks are binary, metric AUC.

Data: the 42-column files ``census-income.data.gz`` (official train, 199,523 rows) and
``census-income.test.gz`` (official test, 99,762 rows), vendored in ``tasks/data/census_income/`` with their
attribution (PROVENANCE.md). Every load checks their sha256 (of the file, or of the decompressed content for a
copy compressed differently); a mismatch is a one-line error. To use another copy, set ``MTLBENCH_CENSUS_DIR``
or the parameter ``data_dir``.

Preprocessing (version 1):

1. Parse with polars, every field as text, surrounding spaces stripped. ``?`` (missing) is kept as its own
   category value, as the papers' one-hot encodings do.
2. Labels: ``income_50k`` = (last column == "50000+."), ``never_married`` = (marital_stat == "Never married"),
   ``education_college`` as above.
3. Removed from the features: ``instance_weight`` (a survey weight, not a feature per the UCI description),
   ``marital_stat`` (the ``never_married`` label's column) and the group's other label column (G1: ``income_50k``;
   G2: ``education``). So ``education`` is a feature in G1 and ``income_50k`` a feature in G2. Proxy columns such
   as ``det_hh_fam_stat`` are kept, as in the papers.
4. Numeric features (7): age, wage_per_hour, capital_gains, capital_losses, stock_dividends, num_emp,
   weeks_worked — standardised with the train split's mean and std. Every other remaining column is categorical
   (32 fields, coded ones included: det_ind_code, det_occ_code, own_or_self, vet_benefits, year, ...): ids are
   positions in the sorted list of values seen in the train split + 1; 0 = a value not seen in train.
5. Split: the official train file is the train split. The official test file is permuted with
   ``numpy.random.default_rng(1).permutation(99762)``; the first 49,881 rows of that order are the validation
   split, the last 49,881 the test split.
6. Profiles: ``standard`` uses all rows (199,523 / 49,881 / 49,881). ``quick`` uses a fixed subsample:
   10,000 train rows drawn without replacement with ``numpy.random.default_rng(subsample_seed).choice`` (kept
   in file order) and the first 4,000 rows of the validation and test splits (already in permuted order);
   vocabularies and standardisation are then fitted on that train subsample. Override with n_train, n_val, n_test.

The preprocessed tensors are cached on disk (``mtlbench.suites.cached_suite``) keyed by the files' sha256,
this version and the parameters, so the CSV files are parsed once. Default embedding size: 4.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mtlbench.data import InputSpec, SuiteData, TaskSpec, make_split
from mtlbench.errors import MtlbenchError
from mtlbench.profiles import Profile
from mtlbench.suites import SuiteFamily, cached_suite, register_suite

from ._prep import encode_categoricals, sha256_file, standardize

VERSION = "1"
VENDORED_DIR = Path(__file__).parent / "data" / "census_income"
ENV_DIR = "MTLBENCH_CENSUS_DIR"

COLUMNS = (
    "age", "class_worker", "det_ind_code", "det_occ_code", "education", "wage_per_hour", "hs_college",
    "marital_stat", "major_ind_code", "major_occ_code", "race", "hisp_origin", "sex", "union_member",
    "unemp_reason", "full_or_part_emp", "capital_gains", "capital_losses", "stock_dividends", "tax_filer_stat",
    "region_prev_res", "state_prev_res", "det_hh_fam_stat", "det_hh_summ", "instance_weight", "mig_chg_msa",
    "mig_chg_reg", "mig_move_reg", "mig_same", "mig_prev_sunbelt", "num_emp", "fam_under_18", "country_father",
    "country_mother", "country_self", "citizenship", "own_or_self", "vet_question", "vet_benefits",
    "weeks_worked", "year", "income_50k",
)
NUMERIC = ("age", "wage_per_hour", "capital_gains", "capital_losses", "stock_dividends", "num_emp", "weeks_worked")
COLLEGE = (
    "Associates degree-occup /vocational",
    "Associates degree-academic program",
    "Bachelors degree(BA AB BS)",
    "Masters degree(MA MS MEng MEd MSW MBA)",
    "Prof school degree (MD DDS DVM LLB JD)",
    "Doctorate degree(PhD EdD)",
)
INCOME_POSITIVE, INCOME_NEGATIVE = "50000+.", "- 50000."
NEVER_MARRIED = "Never married"

#: group -> (task names, columns removed from the features besides instance_weight and marital_stat)
GROUPS: dict[int, tuple[tuple[str, str], str]] = {
    1: (("income_50k", "never_married"), "income_50k"),
    2: (("education_college", "never_married"), "education"),
}

#: file stem -> (rows, sha256 of the vendored .gz, sha256 of the decompressed content)
FILES: dict[str, tuple[int, str, str]] = {
    "census-income.data": (
        199_523,
        "3a8265c042a3a804761b804e3fbd2b44d26780fc11848cdc499a439b6ec209c2",
        "3676a81db7d3528f3f8b9f3c699d0f0aa28db45e6e994fa0b8ed38327539ee86",
    ),
    "census-income.test": (
        99_762,
        "5ac4cacd3ca9f1ecb10de1a0a41e4ac68fdc419e3fec190f5c0c6cc03b2ea659",
        "98402b1ab879573d0a7f38a699a40258080e25e33d3401e7bf9c96d3fa0fab8c",
    ),
}
SPLIT_SEED = 1  # numpy.random.default_rng(1).permutation(99762): first half validation, second half test
SIZES = {"quick": (10_000, 4_000, 4_000), "standard": (None, None, None)}  # None: every row
_FIX = (f"re-copy census-income.data.gz / census-income.test.gz (UCI Census-Income KDD, "
        f"https://doi.org/10.24432/C5N30T) or reinstall mtlbench; ${ENV_DIR} or data_dir=... points at another copy")


# ------------------------------------------------------------------------------------ files
def data_dir(override: str | None = None) -> tuple[Path, str]:
    """The folder to read (parameter, then $MTLBENCH_CENSUS_DIR, then the vendored copy) and its source label."""
    if override:
        return Path(override).expanduser(), str(override)
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser(), f"${ENV_DIR}={os.environ[ENV_DIR]}"
    return VENDORED_DIR, "vendored"


def locate(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise MtlbenchError(f"census-income file {stem}.gz (or {stem}) not found in {folder}; {_FIX}.")


def verify(path: Path) -> str:
    """sha256 of the file after checking it against the known hashes (file or decompressed content)."""
    _, gz_sha, raw_sha = FILES[path.name.removesuffix(".gz")]
    sha = sha256_file(path)
    if sha in (gz_sha, raw_sha):
        return sha
    content_sha = None
    if path.suffix == ".gz":  # a copy compressed differently: compare the decompressed content
        h = hashlib.sha256()
        try:
            with gzip.open(path, "rb") as f:
                while block := f.read(1 << 20):
                    h.update(block)
            content_sha = h.hexdigest()
        except (OSError, EOFError, zlib.error):
            content_sha = None
        if content_sha == raw_sha:
            return sha
    raise MtlbenchError(
        f"census-income file {path} is corrupted or a different version (sha256 {sha[:12]}…, expected "
        f"{gz_sha[:12]}… or content {raw_sha[:12]}…); {_FIX}."
    )


def read_raw(path: Path) -> pl.DataFrame:
    """All 42 columns as stripped text, named as in COLUMNS; checks the row count."""
    rows = FILES[path.name.removesuffix(".gz")][0]
    try:
        df = pl.read_csv(path, has_header=False, infer_schema=False, new_columns=list(COLUMNS))
    except (pl.exceptions.PolarsError, OSError) as err:
        raise MtlbenchError(f"cannot parse census-income file {path} ({err.__class__.__name__}); {_FIX}.") from None
    if df.shape != (rows, len(COLUMNS)):
        raise MtlbenchError(f"census-income file {path} has shape {df.shape}, expected ({rows}, {len(COLUMNS)}); {_FIX}.")
    return df.with_columns(pl.all().str.strip_chars())


def labels(df: pl.DataFrame, tasks: tuple[str, ...]) -> np.ndarray:
    """Label matrix [N, K] float32 (0/1) for the named tasks."""
    income = df["income_50k"]
    if not income.is_in([INCOME_POSITIVE, INCOME_NEGATIVE]).all():
        raise MtlbenchError(f"census-income income column has values other than {INCOME_POSITIVE!r}/{INCOME_NEGATIVE!r}; {_FIX}.")
    cols = {
        "income_50k": income == INCOME_POSITIVE,
        "never_married": df["marital_stat"] == NEVER_MARRIED,
        "education_college": df["education"].is_in(list(COLLEGE)),
    }
    return np.stack([cols[t].to_numpy() for t in tasks], axis=1).astype(np.float32)


def feature_columns(group: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(numeric, categorical) feature names of a group, in file order."""
    removed = {"instance_weight", "marital_stat", GROUPS[group][1]}
    cat = tuple(c for c in COLUMNS if c not in removed and c not in NUMERIC)
    return NUMERIC, cat


def split_official_test(n_test_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the validation and test splits within the official test file."""
    perm = np.random.default_rng(SPLIT_SEED).permutation(n_test_rows)
    half = n_test_rows // 2
    return perm[:half], perm[half:]


# ------------------------------------------------------------------------------------ suite
@register_suite("census_income")
class CensusIncome(SuiteFamily):
    name = "census_income"
    version = VERSION
    description = "UCI Census-Income (KDD), MMoE task groups: G1 income>50K + never married, G2 college + never married"
    defaults: dict[str, Any] = {"group": 1, "n_train": None, "n_val": None, "n_test": None, "subsample_seed": 0,
                                "data_dir": None}

    def points(self, profile: Profile) -> list[dict[str, Any]]:
        return [{"group": 1}, {"group": 2}]

    def load(self, params: dict[str, Any], profile: Profile) -> SuiteData:
        q = self.check_params(params)
        group = q["group"]
        if group not in GROUPS:
            raise MtlbenchError(f"census_income has no group {group!r}; use group=1 (income, never married) or group=2 (education, never married).")
        sizes = SIZES.get(profile.name, SIZES["quick"])
        n_train, n_val, n_test = (q[k] if q[k] is not None else s for k, s in zip(("n_train", "n_val", "n_test"), sizes))
        for key, n, cap in (("n_train", n_train, 199_523), ("n_val", n_val, 49_881), ("n_test", n_test, 49_881)):
            if n is not None and not (isinstance(n, int) and 1 <= n <= cap):
                raise MtlbenchError(f"census_income {key}={n} is out of range; use an integer from 1 to {cap}.")
        folder, source = data_dir(q["data_dir"])
        paths = [locate(folder, stem) for stem in FILES]
        shas = [verify(p) for p in paths]
        key = {"suite": self.name, "version": VERSION, "train_sha256": shas[0], "test_sha256": shas[1], "group": group,
               "n_train": n_train, "n_val": n_val, "n_test": n_test, "subsample_seed": q["subsample_seed"]}
        data = cached_suite(key, lambda: self._build(paths, group, n_train, n_val, n_test, int(q["subsample_seed"])))
        data.params = {**data.params, "data_source": source, "train_sha256": shas[0], "test_sha256": shas[1]}
        return data

    def _build(self, paths: list[Path], group: int, n_train: int | None, n_val: int | None, n_test: int | None,
               subsample_seed: int) -> SuiteData:
        train_df, test_df = (read_raw(p) for p in paths)
        val_idx, test_idx = split_official_test(test_df.height)
        if n_train is not None and n_train < train_df.height:
            keep = np.sort(np.random.default_rng(subsample_seed).choice(train_df.height, n_train, replace=False))
            train_df = train_df[keep]
        frames = [train_df, test_df[val_idx[:n_val]], test_df[test_idx[:n_test]]]
        tasks, _ = GROUPS[group]
        num_names, cat_names = feature_columns(group)
        try:
            nums = standardize([f.select(pl.col(list(num_names)).cast(pl.Float64)).to_numpy() for f in frames])
        except pl.exceptions.PolarsError:
            raise MtlbenchError(f"census-income numeric columns {', '.join(num_names)} hold non-numbers; {_FIX}.") from None
        cats, cards = encode_categoricals([{c: f[c] for c in cat_names} for f in frames], cat_names)
        ys = [labels(f, tasks) for f in frames]
        train, val, test = (make_split(x, c, y) for x, c, y in zip(nums, cats, ys))
        return SuiteData(
            name="", family=self.name, version=VERSION,
            tasks=tuple(TaskSpec(t, "binary") for t in tasks),
            inputs=InputSpec(num_names=num_names, cat_names=cat_names, cat_cardinalities=cards),
            train=train, val=val, test=test, emb_dim=4,
            params={"group": group, "n_train": len(train), "n_val": len(val), "n_test": len(test),
                    "subsample_seed": subsample_seed, "tasks": list(tasks)},
        )
