"""Our weighting strategies against LibMTL's on one fixture (run by hand, not in CI; LibMTL is not a dependency).

    python benchmarks/weighting_libmtl.py /path/to/LibMTL-checkout     # needs numpy, scipy; cvxpy + ecos for Nash-MTL

The checkout is only imported (its ``LibMTL/weighting`` modules, without running the package's
``__init__``). Fixture: a shared ``Linear(5, 8) → ReLU`` and K = 3 task heads ``Linear(8, 1)``, MSE losses
on fixed random data, two batches A and B. Each pair computes the gradients of every parameter for
batch B (DB-MTL: batch A then batch B, the EMA carried over; GradNorm: L(0) from batch A; DWA: epoch means
(1, 2, 3) then (0.5, 2, 2)), from the same initial weights. Printed: the largest absolute difference of
the shared gradients, of the task-specific (head) gradients, and of the weighting's own parameters.
"""
from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import torch
from torch import nn

from mtlbench.weighting import find_shared, make_weighting

K = 3


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.shared = nn.Sequential(nn.Linear(5, 8), nn.ReLU())
        self.heads = nn.ModuleList(nn.Linear(8, 1) for _ in range(K))

    def forward(self, x, x_cat=None):  # -> [B, K]
        h = self.shared(x)
        return torch.cat([head(h) for head in self.heads], 1)


def data():
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(64, 5, generator=g), torch.randn(64, K, generator=g) * torch.tensor([1.0, 3.0, 0.3]))
            for _ in range(2)]


def losses_of(net, batch):
    x, y = batch
    return ((net(x) - y) ** 2).mean(0)  # [K]


def load_libmtl(root: Path):
    for name, path in (("LibMTL", root / "LibMTL"), ("LibMTL.weighting", root / "LibMTL" / "weighting")):
        mod = types.ModuleType(name)
        mod.__path__ = [str(path)]
        sys.modules[name] = mod
    return lambda cls: getattr(importlib.import_module(f"LibMTL.weighting.{cls}"), cls)


def lib_grads(lib_cls, kwargs, setup, batches):
    net = Net()

    class Fixture(lib_cls):
        def __init__(self):
            super().__init__()
            self.net, self.task_num, self.device, self.rep_grad = net, K, torch.device("cpu"), False
            self.epoch, self.train_loss_buffer = 0, torch.zeros(K, 3).numpy()

        def get_share_params(self):
            return self.net.shared.parameters()

        def zero_grad_share_params(self):
            self.net.shared.zero_grad(set_to_none=False)

    w = Fixture()
    w.init_param()
    setup(w)
    for b in batches:
        net.zero_grad(set_to_none=False)
        for p in w.parameters():
            p.grad = None
        w.backward(losses_of(net, b), **kwargs)
    own = [p for n, p in w.named_parameters() if not n.startswith("net.")]
    return net, own


def our_grads(name, overrides, setup, batches):
    net = Net()
    shared = find_shared(net, batches[0][0], None)
    w = make_weighting(name, K, overrides, seed=0)
    setup(w)
    for b in batches:
        net.zero_grad(set_to_none=True)
        w.backward(losses_of(net, b), torch.ones(K, dtype=torch.bool), torch.ones(K), torch.zeros(()), shared)
    return net, w.parameters()


def diff(a, b) -> float:
    return max(float((x.grad - y.grad).abs().max()) for x, y in zip(a, b)) if a else 0.0


def main() -> None:
    lib = load_libmtl(Path(sys.argv[1]))
    A, B = data()
    with torch.no_grad():
        init = losses_of(Net(), A).numpy()

    def lib_gradnorm(w):
        w.epoch, w.train_loss_buffer[:, 0] = 1, init

    def lib_dwa(w):
        w.epoch, w.train_loss_buffer[:, 0], w.train_loss_buffer[:, 1] = 2, [1.0, 2.0, 3.0], [0.5, 2.0, 2.0]

    def our_dwa(w):
        w.end_epoch(0, [1.0, 2.0, 3.0])
        w.end_epoch(1, [0.5, 2.0, 2.0])

    def lib_uw(w):
        pass  # LibMTL starts log σ² at −0.5; ours is set to the same below

    none = lambda w: None
    pairs = [
        ("static", {}, none, "EW", {}, none, [B]),
        ("uw", {"init_log_var": -0.5}, none, "UW", {}, lib_uw, [B]),
        ("dwa", {}, our_dwa, "DWA", {"T": 2.0}, lib_dwa, [B]),
        ("gradnorm", {}, none, "GradNorm", {"alpha": 1.5}, lib_gradnorm, [A, B]),
        ("mgda", {}, none, "MGDA", {"mgda_gn": "none"}, none, [B]),
        ("mgda", {"normalization": "l2"}, none, "MGDA", {"mgda_gn": "l2"}, none, [B]),
        ("pcgrad", {}, none, "PCGrad", {}, none, [B]),
        ("cagrad", {}, none, "CAGrad", {"calpha": 0.4, "rescale": 1}, none, [B]),
        ("nash_mtl", {}, none, "Nash_MTL", {"update_weights_every": 1, "optim_niter": 20, "max_norm": 1.0}, none, [B]),
        ("db_mtl", {}, none, "DB_MTL", {"DB_beta": 0.9, "DB_beta_sigma": 0.0}, none, [A, B]),
    ]
    print(f"{'ours':10} {'LibMTL':10} {'options':28} {'Δ shared':>10} {'Δ heads':>10} {'Δ own':>10}")
    for name, ours, our_setup, lib_name, kw, lib_setup, batches in pairs:
        try:
            cls = lib(lib_name)
        except ImportError as err:
            print(f"{name:10} {lib_name:10} skipped: {err}")
            continue
        if name == "gradnorm":  # ours records L(0) at its first step (batch A), LibMTL reads it from its buffer
            lib_batches = [B]
        else:
            lib_batches = batches
        lnet, lown = lib_grads(cls, kw, lib_setup, lib_batches)
        onet, oown = our_grads(name, ours, our_setup, batches)
        shared = diff(list(onet.shared.parameters()), list(lnet.shared.parameters()))
        heads = diff(list(onet.heads.parameters()), list(lnet.heads.parameters()))
        own = diff(list(oown), list(lown))
        print(f"{name:10} {lib_name:10} {str(ours or kw)[:28]:28} {shared:10.2e} {heads:10.2e} {own:10.2e}")


if __name__ == "__main__":
    main()
