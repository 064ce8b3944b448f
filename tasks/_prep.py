"""Preprocessing shared by the suites (docs/protocol.md §0): vocabularies and standardisation fitted on train only.

Not a suite (the leading underscore keeps the plug-in loader from importing it as one).
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl


@dataclass(frozen=True)
class Vocab:
    """Sorted distinct train values of one categorical field; id = position + 1, 0 = unknown."""

    values: pl.Series

    @property
    def cardinality(self) -> int:
        return len(self.values) + 1  # + the "unknown" id 0

    def encode(self, col: pl.Series | np.ndarray) -> np.ndarray:
        """Values [N] -> ids [N] int64; a value not seen in train (or a null) gets 0."""
        col = _series(col)
        if col.dtype != self.values.dtype:
            col = col.cast(self.values.dtype, strict=False)
        ids = col.replace_strict(self.values, np.arange(1, len(self.values) + 1), default=0, return_dtype=pl.Int64)
        return ids.fill_null(0).to_numpy()


def _series(col: pl.Series | np.ndarray) -> pl.Series:
    return col if isinstance(col, pl.Series) else pl.Series(np.asarray(col))


def fit_vocab(train_col: pl.Series | np.ndarray) -> Vocab:
    return Vocab(_series(train_col).drop_nulls().unique().sort())


def encode_categoricals(
    splits: Sequence[dict[str, pl.Series | np.ndarray]], names: Sequence[str]
) -> tuple[list[np.ndarray], tuple[int, ...]]:
    """Fit one vocabulary per field on ``splits[0]`` (train) and encode every split.

    splits: per split, field name -> values [N] (polars Series or numpy array). Returns per split an id
    matrix [N, F] int64 and the cardinalities (train vocabulary + 1 for the unknown id 0).
    """
    vocabs = [fit_vocab(splits[0][n]) for n in names]
    out = []
    for s in splits:
        n_rows = len(next(iter(s.values()))) if s else 0
        cols = [v.encode(s[n]) for v, n in zip(vocabs, names)]
        out.append(np.stack(cols, axis=1) if cols else np.zeros((n_rows, 0), dtype=np.int64))
    return out, tuple(v.cardinality for v in vocabs)


def standardize(splits: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Standardise numeric matrices [N, F] with the mean and std of ``splits[0]`` (train).
    A constant train column keeps std 1 (it is centred only)."""
    train = np.asarray(splits[0], dtype=np.float64)
    if train.shape[1] == 0:
        return [np.asarray(s, dtype=np.float32) for s in splits]
    mean = train.mean(0)
    std = train.std(0)
    std = np.where(std > 0, std, 1.0)
    return [((np.asarray(s, dtype=np.float64) - mean) / std).astype(np.float32) for s in splits]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def generated_splits(
    name: str, q: dict, profile_name: str, sizes: dict[str, tuple[int, int, int]]
) -> tuple[tuple[int, int, int], list[tuple[int, int]]]:
    """Row counts of a generated suite (parameters n_train/n_val/n_test override the profile's sizes) and
    the [a, b) bounds of train, validation and test in one generated sequence of i.i.d. samples."""
    from mtlbench.errors import MtlbenchError

    default = sizes.get(profile_name, sizes["quick"])
    n = tuple(int(q[k] or s) for k, s in zip(("n_train", "n_val", "n_test"), default))
    if min(n) < 1:
        raise MtlbenchError(f"{name} n_train, n_val and n_test must be at least 1; pass positive row counts.")
    a, b = n[0], n[0] + n[1]
    return n, [(0, a), (a, b), (b, b + n[2])]


def encode_generated(
    cats: dict[str, np.ndarray], nums: np.ndarray, bounds: list[tuple[int, int]], names: Sequence[str]
) -> tuple[list[np.ndarray], tuple[int, ...], list[np.ndarray]]:
    """Per split: categorical ids [N, F_cat] (vocabularies fitted on train), numeric [N, F_num] standardised
    on train; plus the cardinalities."""
    ids, cards = encode_categoricals([{k: v[a:b] for k, v in cats.items()} for a, b in bounds], names)
    return ids, cards, standardize([nums[a:b] for a, b in bounds])
