"""`aliexpress[country=NL|ES|FR|US]`: the AliExpress search-log funnel (Li et al., CIKM 2020), read from local files.

Tasks: ``ctr`` (click) on every impression and ``cvr`` (conversion) on clicked impressions only —
``TaskSpec.after = "ctr"``, δ_cvr = click, the stored ``cvr`` label of an unclicked impression is 0, so
``y_ctr · y_cvr`` over all impressions is the CTCVR label MTReclib and AITM score. Binary, metric AUC.

Files: MTReclib's processed per-country CSVs, ``$MTLBENCH_ALIEXPRESS_DIR/AliExpress_<country>/train.csv`` and
``test.csv`` (``.csv.gz`` accepted; or ``data_dir=``), header ``search_id, categorical_1..16,
numerical_1..63, click, conversion`` (16 label-encoded fields, 63 already normalised numbers). Obtain them
from MTReclib (github.com/easezyc/Multitask-Recommendation-Library, "datasets"), which processes the raw
Tianchi release (https://tianchi.aliyun.com/dataset/74690). No checksum is published for these files, so
none is verified; the sha256 of each file read is recorded in the suite's parameters and keys the cache.

Preprocessing (version 1):

1. Parse with polars: categorical fields as integers, numeric fields as float64, labels 0/1. A header
   other than the above, an unparsable or cut row, an empty field, a label outside 0/1 or a conversion
   without a click is a one-line error. ``max_rows`` reads only the first rows of each file.
2. Split (MTReclib trains on train.csv and tests on test.csv; it has no validation split): test = test.csv.
   Validation = the rows of train.csv whose ``search_id`` is among ``val_fraction`` (default 0.1) of its
   distinct search ids, drawn with ``numpy.random.default_rng(split_seed).permutation`` over the sorted ids;
   the rest is train. Whole searches go to one side, so no query is in both.
3. Features: the 16 categorical fields (``search_id`` is not a feature) re-coded with vocabularies fitted on
   train (id = position in the sorted train values + 1, 0 = unseen; MTReclib instead sizes the tables with
   the maximum id of each file); the 63 numeric fields standardised with train's mean and std.
4. Rows per profile: quick reads the first 100,000 rows of each file (the peers' usual "10W" trial subset),
   standard every row; ``max_rows`` overrides both.

The preprocessed tensors are cached (``mtlbench.suites.cached_suite``) keyed by the files' sha256, this
version and the parameters, so the CSV files are parsed once. Default embedding size: 8.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from mtlbench.data import SuiteData
from mtlbench.errors import MtlbenchError
from mtlbench.profiles import Profile
from mtlbench.suites import SuiteFamily, cached_suite, register_suite

from ._funnel_files import FunnelFormat, build_suite, check_max_rows, data_folder, locate, read_table
from ._prep import sha256_file

VERSION = "1"
ENV_DIR = "MTLBENCH_ALIEXPRESS_DIR"
from .aliexpress_meta import COUNTRIES  # noqa: E402 - one list, shared with the torch-free metadata
QUICK_ROWS = 100_000
FORMAT = FunnelFormat(
    dataset="AliExpress",
    columns=("search_id", *(f"categorical_{i}" for i in range(1, 17)), *(f"numerical_{i}" for i in range(1, 64)),
             "click", "conversion"),
    cat=tuple(f"categorical_{i}" for i in range(1, 17)),
    num=tuple(f"numerical_{i}" for i in range(1, 64)),
    click="click", conversion="conversion",
    obtain="Get MTReclib's processed AliExpress_<country>/train.csv and test.csv (github.com/easezyc/"
           "Multitask-Recommendation-Library; raw data: tianchi.aliyun.com/dataset/74690); see README, Datasets.",
)


def split_by_search(train: pl.DataFrame, val_fraction: float, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(train, validation): the validation rows are those of ``val_fraction`` of the distinct search ids."""
    ids = np.sort(train["search_id"].unique().to_numpy())
    n_val = int(round(val_fraction * len(ids)))
    if not 1 <= n_val < len(ids):
        raise MtlbenchError(f"aliexpress val_fraction={val_fraction} leaves no search for train or validation "
                            f"({len(ids)} searches read); use a fraction in (0, 1) or read more rows (max_rows).")
    val_ids = ids[np.random.default_rng(seed).permutation(len(ids))[:n_val]]
    in_val = train["search_id"].is_in(val_ids.tolist())
    return train.filter(~in_val), train.filter(in_val)


@register_suite("aliexpress")
class AliExpress(SuiteFamily):
    name = "aliexpress"
    version = VERSION
    description = ("AliExpress search funnel per country (MTReclib files): CTR on impressions, CVR on clicks "
                   f"[needs local data: ${ENV_DIR}]")
    data_env = ENV_DIR
    defaults: dict[str, Any] = {"country": "NL", "max_rows": None, "val_fraction": 0.1, "split_seed": 0, "data_dir": None}

    def points(self, profile: Profile) -> list[dict[str, Any]]:
        return [{"country": c} for c in COUNTRIES]

    def load(self, params: dict[str, Any], profile: Profile) -> SuiteData:
        q = self.check_params(params)
        country = str(q["country"]).upper()
        if country not in COUNTRIES:
            raise MtlbenchError(f"aliexpress has no country {q['country']!r}; use one of {', '.join(COUNTRIES)}.")
        max_rows = check_max_rows(self.name, q["max_rows"])
        if max_rows is None and q["max_rows"] is None and profile.name != "standard":
            max_rows = QUICK_ROWS
        frac = q["val_fraction"]
        if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0 < frac < 1:
            raise MtlbenchError(f"aliexpress val_fraction={frac!r} is out of range; use a fraction in (0, 1).")
        sub = f"AliExpress_{country}"
        folder = data_folder(q["data_dir"], ENV_DIR, FORMAT, f"{sub}/train.csv and {sub}/test.csv")
        paths = [locate(folder / sub, name, FORMAT) for name in ("train.csv", "test.csv")]
        shas = [sha256_file(p) for p in paths]
        key = {"suite": self.name, "version": VERSION, "train_sha256": shas[0], "test_sha256": shas[1],
               "country": country, "max_rows": max_rows, "val_fraction": float(frac), "split_seed": int(q["split_seed"])}

        def build() -> SuiteData:
            train, test = (read_table(p, FORMAT, max_rows) for p in paths)
            train, val = split_by_search(train, float(frac), int(q["split_seed"]))
            return build_suite([train, val, test], FORMAT, self.name, VERSION, emb_dim=8,
                               params={"country": country, "max_rows": max_rows})

        data = cached_suite(key, build)
        data.params = {**data.params, "data_source": str(folder), "train_sha256": shas[0], "test_sha256": shas[1]}
        return data
