"""`ali_ccp`: Alibaba Click and Conversion Prediction (Ma et al., SIGIR 2018, the ESMM paper), read from local files.

Tasks: ``ctr`` (click) on every impression and ``cvr`` (purchase) on clicked impressions only —
``TaskSpec.after = "ctr"``, δ_cvr = click, the stored ``cvr`` label of an unclicked impression is 0, so
``y_ctr · y_cvr`` over all impressions is the CTCVR label ESMM scores. Binary, metric AUC.

Files: torch-rechub's processed split of the official train/test release,
``$MTLBENCH_ALI_CCP_DIR/ali_ccp_train.csv``, ``ali_ccp_val.csv``, ``ali_ccp_test.csv`` (``.csv.gz``
accepted; or ``data_dir=``), header ``click, purchase`` then 23 label-encoded sparse fields (``101`` …
``853``, ``301`` = scenario, ``109_14`` … ``150_14``) and 8 min-max-scaled dense fields (``D109_14`` …
``D853``). Obtain them from torch-rechub (github.com/datawhalechina/torch-rechub, examples/ranking), built
from the official Tianchi release (https://tianchi.aliyun.com/dataset/408: ``sample_train.tar.gz``,
``sample_test.tar.gz``, about 42M / 43M impressions). The raw skeleton + common-features files are not read
here. No checksum is published for the processed files, so none is verified; the sha256 of each file
read is recorded in the suite's parameters and keys the cache.

Preprocessing (version 1):

1. Parse with polars: sparse fields as integers, dense fields as float64, labels 0/1. A header other than
   the above, an unparsable or cut row, an empty field, a label outside 0/1 or a purchase without a click
   is a one-line error. ``max_rows`` reads only the first rows of each file.
2. Split: the three files are train, validation and test as torch-rechub cut them.
3. Features: the 23 sparse fields re-coded with vocabularies fitted on train (id = position in the sorted
   train values + 1, 0 = unseen); the 8 dense fields standardised with train's mean and std.
4. Rows per profile: quick reads the first 100,000 rows of each file (the common "10W" sampled subsets,
   ``head -n 100000`` of each file), standard every row; ``max_rows`` overrides both.

The preprocessed tensors are cached (``mtlbench.suites.cached_suite``) keyed by the files' sha256, this
version and the parameters, so the CSV files are parsed once. Default embedding size: 8.
"""
from __future__ import annotations

from typing import Any

from mtlbench.data import SuiteData
from mtlbench.profiles import Profile
from mtlbench.suites import SuiteFamily, cached_suite, register_suite

from ._funnel_files import FunnelFormat, build_suite, check_max_rows, data_folder, locate, read_table
from ._prep import sha256_file

VERSION = "1"
ENV_DIR = "MTLBENCH_ALI_CCP_DIR"
FILES = ("ali_ccp_train.csv", "ali_ccp_val.csv", "ali_ccp_test.csv")
QUICK_ROWS = 100_000
SPARSE = ("101", "121", "122", "124", "125", "126", "127", "128", "129", "205", "206", "207", "210", "216", "508",
          "509", "702", "853", "301", "109_14", "110_14", "127_14", "150_14")
DENSE = ("D109_14", "D110_14", "D127_14", "D150_14", "D508", "D509", "D702", "D853")
FORMAT = FunnelFormat(
    dataset="Ali-CCP",
    columns=("click", "purchase", *SPARSE, *DENSE),
    cat=SPARSE, num=DENSE, click="click", conversion="purchase",
    obtain="Get torch-rechub's processed ali_ccp_train.csv, ali_ccp_val.csv and ali_ccp_test.csv "
           "(github.com/datawhalechina/torch-rechub, examples/ranking; raw data: tianchi.aliyun.com/dataset/408); "
           "see README, Datasets.",
)


@register_suite("ali_ccp")
class AliCCP(SuiteFamily):
    name = "ali_ccp"
    version = VERSION
    description = f"Ali-CCP click → purchase (torch-rechub files): CTR on impressions, CVR on clicks [needs local data: ${ENV_DIR}]"
    data_env = ENV_DIR
    defaults: dict[str, Any] = {"max_rows": None, "data_dir": None}

    def load(self, params: dict[str, Any], profile: Profile) -> SuiteData:
        q = self.check_params(params)
        max_rows = check_max_rows(self.name, q["max_rows"])
        if max_rows is None and profile.name != "standard":
            max_rows = QUICK_ROWS
        folder = data_folder(q["data_dir"], ENV_DIR, FORMAT, ", ".join(FILES))
        paths = [locate(folder, name, FORMAT) for name in FILES]
        shas = [sha256_file(p) for p in paths]
        key = {"suite": self.name, "version": VERSION, "sha256": tuple(shas), "max_rows": max_rows}

        def build() -> SuiteData:
            frames = [read_table(p, FORMAT, max_rows) for p in paths]
            return build_suite(frames, FORMAT, self.name, VERSION, emb_dim=8, params={"max_rows": max_rows})

        data = cached_suite(key, build)
        data.params = {**data.params, "data_source": str(folder), **{f"{s}_sha256": h for s, h in zip(("train", "val", "test"), shas)}}
        return data
