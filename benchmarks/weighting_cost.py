"""Cost of one training step under each loss-weighting strategy, against ``static``.

    python benchmarks/weighting_cost.py                          # mmoe and ple, every strategy, CPU, 2 threads
    python benchmarks/weighting_cost.py --models mmoe --strategies static pcgrad mgda --rounds 60
    python benchmarks/weighting_cost.py --device cuda

A step is what the trainer runs per batch with a strategy: forward, ``masked_task_losses``,
``Weighting.backward`` (the strategy's per-task gradients and combination included) and an Adam step over
the model's and the strategy's parameters. Data: census-shaped (499 dense float32 features, no categorical
field, 2 binary tasks, all labels present), batch 1024, 16 fixed random batches cycled. ``--table-rows N``
adds 8 categorical fields sharing N embedding rows (ids uniform per batch; video has ~29k rows, funnel ~73k):
a gradient method's per-task gradients span the whole table, although a batch touches few of its rows;
the trainer narrows them to the rows reached in the step (``Weighting.reached_only``), and each such strategy
is also timed on every element (``<strategy>/all``, what the step cost before), side by side.
Models at the pinned configs of ``benchmarks/throughput.py`` (mmoe 8 experts × [64], ple 2 levels of 2 + 2 experts × [64],
towers [32]). The shared split (``find_shared``) is found once, before timing.

Every strategy of a model is timed round-robin (``--rounds`` rounds of ``--steps`` steps per strategy, after
``--warmup`` untimed steps; with ``--idle-wait`` each window first waits that long at most for idle CPUs),
so load from other processes hits all strategies alike. Printed: the median and the best window per step,
each also as a ratio to ``static``; on a shared machine the median ratio is the robust figure.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import torch

from mtlbench.data import InputSpec, TaskSpec
from mtlbench.loss import masked_task_losses
from mtlbench.model import SharedConfig, build_model, make_config
from mtlbench.weighting import find_shared, get_weighting, list_weightings, make_weighting

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import IDLE, wait_idle  # noqa: E402  (the idle-CPU wait of the throughput benchmark)

D, K, BATCH, N_BATCHES, CAT_FIELDS = 499, 2, 1024, 16, 8
PINNED = {
    "mmoe": {"n_experts": 8, "expert": (64,), "tower": (32,)},
    "ple": {"levels": 2, "specific_experts": 2, "shared_experts": 2, "expert": (64,), "tower": (32,)},
}


class Case:
    """One model + strategy, ready to step."""

    def __init__(self, model_name: str, strategy: str, device: torch.device, data, table_rows: int = 0,
                 every_element: bool = False):
        torch.manual_seed(0)
        self.x, self.x_cat, self.y, self.mask = data
        fields = self.x_cat.shape[-1]  # make_data's categorical fields
        inputs = InputSpec(num_names=tuple(f"x{i}" for i in range(D)), cat_names=tuple(f"c{i}" for i in range(fields)),
                           cat_cardinalities=(table_rows // CAT_FIELDS,) * fields)
        tasks = tuple(TaskSpec(f"t{k}", "binary") for k in range(K))
        cfg = make_config(model_name, PINNED.get(model_name, {}))
        self.model = build_model(model_name, inputs, tasks, cfg, SharedConfig()).to(device)
        self.is_binary = torch.ones(K, dtype=torch.bool, device=device)
        self.base = torch.ones(K, device=device)
        self.shared = find_shared(self.model, self.x[0], self.x_cat[0])
        self.weighting = make_weighting(strategy, K, seed=0, device=device)
        if every_element:
            self.weighting.reached_only = False  # the per-task gradients over every shared element
        params = [*self.model.parameters(), *self.weighting.parameters()]
        self.opt = torch.optim.Adam(params, lr=1e-3, foreach=True)
        self.i = 0

    def step(self) -> None:
        b = self.i % N_BATCHES
        self.i += 1
        out = self.model(self.x[b], self.x_cat[b])  # [B, K]
        losses = masked_task_losses(out, self.y[b], self.mask, self.is_binary)  # [K]
        self.opt.zero_grad(set_to_none=True)
        self.weighting.backward(losses, self.mask.any(0), self.base, self.model.aux_loss(), self.shared)
        self.opt.step()


def make_data(device: torch.device, table_rows: int = 0):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N_BATCHES, BATCH, D, generator=g).to(device)  # [n, B, D]
    y = (torch.rand(N_BATCHES, BATCH, K, generator=g) < 0.1).float().to(device)  # [n, B, K]
    fields = CAT_FIELDS if table_rows else 0
    x_cat = torch.randint(0, max(1, table_rows // CAT_FIELDS), (N_BATCHES, BATCH, fields), generator=g).to(device)  # [n, B, F]
    mask = torch.ones(BATCH, K, dtype=torch.bool, device=device)
    return x, x_cat, y, mask


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_round(case: Case, steps: int, device: torch.device) -> float:
    wait_idle()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        case.step()
    sync(device)
    return (time.perf_counter() - t0) / steps * 1e3  # ms/step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=list(PINNED))
    ap.add_argument("--strategies", nargs="+", default=list_weightings())
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--table-rows", type=int, default=0,
                    help=f"embedding rows of {CAT_FIELDS} categorical fields (0: census-shaped, dense features only)")
    ap.add_argument("--idle-wait", type=float, default=0.0,
                    help="before each timed window wait up to this many seconds for idle CPUs (0: never)")
    args = ap.parse_args()
    IDLE["wait_s"] = args.idle_wait
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    strategies = ["static", *[s for s in args.strategies if s != "static"]]
    data = make_data(device, args.table_rows)
    print(f"{date.today()}  {platform.processor() or platform.machine()}  torch {torch.__version__}  device {device}"
          f"  threads {args.threads}  batch {BATCH}  D {D}  K {K}  embedding rows {args.table_rows}"
          f"  {args.rounds} rounds × {args.steps} steps")
    print(f"{'model':8} {'strategy':14} {'median ms':>9} {'× static':>9} {'best ms':>9} {'× static':>9}")
    for model_name in args.models:
        cases = {s: Case(model_name, s, device, data, args.table_rows) for s in strategies}
        if args.table_rows:
            cases |= {f"{s}/all": Case(model_name, s, device, data, args.table_rows, every_element=True)
                      for s in strategies if get_weighting(s).gradient_based and get_weighting(s).reached_only}
        for c in cases.values():
            for _ in range(args.warmup):
                c.step()
        times: dict[str, list[float]] = {s: [] for s in cases}
        for _ in range(args.rounds):
            for s, c in cases.items():
                times[s].append(time_round(c, args.steps, device))
        med = {s: statistics.median(t) for s, t in times.items()}
        best = {s: min(t) for s, t in times.items()}
        for s in cases:
            print(f"{model_name:8} {s:14} {med[s]:9.2f} {med[s] / med['static']:9.2f} {best[s]:9.2f} {best[s] / best['static']:9.2f}")
    print(f"timed windows started on idle CPUs: {IDLE['waited']}, on busy ones: {IDLE['not_idle']}")


if __name__ == "__main__":
    main()
