"""The one training loop: every model, no per-model branch (SPEC.md §2)."""
from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import metrics as M
from .data import Split, SuiteData
from .errors import DivergedError, MtlbenchError
from .fsio import atomic_write_with
from .loss import masked_loss, task_weights
from .model import MTLModel
from .perf import flush_denormals, maybe_compile, tune_cpu_allocator


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 1e-3
    batch_size: int = 1024
    weight_decay: float = 0.0
    max_epochs: int = 30
    patience: int = 3  # epochs without a better validation score before stopping
    loss_weights: tuple[float, ...] = ()  # ω_k,0 (empty: all 1; tuned: ω_1,0 fixed to 1)
    loss_decays: tuple[float, ...] = ()  # γ_k (empty: all 1; tuned within [0.9, 1.1])

    def __post_init__(self) -> None:
        checks = [
            ("lr", self.lr > 0 and math.isfinite(self.lr), "> 0"),
            ("batch_size", self.batch_size >= 1, ">= 1"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("max_epochs", self.max_epochs >= 1, ">= 1"),
            ("patience", self.patience >= 1, ">= 1"),
            ("loss_weights", all(w >= 0 for w in self.loss_weights), ">= 0"),
            ("loss_decays", all(g > 0 for g in self.loss_decays), "> 0"),
        ]
        for name, ok, bound in checks:
            if not ok:
                raise MtlbenchError(f"hyper-parameter {name}={getattr(self, name)} is out of range; it must be {bound}.")

    def weights(self, n_tasks: int, epoch: int) -> list[float]:
        omega = self.loss_weights or (1.0,) * n_tasks
        gamma = self.loss_decays or (1.0,) * n_tasks
        if len(omega) != n_tasks or len(gamma) != n_tasks:
            raise MtlbenchError(f"loss_weights/loss_decays need one value per task ({n_tasks}); got {len(omega)}/{len(gamma)}.")
        return task_weights(omega, gamma, epoch)


@dataclass
class FitResult:
    history: list[dict[str, Any]]  # per epoch: epoch, train_loss, val_score, val (per-task metrics)
    best_epochs: list[int]  # per selection group (one group; one per task for independent_tasks)
    val_metrics: list[dict[str, float]]  # per task, at its chosen epoch
    val_score: float
    test_metrics: list[dict[str, float]] = field(default_factory=list)
    test_se: list[float] = field(default_factory=list)  # bootstrap standard error of each task's metric
    train_seconds: float = 0.0
    samples_per_second: float = 0.0
    epochs_run: int = 0


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


class _Selection:
    """Early stopping for one group of tasks: patience on the group's score, ties → earlier epoch."""

    def __init__(self, tasks: list[int], patience: int):
        self.tasks, self.patience = tasks, patience
        self.best_score, self.best_epoch, self.bad, self.state = -math.inf, -1, 0, None

    def update(self, epoch: int, score: float, model: MTLModel) -> None:
        if score > self.best_score:  # strictly better: a tie keeps the earlier epoch
            self.best_score, self.best_epoch, self.bad = score, epoch, 0
            self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.bad += 1

    @property
    def done(self) -> bool:
        return self.bad >= self.patience


def _restore_best(model: MTLModel, groups: list[_Selection]) -> None:
    if len(groups) == 1:
        model.load_state_dict(groups[0].state)
        return
    # independent tasks: every parameter has a leading task axis; task k takes its own best epoch.
    # The task axis may be flattened into the leading dim ([K·n, ...], e.g. the encoder's embedding table
    # holding K copies): unflatten to [K, n, ...], pick, stack and flatten back.
    merged = {}
    for name, value in model.state_dict().items():
        merged[name] = (
            torch.stack([g.state[name].unflatten(0, (len(groups), -1))[g.tasks[0]] for g in groups]).flatten(0, 1)
            if value.dim() > 0 else value
        )
    model.load_state_dict(merged)


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
) -> FitResult:
    """Train with Adam on the masked loss, early-stop on validation, restore the best weights and,
    if ``evaluate_test``, evaluate the test split once at the end.

    ``on_epoch(epoch, val_score, val_metrics)`` is called after each epoch; it may raise to stop
    (tuning prunes this way). ``checkpoint``: a file written after each epoch; when it exists at the
    start, training continues from it and ends with the same result as an uninterrupted run.
    """
    K = data.n_tasks
    model.to(device)
    if device.type == "cpu":
        tune_cpu_allocator()  # no page faults on every step's activations (mtlbench/perf.py)
        flush_denormals()  # denormal weights and optimizer state slow CPU GEMMs up to 7x (mtlbench/perf.py)
    forward = maybe_compile(model)  # the model itself unless MTLBENCH_COMPILE=1
    train = data.train.to(device)
    val = data.val
    is_binary = torch.tensor([t.kind == "binary" for t in data.tasks], device=device)
    opt = make_optimizer(list(model.parameters()), cfg)
    groups = [_Selection([k], cfg.patience) for k in range(K)] if model.independent_tasks else [_Selection(list(range(K)), cfg.patience)]
    gen = torch.Generator().manual_seed(seed)
    history: list[dict[str, Any]] = []
    start_epoch, train_seconds, samples = 0, 0.0, 0

    if checkpoint is not None and checkpoint.exists():
        ck = torch.load(checkpoint, weights_only=False, map_location=device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"])
        torch.set_rng_state(ck["torch_rng"])
        for g, s in zip(groups, ck["groups"]):
            g.__dict__.update(s)
        history, start_epoch, train_seconds, samples = ck["history"], ck["epoch"] + 1, ck["train_seconds"], ck["samples"]

    N, bs = len(train), cfg.batch_size
    for epoch in range(start_epoch, cfg.max_epochs):
        if all(g.done for g in groups):
            break
        t0 = time.perf_counter()
        model.train()
        w = torch.tensor(cfg.weights(K, epoch), device=device, dtype=torch.float32)
        perm = torch.randperm(N, generator=gen).to(device)
        total = torch.zeros((), device=device)
        for step, i in enumerate(range(0, N, bs)):
            idx = perm[i : i + bs]  # index_select: the same rows as x[idx], several times faster on CPU
            out = forward(train.x_num.index_select(0, idx), train.x_cat.index_select(0, idx))  # [b, K]
            loss = masked_loss(out, train.y.index_select(0, idx), train.mask.index_select(0, idx), is_binary, w, model.aux_loss())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)
            if step % 64 == 63 and not torch.isfinite(total):  # a rare host sync: stop a diverging run early
                raise DivergedError(f"non-finite training loss in epoch {epoch}, step {step}; lower the learning rate")
        train_loss = float(total) / N  # one host sync per epoch
        train_seconds += time.perf_counter() - t0
        samples += N
        if not math.isfinite(train_loss):
            raise DivergedError(f"non-finite training loss ({train_loss}) in epoch {epoch}; lower the learning rate")
        val_metrics, _ = evaluate_split(model, data, val.to(device))
        overall = M.score(data.tasks, val_metrics)
        for g in groups:
            g.update(epoch, M.score([data.tasks[k] for k in g.tasks], [val_metrics[k] for k in g.tasks]), model)
        history.append({"epoch": epoch, "train_loss": train_loss, "val_score": overall, "val": val_metrics})
        if checkpoint is not None:
            _save_checkpoint(checkpoint, model, opt, gen, groups, history, epoch, train_seconds, samples)
        if on_epoch is not None:
            on_epoch(epoch, overall, val_metrics)

    if any(g.state is None for g in groups):
        raise DivergedError("no epoch produced a finite validation score")
    _restore_best(model, groups)
    chosen = [None] * K
    for g in groups:
        for k in g.tasks:
            chosen[k] = history[g.best_epoch]["val"][k]
    result = FitResult(
        history=history,
        best_epochs=[g.best_epoch for g in groups],
        val_metrics=chosen,
        val_score=M.score(data.tasks, chosen),
        train_seconds=train_seconds,
        samples_per_second=samples / train_seconds if train_seconds > 0 else 0.0,
        epochs_run=len(history),
    )
    if evaluate_test:  # the test split is touched once, after model selection
        test = data.test.to(device)
        result.test_metrics, pred = evaluate_split(model, data, test)
        y, mask = test.y.cpu().numpy(), test.mask.cpu().numpy()
        result.test_se = [
            M.bootstrap_se(t, pred[mask[:, k], k], y[mask[:, k], k], seed=seed) for k, t in enumerate(data.tasks)
        ]
    return result


def _save_checkpoint(path: Path, model, opt, gen, groups, history, epoch, train_seconds, samples) -> None:
    write_checkpoint(path, model.state_dict(), opt.state_dict(), gen, torch.get_rng_state(), groups, history,
                     epoch, train_seconds, samples)


def write_checkpoint(path: Path, model_state, opt_state, gen, torch_rng, groups, history, epoch, train_seconds, samples) -> None:
    """The per-epoch checkpoint ``fit`` resumes from (also written per seed by ``multiseed``), atomically."""
    state = {
        "model": model_state,
        "opt": opt_state,
        "gen": gen.get_state(),
        "torch_rng": torch_rng,
        "groups": [dict(g.__dict__) for g in groups],
        "history": history,
        "epoch": epoch,
        "train_seconds": train_seconds,
        "samples": samples,
    }
    atomic_write_with(path, lambda fh: torch.save(state, fh))
