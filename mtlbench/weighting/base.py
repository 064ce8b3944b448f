"""The loss-weighting interface the trainer calls each step, the registry of strategies, and the generic
split of a model's parameters into shared and task-specific elements.

The trainer's step with a strategy (no per-strategy branch)::

    shared = find_shared(model, x_num, x_cat)          # once, on the first batch
    weighting = make_weighting(name, K, overrides, seed=seed, device=device)
    opt = make_optimizer([*model.parameters(), *weighting.parameters()], cfg)
    ...
    losses = masked_task_losses(out, y, mask, is_binary)  # [K]
    opt.zero_grad(set_to_none=True)
    weights = weighting.backward(losses, mask.any(0), base_weights, model.aux_loss(), shared)
    opt.step()
    ...
    weighting.end_epoch(epoch, mean_task_losses_of_the_epoch)

Contract shared by every strategy:

* Task k's loss as a strategy sees it is ``ω_k(t) · L_k`` (``base_weights`` from TrainConfig, all 1 by
  default, so the papers' rules apply unchanged); ``aux`` is always added with weight 1.
* A task without a sample in the batch (``present[k]`` False) contributes nothing: its loss and gradient
  are left out of every rule (it never enters MGDA, PCGrad, Nash-MTL, ... as a zero gradient).
* A model with no shared element (``single_task``): every strategy is a no-op, the step is the static
  one, ``Σ_k ω_k(t) L_k + aux``.
* Gradient-based strategies combine the per-task gradients of the shared elements only; task-specific
  elements get the gradient of ``Σ_k λ_k ω_k L_k`` with the strategy's ``λ`` (1 where the paper leaves
  task-specific parameters to their own loss).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..errors import MtlbenchError
from ..model import Trial
from ..registry import Registry


#: A shared tensor with at least this many rows (an embedding table) enters a step's task gradients with only
#: the rows some task's gradient reaches in that step: the others are 0 for every task, so leaving them out
#: changes no inner product, norm or combination, and a batch reaches few rows of a large table (video: 29k
#: rows of 8, 92 % of mmoe's parameters). Smaller tensors enter whole.
REACHED_ROWS_MIN = 1024


@dataclass(frozen=True)
class SharedParameters:
    """The elements of the model's parameters that two or more tasks' outputs reach.

    ``params[i]`` holds shared elements at the flat positions ``index[i]`` (None: all of them).
    """

    params: tuple[Tensor, ...] = ()
    index: tuple[Tensor | None, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.params

    @property
    def numel(self) -> int:
        return sum(p.numel() if i is None else i.numel() for p, i in zip(self.params, self.index))

    def flatten(self, grads: Sequence[Tensor | None], index: Sequence[Tensor | None] | None = None) -> Tensor:
        """Per-parameter gradients -> the vector of shared elements [P] (None: zeros), or of the positions
        ``index`` (per parameter, None: all) when given."""
        parts = []
        for p, i, g in zip(self.params, self.index if index is None else index, grads):
            g = torch.zeros_like(p) if g is None else g
            parts.append(g.reshape(-1) if i is None else g.reshape(-1).index_select(0, i))
        return torch.cat(parts).float()

    def add_to_grad(self, delta: Tensor, index: Sequence[Tensor | None] | None = None) -> None:
        """Add ``delta`` [P] to the ``.grad`` of the shared elements (a missing ``.grad`` counts as 0), or of
        the positions ``index`` when given (``delta`` then follows them, as ``flatten`` does)."""
        offset = 0
        for p, i in zip(self.params, self.index if index is None else index):
            n = p.numel() if i is None else i.numel()
            part = delta[offset : offset + n].to(p.dtype)
            offset += n
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            flat = p.grad.view(-1)
            if i is None:
                flat.add_(part)
            else:
                flat.index_add_(0, i, part)

    def task_gradients(self, losses: Tensor, present: Tensor, reached_only: bool = False
                       ) -> tuple[Tensor, tuple[Tensor | None, ...]]:
        """Gradients of the present tasks' losses w.r.t. the shared elements, [K', P'] (K' = present.sum()),
        and the positions they cover per parameter: all shared elements (P' = P), or with ``reached_only``
        the rows of large tensors that some task's gradient reaches in this step (``REACHED_ROWS_MIN``)."""
        per_task = [torch.autograd.grad(losses[k], self.params, retain_graph=True, allow_unused=True)
                    for k in present.nonzero().flatten().tolist()]
        index = self.reached(per_task) if reached_only and per_task else self.index
        rows = [self.flatten(g, index) for g in per_task]
        return (torch.stack(rows) if rows else losses.new_zeros(0, self.numel)), index

    def reached(self, per_task: Sequence[Sequence[Tensor | None]]) -> tuple[Tensor | None, ...]:
        """``index`` with each whole tensor of ≥ ``REACHED_ROWS_MIN`` rows narrowed to the rows where some
        task's gradient is non-zero (flat positions of those rows)."""
        out: list[Tensor | None] = []
        for j, (p, i) in enumerate(zip(self.params, self.index)):
            if i is not None or p.dim() < 2 or p.shape[0] < REACHED_ROWS_MIN:
                out.append(i)
                continue
            hit = torch.zeros(p.shape[0], dtype=torch.bool, device=p.device)  # [rows]
            for grads in per_task:
                if grads[j] is not None:
                    hit |= grads[j].reshape(p.shape[0], -1).ne(0).any(1)
            width = p[0].numel()
            rows = hit.nonzero().flatten()  # [R]
            out.append((rows[:, None] * width + torch.arange(width, device=p.device)).flatten())  # [R · width]
        return tuple(out)


def _reach_counts(model: nn.Module, params: list[Tensor], x_num: Tensor, x_cat: Tensor) -> list[Tensor]:
    """For each parameter element, the number of task outputs whose gradient is non-zero there."""
    with torch.enable_grad():
        out = model(x_num, x_cat)  # [B, K]
    K = out.shape[1]
    r = torch.randn(out.shape, generator=torch.Generator().manual_seed(0)).to(out)  # random row weights: no cancellation
    counts = [torch.zeros_like(p, dtype=torch.int32) for p in params]
    for k in range(K):
        grads = torch.autograd.grad((out[:, k] * r[:, k]).sum(), params, retain_graph=k < K - 1, allow_unused=True)
        for c, g in zip(counts, grads):
            if g is not None:
                c += (g != 0).to(torch.int32)
    return counts


def find_shared(model: nn.Module, x_num: Tensor, x_cat: Tensor) -> SharedParameters:
    """The shared elements of ``model``'s parameters, found by autograd on one batch (no per-model code).

    An element is shared when the outputs of two or more tasks reach it. Elements no task reaches on this
    batch (embedding rows of absent ids, ReLU units dead on it) follow their tensor: shared when no element
    of the tensor is reached by exactly one task (a shared layer), not shared when none is reached by two
    (a bank of per-task members, e.g. single_task's K networks). In a tensor with both kinds (PLE's bank of
    task-specific and shared experts) they follow their member along dim 0 (an expert whose elements are
    reached by two tasks or none is shared). Dropout is off for the probe.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    was_training = model.training
    model.eval()
    try:
        counts = _reach_counts(model, params, x_num, x_cat)
    finally:
        model.train(was_training)
    shared, index = [], []
    for p, c in zip(params, counts):
        mask = _shared_mask(c)
        if mask.all():
            shared.append(p)
            index.append(None)
        elif mask.any():
            shared.append(p)
            index.append(mask.reshape(-1).nonzero().flatten())
    return SharedParameters(tuple(shared), tuple(index))


def _shared_mask(counts: Tensor) -> Tensor:
    """Shared elements of one parameter from its reach counts (same shape, bool)."""
    multi, single = counts >= 2, counts == 1
    if not single.any() or not multi.any():
        return multi.new_full(counts.shape, bool(multi.any()))
    # A bank mixing shared and task-specific members (PLE's experts): decide by member (dim 0), and element
    # by element only within a member that has both kinds.
    lead = counts.shape[0]
    multi_m, single_m = multi.reshape(lead, -1).any(1), single.reshape(lead, -1).any(1)  # [n]
    whole = (multi_m & ~single_m).view(-1, *([1] * (counts.dim() - 1)))
    mixed = (multi_m & single_m).view(-1, *([1] * (counts.dim() - 1)))
    return whole.expand_as(multi) | (mixed & multi)


@dataclass
class Step:
    """What a strategy decides for one step.

    ``weights`` [K]: λ_k, the loss weights of the step (0 for absent tasks); they may carry a graph to the
    strategy's own parameters (uw). ``penalty``: a scalar added to the loss (uw's regulariser).
    ``shared_grad`` [P]: when set, the gradient of the shared elements, at the positions of the step's
    ``grads`` (aux's gradient is added to it); task-specific elements still get ∇ Σ_k λ_k ω_k L_k.
    """

    weights: Tensor
    penalty: Tensor | None = None
    shared_grad: Tensor | None = None


class Weighting:
    """One instance per training run. Subclasses set ``Config`` (a frozen dataclass with the paper's
    defaults), ``gradient_based`` and implement ``step``; state kept across steps is created in ``setup``
    and named in ``state_attrs`` (tensors, lists, numbers, ``torch.Generator``) so checkpoints can resume it.
    ``generator`` (seeded by the run seed) is the strategy's source of randomness.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type] = type(None)
    gradient_based: ClassVar[bool] = False  # needs the per-task gradients of the shared elements
    #: The rule uses this step's gradients only (no state over the elements), so they may leave out the rows
    #: of embedding tables that no task reaches in the step (``SharedParameters.reached``); db_mtl keeps a
    #: moving average over every element and sets False.
    reached_only: ClassVar[bool] = True
    #: The step is the plain weighted sum, so seeds can be trained stacked (``multiseed``); others train one by one.
    stackable: ClassVar[bool] = False
    state_attrs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, n_tasks: int, cfg: Any = None, *, seed: int = 0, device: torch.device | str = "cpu"):
        self.n_tasks = n_tasks
        self.cfg = self.Config() if cfg is None else cfg
        self.seed = seed
        self.device = torch.device(device)
        self.generator = torch.Generator().manual_seed(seed)  # the strategy's own draws (pcgrad's orders, rlw's z)
        self.setup()

    def setup(self) -> None:
        """Create the state kept across steps (named in ``state_attrs``); the end of ``__init__``."""

    def parameters(self) -> list[Tensor]:
        """Learnable weighting parameters (uw's log σ²), optimised together with the model's."""
        return []

    def step(self, losses: Tensor, present: Tensor, grads: Tensor | None) -> Step:
        """The strategy's rule. ``losses`` [K] are ω_k L_k (graph attached, 0 for absent tasks), ``present``
        [K] bool, ``grads`` [K', P] the present tasks' gradients of the shared elements (gradient-based
        strategies only, else None; with ``reached_only`` P counts only the elements reached in this step)."""
        raise NotImplementedError

    def backward(self, losses: Tensor, present: Tensor, base_weights: Tensor, aux: Tensor,
                 shared: SharedParameters) -> Tensor:
        """Set ``.grad`` of every model and weighting parameter for this step (as one ``loss.backward()``
        does for static) and return the weights λ_k ω_k applied to the task losses L_k [K] (detached)."""
        scaled = base_weights.to(losses.dtype) * losses  # [K]
        if shared.empty:  # nothing shared: every strategy is the static step
            (scaled.sum() + aux).backward()
            return base_weights.detach().float()
        grads, index = (shared.task_gradients(scaled, present, self.reached_only) if self.gradient_based
                        else (None, shared.index))  # [K', P]
        s = self.step(scaled, present, grads)
        total = (s.weights * scaled).sum() + aux
        if s.penalty is not None:
            total = total + s.penalty
        total.backward()
        if s.shared_grad is not None:
            applied = s.weights.detach()[present] @ grads  # [P]: what the backward put on the shared elements
            shared.add_to_grad(s.shared_grad - applied, index)
        return (s.weights.detach() * base_weights).float()

    def end_epoch(self, epoch: int, mean_losses: Sequence[float]) -> None:
        """Called after each epoch (0-based) with the mean per-task training losses L_k of that epoch."""

    @classmethod
    def search_space(cls, trial: Trial) -> Any:
        """Sample this strategy's hyper-parameters (define-by-run). Default: nothing to tune."""
        return cls.Config()

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"parameters": [p.detach().clone() for p in self.parameters()]}
        for a in self.state_attrs:
            v = getattr(self, a)
            state[a] = v.get_state() if isinstance(v, torch.Generator) else (v.clone() if isinstance(v, Tensor) else v)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            for p, v in zip(self.parameters(), state["parameters"]):
                p.copy_(v)
        for a in self.state_attrs:
            if isinstance(getattr(self, a), torch.Generator):
                getattr(self, a).set_state(state[a])
            else:
                setattr(self, a, state[a])


def expand(values: Tensor, present: Tensor) -> Tensor:
    """Values of the present tasks [K'] -> [K], 0 for absent tasks."""
    out = values.new_zeros(present.shape[0])
    out[present] = values
    return out


WEIGHTINGS: Registry[type[Weighting]] = Registry("weighting", "mtlbench.weighting")


def register_weighting(name: str):
    """Class decorator: register a strategy under ``name`` (also stored as ``cls.name``)."""

    def deco(cls: type[Weighting]) -> type[Weighting]:
        cls.name = name
        return WEIGHTINGS.register(name)(cls)

    return deco


def list_weightings(pattern: str | None = None) -> list[str]:
    return WEIGHTINGS.names(pattern)


def get_weighting(name: str) -> type[Weighting]:
    return WEIGHTINGS.get(name)


def weighting_config(name: str, overrides: dict[str, Any] | None = None) -> Any:
    """The strategy's Config with ``overrides`` applied; unknown or invalid values are one-line errors."""
    cls = get_weighting(name).Config
    overrides = dict(overrides or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise MtlbenchError(
            f"weighting {name!r} has no hyper-parameter {unknown[0]!r}; its hyper-parameters are: {', '.join(sorted(names)) or 'none'}."
        )
    try:
        return cls(**overrides)
    except (TypeError, ValueError) as err:
        raise MtlbenchError(f"invalid hyper-parameters for weighting {name!r}: {err}") from None


def make_weighting(name: str, n_tasks: int, overrides: dict[str, Any] | None = None, *, seed: int,
                   device: torch.device | str = "cpu") -> Weighting:
    return get_weighting(name)(n_tasks, weighting_config(name, overrides), seed=seed, device=device)


def in_range(name: str, value: float, low: float, high: float | None = None, *, open_low: bool = False) -> None:
    """Config validation: a one-line error unless low <= value (< if open_low) and value <= high."""
    ok = (value > low if open_low else value >= low) and (high is None or value <= high)
    if not ok:
        bound = f"{'>' if open_low else '>='} {low}" + ("" if high is None else f" and <= {high}")
        raise MtlbenchError(f"hyper-parameter {name}={value} is out of range; it must be {bound}.")
