"""Training / inference throughput of every registered model against a loop-over-experts reference.

    python benchmarks/throughput.py                       # all models, CPU, 2 threads
    python benchmarks/throughput.py --models mmoe cgc ple --rounds 5 --json out.json
    python benchmarks/throughput.py --device cuda --seeds 1 5 20
    python benchmarks/throughput.py --models mmoe cgc ple hard_sharing --peers   # pip install -e '.[peers]'

Data: census-shaped synthetic data (seeded): 199,523 training rows of 499 dense float32 features (no
categorical field), 2 binary tasks (all labels present), batch 1024, Adam lr 1e-3.

For each model, in a fresh worker process (so peak memory is the model's own):

- **ours**: ``mtlbench.train.fit`` itself, one epoch per round (its own ``samples_per_second``: the
  training loop only), on a model built by ``build_model`` at the pinned config below; inference with
  ``mtlbench.train.predict`` on 65,536 rows.
- **reference**: the same architecture written the way popular MTL libraries write it (a Python loop over
  ``nn.Linear`` experts, gates and towers; written below), fed by
  ``DataLoader(TensorDataset(x, y), batch_size=1024, shuffle=True, num_workers=0)`` and trained with
  ``torch.optim.Adam`` (defaults) on the sum of the per-task BCE losses; ``--steps`` steps per round.
  Inference: the same DataLoader (batch 1024, no shuffle) under ``torch.no_grad()``.
- **FLOPs per sample**: ``torch.utils.flop_counter`` over one training step (forward, loss, backward:
  exactly the matrix products autograd runs, so no input gradient is counted for the first layer).
- **matmul bound**: every matrix product of one training step is recorded; the dominant shape is the
  (batch, {M, K, N}) group with the most FLOPs (e.g. mmoe: x[1024, 499] @ W[499, 8·64] forward and
  xᵀ @ grad weight gradient). Those products are replayed alone, with the same shapes and strides, as
  many times as an epoch has steps, in the same rounds as the training measurements: peak = their FLOPs
  / their time. fraction of bound = FLOPs per sample × samples/s ÷ peak.
- **peak memory**: CPU: the largest resident set size (``/proc/self/statm``, sampled every 2 ms) above
  the level before training, over 30 training steps, each implementation in its own process; GPU:
  ``torch.cuda.max_memory_allocated`` minus the allocation before training.
- **peers** (``--peers``; mmoe, cgc, ple, hard_sharing): torch-rechub's and DeepCTR-Torch's own training
  loops on the same data, sizes, batch and threads (``benchmarks/peers.py``), one epoch each in every round,
  after ours; reported as best-of-rounds samples/s and the median over rounds of ours ÷ peer (same round).
- **seeds stacked** (``--seeds``, models from ``--seed-models``): ``mtlbench.multiseed``'s stacked step
  (the step ``fit_seeds`` runs) for S seeds at once, ms per step and seed-samples/s, against S steps of
  one seed (the ``fit`` step time measured above).

Every figure is the best of ``--rounds`` rounds (min time), the training figures of ours, the
reference and the matmul peak measured round-robin in the same process, so load from other processes
hits them alike. Results: a table on stdout and ``--json`` (default ``benchmarks/results.json``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/peers.py, also when imported from elsewhere
from peers import PEER_MODELS, build_peers  # noqa: E402

N_TRAIN, N_INFER, D, K, BATCH = 199_523, 65_536, 499, 2, 1024

#: Benchmark configs, pinned (independent of the models' defaults). Models not listed run at their defaults.
PINNED: dict[str, dict[str, Any]] = {
    "mmoe": {"n_experts": 8, "expert": (64,), "tower": (32,)},
    "omoe": {"n_experts": 8, "expert": (64,), "tower": (32,)},
    "cgc": {"specific_experts": 2, "shared_experts": 2, "expert": (64,), "tower": (32,)},
    "ple": {"levels": 2, "specific_experts": 2, "shared_experts": 2, "expert": (64,), "tower": (32,)},
    "hard_sharing": {"bottom": (128, 64), "tower": (32,)},
}
TARGET_SPEEDUP, TARGET_BOUND = 4.0, 0.75
TARGET_MODELS = ("mmoe", "cgc", "ple")
TARGET_PEER_SPEEDUP = 3.5  # ours ÷ the fastest peer library's own training loop (--peers)


def peer_target_bound(row: dict[str, Any], peer: dict[str, Any]) -> float:
    """The fraction of the matmul bound (``peak_flops``: the model's dominant products replayed alone) that
    training at ``TARGET_PEER_SPEEDUP`` × the peer's best window would take, at our FLOPs per sample: above 1,
    no implementation of the same products can reach the target on this machine."""
    return TARGET_PEER_SPEEDUP * peer["train_sps"] * row["flops_per_sample"] / row["peak_flops"]


# ----------------------------------------------------------------------------- reference implementations
# Written the way popular MTL libraries write them: one nn.Linear per expert / gate / tower, Python loops.

def _mlp(d_in: int, hidden, out: int | None = None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(d_in, h), nn.ReLU()]
        d_in = h
    if out:
        layers.append(nn.Linear(d_in, out))
    return nn.Sequential(*layers)


class RefMMoE(nn.Module):
    def __init__(self, cfg, one_gate: bool = False):
        super().__init__()
        self.one_gate = one_gate
        self.experts = nn.ModuleList(_mlp(D, cfg.expert) for _ in range(cfg.n_experts))
        self.gates = nn.ModuleList(nn.Linear(D, cfg.n_experts) for _ in range(1 if one_gate else K))
        self.towers = nn.ModuleList(_mlp(cfg.expert[-1], cfg.tower, 1) for _ in range(K))

    def forward(self, x):
        e = torch.stack([expert(x) for expert in self.experts], dim=1)  # [B, E, h]
        outs = []
        for k, tower in enumerate(self.towers):
            g = torch.softmax(self.gates[0 if self.one_gate else k](x), dim=-1).unsqueeze(-1)  # [B, E, 1]
            outs.append(tower((g * e).sum(1)))
        return torch.cat(outs, dim=1)  # [B, K]


class RefMLMMoE(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        E, h = cfg.n_experts, cfg.expert[-1]
        self.levels = nn.ModuleList(nn.ModuleList(_mlp(D if l == 0 else h, cfg.expert) for _ in range(E)) for l in range(cfg.levels))
        self.expert_gates = nn.ModuleList(nn.ModuleList(nn.Linear(D, E) for _ in range(E)) for _ in range(cfg.levels - 1))
        self.task_gates = nn.ModuleList(nn.Linear(D, E) for _ in range(K))
        self.towers = nn.ModuleList(_mlp(h, cfg.tower, 1) for _ in range(K))

    def forward(self, x):
        e = torch.stack([ex(x) for ex in self.levels[0]], dim=1)  # [B, E, h]
        for gates, experts in zip(self.expert_gates, self.levels[1:]):
            mixed = [(torch.softmax(g(x), -1).unsqueeze(-1) * e).sum(1) for g in gates]
            e = torch.stack([ex(m) for ex, m in zip(experts, mixed)], dim=1)
        outs = [tower((torch.softmax(g(x), -1).unsqueeze(-1) * e).sum(1)) for g, tower in zip(self.task_gates, self.towers)]
        return torch.cat(outs, dim=1)


class RefPLE(nn.Module):
    """CGC = PLE with one level. Task experts read q_k, shared experts q_s; the shared gate mixes all."""

    def __init__(self, cfg):
        super().__init__()
        m, ms, h, L = cfg.specific_experts, cfg.shared_experts, cfg.expert[-1], cfg.levels
        self.L = L
        self.task_experts = nn.ModuleList(
            nn.ModuleList(nn.ModuleList(_mlp(D if l == 0 else h, cfg.expert) for _ in range(m)) for _ in range(K)) for l in range(L)
        )
        self.shared_experts = nn.ModuleList(nn.ModuleList(_mlp(D if l == 0 else h, cfg.expert) for _ in range(ms)) for l in range(L))
        self.task_gates = nn.ModuleList(nn.ModuleList(nn.Linear(D if l == 0 else h, m + ms) for _ in range(K)) for l in range(L))
        self.shared_gates = nn.ModuleList(nn.Linear(D if l == 0 else h, K * m + ms) for l in range(L - 1))
        self.towers = nn.ModuleList(_mlp(h, cfg.tower, 1) for _ in range(K))

    def forward(self, x):
        q, qs = [x] * K, x
        for l in range(self.L):
            shared = [e(qs) for e in self.shared_experts[l]]
            task = [[e(q[k]) for e in self.task_experts[l][k]] for k in range(K)]
            new_q = []
            for k in range(K):
                e = torch.stack(task[k] + shared, dim=1)  # [B, m + ms, h]
                g = torch.softmax(self.task_gates[l][k](q[k]), -1).unsqueeze(-1)
                new_q.append((g * e).sum(1))
            if l < self.L - 1:
                e = torch.stack([t for ts in task for t in ts] + shared, dim=1)
                qs = (torch.softmax(self.shared_gates[l](qs), -1).unsqueeze(-1) * e).sum(1)
            q = new_q
        return torch.cat([tower(q[k]) for k, tower in enumerate(self.towers)], dim=1)


class RefHardSharing(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.bottom = _mlp(D, cfg.bottom)
        self.towers = nn.ModuleList(_mlp(cfg.bottom[-1], cfg.tower, 1) for _ in range(K))

    def forward(self, x):
        h = self.bottom(x)
        return torch.cat([t(h) for t in self.towers], dim=1)


class RefSingleTask(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.nets = nn.ModuleList(nn.Sequential(_mlp(D, cfg.bottom), _mlp(cfg.bottom[-1], cfg.tower, 1)) for _ in range(K))

    def forward(self, x):
        return torch.cat([net(x) for net in self.nets], dim=1)


class RefCustomized(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.bottoms = nn.ModuleList(_mlp(D, cfg.bottom) for _ in range(K))
        self.shared = _mlp(D, cfg.bottom)
        self.towers = nn.ModuleList(_mlp(2 * cfg.bottom[-1], cfg.tower, 1) for _ in range(K))

    def forward(self, x):
        s = self.shared(x)
        return torch.cat([t(torch.cat([b(x), s], dim=1)) for b, t in zip(self.bottoms, self.towers)], dim=1)


class RefAsymmetric(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.uses = cfg.uses_for(K)
        self.bottoms = nn.ModuleList(_mlp(D, cfg.bottom) for _ in range(K))
        self.towers = nn.ModuleList(_mlp(cfg.bottom[-1] * (1 + len(self.uses[k])), cfg.tower, 1) for k in range(K))

    def forward(self, x):
        h = [b(x) for b in self.bottoms]
        return torch.cat([t(torch.cat([h[k]] + [h[j] for j in self.uses[k]], dim=1)) for k, t in enumerate(self.towers)], dim=1)


class RefStitch(nn.Module):
    """cross_stitch (S = 1) and sluice (S subspaces, β layer skip, orthogonality penalty)."""

    def __init__(self, cfg, subspaces: int = 1, sluice: bool = False):
        super().__init__()
        w, L, S = cfg.width, cfg.layers, subspaces
        self.S, self.sluice, self.ortho = S, sluice, getattr(cfg, "ortho", 0.0)
        self.columns = nn.ModuleList(nn.ModuleList(nn.Linear(D if l == 0 else w, w) for l in range(L)) for _ in range(K))
        n, a = K * S, cfg.stitch_init
        off = (1.0 - a) / (n - 1) if n > 1 else 0.0
        self.alphas = nn.ParameterList(nn.Parameter(torch.full((n, n), off) + (a - off) * torch.eye(n)) for _ in range(L))
        self.beta = nn.Parameter(torch.zeros(K, L)) if sluice else None
        self.towers = nn.ModuleList(_mlp(w, cfg.tower, 1) for _ in range(K))
        self.aux = torch.zeros(())

    def forward(self, x):
        h = [x] * K
        post, aux = [], x.new_zeros(())
        for l, alpha in enumerate(self.alphas):
            pre = [torch.relu(col[l](h[k])) for k, col in enumerate(self.columns)]
            units = [u for p in pre for u in p.chunk(self.S, dim=1)]  # KS units [B, w/S]
            if self.sluice and self.ortho > 0:
                for k in range(K):
                    for s in range(self.S):
                        for t in range(s + 1, self.S):
                            g = units[k * self.S + s].t() @ units[k * self.S + t] / x.shape[0]
                            aux = aux + self.ortho * (g**2).sum()
            mixed = [sum(alpha[i, j] * units[j] for j in range(len(units))) for i in range(len(units))]
            h = [torch.cat(mixed[k * self.S : (k + 1) * self.S], dim=1) for k in range(K)]
            post.append(h)
        self.aux = aux
        if self.sluice:
            wts = torch.softmax(self.beta, -1)
            h = [sum(wts[k, l] * post[l][k] for l in range(len(post))) for k in range(K)]
        return torch.cat([t(h[k]) for k, t in enumerate(self.towers)], dim=1)


def reference_model(name: str, cfg) -> nn.Module | None:
    builders = {
        "mmoe": lambda: RefMMoE(cfg), "omoe": lambda: RefMMoE(cfg, one_gate=True), "ml_mmoe": lambda: RefMLMMoE(cfg),
        "cgc": lambda: RefPLE(cfg), "ple": lambda: RefPLE(cfg), "hard_sharing": lambda: RefHardSharing(cfg),
        "single_task": lambda: RefSingleTask(cfg), "customized": lambda: RefCustomized(cfg),
        "asymmetric": lambda: RefAsymmetric(cfg), "cross_stitch": lambda: RefStitch(cfg),
        "sluice": lambda: RefStitch(cfg, subspaces=cfg.subspaces, sluice=True),
    }
    return builders[name]() if name in builders else None


def reference_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = model(x)  # [B, K]
    loss = sum(F.binary_cross_entropy_with_logits(out[:, k], y[:, k]) for k in range(K))
    return loss + getattr(model, "aux", 0.0)


# ----------------------------------------------------------------------------- measurement helpers

def census_shaped(seed: int = 0):
    """x [N, 499] float32, y [N, 2] binary with a linear signal (so training is a real fit)."""
    g = torch.Generator().manual_seed(seed)
    n = N_TRAIN + N_INFER
    x = torch.randn(n, D, generator=g)
    w = torch.randn(D, K, generator=g) / math.sqrt(D)
    y = ((x @ w + 0.5 * torch.randn(n, K, generator=g)) > 0.8).float()
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]


def suite_from(x, y, xv, yv):
    from mtlbench.data import InputSpec, Split, SuiteData, TaskSpec

    def split(a, b):
        return Split(a, torch.zeros(len(a), 0, dtype=torch.long), b, torch.ones_like(b, dtype=torch.bool))

    return SuiteData(
        name="census_shaped", family="benchmark", version="1", tasks=(TaskSpec("t1", "binary"), TaskSpec("t2", "binary")),
        inputs=InputSpec(num_names=tuple(f"x{i}" for i in range(D))), train=split(x, y), val=split(xv[:8192], yv[:8192]),
        test=split(xv[:8192], yv[:8192]),
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """Peak memory above the level at entry: CUDA allocator peak, or sampled RSS on CPU."""

    def __init__(self, device: torch.device):
        self.device, self.peak = device, 0

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            self.base, self.stop = rss_bytes(), threading.Event()
            self.max = self.base

            def sample():
                while not self.stop.is_set():
                    self.max = max(self.max, rss_bytes())
                    time.sleep(0.002)

            self.thread = threading.Thread(target=sample, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated() - self.base
        else:
            self.stop.set()
            self.thread.join()
            self.peak = max(self.max, rss_bytes()) - self.base


GEMMS = {"mm", "addmm", "bmm", "baddbmm"}


def _gemm_dims(name: str, shapes) -> tuple[int, int, int, int]:
    """(batch, M, K, N) of a matrix product from its operand shapes."""
    a, b = (shapes[1], shapes[2]) if name in ("addmm", "baddbmm") else (shapes[0], shapes[1])
    if len(a) == 3:
        return a[0], a[1], a[2], b[2]
    return 1, a[0], a[1], b[1]


class GemmRecorder:
    """Records every matrix product (op, operand shapes/strides) of the code run inside it."""

    def __init__(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        rec = self

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                name = func.overloadpacket.__name__
                if name in GEMMS:
                    spec = [(tuple(a.shape), tuple(a.stride())) if isinstance(a, torch.Tensor) else a for a in args]
                    rec.ops.append((func, spec, dict(kwargs or {})))
                return func(*args, **(kwargs or {}))

        self.ops: list[tuple[Any, list, dict]] = []
        self.mode = Mode()

    def dominant(self):
        """The ops of the (batch, {M, K, N}) group with the most FLOPs, and that group's FLOPs."""
        groups: dict[tuple, list] = {}
        for func, spec, kw in self.ops:
            shapes = [s[0] for s in spec if isinstance(s, tuple)]
            b, m, k, n = _gemm_dims(func.overloadpacket.__name__, shapes)
            groups.setdefault((b, tuple(sorted((m, k, n)))), []).append((func, spec, kw, 2 * b * m * k * n))
        key = max(groups, key=lambda g: sum(op[3] for op in groups[g]))
        return key, groups[key]


def gemm_replayers(ops, device: torch.device):
    """Callables running each recorded product alone on fresh operands of the same shapes and strides."""
    out = []
    for func, spec, kw, flops in ops:
        args = []
        for s in spec:
            if isinstance(s, tuple) and len(s) == 2 and isinstance(s[0], tuple):
                size = 1 + sum((n - 1) * st for n, st in zip(s[0], s[1]))  # storage the strides reach (0: broadcast)
                args.append(torch.randn(max(size, 1), device=device).as_strided(s[0], s[1]))
            else:
                args.append(s)
        out.append((lambda f=func, a=args, k=kw: f(*a, **k), flops))
    return out


IDLE = {"wait_s": 0.0, "waited": 0, "not_idle": 0}


def _cpu_busy(dt: float = 0.25) -> float:
    """Fraction of all CPUs busy over ``dt`` seconds (/proc/stat), this process included."""
    def read():
        with open("/proc/stat") as fh:
            v = [int(t) for t in fh.readline().split()[1:]]
        return v[3] + v[4], sum(v)

    i0, t0 = read()
    time.sleep(dt)
    i1, t1 = read()
    return 1.0 - (i1 - i0) / max(t1 - t0, 1)


def wait_idle() -> None:
    """Before a timed window: wait (up to --idle-wait seconds) until other processes leave the CPUs
    idle, so that a shared machine's load does not land in one implementation's figures only."""
    if IDLE["wait_s"] <= 0 or not os.path.exists("/proc/stat"):
        return
    start = time.time()
    while time.time() - start < IDLE["wait_s"]:
        if _cpu_busy() < 0.08:
            IDLE["waited"] += 1
            return
    IDLE["not_idle"] += 1


def time_best(fn, device: torch.device, n: int) -> float:
    wait_idle()
    sync(device)
    t = time.perf_counter()
    for _ in range(n):
        fn()
    sync(device)
    return (time.perf_counter() - t) / n


# ----------------------------------------------------------------------------- the worker (one model)

def build_ours(name: str, seed: int = 0):
    from mtlbench.data import InputSpec, TaskSpec
    from mtlbench.model import SharedConfig, build_model, make_config
    from mtlbench.train import seed_everything

    cfg = make_config(name, PINNED.get(name, {}))
    seed_everything(seed)
    tasks = (TaskSpec("t1", "binary"), TaskSpec("t2", "binary"))
    return build_model(name, InputSpec(num_names=tuple(f"x{i}" for i in range(D))), tasks, cfg, SharedConfig(emb_dim=4, dropout=0.0)), cfg


def count_step(model_step) -> tuple[float, GemmRecorder]:
    from torch.utils.flop_counter import FlopCounterMode

    rec = GemmRecorder()
    with FlopCounterMode(display=False) as counter, rec.mode:
        model_step()
    return counter.get_total_flops() / BATCH, rec


def worker(name: str, args) -> dict[str, Any]:
    from mtlbench.loss import masked_loss
    from mtlbench.train import TrainConfig, fit, make_optimizer, predict

    from mtlbench.perf import tune_cpu_allocator

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cpu":
        tune_cpu_allocator()  # what fit() sets; set first so that the reference runs under it too
    IDLE["wait_s"] = args.idle_wait
    x, y, xv, yv = census_shaped()
    data = suite_from(x, y, xv, yv)
    model, cfg = build_ours(name)
    model.to(device)
    res: dict[str, Any] = {"model": name, "config": {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()},
                           "pinned": name in PINNED, "n_params": sum(p.numel() for p in model.parameters())}

    # FLOPs and the matrix products of one training step of ours (the trainer's own loss and optimizer)
    xb, yb = x[:BATCH].to(device), y[:BATCH].to(device)
    isb, w = torch.ones(K, dtype=torch.bool, device=device), torch.ones(K, device=device)
    cat0 = torch.zeros(BATCH, 0, dtype=torch.long, device=device)
    opt = make_optimizer(list(model.parameters()), TrainConfig())

    def our_step():
        loss = masked_loss(model(xb, cat0), yb, torch.ones_like(yb, dtype=torch.bool), isb, w, model.aux_loss())
        opt.zero_grad(set_to_none=True)
        loss.backward()

    res["flops_per_sample"], rec = count_step(our_step)
    (batch, dims), dominant = rec.dominant()
    res["dominant_gemm"] = {"batch": batch, "dims": list(dims), "ops": [f"{op[0].overloadpacket.__name__}{[s[0] for s in op[1] if isinstance(s, tuple)]}" for op in dominant],
                            "flops_per_step": sum(op[3] for op in dominant)}
    replays = gemm_replayers(dominant, device)

    ref = reference_model(name, cfg)
    loader = None
    if ref is not None:
        torch.manual_seed(0)
        ref = reference_model(name, cfg).to(device)
        ref_opt = torch.optim.Adam(ref.parameters(), lr=1e-3)
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=BATCH, shuffle=True, num_workers=0)
        batches = iter(loader)

        def ref_steps(n):
            nonlocal batches
            for _ in range(n):
                try:
                    bx, by = next(batches)
                except StopIteration:
                    batches = iter(loader)
                    bx, by = next(batches)
                bx, by = bx.to(device), by.to(device)
                loss = reference_loss(ref, bx, by)
                ref_opt.zero_grad()
                loss.backward()
                ref_opt.step()

        def ref_count():
            loss = reference_loss(ref, xb, yb)
            loss.backward()
            ref.zero_grad(set_to_none=True)

        res["ref_flops_per_sample"], _ = count_step(ref_count)
        ref_steps(3)

    peers, ours_by_round = [], []
    if args.peers and name in PEER_MODELS:
        peers, res["peer_errors"] = build_peers(name, cfg, x, y, device)
    tcfg = TrainConfig(max_epochs=1, patience=1, batch_size=BATCH, lr=1e-3)
    best = {"ours": 0.0, "ref": 0.0, "peak": 0.0}
    for r in range(args.rounds):
        wait_idle()
        fr = fit(model, data, tcfg, seed=r, device=device, evaluate_test=False)
        best["ours"] = max(best["ours"], fr.samples_per_second)
        ours_by_round.append(fr.samples_per_second)
        for peer in peers:  # one epoch of the library's own training loop, in the same round
            wait_idle()
            by_round = res.setdefault("peers", {}).setdefault(peer.library, {"version": peer.version, "n_params": peer.n_params, "train_sps_rounds": []})
            by_round["train_sps_rounds"].append(N_TRAIN / peer.epoch())
            print(f"  {name} round {r + 1}: {peer.library} {by_round['train_sps_rounds'][-1]:,.0f}/s", file=sys.stderr, flush=True)
        if ref is not None:
            best["ref"] = max(best["ref"], args.steps * BATCH / time_best(lambda: ref_steps(args.steps), device, 1))
        # the dominant products of one epoch's steps in one window: as long as the epoch that ours is timed on,
        # so that the same statistic (best of --rounds windows) compares like with like
        steps_per_epoch = -(-N_TRAIN // BATCH)
        t = time_best(lambda: [f() for f, _ in replays], device, steps_per_epoch)
        best["peak"] = max(best["peak"], sum(fl for _, fl in replays) / t)
        print(f"  {name} round {r + 1}/{args.rounds}: ours {fr.samples_per_second:,.0f}/s, best ref {best['ref']:,.0f}/s, "
              f"peak {best['peak'] / 1e9:.1f} GFLOP/s", file=sys.stderr, flush=True)
    res["train_sps"], res["peak_flops"] = best["ours"], best["peak"]
    res["ref_train_sps"] = best["ref"] or None
    res["speedup"] = best["ours"] / best["ref"] if best["ref"] else None
    res["train_sps_rounds"] = ours_by_round
    for pr in res.get("peers", {}).values():
        pr["train_sps"] = max(pr["train_sps_rounds"])
        pr["ratio_median"] = statistics.median(o / q for o, q in zip(ours_by_round, pr["train_sps_rounds"]))
        pr["ratio_best"] = best["ours"] / pr["train_sps"]
    res["bound_fraction"] = res["flops_per_sample"] * best["ours"] / best["peak"]
    res["ref_bound_fraction"] = res["ref_flops_per_sample"] * best["ref"] / best["peak"] if best["ref"] else None

    # inference
    from mtlbench.data import Split

    val = Split(xv.to(device), torch.zeros(len(xv), 0, dtype=torch.long, device=device), yv.to(device), torch.ones_like(yv, dtype=torch.bool, device=device))
    predict(model, val)
    res["infer_sps"] = len(xv) / min(time_best(lambda: predict(model, val), device, 1) for _ in range(args.rounds))
    if ref is not None:
        vloader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xv, yv), batch_size=BATCH, shuffle=False, num_workers=0)

        @torch.no_grad()
        def ref_infer():
            ref.eval()
            out = torch.cat([ref(bx.to(device)) for bx, _ in vloader]).cpu()
            ref.train()
            return out

        res["ref_infer_sps"] = len(xv) / min(time_best(ref_infer, device, 1) for _ in range(args.rounds))
        res["infer_speedup"] = res["infer_sps"] / res["ref_infer_sps"]

    if device.type == "cuda":  # peak memory of 30 training steps (CPU: measured in separate processes)
        res["peak_mem"] = _memory(name, "ours", device, x, y, model=model)
        if ref is not None:
            res["ref_peak_mem"] = _memory(name, "ref", device, x, y, model=ref)

    if name in args.seed_models and args.seeds:
        res["seeds"] = seeds_stacked(name, data, device, args, step_s=BATCH / best["ours"])
    res["idle_windows"], res["busy_windows"] = IDLE["waited"], IDLE["not_idle"]
    res["compiled"] = os.environ.get("MTLBENCH_COMPILE") == "1"
    return res


def _memory(name: str, impl: str, device: torch.device, x, y, model=None) -> int:
    from mtlbench.loss import masked_loss
    from mtlbench.train import TrainConfig, make_optimizer

    if model is None:
        model, cfg = build_ours(name)
        if impl == "ref":
            torch.manual_seed(0)
            model = reference_model(name, cfg)
    model.to(device)
    if impl == "ours":
        xr, yr, mr = x.to(device), y.to(device), torch.ones_like(y, dtype=torch.bool, device=device)
        opt = make_optimizer(list(model.parameters()), TrainConfig())
        isb, w = torch.ones(K, dtype=torch.bool, device=device), torch.ones(K, device=device)
        perm = torch.randperm(len(xr), device=device)
        cat0 = torch.zeros(len(xr), 0, dtype=torch.long, device=device)
        with PeakMemory(device) as pm:  # the loop of train.fit
            for i in range(30):
                idx = perm[i * BATCH : (i + 1) * BATCH]
                out = model(xr.index_select(0, idx), cat0.index_select(0, idx))
                loss = masked_loss(out, yr.index_select(0, idx), mr.index_select(0, idx), isb, w, model.aux_loss())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            sync(device)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=BATCH, shuffle=True, num_workers=0)
        with PeakMemory(device) as pm:
            for i, (bx, by) in enumerate(loader):
                if i == 30:
                    break
                loss = reference_loss(model, bx.to(device), by.to(device))
                opt.zero_grad()
                loss.backward()
                opt.step()
            sync(device)
    return pm.peak


def seeds_stacked(name: str, data, device: torch.device, args, step_s: float) -> list[dict[str, Any]]:
    """ms per step of the stacked step of ``fit_seeds`` for S seeds, vs S single-seed ``fit`` steps."""
    from mtlbench.multiseed import _batched_losses, _Stack, _WithAux
    from mtlbench.train import TrainConfig

    train = data.train.to(device)
    isb = torch.ones(K, dtype=torch.bool, device=device)
    w = torch.ones(K, device=device)
    out = []
    for S in args.seeds:
        models = [build_ours(name, seed=s)[0] for s in range(S)]
        try:
            stack = _Stack(models, TrainConfig(lr=1e-3, batch_size=BATCH), device)
            template = _WithAux(models[0]).to(device).train()
            losses_of = _batched_losses(template)
            perms = torch.stack([torch.randperm(len(train)) for _ in range(S)]).to(device)
            pos = [0]

            def steps(n):
                for _ in range(n):
                    i = pos[0] % (len(train) // BATCH)
                    pos[0] += 1
                    flat = perms[:, i * BATCH : (i + 1) * BATCH].reshape(-1)
                    batch = [t.index_select(0, flat).view(S, BATCH, *t.shape[1:]) for t in (train.x_num, train.x_cat, train.y, train.mask)]
                    loss, _ = losses_of(stack.weights(), *batch, isb, w)  # [S], [S, K]
                    stack.opt.zero_grad(set_to_none=True)
                    loss.sum().backward()
                    stack.opt.step()

            steps(2)
            n = max(2, args.steps // S)
            t = min(time_best(lambda: steps(n), device, 1) / n for _ in range(args.rounds))
            out.append({"seeds": S, "ms_per_step": 1e3 * t, "seed_samples_per_s": S * BATCH / t,
                        "one_by_one_ms": 1e3 * S * step_s, "speedup_vs_one_by_one": S * step_s / t})
        except RuntimeError as err:  # e.g. out of memory for 20 seeds on a small GPU
            out.append({"seeds": S, "error": str(err).splitlines()[0]})
        print(f"  {name} {S} seeds stacked: {out[-1]}", file=sys.stderr, flush=True)
        del models
    return out


# ----------------------------------------------------------------------------- driver

def machine(device: torch.device) -> dict[str, Any]:
    info = {"date": date.today().isoformat(), "torch": torch.__version__, "python": platform.python_version(), "device": str(device)}
    try:
        cpu = [ln.split(":", 1)[1].strip() for ln in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
               if ln.startswith("Model name")]
        info["cpu"] = cpu[0] if cpu else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    info["cpu_count"] = os.cpu_count()
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def fmt(v, spec=",.0f", none="—"):
    return none if v is None else format(v, spec)


def table(rows: list[dict[str, Any]]) -> str:
    from tabulate import tabulate

    head = ["model", "train/s ours", "train/s ref", "speed-up", "infer/s ours", "infer/s ref", "infer ×",
            "MFLOP/sample", "% of matmul bound", "dominant GEMM", "peak GFLOP/s", "peak MB ours", "peak MB ref"]
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["model"], f"error: {r['error']}"] + [""] * (len(head) - 2))
            continue
        body.append([
            r["model"] + ("" if r["pinned"] else "*"), fmt(r["train_sps"]), fmt(r.get("ref_train_sps")), fmt(r.get("speedup"), ".2f") + "×",
            fmt(r["infer_sps"]), fmt(r.get("ref_infer_sps")), fmt(r.get("infer_speedup"), ".1f"),
            fmt(r["flops_per_sample"] / 1e6, ".3f"), fmt(100 * r["bound_fraction"], ".0f") + " %",
            f"{r['dominant_gemm']['batch']}×{'×'.join(map(str, r['dominant_gemm']['dims']))}", fmt(r["peak_flops"] / 1e9, ".1f"),
            fmt(r.get("peak_mem", 0) / 2**20, ".0f"), fmt(r.get("ref_peak_mem") / 2**20 if r.get("ref_peak_mem") is not None else None, ".0f"),
        ])
    return tabulate(body, head, tablefmt="github", disable_numparse=True)


def seeds_table(rows: list[dict[str, Any]]) -> str:
    from tabulate import tabulate

    body = []
    for r in rows:
        for s in r.get("seeds", []):
            if "error" in s:
                body.append([r["model"], s["seeds"], f"error: {s['error']}", "", "", ""])
            else:
                body.append([r["model"], s["seeds"], f"{s['ms_per_step']:.1f}", f"{s['one_by_one_ms']:.1f}",
                             f"{s['speedup_vs_one_by_one']:.2f}×", f"{s['seed_samples_per_s']:,.0f}"])
    return tabulate(body, ["model", "seeds", "ms/step stacked", "ms/step one by one (S × fit)", "stacked speed-up", "seed-samples/s"],
                    tablefmt="github", disable_numparse=True)


def peers_table(rows: list[dict[str, Any]]) -> str:
    """Ours against each peer library: best-of-rounds samples/s and the median of the per-round ratios."""
    from tabulate import tabulate

    from peers import LIBRARIES

    body = []
    for r in rows:
        if not (r.get("peers") or r.get("peer_errors")):
            continue
        row = [r["model"], fmt(r["train_sps"])]
        for lib in LIBRARIES:
            pr = r.get("peers", {}).get(lib)
            if pr is None:
                row += [f"error: {r.get('peer_errors', {}).get(lib, 'not run')}", ""]
            else:
                row += [fmt(pr["train_sps"]), f"{pr['ratio_median']:.2f}× (best {pr['ratio_best']:.2f}×)"]
        body.append(row)
    head = ["model", "train/s ours"] + [h for lib in LIBRARIES for h in (f"train/s {lib}", f"ours ÷ {lib}, median")]
    return tabulate(body, head, tablefmt="github", disable_numparse=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="*", help="model names or globs (default: every registered model)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--steps", type=int, default=60, help="reference / stacked steps per round (default 60)")
    p.add_argument("--rounds", type=int, default=3, help="measurement rounds, best kept (default 3)")
    p.add_argument("--seeds", type=int, nargs="*", default=[1, 5, 20], help="stacked seed counts (default 1 5 20; none: skip)")
    p.add_argument("--seed-models", nargs="*", default=["mmoe"], help="models for the stacked-seeds figures (default mmoe)")
    p.add_argument("--idle-wait", type=float, default=30.0,
                   help="before each timed window wait up to this many seconds for idle CPUs (0: never wait; default 30)")
    p.add_argument("--compile", action="store_true", help="train ours with MTLBENCH_COMPILE=1 (torch.compile)")
    p.add_argument("--peers", action="store_true",
                   help=f"also time torch-rechub's and DeepCTR-Torch's own training loops ({', '.join(PEER_MODELS)}; benchmarks/peers.py)")
    p.add_argument("--json", default=str(Path(__file__).with_name("results.json")), help="write the results here")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--memory", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("--device cuda was requested but no CUDA GPU is available; use --device cpu.", file=sys.stderr)
        return 2
    if args.compile:
        os.environ["MTLBENCH_COMPILE"] = "1"  # inherited by the workers
    if args.worker or args.memory:
        torch.set_num_threads(args.threads)
        if args.worker:
            result = worker(args.worker, args)
        else:
            name, impl = args.memory.split(":")
            if args.device == "cpu":
                from mtlbench.perf import tune_cpu_allocator

                tune_cpu_allocator()  # as in the timing worker: both implementations under the same allocator
            x, y, _, _ = census_shaped()
            result = {"peak": _memory(name, impl, torch.device(args.device), x, y)}
        Path(args.out).write_text(json.dumps(result))
        return 0

    from mtlbench.model import list_models

    registered = list_models()
    wanted = registered if not args.models else list(dict.fromkeys(m for pat in args.models for m in (list_models(pat) or [pat])))
    device = torch.device(args.device)
    info = {**machine(device), "threads": args.threads, "rounds": args.rounds, "steps": args.steps, "batch": BATCH,
            "rows": N_TRAIN, "features": D, "tasks": K}
    print(f"# throughput — {info['date']}, {info.get('gpu', info['cpu'])}, {args.threads} threads, torch {info['torch']}", flush=True)
    rows = []
    for name in wanted:
        if name not in registered:
            print(f"skipped {name!r}: not registered (yet); registered models: {', '.join(registered)}", flush=True)
            continue
        rows.append(_run_worker(name, args, device))
    print(table(rows))
    print("* not pinned: the model's default config. Ratios: ours ÷ reference, measured side by side in one process.")
    if any(r.get("seeds") for r in rows):
        print()
        print(seeds_table(rows))
    if any(r.get("peers") or r.get("peer_errors") for r in rows):
        print()
        print(peers_table(rows))
        for r in rows:
            if r["model"] in TARGET_MODELS and r.get("peers"):
                lib, pr = max(r["peers"].items(), key=lambda kv: kv[1]["train_sps"])
                ok = pr["ratio_median"] >= TARGET_PEER_SPEEDUP
                print(f"target {r['model']}: {pr['ratio_median']:.2f}× the fastest peer ({lib}; median of per-round ratios, "
                      f"≥ {TARGET_PEER_SPEEDUP}×): {'met' if ok else 'NOT met'}; {TARGET_PEER_SPEEDUP}× its best window "
                      f"would need {100 * peer_target_bound(r, pr):.0f} % of the matmul bound (ours: "
                      f"{100 * r['bound_fraction']:.0f} %)")
    targets = [r for r in rows if r["model"] in TARGET_MODELS and "error" not in r]
    if targets and device.type != "cpu":  # the targets were set for the CPU; on an accelerator every model is launch-bound
        print(f"targets (≥ {TARGET_SPEEDUP}× the reference, ≥ {100 * TARGET_BOUND:.0f} % of the matmul bound) are CPU "
              f"targets: not judged on {device.type}")
        targets = []
    for r in targets:
        ok = (r.get("speedup") or 0) >= TARGET_SPEEDUP and r["bound_fraction"] >= TARGET_BOUND
        print(f"target {r['model']}: speed-up {fmt(r.get('speedup'), '.2f')}× (≥ {TARGET_SPEEDUP}×), "
              f"{100 * r['bound_fraction']:.0f} % of the matmul bound (≥ {100 * TARGET_BOUND:.0f} %): {'met' if ok else 'NOT met'}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"machine": info, "pinned": PINNED, "results": rows}, indent=1, default=str) + "\n")
    print(f"wrote {args.json}")
    return 0


def _run_worker(name: str, args, device: torch.device) -> dict[str, Any]:
    common = [*(["--peers"] if args.peers else []), "--device", args.device, "--threads", str(args.threads), "--steps", str(args.steps), "--rounds", str(args.rounds),
              "--idle-wait", str(args.idle_wait),
              "--seed-models", *args.seed_models, "--seeds", *map(str, args.seeds)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        proc = subprocess.run([sys.executable, __file__, "--worker", name, "--out", str(out), *common])
        if proc.returncode != 0 or not out.exists():
            return {"model": name, "error": f"worker exited with {proc.returncode}"}
        res = json.loads(out.read_text())
        if device.type == "cpu":  # peak RSS of each implementation in its own process
            for impl, key in (("ours", "peak_mem"), ("ref", "ref_peak_mem")):
                if impl == "ref" and res.get("ref_train_sps") is None:
                    continue
                mo = Path(tmp) / f"{impl}.json"
                subprocess.run([sys.executable, __file__, "--memory", f"{name}:{impl}", "--out", str(mo), *common])
                res[key] = json.loads(mo.read_text())["peak"] if mo.exists() else None
    return res


if __name__ == "__main__":
    sys.exit(main())
