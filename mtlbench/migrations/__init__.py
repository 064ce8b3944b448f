"""One-off rewrites of committed result files between record schemas and file-name rules (each runnable with
``python -m``)."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import MtlbenchError


def main(prog: str, doc: str, folder_help: str, migrate: Callable[[Path, bool], list[str]],
         argv: list[str] | None = None) -> int:
    """The command line every migration shares: one or more folders, ``--dry-run``; each line of
    ``migrate(folder, dry_run)`` printed; a refusal (MtlbenchError) is one line on stderr and exit status 2."""
    ap = argparse.ArgumentParser(prog=f"python -m {prog}", description=doc.splitlines()[0])
    ap.add_argument("folders", type=Path, nargs="+", help=folder_help)
    ap.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    args = ap.parse_args(argv)
    try:
        for d in args.folders:
            for line in migrate(d, args.dry_run):
                print(line)
    except MtlbenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
