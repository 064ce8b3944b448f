"""Worker processes end with their driver, however it ends (SIGKILL included): ``mtlbench.lifeline``."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import HAS_PROC, children, cli_env, wait_gone

pytestmark = pytest.mark.skipif(not HAS_PROC, reason="finds processes through Linux /proc")

#: A driver that starts one spawned child, bound to it by MODE, and waits; the child touches READY when set up.
DRIVER = textwrap.dedent('''
    import multiprocessing as mp, os, sys, time
    from pathlib import Path
    from mtlbench.lifeline import die_with_parent, lifeline, set_parent_death_signal, watch_lifeline

    def child(mode, parent, read_end, ready):
        if mode in ("pdeathsig", "both"):
            assert set_parent_death_signal()
        if mode == "lifeline":
            watch_lifeline(read_end)
        if mode == "both":
            die_with_parent(parent, read_end)
        Path(ready).touch()
        time.sleep(120)

    if __name__ == "__main__":
        ctx = mp.get_context("spawn")
        with lifeline(ctx) as read_end:
            ctx.Process(target=child, args=(sys.argv[1], os.getpid(), read_end, sys.argv[2])).start()
            time.sleep(120)
''')

#: A driver with the real worker pool of ``run/tune --jobs``: two workers, both started, then it waits.
POOL_DRIVER = textwrap.dedent('''
    import multiprocessing as mp, os, sys, time
    from pathlib import Path
    from mtlbench.parallel import Layout, pool

    if __name__ == "__main__":
        with pool(Layout(2, 1), mp.get_context("spawn").Queue()) as ex:
            futures = [ex.submit(time.sleep, 0.5) for _ in range(2)]
            [f.result() for f in futures]
            Path(sys.argv[2]).touch()
            time.sleep(120)
''')


def kill_driver(tmp_path, script: str, mode: str, setup_s: float = 60) -> tuple[dict[int, str], dict[int, str]]:
    """Start ``script`` (a driver), wait until its children are set up, SIGKILL the driver only; returns
    (its children at the kill, those still running 5 s later)."""
    (tmp_path / "driver.py").write_text(script)
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "driver.py", mode, str(ready)], cwd=tmp_path, env=cli_env(tmp_path))
    try:
        deadline = time.time() + setup_s
        while not ready.exists():
            assert proc.poll() is None and time.time() < deadline, "the driver did not start its children"
            time.sleep(0.05)
        kids = children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return kids, wait_gone(kids, timeout=5)
    finally:
        proc.kill()


@pytest.mark.parametrize("mode", ["pdeathsig", "lifeline", "both"])
def test_a_bound_child_ends_when_its_driver_is_killed(tmp_path, mode):
    kids, left = kill_driver(tmp_path, DRIVER, mode)
    assert kids and not left


def test_an_unbound_child_outlives_a_killed_driver(tmp_path):
    # what the test above would see without either mechanism: the orphan keeps running
    kids, left = kill_driver(tmp_path, DRIVER, "none")
    try:
        assert left
    finally:
        for pid in left:
            os.kill(pid, signal.SIGKILL)


def test_pool_workers_end_when_the_driver_is_killed(tmp_path):
    kids, left = kill_driver(tmp_path, POOL_DRIVER, "pool", setup_s=120)
    assert len(kids) >= 2 and not left  # both workers (and multiprocessing's resource tracker) are gone
