"""The one training loop: every model, no per-model branch (docs/protocol.md §2)."""
from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import metrics as M
from .data import Split, SuiteData
from .errors import DivergedError, MtlbenchError
from .fsio import atomic_write_with
from .loss import task_weights
from .model import MTLModel
from .perf import flush_denormals, maybe_compile, tune_cpu_allocator
from .protocol import FitResult, SeedRun, eval_steps, evaluate_test_split
from .weighting import Weighting, find_shared, make_weighting, weighting_config


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 1e-3
    batch_size: int = 1024
    weight_decay: float = 0.0
    max_epochs: int = 30  # cap; with evals_per_epoch it caps the evaluations at max_epochs · evals_per_epoch
    patience: int = 3  # evaluations without a better validation score before a selection group is frozen
    loss_weights: tuple[float, ...] = ()  # ω_k,0 (empty: all 1; tuned: ω_1,0 fixed to 1)
    loss_decays: tuple[float, ...] = ()  # γ_k (empty: all 1; tuned within [0.9, 1.1])
    evals_per_epoch: int = 1  # validations per epoch, evenly spaced (mtlbench/protocol.py)
    min_delta: float = 0.0  # a validation score must beat the best by more than this to count as better
    weighting: str = "static"  # loss-weighting strategy (mtlbench/weighting/); static = ω_k,0 · γ_k^t
    weighting_config: tuple[tuple[str, Any], ...] = ()  # the strategy's hyper-parameters (empty: its paper's defaults)

    def __post_init__(self) -> None:
        checks = [
            ("lr", self.lr > 0 and math.isfinite(self.lr), "> 0"),
            ("batch_size", self.batch_size >= 1, ">= 1"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("max_epochs", self.max_epochs >= 1, ">= 1"),
            ("patience", self.patience >= 1, ">= 1"),
            ("loss_weights", all(w >= 0 for w in self.loss_weights), ">= 0"),
            ("loss_decays", all(g > 0 for g in self.loss_decays), "> 0"),
            ("evals_per_epoch", self.evals_per_epoch >= 1, ">= 1"),
            ("min_delta", self.min_delta >= 0, ">= 0"),
        ]
        for name, ok, bound in checks:
            if not ok:
                raise MtlbenchError(f"hyper-parameter {name}={getattr(self, name)} is out of range; it must be {bound}.")
        weighting_config(self.weighting, dict(self.weighting_config))  # unknown name or value: one-line error

    @property
    def max_evals(self) -> int:
        return self.max_epochs * self.evals_per_epoch

    def weights(self, n_tasks: int, epoch: int) -> list[float]:
        omega = self.loss_weights or (1.0,) * n_tasks
        gamma = self.loss_decays or (1.0,) * n_tasks
        if len(omega) != n_tasks or len(gamma) != n_tasks:
            raise MtlbenchError(f"loss_weights/loss_decays need one value per task ({n_tasks}); got {len(omega)}/{len(gamma)}.")
        return task_weights(omega, gamma, epoch)


EpochCallback = Callable[[int, float, list[dict[str, float]]], None]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@torch.no_grad()
def predict(model: MTLModel, split: Split, batch_size: int = 16384) -> np.ndarray:
    """Outputs [N, K] on the host (logits for binary tasks)."""
    was_training = model.training
    model.eval()
    outs = [model(split.x_num[i : i + batch_size], split.x_cat[i : i + batch_size]) for i in range(0, len(split), batch_size)]
    model.train(was_training)
    return torch.cat(outs).float().cpu().numpy()


def evaluate_split(model: MTLModel, data: SuiteData, split: Split) -> tuple[list[dict[str, float]], np.ndarray]:
    pred = predict(model, split)
    return M.evaluate(data.tasks, pred, split.y.cpu().numpy(), split.mask.cpu().numpy()), pred


def make_optimizer(params: list[torch.Tensor], cfg: TrainConfig) -> torch.optim.Adam:
    """Adam of the trainer: the fused kernel where the device has one (same update, one kernel for all
    parameters instead of ~10 per parameter; ``benchmarks/throughput.py``), else the multi-tensor one."""
    try:
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    except (RuntimeError, ValueError):  # no fused kernel for this device or dtype
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)


def fit(
    model: MTLModel,
    data: SuiteData,
    cfg: TrainConfig,
    seed: int,
    device: torch.device,
    on_epoch: EpochCallback | None = None,
    evaluate_test: bool = True,
    checkpoint: Path | None = None,
    curve_every: int | None = None,
) -> FitResult:
    """Train with Adam on the masked loss under the evaluation protocol of ``mtlbench/protocol.py``
    (validation ``cfg.evals_per_epoch`` times per epoch, selection with patience and freezing, divergence
    check), restore the selected weights and, if ``evaluate_test``, evaluate the test split once.

    ``on_epoch(eval_index, val_score, val_metrics)`` is called after each evaluation (0, 1, 2, ...); it may
    raise to stop (tuning prunes this way). ``checkpoint``: a file written at each epoch's end and when the run
    ends; when it exists at the start, training continues from it and ends with the same result as an
    uninterrupted run. ``curve_every``: also record the mean per-task training loss of every ``curve_every``
    steps (``FitResult.curve``).
    """
    K = data.n_tasks
    model.to(device)
    if device.type == "cpu":
        tune_cpu_allocator()  # no page faults on every step's activations (mtlbench/perf.py)
        flush_denormals()  # denormal weights and optimizer state slow CPU GEMMs up to 7x (mtlbench/perf.py)
    forward = maybe_compile(model)  # the model itself unless MTLBENCH_COMPILE=1
    train = data.train.to(device)
    val = data.val.to(device)
    is_binary = torch.tensor([t.kind == "binary" for t in data.tasks], device=device)
    weighting = make_weighting(cfg.weighting, K, dict(cfg.weighting_config), seed=seed, device=device)
    shared = find_shared(model, train.x_num[:512], train.x_cat[:512])  # elements two or more tasks reach
    opt = make_optimizer([*model.parameters(), *weighting.parameters()], cfg)
    N, bs = len(train), cfg.batch_size
    steps = math.ceil(N / bs)
    run = SeedRun(data.tasks, model.independent_tasks, cfg.patience, cfg.min_delta, cfg.max_evals, cfg.evals_per_epoch)
    boundaries = set(eval_steps(steps, cfg.evals_per_epoch))
    gen = torch.Generator().manual_seed(seed)
    start_epoch = 0

    if checkpoint is not None and checkpoint.exists():
        ck = torch.load(checkpoint, weights_only=False, map_location=device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"])
        torch.set_rng_state(ck["torch_rng"])
        run.restore(ck["run"])
        weighting.load_state_dict(ck.get("weighting", {"parameters": []}))
        start_epoch = ck["epoch"] + 1

    for epoch in range(start_epoch, cfg.max_epochs):
        if run.done:
            break
        t0 = time.perf_counter()
        model.train()
        w = torch.tensor(cfg.weights(K, epoch), device=device, dtype=torch.float32)
        perm = torch.randperm(N, generator=gen).to(device)
        since_eval = torch.zeros(K, device=device)  # Σ over steps of the per-task losses · batch rows
        in_epoch = torch.zeros(K, device=device)  # the same over the epoch (for the weighting's end_epoch)
        rows_since_eval, since_curve, steps_since_curve = 0, torch.zeros(K, device=device), 0
        for step, i in enumerate(range(0, N, bs)):
            idx = perm[i : i + bs]  # index_select: the same rows as x[idx], several times faster on CPU
            out = forward(train.x_num.index_select(0, idx), train.x_cat.index_select(0, idx))  # [b, K]
            mask = train.mask.index_select(0, idx)  # [b, K]
            task_losses = model.task_losses(out, train.y.index_select(0, idx), mask, is_binary)  # [K]
            opt.zero_grad(set_to_none=True)
            weighting.backward(task_losses, mask.any(0), w, model.aux_loss(), shared)  # sets every .grad
            opt.step()
            since_eval += task_losses.detach() * len(idx)
            in_epoch += task_losses.detach() * len(idx)
            rows_since_eval += len(idx)
            if curve_every:
                since_curve += task_losses.detach()
                steps_since_curve += 1
                if steps_since_curve == curve_every:
                    run.curve.append([round(float(x), 6) for x in (since_curve / curve_every).tolist()])
                    since_curve.zero_()
                    steps_since_curve = 0
            if step % 64 == 63 and not torch.isfinite(since_eval).all():  # a rare host sync: stop a diverging run early
                raise DivergedError(f"non-finite training loss in epoch {epoch}, step {step}; lower the learning rate")
            if step in boundaries:
                run.train_seconds += time.perf_counter() - t0
                run.samples += rows_since_eval
                losses = (since_eval / rows_since_eval).tolist()
                run.check_finite(losses, epoch)
                val_metrics, _ = evaluate_split(model, data, val)
                score = run.evaluate(epoch, step, losses, val_metrics, model)
                since_eval.zero_()
                rows_since_eval = 0
                if step == steps - 1:
                    weighting.end_epoch(epoch, (in_epoch / N).tolist())
                if checkpoint is not None and (step == steps - 1 or run.done):  # before the callback, which may raise
                    _save_checkpoint(checkpoint, model, opt, gen, run, epoch, weighting)
                if on_epoch is not None:
                    on_epoch(len(run.history) - 1, score, val_metrics)
                if run.done:
                    break
                t0 = time.perf_counter()

    model.load_state_dict(run.chosen_state())
    result = run.result(curve_every)
    if evaluate_test:  # the test split is touched once, after model selection
        test = data.test.to(device)
        _, pred = evaluate_split(model, data, test)
        evaluate_test_split(result, data, pred, test)
    return result


def _save_checkpoint(path: Path, model, opt, gen, run: SeedRun, epoch: int, weighting: Weighting) -> None:
    write_checkpoint(path, model.state_dict(), opt.state_dict(), gen, torch.get_rng_state(), run, epoch, weighting.state_dict())


def write_checkpoint(path: Path, model_state, opt_state, gen, torch_rng, run: SeedRun, epoch: int,
                     weighting_state: dict[str, Any] | None = None) -> None:
    """The end-of-epoch checkpoint ``fit`` resumes from (also written per seed by ``multiseed``), atomically."""
    state = {"model": model_state, "opt": opt_state, "gen": gen.get_state(), "torch_rng": torch_rng,
             "run": run.snapshot(), "epoch": epoch, "weighting": weighting_state or {"parameters": []}}
    atomic_write_with(path, lambda fh: torch.save(state, fh))
