"""`funnel`: generated impression → click → conversion data, Ali-CCP style (docs/protocol.md §3).

Two binary tasks, metric AUC: ``ctr`` (click) on every impression and ``cvr`` (conversion) on clicked
impressions only. The test split also scores ``ctcvr`` = CTR × CVR on every impression (click-and-buy, ESMM's
protocol), which penalises a CVR model that is only right on the clicked, selection-biased sample. The conversion label exists only after a click: the mask δ of docs/protocol.md §2 is ``δ_cvr = click``
(``δ_ctr = 1``), and the stored ``cvr`` label of an unclicked impression is 0 (the ESMM "click and buy" value),
which a correct model never sees in its loss or its metric.

Generating process (version 3 = version 2's process with larger standard validation/test splits and the CTCVR
score; version 1 had click intercept −2.9 (CTR ≈ 5 %) and 70,000 rows per quick split; every draw from ``numpy.random.default_rng(seed)``, in this order):

1. Users (U = 50,000): ``age`` ∈ 7 buckets (fixed probabilities), ``gender`` ∈ 2, ``city`` ∈ 300 (Zipf-like,
   weight ∝ 1/rank^0.8). Interest vector ``a_u = 0.6·P_age[age] + 0.5·P_city[city] + 0.6·ε`` ∈ R^8
   (P_*, ε ~ N(0, 1)); price sensitivity ``ρ_u = 0.5 + 0.3·S_age[age] + 0.3·ε``; activity
   ``λ_u ~ LogNormal(0, 1)`` (how often the user is shown items).
2. Items (I = 20,000): ``brand`` ∈ 1,000 (weight ∝ 1/rank^0.7), each brand in one of 60 categories;
   ``shop`` ∈ 3,000 uniform. Item vector ``b_i = 0.7·Q_cat[cat] + 0.5·Q_brand[brand] + 0.5·ε`` ∈ R^8;
   click bait ``κ_i = 0.5·K_shop[shop] + 0.85·ε``; quality ``q_i = 0.6·G_brand[brand] + 0.8·ε``;
   log price ``π_i = μ_cat[cat] + 0.4·ε``, ``μ_cat ~ N(3, 1)``; popularity ``w_i ~ LogNormal(0, 1.2)``.
3. Impressions: user ∝ λ_u, item ∝ w_i, ``position`` uniform in 1..8, ``hour`` uniform in 0..23.
   Shared factor ``m = a_u·b_i / √8``.
4. Click: ``logit = −2.6 + 0.9·m + 0.8·κ_i − 0.3·(position − 1) + 0.3·H[hour] + 0.2·log λ_u``
   (H ~ N(0, 1) per hour); ``click ~ Bernoulli(σ(logit))`` — CTR ≈ 6 %.
5. Conversion (drawn for every impression, observed only when clicked):
   ``logit = −2.9 + 0.8·m + 0.9·q_i − 0.6·ρ_u·(π_i − 3) − 0.6·κ_i``; ``cvr = click · Bernoulli(σ(logit))``
   — about 10 % of clicks convert.

So ``m`` is shared by both tasks, ``κ``, position and hour drive clicks only, quality and price drive
conversions only, and click bait works against conversion: the clicked sample is a biased sample of the
impressions (selection bias), and treating unclicked impressions as non-conversions teaches a CVR model the
click factors with the wrong sign.

Features the models see. Categorical: user_id, age, gender, city, item_id, category, brand, shop, position,
hour (ids fitted on train; 0 = unseen). Numeric (standardised on train): ``log_price`` (π_i),
``image_score`` (κ_i + N(0, 0.7²)), ``user_activity`` (log λ_u + N(0, 0.3²)). Item quality, the interest
vectors and ρ_u are latent: only the ids and their groups carry them.

Rows per profile (train / validation / test): quick 50,000 / 50,000 / 50,000 (3,148 / 3,182 / 3,180
clicks and 312 / 330 / 304 conversions at seed 0); standard 1,000,000 / 300,000 / 600,000 (about 6,200 / 1,900 /
3,700 conversions: version 2's 1,238 test conversions gave a CVR AUC standard error ≈ 0.008, too wide to
detect a 0.005 difference). Override with n_train, n_val, n_test. Split: the first n_train impressions are train, the
next n_val validation, the rest test (impressions are i.i.d.).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mtlbench.data import InputSpec, ProductMetric, SuiteData, TaskSpec, make_split
from mtlbench.profiles import Profile
from mtlbench.suites import SuiteFamily, register_suite

from ._prep import encode_generated, generated_splits

VERSION = "3"
SIZES = {"quick": (50_000, 50_000, 50_000), "standard": (1_000_000, 300_000, 600_000)}
N_USERS, N_ITEMS, N_CITIES, N_BRANDS, N_CATEGORIES, N_SHOPS, RANK = 50_000, 20_000, 300, 1_000, 60, 3_000, 8
AGE_PROBS = (0.08, 0.22, 0.25, 0.2, 0.13, 0.08, 0.04)
N_POSITIONS, N_HOURS = 8, 24
CAT_NAMES = ("user_id", "age", "gender", "city", "item_id", "category", "brand", "shop", "position", "hour")
NUM_NAMES = ("log_price", "image_score", "user_activity")


@dataclass(frozen=True)
class Impressions:
    """Generated rows. cats: field -> raw ids [N] int64; nums [N, 3] float64; click, conv [N] (0/1)."""

    cats: dict[str, np.ndarray]
    nums: np.ndarray
    click: np.ndarray
    conv: np.ndarray


def _zipf(rng: np.random.Generator, n_values: int, size: int, power: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n_values + 1) ** power
    return rng.choice(n_values, size=size, p=w / w.sum())


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def generate(n: int, seed: int) -> Impressions:
    """n impressions of the process in the module docstring."""
    rng = np.random.default_rng(seed)
    # 1. users
    age = rng.choice(len(AGE_PROBS), size=N_USERS, p=np.array(AGE_PROBS))
    gender = rng.integers(0, 2, N_USERS)
    city = _zipf(rng, N_CITIES, N_USERS, 0.8)
    p_age, p_city = rng.standard_normal((len(AGE_PROBS), RANK)), rng.standard_normal((N_CITIES, RANK))
    a = 0.6 * p_age[age] + 0.5 * p_city[city] + 0.6 * rng.standard_normal((N_USERS, RANK))  # [U, R]
    s_age = rng.standard_normal(len(AGE_PROBS))
    rho = 0.5 + 0.3 * s_age[age] + 0.3 * rng.standard_normal(N_USERS)  # [U] price sensitivity
    log_act = rng.standard_normal(N_USERS)  # log λ_u
    # 2. items
    brand_cat = rng.integers(0, N_CATEGORIES, N_BRANDS)
    brand = _zipf(rng, N_BRANDS, N_ITEMS, 0.7)
    cat = brand_cat[brand]
    shop = rng.integers(0, N_SHOPS, N_ITEMS)
    q_cat, q_brand = rng.standard_normal((N_CATEGORIES, RANK)), rng.standard_normal((N_BRANDS, RANK))
    b = 0.7 * q_cat[cat] + 0.5 * q_brand[brand] + 0.5 * rng.standard_normal((N_ITEMS, RANK))  # [I, R]
    k_shop = rng.standard_normal(N_SHOPS)
    kappa = 0.5 * k_shop[shop] + 0.85 * rng.standard_normal(N_ITEMS)  # click bait
    g_brand = rng.standard_normal(N_BRANDS)
    quality = 0.6 * g_brand[brand] + 0.8 * rng.standard_normal(N_ITEMS)
    mu_cat = 3.0 + rng.standard_normal(N_CATEGORIES)
    log_price = mu_cat[cat] + 0.4 * rng.standard_normal(N_ITEMS)
    log_pop = 1.2 * rng.standard_normal(N_ITEMS)
    # 3. impressions
    act = np.exp(log_act)
    pop = np.exp(log_pop)
    u = rng.choice(N_USERS, size=n, p=act / act.sum())
    i = rng.choice(N_ITEMS, size=n, p=pop / pop.sum())
    position = rng.integers(1, N_POSITIONS + 1, n)
    hour = rng.integers(0, N_HOURS, n)
    hour_effect = rng.standard_normal(N_HOURS)
    m = np.einsum("nr,nr->n", a[u], b[i]) / np.sqrt(RANK)  # [n] shared factor
    # 4. click
    z_click = -2.6 + 0.9 * m + 0.8 * kappa[i] - 0.3 * (position - 1) + 0.3 * hour_effect[hour] + 0.2 * log_act[u]
    click = (rng.random(n) < _sigmoid(z_click)).astype(np.int64)
    # 5. conversion, observed only after a click
    z_conv = -2.9 + 0.8 * m + 0.9 * quality[i] - 0.6 * rho[u] * (log_price[i] - 3.0) - 0.6 * kappa[i]
    conv = click * (rng.random(n) < _sigmoid(z_conv))
    image_score = kappa[i] + 0.7 * rng.standard_normal(n)
    user_activity = log_act[u] + 0.3 * rng.standard_normal(n)
    cats = {"user_id": u, "age": age[u], "gender": gender[u], "city": city[u], "item_id": i, "category": cat[i],
            "brand": brand[i], "shop": shop[i], "position": position, "hour": hour}
    nums = np.stack([log_price[i], image_score, user_activity], axis=1)  # [n, 3]
    return Impressions(cats, nums, click, conv.astype(np.int64))


@register_suite("funnel")
class Funnel(SuiteFamily):
    name = "funnel"
    version = VERSION
    description = "generated click → conversion funnel (Ali-CCP style): CVR labelled on clicks only, selection bias"
    defaults: dict[str, Any] = {"seed": 0, "n_train": None, "n_val": None, "n_test": None}

    def load(self, params: dict[str, Any], profile: Profile) -> SuiteData:
        q = self.check_params(params)
        (n_train, n_val, n_test), bounds = generated_splits("funnel", q, profile.name, SIZES)
        g = generate(n_train + n_val + n_test, int(q["seed"]))
        cats, cards, nums = encode_generated(g.cats, g.nums, bounds, CAT_NAMES)
        splits = []
        for (a, b), c, x in zip(bounds, cats, nums):
            y = np.stack([g.click[a:b], g.conv[a:b]], axis=1).astype(np.float32)  # [N, 2]
            mask = np.stack([np.ones(b - a, dtype=bool), g.click[a:b] == 1], axis=1)  # δ: cvr only after a click
            splits.append(make_split(x, c, y, mask))
        return SuiteData(
            name="", family=self.name, version=VERSION,
            tasks=(TaskSpec("ctr", "binary"), TaskSpec("cvr", "binary", after="ctr")),
            inputs=InputSpec(num_names=NUM_NAMES, cat_names=CAT_NAMES, cat_cardinalities=cards),
            train=splits[0], val=splits[1], test=splits[2], emb_dim=8,
            params={**q, "n_train": n_train, "n_val": n_val, "n_test": n_test},
            derived=(ProductMetric("ctcvr", (0, 1)),),
        )
