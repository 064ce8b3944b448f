"""Wall time of the README's main job (`mtlbench run --all --profile quick`) for --jobs 1, 2, ...

Each setting runs the same command in a fresh results folder (suite cache shared and built first, so no
setting pays for building it), one after the other, repeated ``--rounds`` times in alternating order; the
load average before each run is printed, since other processes distort absolute figures (compare the
ratios of one invocation). Figures: benchmarks/README.md.

    python benchmarks/jobs.py                                   # --jobs 1 and 2, the whole main job
    python benchmarks/jobs.py --jobs 1 2 4 --suite "synthetic[p=0.5]" --seeds 1
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--threads", type=int, default=None, help="torch threads per run (default: mtlbench's choice)")
    ap.add_argument("--suite", action="append", default=None, help="restrict the suites (repeatable)")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--no-report", action="store_true", help="static PNG charts off (MTLBENCH_STATIC_CHARTS=0)")
    args = ap.parse_args()
    base = [sys.executable, "-m", "mtlbench.cli", "run", "--all", "--profile", "quick", "--device", "cpu"]
    for s in args.suite or []:
        base += ["--suite", s]
    if args.seeds:
        base += ["--seeds", str(args.seeds)]
    if args.threads:
        base += ["--threads", str(args.threads)]
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if args.no_report:
        env["MTLBENCH_STATIC_CHARTS"] = "0"
    with tempfile.TemporaryDirectory(prefix="mtlbench-jobs-") as tmp:
        env.setdefault("MTLBENCH_CACHE", os.path.join(tmp, "cache"))
        subprocess.run([*base, "--jobs", "1", "--results-dir", os.path.join(tmp, "warm"), "--seeds", "1",
                        "--params-from", "default"], env={**env, "MTLBENCH_STATIC_CHARTS": "0"}, check=True,
                       capture_output=True)  # builds the suite cache (and trains one seed, discarded)
        print(f"cores {len(os.sched_getaffinity(0))}; command: {' '.join(base[3:])} --jobs N")
        print("| round | --jobs | wall s | load avg before | runs trained |")
        print("|---|---|---|---|---|")
        for r in range(args.rounds):
            order = args.jobs if r % 2 == 0 else list(reversed(args.jobs))
            for n in order:
                load = os.getloadavg()[0]
                t0 = time.perf_counter()
                res = subprocess.run([*base, "--jobs", str(n), "--results-dir", os.path.join(tmp, f"r{r}j{n}"),
                                      "--params-from", "default"], env=env, capture_output=True, text=True)
                wall = time.perf_counter() - t0
                trained = res.stdout.split(" trained")[0].split()[-1] if " trained" in res.stdout else "?"
                print(f"| {r} | {n} | {wall:.1f} | {load:.2f} | {trained} |", flush=True)
                if res.returncode not in (0, 1):
                    print(res.stderr[-2000:], file=sys.stderr)


if __name__ == "__main__":
    main()
