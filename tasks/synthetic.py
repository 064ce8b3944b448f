"""`synthetic`: two regression tasks with controlled correlation (MMoE paper, Section 3.2; docs/protocol.md §3).

Generating process (every constant is a parameter with a documented default, recorded in each result):

1. u1, u2 ∈ R^d orthonormal (QR of a Gaussian d×2 matrix); scale c; correlation p ∈ [-1, 1]:
   ``w1 = c·u1``, ``w2 = c·(p·u1 + sqrt(1 − p²)·u2)``.
2. α_i, β_i ~ N(0, 1), i = 1..m, shared by both tasks.
3. x ~ N(0, I_d); ``y_t = w_tᵀx + Σ_i sin(α_i w_tᵀx + β_i) + ε``, ε ~ N(0, noise²).

All draws come from ``numpy.random.default_rng(seed)`` in that order, so two instances that differ only
in p share u1, u2, α, β and x: a sweep changes the task relation and nothing else.
Defaults: d = 100, m = 10, c = 1, noise = 0.1, seed = 0; rows per profile: standard 100,000 train +
10,000 validation + 10,000 test, quick 8,000 + 2,000 + 2,000 (override with n_train, n_val, n_test).
Each sweep point is its own instance, e.g. ``synthetic[p=0.5]``; ``synthetic`` alone expands to the
profile's sweep (quick: 0, 0.5, 1; standard: 0.0, 0.2, ..., 1.0).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from mtlbench.data import InputSpec, SuiteData, TaskSpec, make_split
from mtlbench.errors import MtlbenchError
from mtlbench.profiles import Profile
from mtlbench.suites import SuiteFamily, register_suite

SIZES = {"quick": (8_000, 2_000, 2_000), "standard": (100_000, 10_000, 10_000)}


def generate(p: float, d: int, m: int, c: float, noise: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """x [n, d] float32, y [n, 2] float32 for correlation p."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((d, 2)))  # orthonormal columns u1, u2
    u1, u2 = u[:, 0], u[:, 1]
    w = np.stack([c * u1, c * (p * u1 + np.sqrt(1.0 - p * p) * u2)])  # [2, d]
    alpha, beta = rng.standard_normal(m), rng.standard_normal(m)
    x = rng.standard_normal((n, d))
    z = x @ w.T  # [n, 2]: w_tᵀx
    y = z + np.sin(z[:, :, None] * alpha + beta).sum(-1) + noise * rng.standard_normal((n, 2))
    return x.astype(np.float32), y.astype(np.float32)


@register_suite("synthetic")
class Synthetic(SuiteFamily):
    name = "synthetic"
    version = "1"
    description = "MMoE-paper synthetic regression pair with task correlation p (the correlation sweep)"
    defaults: dict[str, Any] = {"p": 0.5, "d": 100, "m": 10, "c": 1.0, "noise": 0.1, "seed": 0,
                                "n_train": None, "n_val": None, "n_test": None}
    is_sweep = True
    sweep_param = "p"

    def points(self, profile: Profile) -> list[dict[str, Any]]:
        return [{"p": p} for p in profile.sweep]

    def load(self, params: dict[str, Any], profile: Profile) -> SuiteData:
        q = self.check_params(params)
        if not -1.0 <= float(q["p"]) <= 1.0:
            raise MtlbenchError(f"synthetic correlation p={q['p']} is out of range; use -1 <= p <= 1.")
        sizes = SIZES.get(profile.name, SIZES["quick"])
        n_train, n_val, n_test = (int(q[k] or s) for k, s in zip(("n_train", "n_val", "n_test"), sizes))
        x, y = generate(float(q["p"]), int(q["d"]), int(q["m"]), float(q["c"]), float(q["noise"]),
                        n_train + n_val + n_test, int(q["seed"]))
        a, b = n_train, n_train + n_val
        return SuiteData(
            name="", family=self.name, version=self.version,
            tasks=(TaskSpec("y1", "regression"), TaskSpec("y2", "regression")),
            inputs=InputSpec(num_names=tuple(f"x{i}" for i in range(int(q["d"])))),
            train=make_split(x[:a], None, y[:a]), val=make_split(x[a:b], None, y[a:b]), test=make_split(x[b:], None, y[b:]),
            params={**q, "n_train": n_train, "n_val": n_val, "n_test": n_test},
        )
