"""Reading the click → conversion CSV files of public funnel datasets (AliExpress, Ali-CCP) from a local folder.

Not a suite (the leading underscore keeps the plug-in loader from importing it as one). A ``FunnelFormat``
names a file layout's exact header, its feature columns and its two labels; ``read_table`` parses one file
and refuses, in one line, a file that is missing, has other columns, is truncated or holds bad labels;
``build_suite`` turns the train / validation / test frames into a ``SuiteData`` with the tasks ``ctr`` (every
impression) and ``cvr`` (after ``ctr``: δ_cvr = click, the stored label click·conversion).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from mtlbench.data import InputSpec, SuiteData, TaskSpec, make_split
from mtlbench.errors import MtlbenchError

from ._prep import encode_categoricals, standardize

TASKS = (TaskSpec("ctr", "binary"), TaskSpec("cvr", "binary", after="ctr"))


@dataclass(frozen=True)
class FunnelFormat:
    dataset: str  # name in messages, e.g. "AliExpress"
    columns: tuple[str, ...]  # the exact header, in order
    cat: tuple[str, ...]  # label-encoded categorical fields
    num: tuple[str, ...]  # numeric fields
    click: str
    conversion: str
    obtain: str  # where to get the files (end of every error message)


def data_folder(override: str | None, env: str, fmt: FunnelFormat, expected: str) -> Path:
    """The folder to read: parameter ``data_dir``, else ``$env``; a one-line error when neither is an existing folder."""
    raw = override or os.environ.get(env)
    if not raw:
        raise MtlbenchError(f"{fmt.dataset} needs its files on disk ({expected}); set ${env} or data_dir=... to their "
                            f"folder. {fmt.obtain}")
    folder = Path(raw).expanduser()
    if not folder.is_dir():
        raise MtlbenchError(f"{fmt.dataset} data folder {folder} does not exist; it should hold {expected}. {fmt.obtain}")
    return folder


def locate(folder: Path, name: str, fmt: FunnelFormat) -> Path:
    """``folder/name`` or ``folder/name.gz``."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise MtlbenchError(f"{fmt.dataset} file {name} (or {name}.gz) not found in {folder}. {fmt.obtain}")


def read_table(path: Path, fmt: FunnelFormat, max_rows: int | None) -> pl.DataFrame:
    """The first ``max_rows`` rows (None: all) of one file: categorical ids Int64, numerics Float64, labels Int64.

    Refuses with one line: a header other than ``fmt.columns``, a row that cannot be parsed or has empty
    fields (a truncated or cut file), labels other than 0/1, a conversion without a click, no row at all.
    """
    where = f"{fmt.dataset} file {path}"
    if path.suffix != ".gz" and not _ends_with_newline(path):  # (a cut .gz fails to decompress below)
        raise MtlbenchError(f"{where} does not end with a line break: it is truncated. {fmt.obtain}")
    dtypes = {**{c: pl.Int64 for c in (*fmt.cat, fmt.click, fmt.conversion)}, **{c: pl.Float64 for c in fmt.num}}
    try:
        header = pl.read_csv(path, n_rows=1, infer_schema=False).columns
        if header != list(fmt.columns):
            missing = [c for c in fmt.columns if c not in header]
            extra = [c for c in header if c not in fmt.columns]
            detail = (f"missing {', '.join(missing[:3])}" if missing else "") + ("; " if missing and extra else "") + \
                     (f"unexpected {', '.join(extra[:3])}" if extra else "") or "columns in another order"
            raise MtlbenchError(f"{where} has {len(header)} columns ({detail}); expected the {len(fmt.columns)}-column "
                                f"header {','.join(fmt.columns[:4])},…,{fmt.columns[-1]}. {fmt.obtain}")
        df = pl.read_csv(path, n_rows=max_rows, schema_overrides=dtypes)
    except (pl.exceptions.PolarsError, OSError, EOFError, ValueError) as err:
        reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else err.__class__.__name__
        raise MtlbenchError(f"cannot parse {where} (truncated or malformed: {reason}). {fmt.obtain}") from None
    if df.height == 0:
        raise MtlbenchError(f"{where} has no data row. {fmt.obtain}")
    nulls = df.null_count().sum_horizontal().item()
    if nulls:
        raise MtlbenchError(f"{where} has {nulls} empty field(s) (truncated or malformed). {fmt.obtain}")
    for col in (fmt.click, fmt.conversion):
        if not df[col].is_in([0, 1]).all():
            raise MtlbenchError(f"{where}: label column {col!r} holds values other than 0/1. {fmt.obtain}")
    if (df[fmt.conversion] > df[fmt.click]).any():
        raise MtlbenchError(f"{where} has a {fmt.conversion} without a {fmt.click}; a conversion is observed only after "
                            f"a click. {fmt.obtain}")
    return df


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def build_suite(frames: list[pl.DataFrame], fmt: FunnelFormat, family: str, version: str, emb_dim: int,
                params: dict) -> SuiteData:
    """SuiteData from the train, validation and test frames: categorical vocabularies and numeric
    standardisation fitted on train (ids 0 = unseen in train), tasks ``ctr`` and ``cvr`` (δ_cvr = click)."""
    cats, cards = encode_categoricals([{c: f[c] for c in fmt.cat} for f in frames], fmt.cat)
    nums = standardize([f.select(fmt.num).to_numpy() for f in frames])
    splits = []
    for f, c, x in zip(frames, cats, nums):
        click, conv = f[fmt.click].to_numpy(), f[fmt.conversion].to_numpy()
        y = np.stack([click, conv], axis=1).astype(np.float32)  # [N, 2]: conv = click·conversion
        mask = np.stack([np.ones(len(click), dtype=bool), click == 1], axis=1)  # δ_cvr = click
        splits.append(make_split(x, c, y, mask))
    return SuiteData(
        name="", family=family, version=version, tasks=TASKS,
        inputs=InputSpec(num_names=fmt.num, cat_names=fmt.cat, cat_cardinalities=cards),
        train=splits[0], val=splits[1], test=splits[2], emb_dim=emb_dim,
        params={**params, "n_train": len(splits[0]), "n_val": len(splits[1]), "n_test": len(splits[2])},
    )


def check_max_rows(family: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MtlbenchError(f"{family} max_rows={value!r} is out of range; use a positive row count (or leave it unset for every row).")
    return value
