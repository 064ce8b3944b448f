"""Seeds trained together: S seeds of one model as one stacked model (``torch.func.vmap``).

``fit_seeds`` trains the seeds exactly as ``train.fit`` trains each one alone, only computed together:

- initialisation: seed s's model is built after ``seed_everything(s)`` (bitwise the model ``mtlbench run``
  builds one by one); its weights become slice s of stacked tensors with a leading seed axis [S, ...];
- shuffling: seed s draws its batch order from its own ``torch.Generator().manual_seed(s)``, epoch by epoch,
  the same permutations ``fit`` draws;
- one step: the per-seed losses are computed by ``vmap(functional_call(model))`` over the seed axis and
  summed; the parameters of different seeds are disjoint, so each seed gets exactly its own gradient, and
  Adam (elementwise) updates each slice as it would update that seed's model;
- early stopping, best-epoch restore (per task for ``independent_tasks``), the validation history, the
  divergence check and the single test evaluation are per seed. A seed that stops or diverges leaves the
  stack (its optimizer state is sliced away); the others continue.

The results are the ``FitResult`` each seed gets from ``fit``, up to float32 reduction order (a batched
matmul instead of a plain one): one step agrees within 1e-6, final metrics within a small tolerance
(``tests/test_multiseed.py``). ``train_seconds`` of a seed is its share of the stacked wall time (each
epoch's time divided by the seeds trained in it).

Checkpoints: with ``checkpoints`` every seed gets the per-epoch checkpoint ``fit`` writes, in the same
format, so an interrupted stacked run resumes seed by seed with ``fit``; seeds whose checkpoint exists at the
start are trained by ``fit`` (resume), the others stacked.

Fallback: when a model cannot be stacked (random ops in the training step such as dropout > 0, whose RNG
stream ``vmap`` cannot reproduce per seed, tied parameters, or an op ``vmap`` does not support), every
seed is trained by ``fit`` one after the other, which gives the same results by construction.
"""
from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, vmap

from . import metrics as M
from .data import Split, SuiteData
from .errors import DivergedError, MtlbenchError
from .model import MTLModel
from .perf import flush_denormals, tune_cpu_allocator
from .protocol import FitResult, SeedRun, eval_steps, evaluate_test_split
from .weighting import get_weighting
from .train import TrainConfig, evaluate_split, fit, make_optimizer, seed_everything, write_checkpoint

#: on_epoch(seed, epoch, val_score, val_metrics), called after each epoch of each seed still training.
SeedEpochCallback = Callable[[int, int, float, list[dict[str, float]]], None]

#: ``MTLBENCH_STACK_SEEDS``: "auto" (default: stack where measured faster, see ``stacking_pays_off``),
#: "1" (always stack when a model allows it) or "0" (never: one seed after the other).
STACK_ENV = "MTLBENCH_STACK_SEEDS"


def stacking_pays_off(device: torch.device, n_seeds: int) -> bool:
    """Whether ``mtlbench run`` trains the missing seeds of a (suite, model) stacked.

    Measured with ``benchmarks/throughput.py`` (benchmarks/README.md): on CUDA one stacked job replaces S
    small ones (kernel-launch bound) and is faster; on a 2-thread CPU the stacked step costs the same as the
    S single steps (matmul bound) and brings nothing, so CPU runs one seed after the other.
    """
    mode = os.environ.get(STACK_ENV, "auto").strip().lower()
    if mode not in ("auto", "0", "1"):
        raise MtlbenchError(f"{STACK_ENV}={mode!r} is not understood; use auto, 0 or 1.")
    if n_seeds < 2 or mode == "0":
        return False
    return mode == "1" or device.type == "cuda"


class _Unstackable(Exception):
    """The model cannot be trained stacked; train the seeds one by one."""


class _WithAux(nn.Module):
    """Forward and auxiliary loss in one call, so ``functional_call`` swaps the weights for both."""

    def __init__(self, model: MTLModel):
        super().__init__()
        self.model = model

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(x_num, x_cat), self.model.aux_loss()


class _SeedView:
    """What ``_Selection.update`` reads from a model: the state_dict of one seed's slice."""

    def __init__(self, stack: _Stack, j: int):
        self.stack, self.j = stack, j

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: self.stack.tensor(k)[self.j] for k in self.stack.state_keys}


class _Stack:
    """The weights of the seeds still training, stacked on a leading axis, and their Adam."""

    def __init__(self, models: list[MTLModel], cfg: TrainConfig, device: torch.device):
        first = models[0]
        named = dict(first.named_parameters())
        self.state_keys = list(first.state_dict().keys())
        persistent = [k for k in self.state_keys if k not in named]
        buffers = dict(first.named_buffers())
        if len(named) != len(list(first.parameters())) or not set(persistent) <= set(buffers):
            raise _Unstackable("tied or unnamed parameters")
        self.param_names = list(named)
        self.buffer_names = persistent  # persistent buffers are state (stacked); the others are constants
        self.params = {n: torch.stack([dict(m.named_parameters())[n].detach() for m in models]).to(device).requires_grad_() for n in self.param_names}
        self.buffers = {n: torch.stack([dict(m.named_buffers())[n] for m in models]).to(device) for n in self.buffer_names}
        self.cfg = cfg
        self.opt = make_optimizer(list(self.params.values()), cfg)

    def tensor(self, key: str) -> torch.Tensor:
        return self.params[key].detach() if key in self.params else self.buffers[key]

    def weights(self) -> dict[str, torch.Tensor]:  # functional_call names of the wrapper
        return {f"model.{k}": v for k, v in {**self.params, **self.buffers}.items()}

    def keep(self, rows: list[int]) -> None:
        """Keep only seeds ``rows`` (positions in the stack), with their optimizer state."""
        index = torch.tensor(rows, dtype=torch.long, device=next(iter(self.params.values())).device)
        old_state = self.opt.state_dict()
        self.params = {n: p.detach().index_select(0, index).requires_grad_() for n, p in self.params.items()}
        self.buffers = {n: b.index_select(0, index) for n, b in self.buffers.items()}
        self.opt = make_optimizer(list(self.params.values()), self.cfg)
        state = {
            i: {k: (v.index_select(0, index.to(v.device)) if v.dim() > 0 else v.clone()) for k, v in s.items()}
            for i, s in old_state["state"].items()
        }
        self.opt.load_state_dict({"state": state, "param_groups": old_state["param_groups"]})

    def seed_optimizer_state(self, j: int) -> dict[str, Any]:
        """The ``state_dict`` that ``fit``'s Adam would have for seed j alone (same parameter order)."""
        sd = self.opt.state_dict()
        state = {i: {k: (v[j].clone() if v.dim() > 0 else v.clone()) for k, v in s.items()} for i, s in sd["state"].items()}
        return {"state": state, "param_groups": copy.deepcopy(sd["param_groups"])}


def _batched_losses(template: _WithAux):
    """(weights, batch, is_binary, ω(t)) -> (total loss [S], per-task losses [S, K]) for every seed at once."""
    def one(weights, x_num, x_cat, y, mask, is_binary, w):
        out, aux = functional_call(template, weights, (x_num, x_cat))
        task_losses = template.model.task_losses(out, y, mask, is_binary)  # [K]: the masked loss on the model's loss_view
        return (w * task_losses).sum() + aux, task_losses

    # weights and the batch carry the seed axis; is_binary and the epoch's task weights are shared.
    return vmap(one, in_dims=(0, 0, 0, 0, 0, None, None), randomness="error")


def _batched_forward(template: _WithAux):
    def one(weights, x_num, x_cat):
        return functional_call(template, weights, (x_num, x_cat))[0]

    return vmap(one, in_dims=(0, None, None), randomness="error")


@torch.no_grad()
def _predict_stacked(template: _WithAux, stack: _Stack, split: Split, batch_size: int = 16384) -> torch.Tensor:
    """Outputs [S, N, K] of every seed on ``split`` (as ``train.predict``: eval mode, chunks of 16384)."""
    template.eval()
    fwd = _batched_forward(template)
    weights = stack.weights()
    outs = [fwd(weights, split.x_num[i : i + batch_size], split.x_cat[i : i + batch_size]) for i in range(0, len(split), batch_size)]
    template.train()
    return torch.cat(outs, dim=1).float()


def _save_seed_checkpoint(path: Path, stack: _Stack, j: int, gen, torch_rng, run: SeedRun, epoch: int) -> None:
    """The checkpoint ``train.fit`` writes for this seed, so ``fit(checkpoint=path)`` resumes it."""
    model_state = {k: v.clone() for k, v in _SeedView(stack, j).state_dict().items()}
    write_checkpoint(path, model_state, stack.seed_optimizer_state(j), gen, torch_rng, run, epoch)


def fit_seeds(
    model_builder: Callable[[], MTLModel],
    data: SuiteData,
    cfg: TrainConfig,
    seeds: Sequence[int],
    device: torch.device,
    evaluate_test: bool = True,
    checkpoints: Sequence[Path | None] | None = None,
    on_epoch: SeedEpochCallback | None = None,
    return_errors: bool = False,
    stacked: bool = True,
) -> list[FitResult | DivergedError]:
    """Train ``model_builder()`` once per seed (built after ``seed_everything(seed)``) and return one
    ``FitResult`` per seed, in the order of ``seeds`` — what ``fit`` gives each seed alone.

    ``checkpoints``: one path (or None) per seed, written after each epoch in ``fit``'s format.
    ``return_errors``: a seed whose training diverges gets its ``DivergedError`` in the list instead of
    raising. ``stacked=False`` trains the seeds one by one with ``fit`` (the reference).
    """
    seeds = list(seeds)
    if len(set(seeds)) != len(seeds):
        raise MtlbenchError(f"fit_seeds got repeated seeds {seeds}; give each seed once.")
    paths = list(checkpoints) if checkpoints is not None else [None] * len(seeds)
    if len(paths) != len(seeds):
        raise MtlbenchError(f"fit_seeds got {len(paths)} checkpoint paths for {len(seeds)} seeds; give one per seed (or None).")
    models, rngs = [], []
    for s in seeds:
        seed_everything(s)
        models.append(model_builder())
        rngs.append(torch.get_rng_state())  # what `fit` would start from (dropout draws from it)

    results: dict[int, FitResult | DivergedError] = {}
    stacked = stacked and get_weighting(cfg.weighting).stackable  # a strategy with its own rule trains one by one
    together = [j for j, p in enumerate(paths) if p is None or not p.exists()] if stacked else []
    if len(together) >= 2:
        try:
            _probe(models[together[0]], data, device)
        except _Unstackable:
            together = []
    if len(together) >= 2:
        results.update(_fit_stacked([models[j] for j in together], [seeds[j] for j in together], [rngs[j] for j in together],
                                    [paths[j] for j in together], data, cfg, device, evaluate_test, on_epoch, together))
    for j, s in enumerate(seeds):  # one by one: resumed seeds, unstackable models, a single seed
        if j in results:
            continue
        torch.set_rng_state(rngs[j])
        callback = (lambda e, sc, m, _s=s: on_epoch(_s, e, sc, m)) if on_epoch else None
        try:
            results[j] = fit(models[j], data, cfg, s, device, on_epoch=callback, evaluate_test=evaluate_test, checkpoint=paths[j])
        except DivergedError as err:
            results[j] = err
    out = [results[j] for j in range(len(seeds))]
    if not return_errors:
        for r in out:
            if isinstance(r, DivergedError):
                raise r
    return out


def _probe(model: MTLModel, data: SuiteData, device: torch.device) -> None:
    """One stacked forward + backward on two copies of the model and 4 rows; raise _Unstackable if it fails."""
    try:
        template = _WithAux(copy.deepcopy(model)).to(device).train()
        stack = _Stack([model, model], TrainConfig(), device)
        rows = data.train.head(4).to(device)
        is_binary = torch.tensor([t.kind == "binary" for t in data.tasks], device=device)
        w = torch.ones(data.n_tasks, device=device)
        two = lambda t: t.unsqueeze(0).expand(2, *t.shape)  # noqa: E731
        loss, _ = _batched_losses(template)(stack.weights(), two(rows.x_num), two(rows.x_cat), two(rows.y), two(rows.mask), is_binary, w)
        loss.sum().backward()
    except _Unstackable:
        raise
    except Exception as err:  # noqa: BLE001 - any failure means: train this model one seed at a time
        raise _Unstackable(f"{err.__class__.__name__}: {err}") from None


def _fit_stacked(models, seeds, rngs, paths, data: SuiteData, cfg: TrainConfig, device: torch.device,
                 evaluate_test: bool, on_epoch: SeedEpochCallback | None, positions: list[int]) -> dict[int, FitResult | DivergedError]:
    """The loop of ``train.fit`` with a seed axis: the same schedule and protocol (``SeedRun``) per seed."""
    K, S = data.n_tasks, len(models)
    for m in models:
        m.to(device)
    if device.type == "cpu":
        tune_cpu_allocator()
        flush_denormals()
    train = data.train.to(device)
    val = data.val.to(device)
    is_binary = torch.tensor([t.kind == "binary" for t in data.tasks], device=device)
    template = _WithAux(copy.deepcopy(models[0])).to(device).train()
    losses_of = _batched_losses(template)
    stack = _Stack(models, cfg, device)
    runs = [SeedRun(data.tasks, models[0].independent_tasks, cfg.patience, cfg.min_delta, cfg.max_evals, cfg.evals_per_epoch)
            for _ in range(S)]
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    failed: dict[int, DivergedError] = {}
    active = list(range(S))  # seed positions whose slices are in the stack, in stack order
    N, bs = len(train), cfg.batch_size
    n_steps = math.ceil(N / bs)
    boundaries = set(eval_steps(n_steps, cfg.evals_per_epoch))
    y_val, mask_val = val.y.cpu().numpy(), val.mask.cpu().numpy()

    def drop(keep: list[int]) -> list[int]:
        """Keep only the seeds ``keep`` in the stack; returns their rows in the old stack order."""
        nonlocal active
        rows = [active.index(j) for j in keep]
        if keep != active:
            if keep:
                stack.keep(rows)
            active = keep
        return rows

    for epoch in range(cfg.max_epochs):
        drop([j for j in active if not runs[j].done])
        if not active:
            break
        t0 = time.perf_counter()
        template.train()
        w = torch.tensor(cfg.weights(K, epoch), device=device, dtype=torch.float32)
        perms = torch.stack([torch.randperm(N, generator=gens[j]) for j in active]).to(device)  # [S_a, N]
        since_eval = torch.zeros(len(active), K, device=device)  # [S_a, K] Σ per-task loss · rows
        rows_since_eval = 0
        for step, i in enumerate(range(0, N, bs)):
            idx = perms[:, i : i + bs]  # [S_a, b]
            Sa, b = idx.shape
            flat = idx.reshape(-1)
            batch = [t.index_select(0, flat).view(Sa, b, *t.shape[1:]) for t in (train.x_num, train.x_cat, train.y, train.mask)]
            loss, task_losses = losses_of(stack.weights(), *batch, is_binary, w)  # [S_a], [S_a, K]
            stack.opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            stack.opt.step()
            since_eval += task_losses.detach() * b
            rows_since_eval += b
            if step % 64 == 63:  # the same rare host sync as `fit`: stop a diverging seed early
                bad = [j for j, ok in zip(active, torch.isfinite(since_eval).all(1).tolist()) if not ok]
                for j in bad:
                    failed[j] = DivergedError(f"non-finite training loss in epoch {epoch}, step {step}; lower the learning rate")
                if bad:
                    rows = drop([j for j in active if j not in bad])
                    perms, since_eval = perms[rows], since_eval[rows]
                if not active:
                    break
            if step not in boundaries:
                continue
            share = (time.perf_counter() - t0) / len(active)
            losses = (since_eval / rows_since_eval).tolist()
            pred = _predict_stacked(template, stack, val).cpu().numpy()  # [S_a, N_val, K]
            for a, j in enumerate(active):
                runs[j].train_seconds += share
                runs[j].samples += rows_since_eval
                try:
                    runs[j].check_finite(losses[a], epoch)
                except DivergedError as err:
                    failed[j] = err
                    continue
                val_metrics = M.evaluate(data.tasks, pred[a], y_val, mask_val)
                score = runs[j].evaluate(epoch, step, losses[a], val_metrics, _SeedView(stack, a))
                if paths[j] is not None and (step == n_steps - 1 or runs[j].done):  # fit's checkpoint, before the callback
                    _save_seed_checkpoint(paths[j], stack, a, gens[j], rngs[j], runs[j], epoch)
                if on_epoch is not None:
                    on_epoch(seeds[j], len(runs[j].history) - 1, score, val_metrics)
            since_eval.zero_()
            rows_since_eval = 0
            rows = drop([j for j in active if j not in failed and not runs[j].done])
            perms, since_eval = perms[rows], since_eval[rows]
            if not active:
                break
            t0 = time.perf_counter()

    out: dict[int, FitResult | DivergedError] = {}
    for j in range(S):
        if j in failed:
            out[positions[j]] = failed[j]
            continue
        try:
            models[j].load_state_dict(runs[j].chosen_state())
        except DivergedError as err:
            out[positions[j]] = err
            continue
        result = runs[j].result()
        if evaluate_test:  # the test split is touched once per seed, after model selection
            test = data.test.to(device)
            _, tpred = evaluate_split(models[j], data, test)
            evaluate_test_split(result, data, tpred, test)
        out[positions[j]] = result
    return out
