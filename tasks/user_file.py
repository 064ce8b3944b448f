"""User suites from files: ``mtlbench run --all --suite-file my_suite.toml``.

A suite file (TOML) names the data, the feature columns, the task columns and the split::

    name = "my_shop"               # suite name (default: the file's stem); letters, digits, _ and -
    version = "1"                  # bump it when you change the data or the columns (default "1")
    description = "clicks and purchases of my shop"
    emb_dim = 8                    # embedding size of the categorical fields (default 8)

    [data]
    path = "shop.csv"              # one file with every row (CSV, CSV.gz, TSV or Parquet), relative to this file
    # or one file per split:  train = "train.csv"  val = "val.csv"  test = "test.csv"
    # (leave out val to carve it from train with [split] val_ratio and seed)
    separator = ","                # CSV only (default "," and tab for .tsv)

    [features]
    categorical = ["user", "item"] # any type; ids fitted on train, 0 = unseen in train or missing
    numeric = ["price"]            # standardised with the train mean / std; NaN, inf or missing is an error

    [[tasks]]
    name = "click"
    column = "click"               # default: the task name
    kind = "binary"                # binary (labels 0/1, metric auc) | regression (metric mse)

    [[tasks]]
    name = "purchase"
    kind = "binary"
    mask = "click"                 # optional: the label exists only where this 0/1 column is 1 (δ of docs/protocol.md §2);
                                   # the label of the other rows is ignored (may be empty)

    [split]                        # with [data] path: exactly one of
    column = "split"               #   a column whose values are train / val / test
    # ratios = [0.8, 0.1, 0.1]     #   or random fractions of the rows, drawn with numpy default_rng(seed)
    # seed = 0

Every profile uses every row. Bad input (missing file, unreadable file, unknown column, a binary label that is
not 0/1, NaN or inf in a feature or label, a task without positives or samples in a split, fewer than two
tasks, an empty split) is refused with a one-line error that names the problem and the fix. The record of a run
keeps the sha256 of the suite file and of every data file, and the tensors' checksum changes whenever the data
does, so results of an edited file never mix with the old ones.
"""
from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl

from mtlbench.data import METRIC_OF_KIND, InputSpec, SuiteData, TaskSpec, make_split
from mtlbench.errors import MtlbenchError
from mtlbench.profiles import Profile
from mtlbench.suites import SUITES, SuiteFamily, cached_suite

from ._prep import encode_categoricals, sha256_file, standardize

LOADER_VERSION = "1"  # bump when this loader's preprocessing changes (part of the cache key)
SPLITS = ("train", "val", "test")
SPLIT_VALUES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
ROW = "__mtlbench_row__"  # name of the row-number column added to a data file's table (never shown to users)
_NAME = re.compile(r"^[A-Za-z_][\w-]*$")
_TOP_KEYS = {"name", "version", "description", "emb_dim", "data", "features", "tasks", "split"}
_DATA_KEYS = {"path", "train", "val", "test", "separator", "format"}
_FEATURE_KEYS = {"categorical", "numeric"}
_TASK_KEYS = {"name", "column", "kind", "metric", "mask"}
_SPLIT_KEYS = {"column", "ratios", "seed", "val_ratio"}


@dataclass(frozen=True)
class TaskColumn:
    name: str
    column: str
    kind: str
    metric: str
    mask: str | None


@dataclass(frozen=True)
class SuiteFile:
    """A parsed, schema-checked suite file (the data is read by ``read_suite``)."""

    path: Path
    sha256: str
    name: str
    version: str
    description: str
    emb_dim: int
    files: dict[str, Path]  # "all" or "train"/"val"/"test" -> data file
    separator: str | None
    fmt: str | None
    categorical: tuple[str, ...]
    numeric: tuple[str, ...]
    tasks: tuple[TaskColumn, ...]
    split_column: str | None
    ratios: tuple[float, float, float] | None
    val_ratio: float | None
    seed: int


# ------------------------------------------------------------------------------ parsing the TOML
def _where(path: Path) -> str:
    return f"suite file {path}"


def _check_keys(path: Path, section: str, table: dict[str, Any], allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise MtlbenchError(f"{_where(path)}: unknown key {key!r} in {section}{hint}; allowed keys: {', '.join(sorted(allowed))}.")


def _str_list(path: Path, section: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MtlbenchError(f"{_where(path)}: {section} must be a list of column names, e.g. [\"user\", \"item\"].")
    return tuple(value)


def parse_suite_file(path: str | Path) -> SuiteFile:
    """Read and check a suite file's schema (not its data)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise MtlbenchError(f"suite file {path} does not exist; check the path passed to --suite-file.")
    try:
        raw = path.read_bytes()
        doc = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise MtlbenchError(f"cannot read suite file {path} ({err.__class__.__name__}); pass a readable UTF-8 TOML file.") from None
    except tomllib.TOMLDecodeError as err:
        raise MtlbenchError(f"suite file {path} is not valid TOML ({err}); fix the syntax (see tasks/examples/example_suite.toml).") from None
    _check_keys(path, "the top level", doc, _TOP_KEYS)

    name = doc.get("name", re.sub(r"[^\w-]", "_", path.name.split(".")[0]))
    if not isinstance(name, str) or not _NAME.match(name):
        raise MtlbenchError(f"{_where(path)}: suite name {name!r} is not usable; set name = \"...\" with letters, digits, _ and - (not starting with a digit).")
    version = str(doc.get("version", "1"))
    emb_dim = doc.get("emb_dim", 8)
    if not isinstance(emb_dim, int) or emb_dim < 1:
        raise MtlbenchError(f"{_where(path)}: emb_dim = {emb_dim!r} is out of range; use a positive integer.")

    data = doc.get("data")
    if not isinstance(data, dict):
        raise MtlbenchError(f"{_where(path)} has no [data] table; add [data] with path = \"file.csv\" or train/val/test files.")
    _check_keys(path, "[data]", data, _DATA_KEYS)
    for key in ("path", "train", "val", "test"):
        if key in data and not isinstance(data[key], str):
            raise MtlbenchError(f"{_where(path)}: [data] {key} must be a file name (a string).")
    if "path" in data:
        if any(k in data for k in SPLITS):
            raise MtlbenchError(f"{_where(path)}: [data] has both path and per-split files; give either path or train/val/test.")
        files = {"all": data["path"]}
    elif "train" in data and "test" in data:
        files = {k: data[k] for k in SPLITS if k in data}
    else:
        raise MtlbenchError(f"{_where(path)}: [data] needs path = \"file\" (one file) or train = and test = (one file per split).")
    files = {k: (path.parent / v).expanduser() for k, v in files.items()}
    fmt = data.get("format")
    if fmt is not None and fmt not in ("csv", "parquet"):
        raise MtlbenchError(f"{_where(path)}: [data] format = {fmt!r} is unknown; use \"csv\" or \"parquet\".")

    feats = doc.get("features", {})
    if not isinstance(feats, dict):
        raise MtlbenchError(f"{_where(path)}: [features] must be a table with categorical = [...] and numeric = [...].")
    _check_keys(path, "[features]", feats, _FEATURE_KEYS)
    categorical = _str_list(path, "[features] categorical", feats.get("categorical", []))
    numeric = _str_list(path, "[features] numeric", feats.get("numeric", []))
    if not categorical and not numeric:
        raise MtlbenchError(f"{_where(path)} lists no feature columns; add [features] categorical = [...] and/or numeric = [...].")

    raw_tasks = doc.get("tasks", [])
    if not isinstance(raw_tasks, list) or not all(isinstance(t, dict) for t in raw_tasks):
        raise MtlbenchError(f"{_where(path)}: tasks must be [[tasks]] tables with name, kind and optionally column, metric, mask.")
    tasks = []
    for t in raw_tasks:
        _check_keys(path, "[[tasks]]", t, _TASK_KEYS)
        if not isinstance(t.get("name"), str) or not t["name"]:
            raise MtlbenchError(f"{_where(path)}: every [[tasks]] needs name = \"...\".")
        kind = t.get("kind")
        if kind not in METRIC_OF_KIND:
            raise MtlbenchError(f"{_where(path)}: task {t['name']!r} has kind = {kind!r}; use \"binary\" or \"regression\".")
        metric = t.get("metric", METRIC_OF_KIND[kind])
        if metric != METRIC_OF_KIND[kind]:
            raise MtlbenchError(f"{_where(path)}: task {t['name']!r} of kind {kind} cannot use metric {metric!r}; use \"{METRIC_OF_KIND[kind]}\".")
        mask = t.get("mask")
        if mask is not None and not isinstance(mask, str):
            raise MtlbenchError(f"{_where(path)}: task {t['name']!r} mask must be a column name.")
        tasks.append(TaskColumn(t["name"], t.get("column", t["name"]), kind, metric, mask or None))
    if len(tasks) < 2:
        raise MtlbenchError(f"{_where(path)} defines {len(tasks)} task(s); multi-task learning needs at least 2 [[tasks]] tables.")
    if len({t.name for t in tasks}) < len(tasks):
        raise MtlbenchError(f"{_where(path)}: two tasks share a name; give every [[tasks]] its own name.")
    labels = {t.column for t in tasks}
    for col in (*categorical, *numeric):
        if col in labels:
            raise MtlbenchError(f"{_where(path)}: column {col!r} is both a feature and a task label (label leakage); remove it from [features].")
    if len(set(categorical) | set(numeric)) < len(categorical) + len(numeric):
        raise MtlbenchError(f"{_where(path)}: a column is listed twice under [features]; list each feature once.")

    split = doc.get("split", {})
    if not isinstance(split, dict):
        raise MtlbenchError(f"{_where(path)}: [split] must be a table.")
    _check_keys(path, "[split]", split, _SPLIT_KEYS)
    seed = split.get("seed", 0)
    if not isinstance(seed, int):
        raise MtlbenchError(f"{_where(path)}: [split] seed must be an integer.")
    split_column, ratios, val_ratio = split.get("column"), None, None
    if "all" in files:
        if ("column" in split) == ("ratios" in split):
            raise MtlbenchError(f"{_where(path)}: with one data file, [split] needs exactly one of column = \"...\" or ratios = [train, val, test].")
        if "ratios" in split:
            r = split["ratios"]
            if (not isinstance(r, list) or len(r) != 3 or not all(isinstance(v, (int, float)) and v > 0 for v in r)
                    or abs(sum(r) - 1.0) > 1e-6):
                raise MtlbenchError(f"{_where(path)}: [split] ratios = {r!r} must be three positive fractions summing to 1, e.g. [0.8, 0.1, 0.1].")
            ratios = tuple(float(v) for v in r)
        elif not isinstance(split_column, str):
            raise MtlbenchError(f"{_where(path)}: [split] column must be a column name.")
    else:
        if "column" in split or "ratios" in split:
            raise MtlbenchError(f"{_where(path)}: the data comes as one file per split, so [split] column / ratios do not apply; remove them.")
        if "val" not in files:
            v = split.get("val_ratio")
            if not isinstance(v, (int, float)) or not 0 < v < 1:
                raise MtlbenchError(f"{_where(path)}: [data] has no val file; add val = \"...\" or [split] val_ratio = 0.1 to carve validation rows from train.")
            val_ratio = float(v)
    return SuiteFile(
        path=path.resolve(), sha256=hashlib.sha256(raw).hexdigest(), name=name, version=version,
        description=str(doc.get("description", f"user suite from {path.name}")), emb_dim=emb_dim, files=files,
        separator=data.get("separator"), fmt=fmt, categorical=categorical, numeric=numeric, tasks=tuple(tasks),
        split_column=split_column if "all" in files else None, ratios=ratios, val_ratio=val_ratio, seed=seed,
    )


# ------------------------------------------------------------------------------ reading the data
def _read_table(sf: SuiteFile, file: Path, needed: Sequence[str]) -> pl.DataFrame:
    if not file.is_file():
        raise MtlbenchError(f"data file {file} named in {sf.path} does not exist; fix the path in [data] (relative to the suite file).")
    name = file.name.lower()
    fmt = sf.fmt or ("parquet" if name.endswith((".parquet", ".pq")) else "csv")
    try:
        if fmt == "parquet":
            df = pl.read_parquet(file)
        else:
            sep = sf.separator or ("\t" if name.endswith((".tsv", ".tsv.gz")) else ",")
            df = pl.read_csv(file, separator=sep, infer_schema_length=100_000)
    except (pl.exceptions.PolarsError, OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else err.__class__.__name__
        raise MtlbenchError(f"cannot read data file {file} as {fmt.upper()} ({first[:160]}); check the file and [data] format/separator.") from None
    columns = list(df.columns)  # the file's own columns (the row number added below is not one)
    row = ROW
    while row in columns:  # a file may hold any column name: the row number takes one it does not use
        row += "_"
    df = df.with_row_index(row, offset=1)  # first column: data row number in the file (1 = first row after the header)
    if df.height == 0:
        raise MtlbenchError(f"data file {file} has no rows; give it rows (a split with zero rows cannot be trained or evaluated).")
    for col in needed:
        if col not in columns:
            close = difflib.get_close_matches(col, columns, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            shown = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
            raise MtlbenchError(f"column {col!r} named in {sf.path} is not in {file}.{hint} Its columns: {shown}; fix the name in the suite file.")
    return df


def _rows_hint(df: pl.DataFrame, bad: np.ndarray) -> str:
    first = int(df[df.columns[0]][int(np.flatnonzero(bad)[0])])  # the row-number column ``_read_table`` adds first
    return f"{int(bad.sum())} row(s) (first at data row {first})"


def _float_column(sf: SuiteFile, df: pl.DataFrame, col: str, file: Path, what: str) -> np.ndarray:
    s = df[col]
    if s.dtype == pl.Boolean:
        s = s.cast(pl.Int8)
    if not s.dtype.is_numeric():
        raise MtlbenchError(f"{what} column {col!r} in {file} holds {s.dtype} values, not numbers; fix the values "
                            f"or list it under [features] categorical in {sf.path.name}.")
    return s.cast(pl.Float64).fill_null(float("nan")).to_numpy()


def _check_split_values(sf: SuiteFile, df: pl.DataFrame, file: Path) -> np.ndarray:
    """Split id per row (0 train, 1 val, 2 test) from the split column."""
    col = df[sf.split_column].cast(pl.Utf8).str.strip_chars().str.to_lowercase()
    unknown = sorted(set(col.drop_nulls().unique().to_list()) - set(SPLIT_VALUES))
    if col.null_count() or unknown:
        what = f"values {unknown[:5]}" if unknown else "missing values"
        raise MtlbenchError(f"split column {sf.split_column!r} in {file} has {what}; use train, val (or validation) and test.")
    order = {"train": 0, "val": 1, "test": 2}
    return col.replace_strict({k: order[v] for k, v in SPLIT_VALUES.items()}, return_dtype=pl.Int64).to_numpy()


def split_frames(sf: SuiteFile) -> tuple[list[pl.DataFrame], list[Path]]:
    """(train, val, test) frames and the file each came from."""
    needed = [*sf.categorical, *sf.numeric, *(t.column for t in sf.tasks), *(t.mask for t in sf.tasks if t.mask)]
    needed = list(dict.fromkeys(needed))
    if "all" in sf.files:
        file = sf.files["all"]
        df = _read_table(sf, file, needed + ([sf.split_column] if sf.split_column else []))
        if sf.split_column:
            which = _check_split_values(sf, df, file)
        else:
            perm = np.random.default_rng(sf.seed).permutation(df.height)
            n_train, n_val = (int(round(r * df.height)) for r in sf.ratios[:2])
            which = np.empty(df.height, dtype=np.int64)
            which[perm[:n_train]], which[perm[n_train:n_train + n_val]], which[perm[n_train + n_val:]] = 0, 1, 2
        frames = [df.filter(pl.Series(which == k)) for k in range(3)]
        files = [file] * 3
    else:
        frames = [_read_table(sf, sf.files[k], needed) if k in sf.files else None for k in SPLITS]
        files = [sf.files.get(k, sf.files["train"]) for k in SPLITS]
        if frames[1] is None:  # carve validation rows from train
            perm = np.random.default_rng(sf.seed).permutation(frames[0].height)
            n_val = int(round(sf.val_ratio * frames[0].height))
            is_val = np.zeros(frames[0].height, dtype=bool)
            is_val[perm[:n_val]] = True
            frames[0], frames[1] = frames[0].filter(pl.Series(~is_val)), frames[0].filter(pl.Series(is_val))
    for k, f in zip(SPLITS, frames):
        if f.height == 0:
            how = (f"the split column {sf.split_column!r} has no {k!r} row" if sf.split_column else
                   "the ratios / val_ratio leave it empty")
            raise MtlbenchError(f"suite file {sf.path}: the {k} split has zero rows ({how}); give every split rows.")
    return frames, files


def build(sf: SuiteFile) -> SuiteData:
    """Read, check and encode the data of a suite file (vocabularies and standardisation fitted on train)."""
    frames, files = split_frames(sf)
    nums, ys, masks = [], [], []
    for split, df, file in zip(SPLITS, frames, files):
        where = f"the {split} split ({file.name})"
        x = np.zeros((df.height, len(sf.numeric)))
        for j, col in enumerate(sf.numeric):
            x[:, j] = _float_column(sf, df, col, file, "numeric feature")
            bad = ~np.isfinite(x[:, j])
            if bad.any():
                raise MtlbenchError(f"numeric feature {col!r} has NaN, inf or missing values in {_rows_hint(df, bad)} of {where}; "
                                    "impute or drop those rows, or list the column as categorical.")
        nums.append(x)
        y = np.zeros((df.height, len(sf.tasks)), dtype=np.float32)
        mask = np.ones((df.height, len(sf.tasks)), dtype=bool)
        for k, t in enumerate(sf.tasks):
            if t.mask:
                m = _float_column(sf, df, t.mask, file, f"mask of task {t.name!r},")
                if not np.isin(m, (0.0, 1.0)).all():
                    raise MtlbenchError(f"mask column {t.mask!r} of task {t.name!r} has values other than 0/1 in "
                                        f"{_rows_hint(df, ~np.isin(m, (0.0, 1.0)))} of {where}; map it to 0/1.")
                mask[:, k] = m == 1.0
            v = _float_column(sf, df, t.column, file, f"label of task {t.name!r},")
            bad = ~np.isfinite(v) & mask[:, k]
            if bad.any():
                raise MtlbenchError(f"label column {t.column!r} of task {t.name!r} has NaN, inf or missing values in "
                                    f"{_rows_hint(df, bad)} of {where}; drop those rows or mask them out with mask = \"...\".")
            if t.kind == "binary":
                off = ~np.isin(v, (0.0, 1.0)) & mask[:, k]
                if off.any():
                    example = v[np.flatnonzero(off)[0]]
                    raise MtlbenchError(f"binary label {t.column!r} of task {t.name!r} has values other than 0/1 (e.g. {example:g}) "
                                        f"in {_rows_hint(df, off)} of {where}; map it to 0/1 or declare kind = \"regression\".")
            if not mask[:, k].any():
                raise MtlbenchError(f"task {t.name!r} has no sample in {where} (its mask {t.mask!r} is 0 on every row); "
                                    "give that split rows where the mask is 1.")
            if t.kind == "binary":
                pos = int(v[mask[:, k]].sum())
                if pos == 0 or pos == int(mask[:, k].sum()):
                    cls = "positive" if pos == 0 else "negative"
                    raise MtlbenchError(f"task {t.name!r} has no {cls} label in {where} (AUC undefined); "
                                        "use more rows or another split seed so every split holds both classes.")
            y[:, k] = np.where(mask[:, k], v, 0.0)
        ys.append(y)
        masks.append(mask)
    cats, cards = encode_categoricals([{c: df[c] for c in sf.categorical} for df in frames], sf.categorical)
    xs = standardize(nums)
    splits = [make_split(x, c, y, m) for x, c, y, m in zip(xs, cats, ys, masks)]
    return SuiteData(
        name="", family=sf.name, version=sf.version,
        tasks=tuple(TaskSpec(t.name, t.kind, t.metric) for t in sf.tasks),
        inputs=InputSpec(num_names=sf.numeric, cat_names=sf.categorical, cat_cardinalities=cards),
        train=splits[0], val=splits[1], test=splits[2], emb_dim=sf.emb_dim,
        params={"suite_file": str(sf.path), "suite_file_sha256": sf.sha256,
                "rows": {k: len(s) for k, s in zip(SPLITS, splits)}},
    )


def load_suite_file(sf: SuiteFile) -> SuiteData:
    """The suite's data, cached on disk by the sha256 of the suite file and of every data file."""
    shas = {k: sha256_file(p) if p.is_file() else "missing" for k, p in sorted(sf.files.items())}
    key = {"suite": "user_file", "loader": LOADER_VERSION, "name": sf.name, "version": sf.version,
           "suite_file_sha256": sf.sha256, "data_sha256": tuple(shas.items())}
    data = cached_suite(key, lambda: build(sf))
    data.params = {**data.params, "data_sha256": shas}
    return data


# ------------------------------------------------------------------------------ registration
class UserFileSuite(SuiteFamily):
    """Base of the families registered from suite files; ``suite_file`` is set per subclass."""

    suite_file: ClassVar[SuiteFile]
    defaults: ClassVar[dict[str, Any]] = {}

    def load(self, params: dict[str, Any], profile: Profile) -> SuiteData:
        self.check_params(params)
        sf = parse_suite_file(self.suite_file.path)  # re-read: the file may have changed since registration
        return load_suite_file(sf)


def register_suite_file(path: str | Path) -> str:
    """Check a suite file (schema and data), register it as a suite family and return its name.

    Registering the same name again replaces an earlier suite-file registration (a built-in suite's name is
    refused)."""
    sf = parse_suite_file(path)
    if sf.name in SUITES and not issubclass(SUITES.get(sf.name), UserFileSuite):
        raise MtlbenchError(f"suite file {sf.path} is named {sf.name!r}, the name of a built-in suite; set name = \"...\" in the file to another name.")
    load_suite_file(sf)  # validates the data now, before anything runs; the result is cached for the run
    cls = type(f"UserFileSuite_{sf.name}", (UserFileSuite,), {
        "name": sf.name, "version": sf.version, "description": sf.description, "suite_file": sf,
        "defaults": {}, "__module__": __name__,
    })
    SUITES.register(sf.name, replace=True)(cls)  # replaces an earlier registration of the same suite file name
    return sf.name


def register_suite_files(paths: Sequence[str | Path]) -> list[str]:
    names: dict[str, Path] = {}
    for p in paths:
        sf = parse_suite_file(p)
        if sf.name in names and names[sf.name] != sf.path:
            raise MtlbenchError(f"suite files {names[sf.name]} and {sf.path} are both named {sf.name!r}; set a different name = \"...\" in one.")
        names[sf.name] = sf.path
    return list(dict.fromkeys(register_suite_file(p) for p in paths))


def with_suite_files(suites: list[str] | None, suite_files: Sequence[str | Path] | None) -> list[str] | None:
    """The suite list of a run: ``--suite`` names plus the suites of ``--suite-file`` files. Given only suite
    files, a run covers just those suites (not every built-in suite)."""
    if not suite_files:
        return suites
    return [*(suites or []), *register_suite_files(suite_files)]
