"""Writing result files so that a reader, or a process killed mid-write, never sees half a file.

One mechanism for every writer in the package (records, study exports, reports, charts, suite caches,
checkpoints): write a temporary file next to the target, then ``os.replace`` it, which is atomic on POSIX.
Torch-free, so the report layer can use it.
"""
from __future__ import annotations

import glob
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _tmp_for(path: Path) -> Path:
    # Hidden, per-process and keeping the suffix (some writers, e.g. image exporters, look at it).
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


def is_temporary(path: str | Path) -> bool:
    """Whether ``path`` is a writer's temporary file (one a killed process can leave behind; never a result)."""
    name = Path(path).name
    return name.startswith(".") and ".tmp" in name


def finished(folder: str | Path, pattern: str = "*.json") -> list[Path]:
    """The finished files in ``folder`` that match ``pattern``, sorted; [] when the folder does not exist.

    Every reader of result folders lists them through this: ``Path.glob("*.json")`` also matches the hidden
    temporary ``.NAME.PID.tmp.json`` of a writer in progress, or of one that was killed mid-write."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(pattern) if not is_temporary(p))


def discard_temporaries(path: str | Path) -> list[Path]:
    """Remove the temporary files of ``path`` that writers of any process left behind (a writer killed
    mid-write leaves its ``.NAME.PID.tmp.SUFFIX``); returns them. Call it only where no other process can be
    writing ``path`` (e.g. while holding its claim), else a write in progress loses its file."""
    path = Path(path)
    head, tail = f".{path.stem}.", f".tmp{path.suffix}"
    left = [p for p in path.parent.glob(f"{glob.escape(head)}*{glob.escape(tail)}")
            if p.name[len(head):-len(tail)].isdigit()]  # the pid: not the temporary of a longer name
    for p in left:
        p.unlink(missing_ok=True)
    return left


def atomic_write_with(path: str | Path, write: Callable[[BinaryIO], None], fsync: bool = False) -> Path:
    """``write(fh)`` fills a temporary binary file, which then replaces ``path`` in one step.

    ``fsync=True`` also forces the bytes to disk before the replace (records: a power cut must not leave an
    empty record that would count as finished)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_for(path)
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write(path: str | Path, data: str | bytes, fsync: bool = False) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically."""
    blob = data.encode() if isinstance(data, str) else data
    return atomic_write_with(path, lambda fh: fh.write(blob), fsync=fsync)


def atomic_replace(tmp: str | Path, path: str | Path) -> Path:
    """Move a finished temporary file (written by a tool that takes a path, e.g. an image exporter) into place."""
    os.replace(tmp, path)
    return Path(path)


def temp_path(path: str | Path) -> Path:
    """The temporary name ``atomic_write`` would use for ``path`` (for tools that write to a path themselves)."""
    return _tmp_for(Path(path))
