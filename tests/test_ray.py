"""`--executor ray` on a real two-node Ray cluster on this machine (loopback only, stopped at the end): the
records equal a local run's, and a worker killed mid-run does not stop the job. Slow: run by .ci/run."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import TINY, cli_env, run_cli
from test_parallel import results_of

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'mtlbench[ray]')")

#: Bound on each wait for the cluster (start, nodes joining, stopping).
CLUSTER_TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_cli() -> str:
    exe = Path(sys.executable).parent / "ray"
    return str(exe) if exe.exists() else (shutil.which("ray") or pytest.skip("no `ray` command next to this Python"))


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """``ray start ... --block`` in its own session: its process group holds every process of the node."""
    return subprocess.Popen([_ray_cli(), "start", "--block", "--disable-usage-stats", "--node-ip-address=127.0.0.1",
                             "--num-cpus=1", "--num-gpus=0", *args], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _descendants(roots: set[int]) -> set[int]:
    """Processes started, directly or not, by ``roots`` (Ray's workers run in process groups of their own)."""
    parent = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, grew = set(roots), True
    while grew:
        new = {pid for pid, ppid in parent.items() if ppid in found and pid not in found}
        found |= new
        grew = bool(new)
    return found - roots


def _stop(proc: subprocess.Popen) -> None:
    """End the node: SIGTERM to its process group (``ray start --block`` stops its processes), then SIGKILL to
    whatever it started that is still there."""
    group = {proc.pid} | _descendants({proc.pid})
    for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
    for pid in group:  # still a Ray process (not a reused pid)
        try:
            if b"ray" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


def _wait_for_cpus(address: str, cpus: int, env: dict[str, str]) -> None:
    probe = ("import ray, time, sys\n"
             f"ray.init(address={address!r}, logging_level='ERROR', log_to_driver=False)\n"
             f"end = time.time() + {CLUSTER_TIMEOUT_S}\n"
             f"while ray.cluster_resources().get('CPU', 0) < {cpus} and time.time() < end: time.sleep(1)\n"
             f"sys.exit(0 if ray.cluster_resources().get('CPU', 0) >= {cpus} else 1)\n")
    res = subprocess.run([sys.executable, "-c", probe], env=env, timeout=CLUSTER_TIMEOUT_S + 60, capture_output=True, text=True)
    assert res.returncode == 0, f"the Ray cluster did not get {cpus} CPUs: {res.stderr[-2000:]}"


@pytest.fixture
def cluster():
    """A head node and a second node (1 CPU each) on 127.0.0.1; yields (address, [head, worker] processes)."""
    tmp = tempfile.mkdtemp(prefix="mtlray", dir="/tmp")  # short: Ray's socket paths have a length limit
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    port = _free_port()
    address = f"127.0.0.1:{port}"
    nodes = [_start(["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={tmp}"], env)]
    try:
        _wait_for_cpus(address, 1, env)
        nodes.append(_start([f"--address={address}"], env))
        _wait_for_cpus(address, 2, env)
        yield address, nodes
    finally:
        for proc in reversed(nodes):
            _stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def _task_workers(nodes: list[subprocess.Popen]) -> list[int]:
    """Processes of our nodes that execute an mtlbench Ray task right now (Ray titles them ``ray::<task name>``)."""
    pids = []
    for pid in _descendants({p.pid for p in nodes}):
        try:
            if "ray::mtlbench" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                pids.append(pid)
        except OSError:
            continue
    return pids


def test_run_on_a_two_node_cluster_survives_a_killed_worker_and_matches_local(tmp_path, cluster):
    address, nodes = cluster
    args = ["run", "--all", "--suite", TINY, "--seeds", "2", "--threads", "1"]
    local = run_cli(tmp_path, *args, "--jobs", "1", "--results-dir", str(tmp_path / "local"), timeout=1200)
    assert local.returncode == 0, local.stderr[-3000:]

    driver = subprocess.Popen([sys.executable, "-m", "mtlbench.cli", *args, "--executor", "ray", "--ray-address", address,
                               "--results-dir", str(tmp_path / "ray")], env=cli_env(tmp_path), cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    end = time.time() + 600
    while killed is None and driver.poll() is None and time.time() < end:
        workers = _task_workers(nodes)
        if workers:
            time.sleep(0.5)  # mid-run: the task has started training
            try:
                os.kill(workers[0], signal.SIGKILL)
                killed = workers[0]
            except ProcessLookupError:
                continue
        time.sleep(0.2)
    out, err = driver.communicate(timeout=1200)
    assert killed is not None, f"no mtlbench Ray task was seen running; the driver said: {err[-3000:]}"
    assert driver.returncode == 0, err[-3000:]
    assert "0 failed" in out
    a, b = results_of(tmp_path / "local"), results_of(tmp_path / "ray")
    assert len(a) >= 10 and set(a) == set(b)
    assert a == b  # the same keys and, at the same thread count, the same metrics

    again = subprocess.run([sys.executable, "-m", "mtlbench.cli", *args, "--executor", "ray", "--ray-address", address,
                            "--results-dir", str(tmp_path / "ray")], env=cli_env(tmp_path), cwd=tmp_path,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "0 trained," in again.stdout and "0 failed" in again.stdout  # resuming skips finished runs
    assert results_of(tmp_path / "ray") == b


def test_tune_on_ray_shares_a_postgresql_study(tmp_path, cluster):
    url = os.environ.get("MTLBENCH_PG_URL")
    if not url:
        pytest.skip("no PostgreSQL server: set MTLBENCH_PG_URL (.ci/postgres.sh starts one)")
    address, _ = cluster
    res = run_cli(tmp_path, "tune", "hard_sharing", "--suite", TINY, "--trials", "3", "--storage", url, "--executor", "ray",
                  "--ray-address", address, "--jobs", "2", "--threads", "1", "--sampler-seed", str(int(time.time()) % 10_000),
                  timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    exports = list((tmp_path / "results" / "quick" / "studies").glob("*.json"))
    assert len(exports) == 1
    summary = json.loads(exports[0].read_text())
    assert summary["n_counted"] >= 3 and summary["best"] is not None
