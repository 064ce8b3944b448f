"""`video`: the VCR / VTR case of the PLE paper, simulated (docs/protocol.md §3).

Two tasks on every sample (a play of a video): ``vcr`` — view completion ratio = watch time / duration,
regression, metric MSE — and ``vtr`` — valid view = watch time > τ = 20 s, binary, metric AUC.

Generating process (version 2; every draw from ``numpy.random.default_rng(seed)``, in this order). Version 1
let VTR be a deterministic function of VCR and the duration (an input), so the two tasks shared one latent
completion mean and neither had a factor of its own; version 2 gives each task its own latent factor, so that
modelling one well does not model the other (a real conflict for shared capacity):

1. Users (U = 20,000): ``age`` ∈ 6 buckets, ``region`` ∈ 40, ``device`` ∈ 3 (uniform). Interest vector
   ``a_u = 0.6·P_age[age] + 0.4·P_region[region] + 0.7·ε`` ∈ R^6; completion habit ``β_u ~ N(0, 0.4²)``;
   activity ``λ_u ~ LogNormal(0, 0.8)``; **threshold-crossing habit** ``s_u ~ N(0, 0.8²)`` (VTR's own factor).
2. Items (I = 8,000): ``author`` ∈ 1,500 (weight ∝ 1/rank^0.7), ``category`` ∈ 25 (uniform). Item vector
   ``b_i = 0.7·Q_cat[cat] + 0.5·Q_author[author] + 0.5·ε`` ∈ R^6; hook (how gripping the opening is)
   ``h_i = 0.6·H_author[author] + 0.8·ε``; duration ``log D_i = log 60 + 0.35·L_cat[cat] + 1.0·ε`` seconds,
   clipped to [5, 1800] (median ≈ 1 min, 5 %–95 % ≈ 10 s – 6 min); popularity ``w_i ~ LogNormal(0, 1)``;
   **content quality** ``q_i ~ N(0, 1)`` (VCR's own factor).
3. Candidate plays: user ∝ λ_u, item ∝ w_i, play mode autoplay or click-to-play with probability 1/2 each.
   Affinity ``f = a_u·b_i / √6``. An autoplay candidate always plays (the view is forced). A click-to-play
   candidate plays only if the user chooses to: with probability ``σ(−0.5 + 1.5·f + 0.5·h_i)``; the others are
   dropped (so click-to-play samples are selected by the user's interest). Candidates are drawn in chunks until
   n samples have been kept.
4. The first seconds: the viewer stays past ``min(D_i, τ)`` with probability ``σ(z)``,
   autoplay: ``z = −0.2 + 1.0·h_i + 0.3·f + 1.0·s_u``; click-to-play (the user chose to play): ``z = 2.0 + 1.2·s_u``.
   A viewer who leaves watches ``E·min(D_i, τ)``, ``E ~ Beta(1, 2)``.
5. A viewer who stays watches ``min(D_i, τ) + R·(D_i − min(D_i, τ))`` with ``R ~ Beta(μ·φ, (1 − μ)·φ)``, φ = 3,
   autoplay:      ``logit μ = −0.3 + 0.5·h_i − 0.6·(log D_i − log 60) + 0.3·f + 1.0·q_i + β_u``
   click-to-play: ``logit μ =  0.4 + 1.0·f  − 0.3·(log D_i − log 60) + 0.3·h_i + 1.0·q_i + β_u``.
6. ``vcr = watch time / D_i``; ``vtr = 1[watch time > τ]``, τ = 20 s.

Resulting data (seed 0, 60,000 samples): ≈ 71 % autoplay samples, mean VCR 0.50, VTR rate 0.49; Pearson
correlation of VCR and VTR 0.51 on autoplay samples and 0.32 on click-to-play samples.

So the two tasks disagree about durations: a long video half watched is a valid view, a short one fully
watched may not be, and the VCR–VTR correlation depends on the play mode (the test suite checks the per-mode
Pearson correlations differ). Whether a model shows the seesaw here is an observation, never a target: the
generator is not tuned to make any model win.

Features the models see. Categorical: user_id, age, region, device, item_id, category, author, play_mode
(ids fitted on train; 0 = unseen). Numeric (standardised on train): ``log_duration`` (log D_i),
``user_habit`` (β_u + N(0, 0.2²)), ``item_popularity`` (log w_i + N(0, 0.3²)). The interest vectors, the hook,
the threshold-crossing habit and the content quality are latent (learnable only through the id embeddings).

Rows per profile (train / validation / test): quick 20,000 / 5,000 / 5,000; standard 300,000 / 50,000 /
50,000 (override with n_train, n_val, n_test). Split: the first n_train samples are train, the next n_val
validation, the rest test (samples are i.i.d.).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mtlbench.data import InputSpec, SuiteData, TaskSpec, make_split
from mtlbench.profiles import Profile
from mtlbench.suites import SuiteFamily, register_suite

from ._prep import encode_generated, generated_splits

VERSION = "2"
SIZES = {"quick": (20_000, 5_000, 5_000), "standard": (300_000, 50_000, 50_000)}
N_USERS, N_ITEMS, N_AGES, N_REGIONS, N_DEVICES, N_AUTHORS, N_CATEGORIES, RANK = 20_000, 8_000, 6, 40, 3, 1_500, 25, 6
TAU = 20.0  # seconds of watch time for a valid view
PHI = 3.0  # Beta concentration of VCR
AUTOPLAY, CLICK_TO_PLAY = 0, 1
CAT_NAMES = ("user_id", "age", "region", "device", "item_id", "category", "author", "play_mode")
NUM_NAMES = ("log_duration", "user_habit", "item_popularity")
CHUNK = 65_536


@dataclass(frozen=True)
class Plays:
    """Generated samples. cats: field -> raw ids [N]; nums [N, 3]; vcr [N] in [0, 1]; vtr [N] 0/1;
    duration [N] seconds; mode [N] (0 autoplay, 1 click-to-play)."""

    cats: dict[str, np.ndarray]
    nums: np.ndarray
    vcr: np.ndarray
    vtr: np.ndarray
    duration: np.ndarray
    mode: np.ndarray


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def generate(n: int, seed: int) -> Plays:
    """n plays of the process in the module docstring."""
    rng = np.random.default_rng(seed)
    # 1. users
    age = rng.integers(0, N_AGES, N_USERS)
    region = rng.integers(0, N_REGIONS, N_USERS)
    device = rng.integers(0, N_DEVICES, N_USERS)
    p_age, p_region = rng.standard_normal((N_AGES, RANK)), rng.standard_normal((N_REGIONS, RANK))
    a = 0.6 * p_age[age] + 0.4 * p_region[region] + 0.7 * rng.standard_normal((N_USERS, RANK))  # [U, R]
    habit = 0.4 * rng.standard_normal(N_USERS)  # β_u
    activity = np.exp(0.8 * rng.standard_normal(N_USERS))
    stay = 0.8 * rng.standard_normal(N_USERS)  # s_u: threshold-crossing habit (version 2)
    # 2. items
    w_auth = 1.0 / np.arange(1, N_AUTHORS + 1) ** 0.7
    author = rng.choice(N_AUTHORS, size=N_ITEMS, p=w_auth / w_auth.sum())
    cat = rng.integers(0, N_CATEGORIES, N_ITEMS)
    q_cat, q_auth = rng.standard_normal((N_CATEGORIES, RANK)), rng.standard_normal((N_AUTHORS, RANK))
    b = 0.7 * q_cat[cat] + 0.5 * q_auth[author] + 0.5 * rng.standard_normal((N_ITEMS, RANK))  # [I, R]
    h_auth = rng.standard_normal(N_AUTHORS)
    hook = 0.6 * h_auth[author] + 0.8 * rng.standard_normal(N_ITEMS)
    l_cat = rng.standard_normal(N_CATEGORIES)
    log_d = np.log(60.0) + 0.35 * l_cat[cat] + rng.standard_normal(N_ITEMS)
    duration = np.clip(np.exp(log_d), 5.0, 1800.0)
    log_d = np.log(duration)
    log_pop = rng.standard_normal(N_ITEMS)
    quality = rng.standard_normal(N_ITEMS)  # q_i: content quality, drives completion only (version 2)
    # 3. candidate plays, in chunks until n are kept
    p_user, p_item = activity / activity.sum(), np.exp(log_pop) / np.exp(log_pop).sum()
    kept_u, kept_i, kept_m = [], [], []
    total = 0
    while total < n:
        u = rng.choice(N_USERS, size=CHUNK, p=p_user)
        i = rng.choice(N_ITEMS, size=CHUNK, p=p_item)
        mode = (rng.random(CHUNK) < 0.5).astype(np.int64)  # 1 = click-to-play
        f = np.einsum("nr,nr->n", a[u], b[i]) / np.sqrt(RANK)
        plays = rng.random(CHUNK) < _sigmoid(-0.5 + 1.5 * f + 0.5 * hook[i])
        keep = (mode == AUTOPLAY) | plays
        kept_u.append(u[keep]), kept_i.append(i[keep]), kept_m.append(mode[keep])
        total += int(keep.sum())
    u, i, mode = (np.concatenate(x)[:n] for x in (kept_u, kept_i, kept_m))
    # 4. the first seconds: does the viewer stay past τ? (threshold-crossing habit s_u, VTR's own factor)
    f = np.einsum("nr,nr->n", a[u], b[i]) / np.sqrt(RANK)
    rel = log_d[i] - np.log(60.0)
    z_stay = np.where(mode == CLICK_TO_PLAY, 2.0 + 1.2 * stay[u], -0.2 + 1.0 * hook[i] + 0.3 * f + 1.0 * stay[u])
    stays = rng.random(n) < _sigmoid(z_stay)
    # 5. how much of the rest is watched (content quality q_i, VCR's own factor)
    z_auto = -0.3 + 0.5 * hook[i] - 0.6 * rel + 0.3 * f + 1.0 * quality[i] + habit[u]
    z_click = 0.4 + 1.0 * f - 0.3 * rel + 0.3 * hook[i] + 1.0 * quality[i] + habit[u]
    mu = _sigmoid(np.where(mode == CLICK_TO_PLAY, z_click, z_auto))
    rest = rng.beta(mu * PHI, (1.0 - mu) * PHI)
    first = np.minimum(duration[i], TAU)
    early = rng.beta(1.0, 2.0, n)  # a viewer who leaves early leaves within the first τ seconds
    watch = np.where(stays, first + rest * (duration[i] - first), early * first)
    vcr = watch / duration[i]
    # 6. valid view
    vtr = (watch > TAU).astype(np.int64)
    user_habit = habit[u] + 0.2 * rng.standard_normal(n)
    item_pop = log_pop[i] + 0.3 * rng.standard_normal(n)
    cats = {"user_id": u, "age": age[u], "region": region[u], "device": device[u], "item_id": i,
            "category": cat[i], "author": author[i], "play_mode": mode}
    nums = np.stack([log_d[i], user_habit, item_pop], axis=1)  # [n, 3]
    return Plays(cats, nums, vcr, vtr, duration[i], mode)


@register_suite("video")
class Video(SuiteFamily):
    name = "video"
    version = VERSION
    description = "simulated VCR (regression) / VTR (binary) of the PLE paper: durations vary, autoplay vs click-to-play"
    defaults: dict[str, Any] = {"seed": 0, "n_train": None, "n_val": None, "n_test": None}

    def load(self, params: dict[str, Any], profile: Profile) -> SuiteData:
        q = self.check_params(params)
        (n_train, n_val, n_test), bounds = generated_splits("video", q, profile.name, SIZES)
        g = generate(n_train + n_val + n_test, int(q["seed"]))
        cats, cards, nums = encode_generated(g.cats, g.nums, bounds, CAT_NAMES)
        splits = [
            make_split(x, c, np.stack([g.vcr[a:b], g.vtr[a:b]], axis=1).astype(np.float32))  # y [N, 2]
            for (a, b), c, x in zip(bounds, cats, nums)
        ]
        return SuiteData(
            name="", family=self.name, version=VERSION,
            tasks=(TaskSpec("vcr", "regression"), TaskSpec("vtr", "binary")),
            inputs=InputSpec(num_names=NUM_NAMES, cat_names=CAT_NAMES, cat_cardinalities=cards),
            train=splits[0], val=splits[1], test=splits[2], emb_dim=8,
            params={**q, "n_train": n_train, "n_val": n_val, "n_test": n_test, "tau_seconds": TAU},
        )
