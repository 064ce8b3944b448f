"""Loss-weighting strategies (mtlbench/weighting): each against its paper's update rule on a two-task case
computed by hand, then registry-wide checks (a training step on tiny models, configs, search spaces,
tasks missing from a batch, single_task as a no-op, checkpoint state) and the shared-parameter split."""
from __future__ import annotations

import dataclasses
import math
import random
import sys
from pathlib import Path

import pytest
import torch

from mtlbench.errors import MtlbenchError
from mtlbench.loss import masked_task_losses
from mtlbench.weighting import (
    SharedParameters,
    find_shared,
    get_weighting,
    list_weightings,
    make_weighting,
    weighting_config,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_models import batch, build, targets  # noqa: E402

NAMES = list_weightings()
ALL = {"static", "uw", "gradnorm", "dwa", "pcgrad", "mgda", "cagrad", "nash_mtl", "rlw", "db_mtl"}


class Toy:
    """Two tasks with known gradients: L_k = c_k + g_k·θ + φ_k at θ = 0, φ = 0.

    θ [2] is shared (∇_θ L_k = g_k); φ [K] is task-specific (∇_φk L_k = 1, so φ.grad = the weights λ_k ω_k
    the step applied to the task-specific part). An absent task's loss is 0 with a zero gradient, as the
    masked loss makes it.
    """

    def __init__(self, grads, c=(1.0, 1.0), present=None):
        K = len(grads)
        self.theta = torch.zeros(2, requires_grad=True)
        self.phi = torch.zeros(K, requires_grad=True)
        self.G = torch.tensor(grads, dtype=torch.float32)  # [K, 2]
        self.c = torch.tensor(c, dtype=torch.float32)
        self.present = torch.ones(K, dtype=torch.bool) if present is None else torch.tensor(present)
        self.shared = SharedParameters((self.theta,), (None,))

    def losses(self) -> torch.Tensor:  # [K]
        return (self.c + self.G @ self.theta + self.phi) * self.present

    def run(self, w, base=None, aux=None):
        self.theta.grad = self.phi.grad = None
        K = len(self.c)
        base = torch.ones(K) if base is None else torch.tensor(base)
        aux = torch.zeros(()) if aux is None else aux
        weights = w.backward(self.losses(), self.present, base, aux, self.shared)
        return self.theta.grad.tolist(), self.phi.grad.tolist(), weights.tolist()


def approx(values, expected, tol=1e-5):
    return values == pytest.approx(expected, abs=tol)


# --- each strategy against its paper's rule, two tasks, numbers derived by hand -------------------------

def test_static_applies_the_schedule_weights_and_aux():
    # ω = (2, 0.5), g1 = (1, 0), g2 = (0, 1): ∇θ = 2 g1 + 0.5 g2 = (2, 0.5); aux = 3·θ_0 adds (3, 0).
    toy = Toy([[1, 0], [0, 1]])
    aux = 3.0 * toy.theta[0]
    theta, phi, w = toy.run(make_weighting("static", 2, seed=0), base=[2.0, 0.5], aux=aux)
    assert approx(theta, [5.0, 0.5]) and approx(phi, [2.0, 0.5]) and approx(w, [2.0, 0.5])


def test_uw_weights_are_half_exp_minus_log_var_and_log_var_gets_the_regulariser_gradient():
    # s = (0, ln 2): λ = ½e^{-s} = (0.5, 0.25). L = (1, 3). ∂/∂s_k [½e^{-s}L + ½s] = −λ_k L_k + ½ = (0, −0.25).
    toy = Toy([[1, 0], [0, 1]], c=(1.0, 3.0))
    uw = make_weighting("uw", 2, seed=0)
    with torch.no_grad():
        uw.log_var.copy_(torch.tensor([0.0, math.log(2.0)]))
    theta, phi, w = toy.run(uw)
    assert approx(theta, [0.5, 0.25]) and approx(phi, [0.5, 0.25]) and approx(w, [0.5, 0.25])
    assert approx(uw.log_var.grad.tolist(), [0.0, -0.25])


def test_dwa_uses_the_loss_ratio_of_the_two_previous_epochs():
    # Epochs 0, 1: λ = 1. Means (1, 2) then (0.5, 2): r = (0.5, 1), T = 2:
    # λ_1 = 2 e^{0.25} / (e^{0.25} + e^{0.5}) = 2 / (1 + e^{0.25}) = 0.875647, λ_2 = 2 − λ_1 = 1.124353.
    dwa = make_weighting("dwa", 2, seed=0)
    toy = Toy([[1, 0], [0, 1]])
    assert approx(toy.run(dwa)[2], [1.0, 1.0])
    dwa.end_epoch(0, [1.0, 2.0])
    assert approx(toy.run(dwa)[2], [1.0, 1.0])
    dwa.end_epoch(1, [0.5, 2.0])
    theta, phi, w = toy.run(dwa)
    assert approx(w, [0.875647, 1.124353]) and approx(theta, [0.875647, 1.124353]) and approx(phi, w)


def test_rlw_draws_softmax_of_normal_weights_from_the_run_seed():
    # Two tasks: λ = softmax(z) = (σ(z1 − z2), σ(z2 − z1)), z ~ N(0, I) from a generator seeded by the run seed.
    toy = Toy([[1, 0], [0, 1]])
    a, b, c = (make_weighting("rlw", 2, seed=s) for s in (7, 7, 8))
    wa = [toy.run(a)[2] for _ in range(3)]
    assert wa == [toy.run(b)[2] for _ in range(3)] != [toy.run(c)[2] for _ in range(3)]
    z = torch.randn(2, generator=torch.Generator().manual_seed(7))
    first = 1.0 / (1.0 + math.exp(-(z[0] - z[1]).item()))
    assert approx(wa[0], [first, 1.0 - first]) and len({tuple(w) for w in wa}) == 3


def test_mgda_is_the_min_norm_point_of_the_gradients():
    # g1 = (1, 0), g2 = (0, 2): min_γ ‖γ g1 + (1−γ) g2‖² = γ² + 4(1−γ)² at γ = 4/5 -> λ = (0.8, 0.2), d = (0.8, 0.4)
    # (d·g1 = d·g2 = 0.8: equal progress on both tasks).
    theta, phi, w = Toy([[1, 0], [0, 2]]).run(make_weighting("mgda", 2, seed=0))
    assert approx(theta, [0.8, 0.4]) and approx(w, [0.8, 0.2]) and approx(phi, w)
    # l2 normalisation: ĝ = (1, 0), (0, 1) -> λ̂ = (½, ½); weights on the raw losses λ̂_k/‖g_k‖ = (0.5, 0.25).
    theta, _, w = Toy([[1, 0], [0, 2]]).run(make_weighting("mgda", 2, {"normalization": "l2"}, seed=0))
    assert approx(w, [0.5, 0.25]) and approx(theta, [0.5, 0.5])
    # No conflict, g2 = 2 g1: the min-norm point is g1 itself (λ = (1, 0)).
    theta, _, w = Toy([[1, 0], [2, 0]]).run(make_weighting("mgda", 2, seed=0))
    assert approx(theta, [1.0, 0.0]) and approx(w, [1.0, 0.0])


def test_pcgrad_projects_conflicting_gradients_onto_each_others_normal_plane():
    # g1 = (1, 0), g2 = (−1, 1), g1·g2 = −1 < 0:
    # g1' = g1 − (−1/‖g2‖²) g2 = (1, 0) + ½(−1, 1) = (0.5, 0.5); g2' = g2 − (−1/‖g1‖²) g1 = (0, 1). Σ = (0.5, 1.5).
    theta, phi, _ = Toy([[1, 0], [-1, 1]]).run(make_weighting("pcgrad", 2, seed=0))
    assert approx(theta, [0.5, 1.5]) and approx(phi, [1.0, 1.0])
    # No conflict (g1·g2 = 1 > 0): the plain sum (2, 1).
    assert approx(Toy([[1, 0], [1, 1]]).run(make_weighting("pcgrad", 2, seed=0))[0], [2.0, 1.0])


def test_cagrad_update_for_two_tasks():
    # g1 = (1, 0), g2 = (0, 2), c = 0.4: g0 = (0.5, 1), ‖g0‖ = √1.25, √φ = 0.4·√1.25 = 0.4472136.
    # min_w w·(g_k·g0) + √φ ‖g_w‖ = 0.5 w1 + 2 w2 + √φ √(w1² + 4 w2²) is decreasing in w1 up to w1 = 1
    # (slope at w1 = 1: −1.5 + √φ·1 < 0), so w = (1, 0), g_w = g1, d = g0 + √φ/‖g1‖ g1 = (0.9472136, 1),
    # rescaled by 1/(1 + c²): (0.816563, 0.862069).
    theta, phi, _ = Toy([[1, 0], [0, 2]]).run(make_weighting("cagrad", 2, seed=0))
    assert approx(theta, [0.816563, 0.862069], 1e-4) and approx(phi, [1.0, 1.0])
    # Symmetric case g1 = (1, 0), g2 = (0, 1): w = (½, ½), ‖g_w‖ = √½, √φ = 0.4√½ -> d = 1.4 g0 = (0.7, 0.7) / 1.16.
    theta, _, _ = Toy([[1, 0], [0, 1]]).run(make_weighting("cagrad", 2, seed=0))
    assert approx(theta, [0.603448, 0.603448], 1e-4)


def test_nash_mtl_solves_gtg_alpha_equals_one_over_alpha():
    # g1 = (1, 0), g2 = (0, 2): M = diag(1, 4), α_k² M_kk = 1 -> α = (1, 0.5), Σ α_k g_k = (1, 1).
    theta, phi, w = Toy([[1, 0], [0, 2]]).run(make_weighting("nash_mtl", 2, {"max_norm": 0.0}, seed=0))
    assert approx(w, [1.0, 0.5]) and approx(theta, [1.0, 1.0]) and approx(phi, [1.0, 0.5])
    # max_norm = 1 (default) clips the shared gradient to norm 1: (1, 1)/√2; task-specific parts unchanged.
    theta, phi, _ = Toy([[1, 0], [0, 2]]).run(make_weighting("nash_mtl", 2, seed=0))
    assert approx(theta, [2**-0.5, 2**-0.5]) and approx(phi, [1.0, 0.5])
    # g1 = (1, 0), g2 = (1, 1): M = [[1, 1], [1, 2]]; α1(α1 + α2) = 1, α2(α1 + 2α2) = 1 give, with u = α1²,
    # u² − 4u + 2 = 0, u = 2 − √2: α1 = 0.765367, α2 = 1/α1 − α1 = 0.541196.
    _, _, w = Toy([[1, 0], [1, 1]]).run(make_weighting("nash_mtl", 2, {"max_norm": 0.0}, seed=0))
    assert approx(w, [0.765367, 0.541196])


def test_gradnorm_moves_weights_towards_equal_gradient_norms_scaled_by_relative_inverse_rate():
    # g1 = (1, 0), g2 = (0, 3), w = (1, 1) (ℓ = 0). Step 1 records L(0) = (1, 2): r = (1, 1), G = (1, 3),
    # Ḡ = 2, L_grad = |w1 − 2| + |3 w2 − 2|, ∂/∂w = (−1, 3). w = 2 softmax(ℓ), ∂w/∂ℓ = [[½, −½], [−½, ½]]
    # -> ℓ.grad = (−2, 2). The model gets ∇(w·L): θ = (1, 3), φ = (1, 1).
    gn = make_weighting("gradnorm", 2, seed=0)
    toy = Toy([[1, 0], [0, 3]], c=(1.0, 2.0))
    theta, phi, w = toy.run(gn)
    assert approx(theta, [1.0, 3.0]) and approx(phi, [1.0, 1.0]) and approx(gn.logits.grad.tolist(), [-2.0, 2.0])
    # Step 2 with L = (0.5, 2): L̃ = (0.5, 1), r = (2/3, 4/3), r^1.5 = (0.544331, 1.539601), target =
    # 2 r^1.5 = (1.088662, 3.079201) > G = (1, 3): ∂/∂w = (−1, −3) -> ℓ.grad = (1, −1).
    toy.c = torch.tensor([0.5, 2.0])
    toy.run(gn)
    assert approx(gn.logits.grad.tolist(), [1.0, -1.0])


def test_db_mtl_balances_log_loss_gradients_to_the_largest_ema_norm():
    # L = (1, 2), g1 = (1, 0), g2 = (0, 4): ∇log L_k = (1, 0), (0, 2). EMA from 0 with β = 0.9: ĝ = 0.1·those,
    # norms (0.1, 0.2) -> scales (2, 1): shared = 2(0.1, 0) + (0, 0.2) = (0.2, 0.2); task-specific ∇log L = (1, ½).
    db = make_weighting("db_mtl", 2, seed=0)
    toy = Toy([[1, 0], [0, 4]], c=(1.0, 2.0))
    theta, phi, _ = toy.run(db)
    assert approx(theta, [0.2, 0.2]) and approx(phi, [1.0, 0.5])
    # Same gradients again: ĝ = 0.1 g + 0.9·0.1 g = 0.19 g -> shared (0.38, 0.38).
    assert approx(toy.run(db)[0], [0.38, 0.38])


# --- registry-wide -------------------------------------------------------------------------------------

def test_the_strategies_of_the_issue_are_registered_with_paper_and_config():
    assert ALL <= set(NAMES)
    for name in NAMES:
        cls = get_weighting(name)
        assert cls.name == name and dataclasses.is_dataclass(cls.Config) and cls.__module__.endswith(name)
        doc = sys.modules[cls.__module__].__doc__
        assert doc and f"`{name}`" in doc


def test_unknown_names_and_bad_configs_are_one_line_errors():
    with pytest.raises(MtlbenchError, match="Did you mean 'pcgrad'"):
        get_weighting("pcgrd")
    with pytest.raises(MtlbenchError, match="no hyper-parameter 'gamma'"):
        weighting_config("cagrad", {"gamma": 1.0})
    with pytest.raises(MtlbenchError, match="out of range"):
        weighting_config("dwa", {"temperature": 0.0})
    with pytest.raises(MtlbenchError, match="normalization"):
        weighting_config("mgda", {"normalization": "max"})


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trips(name):
    cfg = weighting_config(name)
    assert weighting_config(name, dataclasses.asdict(cfg)) == cfg == get_weighting(name).Config()


class FakeTrial:
    """Samples uniformly within each suggested range; records the names (they must be unique per strategy)."""

    def __init__(self, seed: int):
        self.rng, self.names = random.Random(seed), []

    def _name(self, name):
        assert name not in self.names
        self.names.append(name)

    def suggest_int(self, name, low, high, *, step=1, log=False):
        self._name(name)
        return self.rng.randrange(low, high + 1, step)

    def suggest_float(self, name, low, high, *, step=None, log=False):
        self._name(name)
        return math.exp(self.rng.uniform(math.log(low), math.log(high))) if log else self.rng.uniform(low, high)

    def suggest_categorical(self, name, choices):
        self._name(name)
        return self.rng.choice(list(choices))


@pytest.mark.parametrize("name", NAMES)
def test_search_space_samples_valid_configs_with_prefixed_names(name):
    cls = get_weighting(name)
    for seed in range(5):
        trial = FakeTrial(seed)
        cfg = cls.search_space(trial)
        assert isinstance(cfg, cls.Config) and weighting_config(name, dataclasses.asdict(cfg)) == cfg
        assert all(n.startswith(f"{name}_") for n in trial.names)  # no clash with model hyper-parameters


def _train(model_name, name, steps, K=3, absent=(), seed=0):
    model = build(model_name, K=K)
    x_num, x_cat = batch(64)
    y, mask, is_binary = targets(x_num, x_cat, K)
    for k in absent:
        mask[:, k] = False
    shared = find_shared(model, x_num, x_cat)
    w = make_weighting(name, K, seed=seed)
    opt = torch.optim.Adam([*model.parameters(), *w.parameters()], lr=1e-2)
    history = []
    for _ in range(steps):
        losses = masked_task_losses(model(x_num, x_cat), y, mask, is_binary)  # [K]
        opt.zero_grad(set_to_none=True)
        weights = w.backward(losses, mask.any(0), torch.ones(K), model.aux_loss(), shared)
        history.append(float(losses.detach().sum()))
        if len(history) == 1:
            grads = {n: p.grad for n, p in model.named_parameters()}
        opt.step()
    return history, grads, weights, w


@pytest.mark.parametrize("model_name", ["hard_sharing", "mmoe", "ple"])
@pytest.mark.parametrize("name", NAMES)
def test_training_steps_give_finite_grads_everywhere_and_lower_the_loss(model_name, name):
    history, grads, weights, w = _train(model_name, name, steps=25)
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in w.parameters())
    assert torch.isfinite(weights).all() and history[-1] < history[0]


NARROWED = [n for n in NAMES if get_weighting(n).gradient_based and get_weighting(n).reached_only]


def test_only_db_mtl_keeps_gradients_over_every_element():
    assert {n for n in NAMES if get_weighting(n).gradient_based} - set(NARROWED) == {"db_mtl"}


@pytest.mark.parametrize("model_name", ["hard_sharing", "mmoe", "ple"])
@pytest.mark.parametrize("name", NARROWED)
def test_leaving_out_unreached_embedding_rows_changes_no_step(model_name, name, monkeypatch):
    """A 5,000-row embedding table of which a 64-row batch reaches < 130 rows: the steps with the gradients
    narrowed to the reached rows (``reached_only``) are the steps on every shared element, to float rounding."""
    from mtlbench.data import InputSpec
    from mtlbench.model import SharedConfig, build_model, make_config
    from mtlbench.weighting.base import REACHED_ROWS_MIN
    from test_models import SMALL, tasks_of

    inputs = InputSpec(num_names=("a", "b", "c"), cat_names=("big", "small"), cat_cardinalities=(5000, 4))
    g = torch.Generator().manual_seed(1)
    x_num, x_cat = torch.randn(64, 3, generator=g), torch.stack([torch.randint(0, 5000, (64,), generator=g),
                                                                  torch.randint(0, 4, (64,), generator=g)], 1)
    y, mask, is_binary = targets(x_num, x_cat, 3)

    def steps(reached_only: bool):
        monkeypatch.undo()
        if not reached_only:
            monkeypatch.setattr(get_weighting(name), "reached_only", False)
        torch.manual_seed(0)
        model = build_model(model_name, inputs, tasks_of(3), make_config(model_name, SMALL[model_name]),
                            SharedConfig(emb_dim=4))
        shared = find_shared(model, x_num, x_cat)
        w = make_weighting(name, 3, seed=0)
        opt = torch.optim.SGD([*model.parameters(), *w.parameters()], lr=1e-2)
        grads = []
        for _ in range(3):
            losses = masked_task_losses(model(x_num, x_cat), y, mask, is_binary)  # [K]
            opt.zero_grad(set_to_none=True)
            w.backward(losses, mask.any(0), torch.ones(3), model.aux_loss(), shared)
            grads.append([p.grad.clone() for p in model.parameters()])
            opt.step()
        narrowed = shared.task_gradients(masked_task_losses(model(x_num, x_cat), y, mask, is_binary),
                                         mask.any(0), reached_only)[0].shape[1]
        return grads, narrowed, shared.numel

    (dense, p_all, numel), (narrow, p_reached, _) = steps(False), steps(True)
    assert REACHED_ROWS_MIN <= 5000 and p_all == numel
    assert p_reached < numel - (5000 - 130) * 4  # the table's unreached rows are left out
    for a, b in zip(dense, narrow):
        for ga, gb in zip(a, b):
            torch.testing.assert_close(gb, ga, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_a_task_missing_from_the_batch_contributes_nothing(name):
    # Task 2 absent (its masked loss is 0 with a zero gradient): the step equals the one-task step of task 1.
    # A zero gradient entering the rule would change it (MGDA's min-norm point would be 0, CAGrad's mean halves,
    # Nash-MTL has no solution, DB-MTL takes log 0).
    theta2, phi2, w2 = Toy([[1, 2], [-3, 1]], c=(1.5, 0.0), present=[True, False]).run(make_weighting(name, 2, seed=0))
    theta1, phi1, w1 = Toy([[1, 2]], c=(1.5,)).run(make_weighting(name, 1, seed=0))
    assert approx(theta2, theta1) and approx(phi2, [*phi1, 0.0]) and approx(w2[:1], w1)


@pytest.mark.parametrize("name", NAMES)
def test_a_batch_missing_a_task_trains_with_finite_grads(name):
    history, grads, weights, _ = _train("mmoe", name, steps=3, absent=(1,))
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert torch.isfinite(torch.tensor(history)).all()


@pytest.mark.parametrize("name", NAMES)
def test_single_task_has_nothing_shared_so_every_strategy_is_the_static_step(name):
    history, grads, weights, _ = _train("single_task", name, steps=3)
    ref_history, ref_grads, _, _ = _train("single_task", "static", steps=3)
    assert history == ref_history and weights.tolist() == [1.0, 1.0, 1.0]
    assert all(torch.equal(grads[n], ref_grads[n]) for n in grads)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_resumes_the_same_steps(name):
    toy = Toy([[1, 0.5], [-1, 1]], c=(1.0, 2.0))
    a = make_weighting(name, 2, seed=3)
    for _ in range(2):
        toy.run(a)
    a.end_epoch(0, [1.0, 2.0])
    a.end_epoch(1, [0.8, 1.0])
    b = make_weighting(name, 2, seed=99)
    b.load_state_dict(a.state_dict())
    assert toy.run(a) == toy.run(b)


# --- which parameters are shared -----------------------------------------------------------------------

def _shared_names(model_name, **overrides):
    model = build(model_name, K=3, **overrides)
    shared = find_shared(model, *batch(256))
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: (None if i is None else i.numel()) for p, i in zip(shared.params, shared.index)}, model


def test_shared_parameters_of_hard_sharing_are_encoder_and_bottom():
    shared, _ = _shared_names("hard_sharing")
    assert shared and all(i is None for i in shared.values())
    assert all(n.startswith(("encoder.", "bottom")) for n in shared) and "encoder.embedding.weight" in shared


def test_shared_parameters_of_mmoe_are_encoder_and_experts_not_gates_or_towers():
    shared, _ = _shared_names("mmoe")
    assert set(shared) == {"encoder.embedding.weight", "experts.layers.0.weight", "experts.layers.0.bias"}


def test_shared_parameters_of_ple_follow_the_experts_not_the_tensor():
    # 2 levels, 2 specific + 1 shared expert per level, K = 3: level 1's task experts reach every task through
    # the shared gate; at level 2 only the shared expert (member 6 of the bank of 7) is shared.
    shared, model = _shared_names("ple")
    assert "levels.0.experts.layers.0.weight" in shared and shared["levels.0.experts.layers.0.weight"] is None
    assert not any(n.startswith(("towers.", "levels.1.task_gates", "levels.0.task_gates")) for n in shared)
    w = model.levels[1].experts.layers[0].weight  # [7, d_in, d_out]
    assert shared["levels.1.experts.layers.0.weight"] == w[6].numel()
    s = find_shared(model, *batch(256))
    idx = next(i for p, i in zip(s.params, s.index) if p is w)
    assert torch.equal(idx, torch.arange(6 * w[0].numel(), 7 * w[0].numel()))


def test_single_task_shares_nothing():
    shared, _ = _shared_names("single_task")
    assert shared == {}


def test_every_module_of_the_weighting_package_registers_a_strategy():
    import mtlbench.weighting as pkg

    files = {p.stem for p in Path(pkg.__path__[0]).glob("*.py") if not p.stem.startswith("_")} - {"base"}
    assert files == {get_weighting(n).__module__.rsplit(".", 1)[-1] for n in NAMES}


# ------------------------------------------------------------------ the trainer and the runner
TINY_W = "synthetic[p=0.5,n_train=600,n_val=300,n_test=300]"


@pytest.mark.parametrize("name", list_weightings())
def test_the_one_trainer_trains_with_every_strategy_and_resumes_it(name, tmp_path):
    """fit() calls the strategy each step (no per-strategy branch); a run cut after an epoch and resumed from
    its checkpoint (model, optimizer, the strategy's state) ends exactly as an uninterrupted one."""
    from mtlbench import get_profile, load_suite
    from mtlbench.model import build_model, make_config
    from mtlbench.model import SharedConfig
    from mtlbench.train import TrainConfig, fit, seed_everything

    data = load_suite(TINY_W, get_profile("quick"))
    cfg = TrainConfig(max_epochs=3, patience=5, batch_size=128, lr=3e-3, weighting=name)

    def new_model():
        seed_everything(0)
        return build_model("mmoe", data.inputs, data.tasks, make_config("mmoe"), SharedConfig(emb_dim=data.emb_dim))

    whole = fit(new_model(), data, cfg, 0, torch.device("cpu"), evaluate_test=False)
    assert all(math.isfinite(h["val_score"]) for h in whole.history)

    class Cut(Exception):
        pass

    def cut(i, score, metrics):
        if i == 1:
            raise Cut

    ck = tmp_path / "ck.pt"
    with pytest.raises(Cut):
        fit(new_model(), data, cfg, 0, torch.device("cpu"), evaluate_test=False, checkpoint=ck, on_epoch=cut)
    resumed = fit(new_model(), data, cfg, 0, torch.device("cpu"), evaluate_test=False, checkpoint=ck)
    assert [h["val"] for h in resumed.history] == [h["val"] for h in whole.history]


def test_the_weighting_is_part_of_the_key_and_static_keeps_old_keys(tmp_path):
    import mtlbench
    from mtlbench.params import default_params

    res = tmp_path / "r"
    summary = mtlbench.run(["mmoe", "single_task"], [TINY_W], seeds=1, profile="quick", results_dir=res, device="cpu",
                           weightings=["static", "pcgrad"])
    recs = mtlbench.load_records("quick", res)
    assert sorted((r["model"], r["params"]["train"].get("weighting", "static")) for r in recs) == [
        ("mmoe", "pcgrad"), ("mmoe", "static"), ("single_task", "static")]
    assert len({r["key"] for r in recs}) == 3
    assert any("single_task" in s and "pcgrad" in s for s in summary.not_applicable)  # a no-op for single_task: not run
    data = mtlbench.load_suite(TINY_W, mtlbench.get_profile("quick"))
    static = default_params("mmoe", data, mtlbench.get_profile("quick")).as_dict()["train"]
    assert "weighting" not in static and "weighting_config" not in static  # records made before strategies keep their keys
