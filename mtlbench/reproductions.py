"""Reproduction checks: what re-running a record gave (``mtlbench reproduce KEY --save``).

A check names the record, the commit and device of the code that re-ran it and each test metric's difference,
so the leaderboard can state how far one commit's code reproduces another's records (cross-commit drift)
instead of assuming it. One JSON file per (record, commit, device) under ``results/<profile>/reproductions/``;
a later check of the same triple replaces it. Torch-free: the report reads these files.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .fsio import atomic_write, finished
from .records import profile_dir

DIRNAME = "reproductions"


@dataclass(frozen=True)
class Reproduction:
    key: str  # the record's key
    suite: str
    model: str
    seed: int
    record_commit: str  # the commit that made the record
    commit: str  # the commit whose code re-ran it
    record_device: str
    device: str
    rows: list[dict[str, Any]]  # per task: task, metric, recorded, reproduced, diff (= |recorded − reproduced|)
    timestamp: str

    @property
    def max_diff(self) -> float:
        return max((float(r["diff"]) for r in self.rows), default=0.0)

    @property
    def file_name(self) -> str:
        return f"{self.key}@{self.commit}@{self.device.replace(':', '_')}.json"


def save(check: Reproduction, profile: str, results_dir: str | Path | None = None) -> Path:
    """Write ``check`` (atomically) and return its path."""
    path = profile_dir(profile, results_dir) / DIRNAME / check.file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, json.dumps(asdict(check), indent=1, sort_keys=True) + "\n")


def load(profile: str, results_dir: str | Path | None = None) -> list[Reproduction]:
    """Every saved check of ``profile`` (unreadable files are skipped with a warning), ordered by file name."""
    out = []
    for p in finished(profile_dir(profile, results_dir) / DIRNAME):
        try:
            d = json.loads(p.read_text())
            out.append(Reproduction(**{f: d[f] for f in Reproduction.__dataclass_fields__}))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
            warnings.warn(f"ignoring unreadable reproduction check {p} ({err.__class__.__name__})", stacklevel=2)
    return out
