"""Writes example_shop.csv, the small data file of example_suite.toml (run: python make_example_data.py).

4,000 impressions of a made-up shop: user, item, category (categorical), price, user_age (numeric),
click (0/1), purchase (0/1, empty when there was no click: it only exists after a click) and a split
column (train 70 % / val 15 % / test 15 %). Deterministic: numpy default_rng(2024).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl


def make(n: int = 4_000, seed: int = 2024) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    user_taste = rng.standard_normal(200)
    user_age = rng.integers(18, 70, 200)
    item_cat = rng.integers(0, 10, 100)
    item_appeal = rng.standard_normal(100)
    item_price = np.round(np.exp(rng.normal(3.0, 0.6, 100)), 2)
    user = rng.integers(0, 200, n)
    item = rng.integers(0, 100, n)
    z_click = -1.0 + 0.8 * item_appeal[item] + 0.6 * user_taste[user] * (item_cat[item] < 5)
    click = (rng.random(n) < 1 / (1 + np.exp(-z_click))).astype(int)
    z_buy = -0.8 + 0.7 * user_taste[user] - 0.5 * (np.log(item_price[item]) - 3.0) + 0.01 * (user_age[user] - 40)
    buy = (rng.random(n) < 1 / (1 + np.exp(-z_buy))).astype(int)
    split = rng.choice(["train", "val", "test"], size=n, p=[0.7, 0.15, 0.15])
    return pl.DataFrame({
        "user": [f"u{u:03d}" for u in user],
        "item": [f"i{i:03d}" for i in item],
        "category": [f"c{c}" for c in item_cat[item]],
        "price": item_price[item],
        "user_age": user_age[user],
        "click": click,
        "purchase": pl.Series(np.where(click == 1, buy, -1)).replace(-1, None),
        "split": split,
    })


if __name__ == "__main__":
    make().write_csv(Path(__file__).with_name("example_shop.csv"))
