"""Paired test-set statistics of a gain (pure functions of numbers).

Records of the evaluation protocol 2 carry, per task, ``B`` bootstrap replicates of the test metric drawn with
resampling indices fixed per suite (never per model or seed): replicate b of model M and replicate b of model
S score the same resample of the test set. A gain's uncertainty then combines both sources by a two-level
bootstrap: each draw picks one replicate index b (the test-set level, shared by both models: paired) and
resamples each model's seeds with replacement (the training level); the gain of the draw is the mean over M's
seeds of replicate b minus the mean over S's seeds of replicate b, oriented so that > 0 is better.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Draws of the two-level bootstrap. The p-value counts draws, so it cannot go below 2 / (draws + 1), and Holm
#: multiplies the smallest p of a family by its size (an architecture × weighting family holds ~100): 50,000
#: draws put that floor at ≈ 4·10⁻⁵, room for Holm over ~1,000 comparisons, at ~10 ms per comparison.
GAIN_DRAWS = 50_000


@dataclass(frozen=True)
class PairedGain:
    low: float  # 95 % percentile interval of the gain
    high: float
    p: float  # two-sided bootstrap p-value of "gain = 0"
    sd: float  # standard deviation of the draws (the gain's standard error under this bootstrap)


def paired_gain(model_boot: np.ndarray, ref_boot: np.ndarray, higher_is_better: bool, rng: np.random.Generator,
                draws: int = GAIN_DRAWS, level: float = 0.95) -> PairedGain | None:
    """Two-level paired bootstrap of the gain of M over S from their replicates, ``model_boot`` [n_M seeds, B]
    and ``ref_boot`` [n_S seeds, B] (the same B resamples of the test set). The p-value is
    2 · min(share of draws ≤ 0, share ≥ 0), counted with the +1 correction ((c + 1) / (draws + 1)), capped
    at 1. None when a side has no replicates or B differs."""
    m, s = np.asarray(model_boot, dtype=float), np.asarray(ref_boot, dtype=float)
    if m.ndim != 2 or s.ndim != 2 or m.size == 0 or s.size == 0 or m.shape[1] != s.shape[1]:
        return None
    b = rng.integers(0, m.shape[1], size=draws)  # [draws] test-set replicate, shared by both models
    im = rng.integers(0, m.shape[0], size=(draws, m.shape[0]))  # [draws, n_M] resampled seeds of M
    is_ = rng.integers(0, s.shape[0], size=(draws, s.shape[0]))  # [draws, n_S]
    delta = m[im, b[:, None]].mean(axis=1) - s[is_, b[:, None]].mean(axis=1)  # [draws]
    delta = delta if higher_is_better else -delta
    delta = delta[np.isfinite(delta)]
    if delta.size == 0:
        return None
    lo, hi = np.percentile(delta, [50 * (1 - level), 50 * (1 + level)])
    tail = min(int((delta <= 0).sum()), int((delta >= 0).sum()))
    p = min(1.0, 2 * (tail + 1) / (delta.size + 1))
    return PairedGain(float(lo), float(hi), p, float(np.std(delta, ddof=1)) if delta.size > 1 else 0.0)


def boot_matrix(per_seed: list[list[float] | None]) -> np.ndarray | None:
    """[n_seeds, B] replicates of one task from each seed's record (None when any seed lacks them or B differs)."""
    if not per_seed or any(not x for x in per_seed) or len({len(x) for x in per_seed}) != 1:  # type: ignore[arg-type]
        return None
    return np.asarray(per_seed, dtype=float)
