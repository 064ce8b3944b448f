"""Study files named by the former slug -> named by ``StudyId.slug`` (the suite by ``names.suite_slug``).

    python -m mtlbench.migrations.study_slugs results/standard/studies --dry-run
    python -m mtlbench.migrations.study_slugs results/standard/studies

In a studies folder (``<results>/<profile>/studies``), renames a study's export ``<stem>.json`` and journal
``<stem>.journal`` from its ``studies.former_slug`` (``ple@synthetic_p=0.5``) to its ``slug``
(``ple@synthetic_p_0.5``). A file's study is the one it holds: an export's ``study`` name, or a journal's only
study (read with Optuna) when no export has its stem. Files already named by their slug, or by neither name
(renamed by hand), are left as they are.

Nothing is lost: a file is renamed, or, when its new name already holds the same bytes, the old copy is
removed. Refuses (and renames nothing) when a new name holds other bytes, or two files would get one name.
Running it again changes nothing. Study names inside the files (``model@suite@profile``) do not change.
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import MtlbenchError
from ..fsio import finished
from ..studies import STUDY_SUFFIXES, StudyId, former_slug


@dataclass(frozen=True)
class Rename:
    """One file to move to its study's slug; ``duplicate``: the new name already holds the same bytes."""

    old: Path
    new: Path
    duplicate: bool = False

    def line(self) -> str:
        if self.duplicate:
            return f"remove {self.old.name} (same bytes as {self.new.name})"
        return f"rename {self.old.name} -> {self.new.name}"


def study_of(path: Path) -> StudyId | None:
    """The study ``path`` holds (an export's ``study`` field, a journal's only study); None when unreadable or
    not one study."""
    try:
        if path.suffix == ".json":
            blob = json.loads(path.read_text())
            return StudyId.parse(str(blob["study"])) if isinstance(blob, dict) and "study" in blob else None
        import optuna
        from optuna.storages.journal import JournalFileBackend

        names = optuna.get_all_study_names(optuna.storages.JournalStorage(JournalFileBackend(str(path))))
        return StudyId.parse(names[0]) if len(names) == 1 else None
    except Exception:  # noqa: BLE001 - a foreign or broken file is left alone (and said so), never fatal
        return None


def plan(folder: Path) -> tuple[list[Rename], list[str]]:
    """The renames of ``folder`` (read only) and one note per file left alone. Raises MtlbenchError on a
    rename that would overwrite other bytes or give two files one name."""
    files = {suffix: {p.stem: p for p in finished(folder, f"*{suffix}")} for suffix in STUDY_SUFFIXES}
    renames: list[Rename] = []
    notes: list[str] = []
    for stem in sorted(set().union(*files.values())):
        held = [files[suffix][stem] for suffix in STUDY_SUFFIXES if stem in files[suffix]]
        sid = next((s for s in map(study_of, held) if s is not None), None)
        if sid is None:
            notes.append(f"leave {', '.join(p.name for p in held)}: holds no readable study")
        elif stem != sid.slug and stem != former_slug(sid):
            notes.append(f"leave {', '.join(p.name for p in held)}: not named after its study {sid.name}")
        elif stem != sid.slug:
            for p in held:
                new = folder / f"{sid.slug}{p.suffix}"
                if new.exists() and new.read_bytes() != p.read_bytes():
                    raise MtlbenchError(f"{p.name} and {new.name} both hold study {sid.name} with other contents; "
                                        "keep the right one by hand, then run the migration again.")
                renames.append(Rename(p, new, new.exists()))
    twice = [new.name for new, n in Counter(r.new for r in renames).items() if n > 1]
    if twice:
        raise MtlbenchError(f"two files would be renamed to {twice[0]}; keep the right one by hand, then run the migration again.")
    return renames, notes


def apply(renames: list[Rename]) -> None:
    for r in renames:
        if r.duplicate:
            r.old.unlink()
        else:
            r.old.rename(r.new)


def migrate(studies_dir: str | Path, dry_run: bool = False) -> list[str]:
    """Migrate ``studies_dir`` (or, with ``dry_run``, only say what would change). Returns the changes."""
    d = Path(studies_dir)
    if not d.is_dir():
        raise MtlbenchError(f"{d} is not a folder of studies (e.g. results/standard/studies).")
    renames, notes = plan(d)
    if not dry_run:
        apply(renames)
    removed = sum(r.duplicate for r in renames)
    done = f"{'would rename' if dry_run else 'renamed'} {len(renames) - removed} files in {d}" + (
        f" and {'would remove' if dry_run else 'removed'} {removed} duplicates" if removed else "")
    return [r.line() for r in renames] + notes + [done + "."]


def main(argv: list[str] | None = None) -> int:
    from . import main as run_main

    return run_main(__spec__.name if __spec__ else __name__, __doc__, "a folder of studies, e.g. results/standard/studies", migrate, argv)


if __name__ == "__main__":
    sys.exit(main())
