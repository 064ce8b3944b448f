"""Peers for ``throughput.py --peers``: torch-rechub's and DeepCTR-Torch's own training loops.

Install with ``pip install -e '.[peers]'`` (or ``pip install --no-deps torch-rechub deepctr-torch pandas`` where
their pins would replace the installed torch). A library that is missing or fails to build a model is reported
with its error and the others still run.

Each peer gets the benchmark's data in the library's own format, the pinned config's sizes and batch 1024, and
is trained with the library's own loop on ``torch.optim.Adam`` (lr 1e-3, no weight decay, no L2):

- **torch-rechub** (``MMOE``, ``PLE`` with ``n_level`` 1 for cgc, ``SharedBottom``): its ``MTLTrainer`` on the
  ``DataGenerator`` loaders (a dict dataset: one row at a time, then collated). Timed: ``train_one_epoch``,
  the training loop its ``fit`` runs per epoch (no validation, no checkpoint write). Its ``MLP`` puts a
  BatchNorm after every Linear (experts, gates and towers alike) and its loss is the mean of the per-task
  ``BCELoss`` on sigmoid outputs: the library's architecture, kept as it is.
- **DeepCTR-Torch** (``MMOE``, ``PLE`` with ``num_levels`` 1 for cgc, ``SharedBottom``; gates without hidden
  layers, like ours): its ``BaseModel.fit`` for one epoch (``verbose=0``). Timed: from ``on_epoch_begin`` to
  ``on_epoch_end`` (a callback), i.e. the training loop without fit's one-off copy of the inputs. Its gate
  and output layers have no bias, its loss is ``binary_cross_entropy`` (sum) on sigmoid outputs.

Both read all 499 features as one dense feature of dimension 499 (the fastest way either library offers; one
feature per column would slice and concatenate 499 tensors per step). Everything runs in the benchmark
worker's process: same torch threads, same allocator and flush-to-zero settings as ``mtlbench.train.fit``.
"""
from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

import numpy as np
import torch

PEER_MODELS = ("mmoe", "cgc", "ple", "hard_sharing")
LIBRARIES = ("torch-rechub", "deepctr-torch")
BATCH = 1024


@dataclass
class Peer:
    """One library's training of one model. ``epoch()`` trains one epoch and returns the seconds of its
    training loop; ``n_params`` counts the library model's parameters."""

    library: str
    version: str
    epoch: Callable[[], float]
    n_params: int


@contextlib.contextmanager
def _quiet():
    """The libraries print progress (tqdm) and per-epoch lines; keep them out of the benchmark's output."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _rechub(name: str, cfg, x: torch.Tensor, y: torch.Tensor, device: torch.device) -> Peer:
    with _quiet():
        from torch_rechub.basic.features import DenseFeature
        from torch_rechub.models.multi_task import MMOE, PLE, SharedBottom
        from torch_rechub.trainers import MTLTrainer
        from torch_rechub.utils.data import DataGenerator

    features, tasks = [DenseFeature("x", embed_dim=x.shape[1])], ["classification"] * y.shape[1]
    towers = [{"dims": list(cfg.tower)} for _ in tasks]
    torch.manual_seed(0)
    if name == "mmoe":
        model = MMOE(features, tasks, n_expert=cfg.n_experts, expert_params={"dims": list(cfg.expert)}, tower_params_list=towers)
    elif name in ("cgc", "ple"):
        model = PLE(features, tasks, n_level=cfg.levels, n_expert_specific=cfg.specific_experts, n_expert_shared=cfg.shared_experts,
                    expert_params={"dims": list(cfg.expert)}, tower_params_list=towers)
    else:
        model = SharedBottom(features, tasks, bottom_params={"dims": list(cfg.bottom)}, tower_params_list=towers)
    trainer = MTLTrainer(model, tasks, optimizer_params={"lr": 1e-3, "weight_decay": 0.0}, n_epoch=1, device=str(device))
    small = {"x": x[:BATCH]}, y[:BATCH]
    loader, _, _ = DataGenerator({"x": x}, y).generate_dataloader(*small, *small, batch_size=BATCH)

    def epoch() -> float:
        with _quiet():
            t = time.perf_counter()
            trainer.train_one_epoch(loader)
            return time.perf_counter() - t

    return Peer("torch-rechub", metadata.version("torch-rechub"), epoch, sum(p.numel() for p in model.parameters()))


class _EpochTimer:
    """A DeepCTR callback: seconds from the start to the end of each epoch's training loop."""

    def __init__(self):
        self.seconds, self._t = 0.0, 0.0

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params) -> None: ...

    def on_train_begin(self, logs=None) -> None: ...
    def on_train_end(self, logs=None) -> None: ...

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.seconds = time.perf_counter() - self._t


def _deepctr(name: str, cfg, x: torch.Tensor, y: torch.Tensor, device: torch.device) -> Peer:
    with _quiet():
        from deepctr_torch.inputs import DenseFeat
        from deepctr_torch.models import MMOE, PLE, SharedBottom

    K = y.shape[1]
    common = dict(tower_dnn_hidden_units=tuple(cfg.tower), l2_reg_linear=0.0, l2_reg_embedding=0.0, l2_reg_dnn=0.0,
                  task_types=("binary",) * K, task_names=tuple(f"t{k + 1}" for k in range(K)), device=str(device), seed=0)
    features = [DenseFeat("x", x.shape[1])]
    if name == "mmoe":
        model = MMOE(features, num_experts=cfg.n_experts, expert_dnn_hidden_units=tuple(cfg.expert), gate_dnn_hidden_units=(), **common)
    elif name in ("cgc", "ple"):
        model = PLE(features, shared_expert_num=cfg.shared_experts, specific_expert_num=cfg.specific_experts, num_levels=cfg.levels,
                    expert_dnn_hidden_units=tuple(cfg.expert), gate_dnn_hidden_units=(), **common)
    else:
        model = SharedBottom(features, bottom_dnn_hidden_units=tuple(cfg.bottom), **common)
    model.compile(torch.optim.Adam(model.parameters(), lr=1e-3), loss=["binary_crossentropy"] * K)
    xs, ys, timer = {"x": x.numpy()}, y.numpy().astype(np.float32), _EpochTimer()

    def epoch() -> float:
        with _quiet():
            model.fit(xs, ys, batch_size=BATCH, epochs=1, verbose=0, callbacks=[timer])
        return timer.seconds

    return Peer("deepctr-torch", metadata.version("deepctr-torch"), epoch, sum(p.numel() for p in model.parameters()))


def build_peers(name: str, cfg, x: torch.Tensor, y: torch.Tensor, device: torch.device) -> tuple[list[Peer], dict[str, str]]:
    """The peers that train ``name`` (one of ``PEER_MODELS``) at ``cfg`` on x [N, D], y [N, K], and an error
    line per library that could not (not installed, or failed to build or train one step)."""
    peers, errors = [], {}
    for library, build in (("torch-rechub", _rechub), ("deepctr-torch", _deepctr)):
        try:
            peers.append(build(name, cfg, x, y, device))
        except Exception as err:  # noqa: BLE001 - report any peer failure, benchmark the rest
            errors[library] = f"{err.__class__.__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    return peers, errors
