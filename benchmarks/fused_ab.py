"""Before/after of the fused first layer (``mtlbench.nn.shared_input_linear``), side by side with the peers.

    python benchmarks/fused_ab.py --models mmoe cgc ple --threads 2 --rounds 10

In one process, on the census-shaped data and pinned configs of ``throughput.py``, round-robin windows of 20
training steps (batch 1024) of:

- **after**: the models as they are (expert bank's first layer and the gates reading x: one GEMM);
- **before**: the same model object with ``shared_input_linear`` replaced by one GEMM per bank (the
  computation before the fusion; same parameters, same optimizer state carried on);
- each peer library's own training loop (``benchmarks/peers.py``) on 20 × 1024 rows.

The step is the trainer's (``index_select`` rows, ``task_losses``, fused Adam). Printed: the median
samples/s of each, and the medians of the per-round ratios (the figures to trust on a shared machine).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import throughput as T  # noqa: E402
from peers import build_peers  # noqa: E402

STEPS = 20


def _separate(x: torch.Tensor, banks) -> list[torch.Tensor]:
    return [bank(x) for bank in banks]  # one GEMM per bank: the computation before the fusion


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="*", default=["mmoe", "cgc", "ple"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=10)
    args = p.parse_args(argv)

    import mtlbench.baselines.ml_mmoe as ml_mmoe_module
    import mtlbench.baselines.mmoe as mmoe_module
    import mtlbench.nn as nn_module
    from mtlbench.perf import flush_denormals, tune_cpu_allocator
    from mtlbench.train import TrainConfig, make_optimizer

    torch.set_num_threads(args.threads)
    tune_cpu_allocator()
    flush_denormals()
    fused = nn_module.shared_input_linear

    def use(f) -> None:
        for module in (nn_module, mmoe_module, ml_mmoe_module):
            module.shared_input_linear = f

    x, y, _, _ = T.census_shaped()
    rows = STEPS * T.BATCH
    isb, w = torch.ones(T.K, dtype=torch.bool), torch.ones(T.K)
    cat0, mask = torch.zeros(len(x), 0, dtype=torch.long), torch.ones_like(y, dtype=torch.bool)
    perm = torch.randperm(len(x))
    for name in args.models:
        model, cfg = T.build_ours(name)
        opt = make_optimizer(list(model.parameters()), TrainConfig())
        peers, errors = build_peers(name, cfg, x[:rows], y[:rows], torch.device("cpu")) if name in T.PEER_MODELS else ([], {})
        pos = [0]

        def ours(f) -> float:
            use(f)
            t = time.perf_counter()
            for _ in range(STEPS):
                i = pos[0] % (len(x) // T.BATCH)
                pos[0] += 1
                idx = perm[i * T.BATCH : (i + 1) * T.BATCH]
                out = model(x.index_select(0, idx), cat0.index_select(0, idx))
                loss = (w * model.task_losses(out, y.index_select(0, idx), mask.index_select(0, idx), isb)).sum() + model.aux_loss()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            return rows / (time.perf_counter() - t)

        windows = {"after": lambda: ours(fused), "before": lambda: ours(_separate),
                   **{peer.library: (lambda peer=peer: rows / peer.epoch()) for peer in peers}}
        for f in windows.values():  # warm-up
            f()
        res: dict[str, list[float]] = {k: [] for k in windows}
        for r in range(args.rounds):
            for k in (list(windows) if r % 2 == 0 else list(reversed(windows))):
                res[k].append(windows[k]())
        use(fused)
        ratio = lambda a, b: statistics.median(u / v for u, v in zip(res[a], res[b]))  # noqa: E731
        line = f"{name}: samples/s " + ", ".join(f"{k} {statistics.median(v):,.0f}" for k, v in res.items())
        line += f" | after ÷ before {ratio('after', 'before'):.3f}"
        for peer in peers:
            line += f" | ÷ {peer.library}: before {ratio('before', peer.library):.2f}×, after {ratio('after', peer.library):.2f}×"
        for lib, err in errors.items():
            line += f" | {lib}: {err}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
