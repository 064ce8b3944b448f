"""CPU step time with and without flush-to-zero once training has produced float32 denormals.

    python benchmarks/denormals.py                    # mmoe on funnel (standard profile), 1 thread, ~6 min
    python benchmarks/denormals.py --warm-steps 5000 --rounds 5

Why: Adam's first moment of an embedding row that no batch has sampled for a while decays by 0.9 per
step and drops below float32's smallest normal number (1.2e-38) after ~850 such steps; the denormals
then reach the embeddings and the first expert layer, and x86 matrix products with denormal operands
run far slower. ``mtlbench.perf.flush_denormals`` (called by ``fit``) sets FTZ/DAZ to avoid it.

What: one model at a pinned config (defaults: mmoe, the configuration a funnel tuning trial was running
when the slowdown was found: 7 experts x [128], batch 256, lr 8.9e-3) is trained ``--warm-steps`` steps
with FTZ off, the way it trained before the fix, printing the step time and the denormal count every
500 steps. From that state (restored before every window) ``--steps`` steps are timed with FTZ off and
with FTZ on, alternately, ``--rounds`` times (best kept); a freshly initialised model's step time with
FTZ off is the reference. Every step is the trainer's: forward, masked loss, backward, Adam step.
"""
from __future__ import annotations

import argparse
import copy
import time

import optuna
import torch

from mtlbench.loss import masked_loss
from mtlbench.model import build_model
from mtlbench.profiles import get_profile
from mtlbench.suites import load_suite
from mtlbench.train import make_optimizer, seed_everything
from mtlbench.tuning import sample_params

# the funnel mmoe trial that ran at 7 minutes per epoch (results/standard/studies/mmoe@funnel.journal)
PINNED = {"lr": 0.008856721034011606, "batch_size": 256, "weight_decay": 1.6014548403434856e-05,
          "dropout": 0.17149543791620414, "loss_weight_2": 0.24822497485769682, "loss_decay_1": 1.0519494107555996,
          "loss_decay_2": 1.0534002190514364, "expert_layers": 1, "expert_width": 128, "n_experts": 7, "tower_width": 64}
SMALLEST_NORMAL = torch.finfo(torch.float32).tiny  # 1.1755e-38


def n_denormal(tensors) -> int:
    return sum(int(((t.abs() > 0) & (t.abs() < SMALLEST_NORMAL)).sum()) for t in tensors)


class Trainer:
    """The trainer's step (forward, masked loss, backward, Adam) over a fixed shuffled order of the rows."""

    def __init__(self, model_name: str, suite: str, params: dict, seed: int):
        prof = get_profile("standard")
        self.data = load_suite(suite, prof)
        seed_everything(seed)
        rp = sample_params(optuna.trial.FixedTrial(params), model_name, self.data, prof)
        self.model = build_model(model_name, self.data.inputs, self.data.tasks, rp.model, rp.shared).train()
        self.opt = make_optimizer(list(self.model.parameters()), rp.train)
        self.batch = rp.train.batch_size
        self.weights = torch.tensor(rp.train.weights(self.data.n_tasks, 0), dtype=torch.float32)
        self.is_binary = torch.tensor([t.kind == "binary" for t in self.data.tasks])
        self.order = torch.randperm(len(self.data.train), generator=torch.Generator().manual_seed(seed))
        self.step_no = 0

    def step(self) -> None:
        tr, n = self.data.train, len(self.data.train) // self.batch
        idx = self.order[(self.step_no % n) * self.batch:(self.step_no % n + 1) * self.batch]
        out = self.model(tr.x_num.index_select(0, idx), tr.x_cat.index_select(0, idx))
        loss = masked_loss(out, tr.y.index_select(0, idx), tr.mask.index_select(0, idx), self.is_binary, self.weights,
                           self.model.aux_loss())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step_no += 1

    def timed(self, steps: int) -> float:
        """Seconds per step over ``steps`` steps."""
        t0 = time.perf_counter()
        for _ in range(steps):
            self.step()
        return (time.perf_counter() - t0) / steps

    def state(self):
        return copy.deepcopy((self.model.state_dict(), self.opt.state_dict(), self.step_no))

    def restore(self, state) -> None:
        model, opt, step_no = copy.deepcopy(state)
        self.model.load_state_dict(model)
        self.opt.load_state_dict(opt)
        self.step_no = step_no

    def denormals(self) -> tuple[int, int]:
        """(in the parameters, in Adam's moments)."""
        moments = [v for s in self.opt.state.values() for k, v in s.items() if k in ("exp_avg", "exp_avg_sq")]
        return n_denormal(p.detach() for p in self.model.parameters()), n_denormal(moments)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="mmoe")
    p.add_argument("--suite", default="funnel")
    p.add_argument("--warm-steps", type=int, default=4000, help="steps trained with FTZ off before timing (default 4000)")
    p.add_argument("--steps", type=int, default=100, help="steps per timed window (default 100)")
    p.add_argument("--rounds", type=int, default=3, help="timed windows per condition, best kept (default 3)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not torch.set_flush_denormal(False):
        print("this CPU has no flush-to-zero mode (torch.set_flush_denormal returns False): nothing to measure")
        return 0

    t = Trainer(args.model, args.suite, PINNED, args.seed)
    fresh = t.state()
    print(f"{args.model} on {args.suite} (standard profile), batch {t.batch}, {args.threads} thread(s), "
          f"torch {torch.__version__}; training {args.warm_steps} steps with FTZ off")
    print(f"{'steps':>6} {'ms/step (last 500)':>19} {'denormal params':>16} {'denormal Adam moments':>22}")
    done = 0
    while done < args.warm_steps:
        n = min(500, args.warm_steps - done)
        ms = t.timed(n) * 1e3
        done += n
        print(f"{done:>6} {ms:>19.1f} {t.denormals()[0]:>16,} {t.denormals()[1]:>22,}", flush=True)
    warmed = t.state()

    best = {"fresh model, FTZ off": float("inf"), "trained, FTZ off": float("inf"), "trained, FTZ on": float("inf")}
    for _ in range(args.rounds):
        for label in best:
            t.restore(fresh if label.startswith("fresh") else warmed)
            torch.set_flush_denormal(label.endswith("on"))
            best[label] = min(best[label], t.timed(args.steps))
    torch.set_flush_denormal(False)
    base = best["fresh model, FTZ off"]
    print(f"\nbest of {args.rounds} windows of {args.steps} steps, round-robin")
    print(f"{'condition':<22} {'ms/step':>8} {'× fresh':>8}")
    for label, s in best.items():
        print(f"{label:<22} {s * 1e3:>8.1f} {s / base:>8.2f}")
    print(f"FTZ speed-up on the trained state: {best['trained, FTZ off'] / best['trained, FTZ on']:.2f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
