from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

TINY = "synthetic[p=0.5,n_train=600,n_val=300,n_test=300]"
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(autouse=True)
def _isolate(tmp_path, monkeypatch):
    """Every test gets its own results dir and suite cache; torch uses 1 thread (determinism, 2-core CI)."""
    monkeypatch.setenv("MTLBENCH_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("MTLBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MTLBENCH_STATIC_CHARTS", "0")  # PNG export is tested where it is the subject
    torch.set_num_threads(1)
    yield


@pytest.fixture
def tiny_suite():
    from mtlbench import get_profile, load_suite

    return load_suite(TINY, get_profile("quick"))


def cli_env(tmp_path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(MTLBENCH_STATIC_CHARTS="0", MTLBENCH_RESULTS=str(tmp_path / "results"), MTLBENCH_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    return env


def run_cli(tmp_path, *args: str, timeout: float = 300, **env_extra: str):
    """`mtlbench ARGS` in a subprocess. Its working directory is outside the repository, so the installed
    package is tested (with `python -m`, a source folder in the working directory would shadow it)."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "mtlbench.cli", *args], capture_output=True, text=True,
                          env={**cli_env(tmp_path), **env_extra}, timeout=timeout, cwd=tmp_path)


# ---------------------------------------------------------------- processes (Linux /proc)
HAS_PROC = Path("/proc/self/stat").exists()


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (index 0: state, 1: parent pid, 19: start time)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def children(pid: int) -> dict[int, str]:
    """The live child processes of ``pid``: {child pid: its start time} (the pair names a process even
    after its pid is reused)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (f := _stat(int(entry.name))) and f[1] == str(pid) and f[0] not in "ZX":
            out[int(entry.name)] = f[19]
    return out


def alive(pid: int, start: str) -> bool:
    """Whether the process ``pid`` that started at ``start`` still runs (a zombie waiting for a reaper that
    never comes, as under a container's minimal init, counts as gone)."""
    f = _stat(pid)
    return f is not None and f[19] == start and f[0] not in "ZX"


def wait_gone(procs: dict[int, str], timeout: float) -> dict[int, str]:
    """Wait up to ``timeout`` seconds for the processes ``procs`` ({pid: start time}) to end; returns those
    still running."""
    import time

    deadline = time.time() + timeout
    while (left := {p: s for p, s in procs.items() if alive(p, s)}) and time.time() < deadline:
        time.sleep(0.05)
    return left


def cli_in_process(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """`mtlbench ARGS` in this process (argv patched): (exit status, stdout, stderr)."""
    import sys

    import pytest

    from mtlbench.cli import main

    monkeypatch.setattr(sys, "argv", ["mtlbench", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


class CountingProgress:
    """The progress protocol `run` drives (with lanes, as `--jobs` workers report): counts the runs accounted
    for (trained, stacked or skipped), the runs started and the workers that reported."""

    def __init__(self):
        self.runs, self.starts, self.lanes = 0, 0, set()

    def lane(self, worker):
        self.lanes.add(worker)
        return self

    def start(self, label, epochs):
        self.starts += 1

    def epoch(self, epoch, score):
        pass

    def end(self, runs=1):
        self.runs += runs

    def skip(self, runs=1):
        self.runs += runs
