"""Records of schema 1 -> schema 2: the key leaves out the parameter source (label).

    python -m mtlbench.migrations.key_without_source results/standard/records --dry-run
    python -m mtlbench.migrations.key_without_source results/standard/records

Every record gets the key of ``RunRecord.key_parts`` (no label). Records whose new keys coincide are one
configuration and seed requested under several labels:

- a copy made by schema 1's reuse of an identical training (``extra["reused"]``, naming the record it copied)
  merges into that training's record: its label joins ``params_sources``, its file goes;
- independent trainings (none copies another: trained on other machines, or before reuse existed) all stay,
  the first trained (timestamp, then old key) as replicate 0, the next as replicates 1, 2, ... (a key part).

Nothing is trained. Each record's results, machine and timestamp are those of its training. Every label of
every old record is carried by exactly one new record (checked before anything is written). New files are
written before old ones are removed. Refuses a folder with uncommitted changes (``git status``), so the
previous state is always in git. Running it again on migrated records changes nothing.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import MtlbenchError
from ..fsio import atomic_write, finished
from ..records import SCHEMA_VERSION, key_of, with_label


@dataclass
class Merge:
    """One new record: the training it keeps and the files it replaces (the training's own first)."""

    record: dict[str, Any]
    sources: list[Path] = field(default_factory=list)

    @property
    def path_name(self) -> str:
        return f"{self.record['key']}.json"


def _labels(rec: dict[str, Any]) -> list[str]:
    return list(rec.get("params_sources") or [rec["params_source"]])


def _parts(rec: dict[str, Any]) -> str:
    return key_of(**{**rec, "replicate": 0})  # the key of the record's configuration and seed


def plan(records_dir: Path) -> list[Merge]:
    """The new records of ``records_dir`` (read only). Raises MtlbenchError on what it cannot place."""
    files = finished(records_dir)
    recs: dict[Path, dict[str, Any]] = {}
    for p in files:
        try:
            recs[p] = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
            raise MtlbenchError(f"cannot read record {p} ({err.__class__.__name__}); fix or remove it first.") from None
    by_old_key = {r["key"]: p for p, r in recs.items()}
    trainings: dict[Path, Merge] = {}
    copies: list[Path] = []
    for p, r in recs.items():
        origin = by_old_key.get(((r.get("extra") or {}).get("reused") or {}).get("key"))
        if origin is not None and origin != p and _parts(recs[origin]) == _parts(r) and "reused" not in recs[origin]["extra"]:
            copies.append(p)
        else:
            trainings[p] = Merge(json.loads(json.dumps(r)), [p])
    for p in copies:
        m = trainings[by_old_key[recs[p]["extra"]["reused"]["key"]]]
        m.sources.append(p)
        for label in _labels(recs[p]):
            m.record["params_sources"] = with_label(_labels(m.record), label)
    groups: dict[str, list[Merge]] = defaultdict(list)
    for m in trainings.values():
        groups[_parts(m.record)].append(m)
    out = []
    for group in groups.values():
        group.sort(key=lambda m: (int(m.record.get("replicate") or 0), str(m.record.get("timestamp")), m.record["key"]))
        seen: set[str] = set()
        for replicate, m in enumerate(group):
            labels = _labels(m.record)
            if seen & set(labels):
                raise MtlbenchError(f"label(s) {sorted(seen & set(labels))} name two trainings of one configuration and seed "
                                    f"({', '.join(str(x.sources[0]) for x in group)}); resolve by hand.")
            seen |= set(labels)
            rec = m.record
            rec["params_sources"] = labels
            rec["replicate"] = replicate
            rec["schema_version"] = SCHEMA_VERSION
            extra = dict(rec.get("extra") or {})
            extra.pop("reused", None)
            rec["extra"] = extra
            rec["key"] = key_of(**rec)
            out.append(m)
    _check(recs, out)
    return sorted(out, key=lambda m: m.path_name)


def _check(old: dict[Path, dict[str, Any]], new: list[Merge]) -> None:
    """Every old record's (label, seed, configuration) is carried by exactly one new record; keys are unique."""
    want = sorted((_parts(r), r["seed"], label) for r in old.values() for label in _labels(r))
    have = sorted((_parts(m.record), m.record["seed"], label) for m in new for label in _labels(m.record))
    if want != have or len({m.record["key"] for m in new}) != len(new):
        raise MtlbenchError("the migration would lose or repeat a record; nothing was written.")


def check_clean(records_dir: Path) -> None:
    """Refuse a folder outside git or with uncommitted changes (the old records must stay in git)."""
    try:
        out = subprocess.run(["git", "-C", str(records_dir), "status", "--porcelain", "--untracked-files=all", "--", "."],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as err:
        raise MtlbenchError(f"cannot run git in {records_dir} ({err}); the migration needs the records committed.") from None
    if out.returncode != 0:
        raise MtlbenchError(f"{records_dir} is not in a git checkout; commit the records first, then migrate.")
    if out.stdout.strip():
        raise MtlbenchError(f"{records_dir} has uncommitted changes; commit or discard them first, then migrate.")


def describe(merges: list[Merge], records_dir: Path) -> list[str]:
    """One line per new record whose file changes: old file(s) -> new file, and its labels."""
    lines = []
    for m in merges:
        old = [p.name for p in m.sources]
        if old == [m.path_name]:
            continue
        what = "merge" if len(old) > 1 else "rename"
        rep = f" replicate {m.record['replicate']}" if m.record["replicate"] else ""
        lines.append(f"{what} {' + '.join(old)} -> {m.path_name}{rep} [{'; '.join(_labels(m.record))}]")
    return lines


def apply(merges: list[Merge], records_dir: Path) -> None:
    """Write every new record (atomically), then remove the old files no new record is written to."""
    for m in merges:
        atomic_write(records_dir / m.path_name, json.dumps(m.record, sort_keys=True, allow_nan=True) + "\n", fsync=True)
    keep = {m.path_name for m in merges}
    for m in merges:
        for p in m.sources:
            if p.name not in keep:
                p.unlink()


def migrate(records_dir: str | Path, dry_run: bool = False) -> list[str]:
    """Migrate ``records_dir`` (or, with ``dry_run``, only say what would change). Returns the changes."""
    d = Path(records_dir)
    if not d.is_dir():
        raise MtlbenchError(f"{d} is not a folder of records (e.g. results/standard/records).")
    check_clean(d)
    merges = plan(d)
    lines = describe(merges, d)
    if not dry_run:
        apply(merges, d)
    n_old = len(finished(d)) if dry_run else sum(len(m.sources) for m in merges)
    lines.append(f"{'would write' if dry_run else 'wrote'} {len(merges)} records from {n_old} files "
                 f"({sum(len(m.sources) > 1 for m in merges)} merged, "
                 f"{sum(int(m.record['replicate']) > 0 for m in merges)} replicates).")
    return lines


def main(argv: list[str] | None = None) -> int:
    from . import main as run_main

    return run_main(__spec__.name if __spec__ else __name__, __doc__, "a folder of records, e.g. results/standard/records", migrate, argv)


if __name__ == "__main__":
    sys.exit(main())
