"""Suite data as resident tensors: task specs, feature schema, splits, the suite object."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from .errors import MtlbenchError

TaskKind = Literal["binary", "regression"]
METRIC_OF_KIND = {"binary": "auc", "regression": "mse"}
HIGHER_IS_BETTER = {"auc": True, "mse": False, "logloss": False}


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: TaskKind
    metric: str = ""  # "auc" for binary, "mse" for regression (filled in when empty)
    #: A funnel step: the name of an earlier binary task whose positives are this task's sample space
    #: (δ_k = δ_after · y_after, e.g. ``cvr`` after ``ctr``: a conversion is observed only after a click);
    #: "" when the task has a sample space of its own. Checked against the masks by ``validate_suite_data``.
    after: str = ""

    def __post_init__(self) -> None:
        if self.kind not in METRIC_OF_KIND:
            raise MtlbenchError(f"task {self.name!r} has kind {self.kind!r}; use 'binary' or 'regression'.")
        if not self.metric:
            object.__setattr__(self, "metric", METRIC_OF_KIND[self.kind])
        if self.metric not in HIGHER_IS_BETTER:
            raise MtlbenchError(f"task {self.name!r} has metric {self.metric!r}; use 'auc' or 'mse'.")

    @property
    def higher_is_better(self) -> bool:
        return HIGHER_IS_BETTER[self.metric]


@dataclass(frozen=True)
class InputSpec:
    """What the encoder sees: numeric fields and categorical fields with their vocabulary sizes.

    Categorical ids are integers in [0, cardinality); 0 is "unknown" (vocabularies fitted on train only).
    """

    num_names: tuple[str, ...] = ()
    cat_names: tuple[str, ...] = ()
    cat_cardinalities: tuple[int, ...] = ()

    @property
    def n_num(self) -> int:
        return len(self.num_names)

    @property
    def n_cat(self) -> int:
        return len(self.cat_names)


@dataclass
class Split:
    """One split as tensors. x_num [N, F_num] float32, x_cat [N, F_cat] int64, y [N, K] float32,
    mask [N, K] bool (δ of docs/protocol.md §2: sample i is in task k's sample space)."""

    x_num: torch.Tensor
    x_cat: torch.Tensor
    y: torch.Tensor
    mask: torch.Tensor

    def __len__(self) -> int:
        return self.y.shape[0]

    def to(self, device: torch.device | str) -> Split:
        return Split(*(t.to(device) for t in (self.x_num, self.x_cat, self.y, self.mask)))

    def take(self, idx: torch.Tensor) -> Split:
        return Split(self.x_num[idx], self.x_cat[idx], self.y[idx], self.mask[idx])

    def head(self, n: int) -> Split:
        return Split(self.x_num[:n], self.x_cat[:n], self.y[:n], self.mask[:n])


@dataclass(frozen=True)
class ProductMetric:
    """A test metric scored on every sample from the product of binary tasks' probabilities, e.g. ESMM's
    CTCVR = CTR × CVR over all impressions. Its label is the product of the tasks' labels, with a label outside
    a task's sample space counting as 0 (no click → no click-and-buy). Reported, never used for selection."""

    name: str
    tasks: tuple[int, ...]  # indices of binary tasks
    metric: str = "auc"


@dataclass
class SuiteData:
    """A loaded suite instance: the data every model of a comparison trains on."""

    name: str  # instance name, e.g. "synthetic[p=0.5]"
    family: str  # registry name, e.g. "synthetic"
    version: str
    tasks: tuple[TaskSpec, ...]
    inputs: InputSpec
    train: Split
    val: Split
    test: Split
    params: dict[str, Any] = field(default_factory=dict)  # everything the generator / loader was given
    emb_dim: int = 8  # suite's default embedding size for categorical fields
    checksum: str = ""  # filled by finalize()
    derived: tuple[ProductMetric, ...] = ()  # extra test metrics computed from the task outputs

    def finalize(self) -> SuiteData:
        validate_suite_data(self)
        self.checksum = tensor_checksum(self)
        return self

    @property
    def n_tasks(self) -> int:
        return len(self.tasks)


def tensor_checksum(data: SuiteData) -> str:
    """sha256 over every tensor of every split: any change of data or preprocessing changes it."""
    h = hashlib.sha256()
    for split in (data.train, data.val, data.test):
        for t in (split.x_num, split.x_cat, split.y, split.mask):
            a = t.detach().cpu().contiguous().numpy()
            h.update(str(a.dtype).encode() + str(a.shape).encode())
            h.update(a.tobytes())
    return h.hexdigest()[:16]


def validate_suite_data(data: SuiteData) -> None:
    """Refuse data that would crash deep inside torch, with one line that says what to fix."""
    where = f"suite {data.name!r}"
    if data.n_tasks < 2:
        raise MtlbenchError(f"{where} has {data.n_tasks} task(s); multi-task learning needs at least 2 tasks.")
    for split_name in ("train", "val", "test"):
        s: Split = getattr(data, split_name)
        if len(s) == 0:
            raise MtlbenchError(f"{where}: the {split_name} split has zero rows; give it rows or change the split.")
        if s.y.shape[1] != data.n_tasks or s.mask.shape != s.y.shape:
            raise MtlbenchError(f"{where}: {split_name} labels have shape {tuple(s.y.shape)}, expected [N, {data.n_tasks}].")
        for name, col in zip(data.inputs.num_names, s.x_num.T):
            bad = int((~torch.isfinite(col)).sum())
            if bad:
                raise MtlbenchError(
                    f"{where}: feature column {name!r} has {bad} NaN/inf value(s) in the {split_name} split; "
                    "impute or drop those rows."
                )
        if data.inputs.n_cat:
            card = torch.tensor(data.inputs.cat_cardinalities)
            if (s.x_cat < 0).any() or (s.x_cat >= card).any():
                raise MtlbenchError(f"{where}: categorical ids out of range in the {split_name} split; re-encode them.")
        _check_funnel_steps(data, s, split_name)
        for k, task in enumerate(data.tasks):
            m = s.mask[:, k]
            yk = s.y[m, k]
            if m.sum() == 0:
                raise MtlbenchError(f"{where}: task {task.name!r} has no sample in the {split_name} split; check its mask column.")
            bad = int((~torch.isfinite(yk)).sum())
            if bad:
                raise MtlbenchError(
                    f"{where}: label {task.name!r} has {bad} NaN/inf value(s) in the {split_name} split; "
                    "drop those rows or mask them out."
                )
            if task.kind == "binary":
                if not bool(((yk == 0) | (yk == 1)).all()):
                    raise MtlbenchError(
                        f"{where}: binary label {task.name!r} has values other than 0/1 in the {split_name} split; "
                        "map it to 0/1 or declare the task as regression."
                    )
                pos = int(yk.sum())
                if pos == 0 or pos == len(yk):
                    raise MtlbenchError(
                        f"{where}: binary label {task.name!r} has only one class in the {split_name} split "
                        "(AUC undefined); use a larger split or a different split seed."
                    )


def _check_funnel_steps(data: SuiteData, s: Split, split_name: str) -> None:
    """A task declared ``after`` task j is binary, follows j, and its mask is j's positives within j's mask."""
    names = [t.name for t in data.tasks]
    for k, task in enumerate(data.tasks):
        if not task.after:
            continue
        j = names.index(task.after) if task.after in names[:k] else -1
        if j < 0 or task.kind != "binary" or data.tasks[j].kind != "binary":
            raise MtlbenchError(f"suite {data.name!r}: task {task.name!r} is declared after {task.after!r}, which is not an "
                                "earlier binary task; list the funnel's steps in order, all binary.")
        expected = s.mask[:, j] & (s.y[:, j] == 1)
        if not torch.equal(s.mask[:, k], expected):
            raise MtlbenchError(f"suite {data.name!r}: in the {split_name} split the mask of {task.name!r} is not the "
                                f"positives of {task.after!r}; set it to {task.after!r} == 1 or drop `after`.")


from .names import format_instance, parse_instance  # noqa: E402,F401  (re-exported)


def make_split(
    x_num: np.ndarray | None, x_cat: np.ndarray | None, y: np.ndarray, mask: np.ndarray | None = None
) -> Split:
    n = y.shape[0]
    return Split(
        torch.as_tensor(np.zeros((n, 0)) if x_num is None else x_num, dtype=torch.float32),
        torch.as_tensor(np.zeros((n, 0)) if x_cat is None else x_cat, dtype=torch.int64),
        torch.as_tensor(y, dtype=torch.float32),
        torch.as_tensor(np.ones_like(y, dtype=bool) if mask is None else mask, dtype=torch.bool),
    )
