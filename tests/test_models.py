"""The architectures of docs/protocol.md §1: generic checks over the whole registry, structure checks as behaviour,
the shared blocks against reference implementations, search spaces and config validation."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from torch import nn

import mtlbench
from mtlbench.data import InputSpec, TaskSpec
from mtlbench.errors import MtlbenchError
from mtlbench.loss import masked_loss, masked_task_losses
from mtlbench.model import SharedConfig, build_model, get_model_class, make_config, skip_reason
from mtlbench.nn import ConcatLinearBank, LinearBank, MLPBank, Stitch, shared_input_linear

MODELS = mtlbench.list_models()
GATED = {"mmoe", "omoe", "ml_mmoe", "cgc", "ple"}
INPUTS = InputSpec(num_names=("a", "b", "c"), cat_names=("u", "v"), cat_cardinalities=(5, 7))
CORE_NAMES = {"lr", "batch_size", "weight_decay", "dropout", "emb_dim"}
SMALL = {  # small configs keep the generic tests fast; defaults are exercised in the search-space/run tests
    "single_task": dict(bottom=(16, 8), tower=(8,)),
    "hard_sharing": dict(bottom=(16, 8), tower=(8,)),
    "asymmetric": dict(bottom=(16, 8), tower=(8,)),
    "customized": dict(bottom=(16, 8), tower=(8,)),
    "cross_stitch": dict(layers=2, width=12, tower=(8,)),
    "sluice": dict(layers=3, width=12, subspaces=2, tower=(8,)),
    "mmoe": dict(n_experts=3, expert=(12,), tower=(8,)),
    "omoe": dict(n_experts=3, expert=(12,), tower=(8,)),
    "ml_mmoe": dict(levels=2, n_experts=3, expert=(12,), tower=(8,)),
    "cgc": dict(specific_experts=2, shared_experts=1, expert=(12,), tower=(8,)),
    "ple": dict(levels=2, specific_experts=2, shared_experts=1, expert=(12,), tower=(8,)),
    "esmm": dict(hidden=(16, 8)),
    "aitm": dict(tower=(16, 8)),
}


def tasks_of(K: int) -> tuple[TaskSpec, ...]:
    return tuple(TaskSpec(f"t{k}", "regression" if k % 2 == 0 else "binary") for k in range(K))


def build(name: str, K: int = 2, seed: int = 0, dropout: float = 0.0, **overrides):
    torch.manual_seed(seed)
    cfg = make_config(name, {**SMALL.get(name, {}), **overrides})
    return build_model(name, INPUTS, tasks_of(K), cfg, SharedConfig(emb_dim=4, dropout=dropout))


def batch(B: int = 32, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x_num = torch.randn(B, INPUTS.n_num, generator=g)  # [B, 3]
    x_cat = torch.stack([torch.randint(0, c, (B,), generator=g) for c in INPUTS.cat_cardinalities], 1)  # [B, 2]
    return x_num, x_cat


def targets(x_num, x_cat, K: int):
    """A learnable problem: regression tasks read numeric and categorical fields, binary tasks a sign."""
    cols = []
    for k in range(K):
        z = x_num[:, k % 3] - 0.5 * x_num[:, (k + 1) % 3] + (x_cat[:, k % 2] == 2).float()
        cols.append(z if k % 2 == 0 else (z > 0.5).float())
    y = torch.stack(cols, 1)  # [B, K]
    return y, torch.ones_like(y, dtype=torch.bool), torch.tensor([k % 2 == 1 for k in range(K)])


def loss_of(model, x_num, x_cat, K):
    y, mask, is_binary = targets(x_num, x_cat, K)
    out = model(x_num, x_cat)
    return masked_loss(out, y, mask, is_binary, torch.ones(K), model.aux_loss())


def changed_outputs(model, perturb, x=None) -> set[int]:
    """Tasks whose output changes when ``perturb(model)`` edits parameters in place."""
    x_num, x_cat = x or batch()
    model.eval()
    with torch.no_grad():
        before = model(x_num, x_cat)
        perturb(model)
        after = model(x_num, x_cat)
    diff = (after - before).abs().amax(0)  # [K]
    assert bool(((diff < 1e-6) | (diff > 1e-4)).all()), f"ambiguous change {diff}"
    return {k for k in range(before.shape[1]) if diff[k] > 1e-4}


def bump(t: torch.Tensor, scale: float = 0.5) -> None:
    t.add_(scale * torch.randn_like(t))


# ------------------------------------------------------------------ every registered model


def test_all_architectures_of_the_spec_are_registered():
    assert {"single_task", "hard_sharing", "asymmetric", "customized", "cross_stitch", "sluice",
            "mmoe", "ml_mmoe", "cgc", "ple"} <= set(MODELS)


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("name", MODELS)
def test_output_shape_dtype_finite_loss_and_every_parameter_gets_a_gradient(name, K):
    model = build(name, K, dropout=0.1)
    x_num, x_cat = batch(64)
    out = model(x_num, x_cat)
    assert out.shape == (64, K) and out.dtype == torch.float32
    loss = loss_of(model, x_num, x_cat, K)
    assert torch.isfinite(loss)
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: {pname} receives no gradient"
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, f"{name}: {pname} has a zero gradient"


@pytest.mark.parametrize("name", MODELS)
def test_default_config_builds_and_runs(name):
    cls = get_model_class(name)
    model = build_model(name, INPUTS, tasks_of(3), cls.Config(), SharedConfig(emb_dim=4))
    assert model(*batch(8)).shape == (8, 3)


@pytest.mark.parametrize("name", MODELS)
def test_one_adam_step_lowers_the_loss_on_a_fixed_batch(name):
    model = build(name, 2)
    x_num, x_cat = batch(64)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = loss_of(model, x_num, x_cat, 2)
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():
        after = loss_of(model, x_num, x_cat, 2)
    assert after < before


@pytest.mark.parametrize("name", MODELS)
def test_a_few_hundred_steps_fit_a_tiny_learnable_problem(name):
    K = 2
    model = build(name, K, seed=3)
    x_num, x_cat = batch(256, seed=4)
    y, mask, is_binary = targets(x_num, x_cat, K)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        loss = masked_loss(model(x_num, x_cat), y, mask, is_binary, torch.ones(K), model.aux_loss())
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        per_task = masked_task_losses(model(x_num, x_cat), y, mask, is_binary)  # [K]
    assert per_task[0] < 0.02 * y[:, 0].var(), f"{name}: regression MSE {per_task[0]:.3f}"
    assert per_task[1] < 0.05, f"{name}: binary BCE {per_task[1]:.3f}"


@pytest.mark.parametrize("name", MODELS)
def test_gate_weights_are_non_negative_and_sum_to_one(name):
    model = build(name, 3)
    model(*batch(16))
    gates = model.gate_weights()
    assert bool(gates) == (name in GATED), f"{name}: gates {list(gates)}"
    for gname, w in gates.items():
        assert w.dim() == 3 and w.shape[1] == 16, f"{name}.{gname}: [G, B, E] expected, got {tuple(w.shape)}"
        assert (w >= 0).all(), f"{name}.{gname}"
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:2]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", MODELS)
def test_gate_labels_name_every_gate_bank_its_gates_and_experts(name):
    """``gate_labels()`` labels exactly the banks ``gate_weights()`` returns: one row per gate, and one column per
    weight (or, through ``index``, a distinct column of the level for each weight of a gate)."""
    model = build(name, 3, **({"levels": 3} if name in ("ple", "ml_mmoe") else {}))
    labels = model.gate_labels()  # before any forward pass
    model(*batch(16))
    gates = model.gate_weights()
    assert set(labels) == set(gates), f"{name}: labels {sorted(labels)}, gates {sorted(gates)}"
    for gname, w in gates.items():
        lab, (G, _, E) = labels[gname], w.shape
        assert len(lab.rows) == G and lab.level >= 1 and lab.title, f"{name}.{gname}: {lab}"
        if lab.index is None:
            assert len(lab.cols) == E, f"{name}.{gname}: {len(lab.cols)} columns for {E} experts"
        else:
            assert len(lab.index) == G and all(len(set(row)) == len(row) == E for row in lab.index), f"{name}.{gname}"
            assert all(0 <= e < len(lab.cols) for row in lab.index for e in row), f"{name}.{gname}"


COMMITTED_UTILISATION = sorted((Path(__file__).parents[1] / "results" / "standard" / "utilisation").glob("*.json"))


@pytest.mark.parametrize("path", COMMITTED_UTILISATION, ids=lambda p: p.stem)
def test_gate_labels_are_those_of_the_committed_utilisation_exports(path):
    """The committed exports were labelled before the models owned their labels: the same configuration on the
    same tasks gives the same titles, levels, rows and columns, and a task gate's index leaves exactly the
    experts it does not mix empty (None) in the export."""
    u = json.loads(path.read_text())
    tasks = tuple(TaskSpec(t, "binary") for t in u["tasks"])
    model = build_model(u["model"], INPUTS, tasks, make_config(u["model"], u["config"]), SharedConfig(emb_dim=4))
    labels = model.gate_labels()
    assert set(labels) == set(u["banks"])
    for gname, bank in u["banks"].items():
        lab = labels[gname]
        assert lab.fields() == {k: bank[k] for k in ("title", "level", "rows", "cols")}, gname
        connected = [[v is not None for v in row] for row in bank["mean"]]
        expected = [[lab.index is None or e in lab.index[g] for e in range(len(lab.cols))] for g in range(len(lab.rows))]
        assert connected == expected, gname


def test_the_fixed_utilisation_models_are_covered_by_committed_exports():
    """Every model ``mtlbench utilisation`` measures has a committed export that the label test compares with."""
    from mtlbench.utilisation import FIXED

    assert {json.loads(p.read_text())["model"] for p in COMMITTED_UTILISATION} == set(FIXED)


# ------------------------------------------------------------------ structure, as behaviour


def test_single_task_perturbing_task_1_changes_only_output_1():
    model = build("single_task", 3)

    def perturb(m):
        for pname, p in m.named_parameters():
            if pname.startswith(("bottoms.", "towers.")):
                bump(p[0])
        total = sum(INPUTS.cat_cardinalities)
        bump(m.encoder.embedding.weight[:total])  # task 1's encoder copy

    assert changed_outputs(model, perturb) == {0}



def test_single_task_restores_each_task_from_its_own_state_with_categorical_fields():
    from mtlbench.protocol import SeedRun

    a, b = build("single_task", 2, seed=1), build("single_task", 2, seed=2)
    run = SeedRun(a.tasks, True, patience=3, min_delta=0.0, max_evals=10, evals_per_epoch=1)
    run.groups[0].update(0, 1.0, a)  # task 1's best state is a's, task 2's is b's
    run.groups[1].update(0, 1.0, b)
    x = batch()
    with torch.no_grad():
        ref_a, ref_b = a(*x), b(*x)
        a.load_state_dict(run.chosen_state())
        out = a(*x)
    torch.testing.assert_close(out[:, 0], ref_a[:, 0])
    torch.testing.assert_close(out[:, 1], ref_b[:, 1])
    torch.testing.assert_close(a.encoder.embedding.weight[sum(INPUTS.cat_cardinalities):], b.encoder.embedding.weight[sum(INPUTS.cat_cardinalities):])

def test_hard_sharing_towers_read_one_representation():
    model = build("hard_sharing", 3)
    with torch.no_grad():  # give every task tower task 1's weights: one representation -> equal outputs
        for p in model.towers.parameters():
            p.copy_(p[:1].expand_as(p))
    out = model(*batch())
    torch.testing.assert_close(out, out[:, :1].expand_as(out))
    assert changed_outputs(model, lambda m: bump(m.bottom.layers[0].weight)) == {0, 1, 2}


def test_omoe_towers_read_one_mixture():
    model = build("omoe", 3)
    with torch.no_grad():
        for p in model.towers.parameters():
            p.copy_(p[:1].expand_as(p))
    out = model(*batch())
    torch.testing.assert_close(out, out[:, :1].expand_as(out))
    assert model.gate_weights()["gates"].shape[0] == 1


def test_mmoe_with_one_expert_is_hard_sharing():
    mmoe = build("mmoe", 3, n_experts=1, expert=(16, 8))
    hard = build("hard_sharing", 3, seed=5, bottom=(16, 8))
    state = {k.replace("bottom.", "experts."): v for k, v in hard.state_dict().items()}
    state.update({k: v for k, v in mmoe.state_dict().items() if k.startswith("gates.")})
    mmoe.load_state_dict(state)
    x = batch()
    torch.testing.assert_close(mmoe(*x), hard(*x), atol=1e-6, rtol=0)


def test_mmoe_gates_mix_the_experts():
    model = build("mmoe", 2, n_experts=3)
    x_num, x_cat = batch()
    out = model(x_num, x_cat)
    x = model.encoder(x_num, x_cat)
    e = model.experts(x)  # [E, B, h]
    g = torch.softmax(torch.einsum("bd,kde->kbe", x, model.gates.linear.weight) + model.gates.linear.bias, -1)
    torch.testing.assert_close(out, model.towers(torch.einsum("kbe,ebh->kbh", g, e)))


def test_ml_mmoe_with_one_level_is_mmoe():
    ml = build("ml_mmoe", 2, levels=1, n_experts=3)
    mm = build("mmoe", 2, seed=6, n_experts=3)
    state = {k.replace("experts.", "experts.0.").replace("gates.", "task_gates."): v for k, v in mm.state_dict().items()}
    ml.load_state_dict(state)
    x = batch()
    torch.testing.assert_close(ml(*x), mm(*x))


def test_ml_mmoe_level_gates_read_the_input_and_mix_the_previous_level():
    model = build("ml_mmoe", 2, levels=3, n_experts=4)
    model(*batch(16))
    gates = model.gate_weights()
    assert gates["expert_gates.0"].shape == gates["expert_gates.1"].shape == (4, 16, 4)
    assert gates["task_gates"].shape == (2, 16, 4)
    assert changed_outputs(model, lambda m: bump(m.experts[0].layers[0].weight[2])) == {0, 1}


def test_cgc_equals_ple_with_one_level():
    ple = build("ple", 3, levels=1)
    cgc = build("cgc", 3, seed=7)
    cgc.load_state_dict(ple.state_dict())
    x = batch()
    torch.testing.assert_close(cgc(*x), ple(*x), atol=0, rtol=0)
    assert list(cgc.gate_weights()) == ["levels.0.task_gates"]


@pytest.mark.parametrize("levels", [1, 2, 3])
def test_ple_shared_gate_carries_task_2_experts_to_task_1_only_with_two_levels_or_more(levels):
    K, m, ms = 2, 2, 1
    model = build("ple", K, levels=levels, specific_experts=m, shared_experts=ms)
    first = model.levels[0]
    assert first.experts.n == K * m + ms  # K·m specific + m_s shared experts per level
    model(*batch(16))
    gates = model.gate_weights()
    assert gates["levels.0.task_gates"].shape == (K, 16, m + ms)
    for j in range(levels - 1):  # shared gate mixes ALL experts of the level, the last level has none
        assert gates[f"levels.{j}.shared_gate"].shape == (1, 16, K * m + ms)
    assert f"levels.{levels - 1}.shared_gate" not in gates

    def perturb_task2_expert(mod):  # experts m..2m-1 of level 1 belong to task 2
        for layer in mod.levels[0].experts.layers:
            bump(layer.weight[m:2 * m], 2.0)
            bump(layer.bias[m:2 * m], 2.0)

    changed = changed_outputs(model, perturb_task2_expert)
    assert (0 in changed) == (levels >= 2) and 1 in changed


def test_ple_task_gate_sees_only_its_own_and_the_shared_experts():
    K, m, ms = 3, 2, 2
    model = build("ple", K, levels=1, specific_experts=m, shared_experts=ms)
    # task 3's expert -> only output 3; a shared expert -> every output
    assert changed_outputs(model, lambda mod: bump(mod.levels[0].experts.layers[0].weight[2 * m])) == {2}
    assert changed_outputs(model, lambda mod: bump(mod.levels[0].experts.layers[0].weight[K * m])) == {0, 1, 2}


def test_cross_stitch_init_and_identity_alpha_keeps_columns_independent():
    K = 3
    model = build("cross_stitch", K, stitch_init=0.9)
    alpha = model.columns.stitches[0].alpha
    torch.testing.assert_close(alpha.detach(), torch.full((K, K), 0.05) + 0.85 * torch.eye(K))

    def perturb_column_1(mod):
        for layer in mod.columns.layers:
            bump(layer.weight[0])

    assert changed_outputs(model, perturb_column_1) == {0, 1, 2}  # the stitch units share column 1
    with torch.no_grad():
        for stitch in model.columns.stitches:
            stitch.alpha.copy_(torch.eye(K))
    assert changed_outputs(model, perturb_column_1) == {0}


def test_cross_stitch_next_layer_reads_the_stitched_output():
    model = build("cross_stitch", 2, layers=2)
    x = model.encoder(*batch())
    h = model.columns(x)  # [L, K, B, w]
    layer2 = torch.relu(model.columns.layers[1](h[0]))  # reads the post-stitch output of layer 1
    torch.testing.assert_close(h[1], model.columns.stitches[1](layer2))


def test_sluice_alpha_mixes_subspaces_and_beta_is_a_softmax_over_layers():
    K, L, S, w = 2, 3, 2, 12
    model = build("sluice", K, layers=L, width=w, subspaces=S)
    assert model.columns.stitches[0].alpha.shape == (K * S, K * S)
    with torch.no_grad():
        model.beta.copy_(torch.randn(K, L))
    beta = model.layer_weights()
    assert beta.shape == (K, L) and (beta >= 0).all()
    torch.testing.assert_close(beta.sum(-1), torch.ones(K))
    x_num, x_cat = batch()
    h = model.columns(model.encoder(x_num, x_cat))  # [L, K, B, w]
    expected = model.towers(sum(beta[:, l, None, None] * h[l] for l in range(L)))
    torch.testing.assert_close(model(x_num, x_cat), expected)
    with torch.no_grad():  # all weight on layer 1: the towers read the first layer only
        model.beta.copy_(torch.tensor([[50.0, 0.0, 0.0]] * K))
    torch.testing.assert_close(model(x_num, x_cat), model.towers(h[0]), atol=1e-5, rtol=0)


def test_sluice_alpha_reaches_single_subspaces():
    K, S, w = 2, 2, 12
    unit = Stitch(K, S, a=1.0)
    with torch.no_grad():
        unit.alpha.copy_(torch.eye(K * S))
        unit.alpha[3, 0] = 1.0  # subspace 2 of column 2 also reads subspace 1 of column 1
    h = torch.randn(K, 5, w)
    out = unit(h)
    torch.testing.assert_close(out[0], h[0])
    torch.testing.assert_close(out[1, :, : w // 2], h[1, :, : w // 2])
    torch.testing.assert_close(out[1, :, w // 2 :], h[1, :, w // 2 :] + h[0, :, : w // 2])


def test_sluice_orthogonality_penalty_goes_through_aux_loss():
    x = batch()
    off = build("sluice", 2, ortho=0.0)
    off(*x)
    assert float(off.aux_loss()) == 0.0
    on = build("sluice", 2, ortho=0.1)
    on(*x)
    aux = on.aux_loss()
    assert aux > 0
    aux.backward()
    assert on.columns.layers[0].weight.grad.abs().sum() > 0
    # hand computation for layer 1, column 1: ‖G_1ᵀ G_2 / B‖²
    pre = on.columns.pre.detach()
    L, K, B, w = pre.shape
    total = sum(((pre[l, k, :, : w // 2].T @ pre[l, k, :, w // 2 :]) / B).pow(2).sum() for l in range(L) for k in range(K))
    torch.testing.assert_close(aux.detach(), 0.1 * total)


def test_asymmetric_follows_its_uses_map():
    K = 3
    uses = ((), (0,), (0, 1))
    model = build("asymmetric", K, uses=uses)

    def perturb_bottom(k):
        def f(mod):
            for layer in mod.bottoms.layers:
                bump(layer.weight[k])
        return f

    for k in range(K):
        readers = {k} | {t for t in range(K) if k in uses[t]}
        assert changed_outputs(model, perturb_bottom(k)) == readers, f"bottom {k}"
    default = build("asymmetric", K)
    assert default.uses == ((), (0,), (0,))
    assert changed_outputs(default, perturb_bottom(0)) == {0, 1, 2}
    assert changed_outputs(default, perturb_bottom(2)) == {2}


@pytest.mark.parametrize("uses", [((), (0,)), ((0,), (), ()), ((), (5,), ()), ((), (0, 0), ())])
def test_asymmetric_rejects_a_bad_uses_map(uses):
    with pytest.raises(MtlbenchError, match="uses"):
        build("asymmetric", 3, uses=uses)


def test_customized_tower_reads_its_own_and_the_shared_bottom():
    K = 3
    model = build("customized", K)

    def perturb_bottom(k):
        return lambda mod: bump(mod.bottoms.layers[0].weight[k])

    assert changed_outputs(model, perturb_bottom(1)) == {1}
    assert changed_outputs(model, perturb_bottom(K)) == {0, 1, 2}  # the shared bottom


# ------------------------------------------------------------------ shared blocks vs references


def _loop_linears(bank: LinearBank) -> list[nn.Linear]:
    out = []
    for i in range(bank.n):
        lin = nn.Linear(bank.d_in, bank.d_out)
        with torch.no_grad():
            lin.weight.copy_(bank.weight[i].T)
            lin.bias.copy_(bank.bias[i, 0])
        out.append(lin)
    return out


@pytest.mark.parametrize("shared_input", [True, False])
def test_linear_bank_equals_a_loop_over_nn_linear(shared_input):
    torch.manual_seed(0)
    n, B, d_in, d_out = 4, 9, 7, 5
    bank = LinearBank(n, d_in, d_out)
    ref = _loop_linears(bank)
    x = torch.randn(B, d_in) if shared_input else torch.randn(n, B, d_in)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    out = bank(x1)  # [n, B, d_out]
    ref_out = torch.stack([lin(x2 if shared_input else x2[i]) for i, lin in enumerate(ref)])
    torch.testing.assert_close(out, ref_out, atol=1e-6, rtol=1e-6)
    g = torch.randn_like(out)
    (out * g).sum().backward()
    (ref_out * g).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, atol=1e-6, rtol=1e-6)
    for i, lin in enumerate(ref):
        torch.testing.assert_close(bank.weight.grad[i], lin.weight.grad.T, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(bank.bias.grad[i, 0], lin.bias.grad, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("shared_input", [True, False])
def test_mlp_bank_equals_a_loop_over_separate_experts(shared_input):
    torch.manual_seed(1)
    n, B, d_in = 3, 8, 6
    bank = MLPBank(n, d_in, [10, 4], out=2)
    refs = [_loop_linears(layer) for layer in bank.layers]  # [layer][expert]
    experts = [nn.Sequential(refs[0][i], nn.ReLU(), refs[1][i], nn.ReLU(), refs[2][i]) for i in range(n)]
    x = torch.randn(B, d_in) if shared_input else torch.randn(n, B, d_in)
    out = bank(x)
    ref_out = torch.stack([e(x if shared_input else x[i]) for i, e in enumerate(experts)])
    torch.testing.assert_close(out, ref_out, atol=1e-6, rtol=1e-6)
    out.pow(2).sum().backward()
    ref_out.pow(2).sum().backward()
    for layer, lins in zip(bank.layers, refs):
        for i, lin in enumerate(lins):
            torch.testing.assert_close(layer.weight.grad[i], lin.weight.grad.T, atol=1e-6, rtol=1e-6)
            torch.testing.assert_close(layer.bias.grad[i, 0], lin.bias.grad, atol=1e-6, rtol=1e-6)


def test_concat_linear_bank_equals_linear_layers_on_concatenations():
    torch.manual_seed(2)
    sources = [(0,), (1, 0), (2, 0, 1)]
    d_in, d_out, B = 5, 3, 7
    bank = ConcatLinearBank(sources, d_in, d_out)
    h = torch.randn(3, B, d_in)
    out = bank(h)
    p = 0
    for i, src in enumerate(sources):
        w = torch.cat([bank.weight[p + j] for j in range(len(src))])  # [len·d_in, d_out]
        p += len(src)
        ref = torch.cat([h[s] for s in src], -1) @ w + bank.bias[i, 0]
        torch.testing.assert_close(out[i], ref, atol=1e-6, rtol=1e-6)


# ------------------------------------------------------------------ search spaces and validation


@pytest.mark.parametrize("name", MODELS)
def test_search_space_builds_valid_models_with_names_of_its_own(name):
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cls = get_model_class(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(4):
        trial = study.ask()
        cfg = cls.search_space(trial, 2)
        assert isinstance(cfg, cls.Config)
        model = build_model(name, INPUTS, tasks_of(2), cfg, SharedConfig(emb_dim=4))
        assert model(*batch(4)).shape == (4, 2)
        names = set(trial.params)
        assert not names & CORE_NAMES and not any(n.startswith(("loss_", "omega", "gamma")) for n in names), names
        study.tell(trial, 0.0)


def _bad_values(cfg) -> list[tuple[str, object]]:
    """For every count / width field of a Config: a zero count, a negative width, an empty expert."""
    bad = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, bool) or f.name == "uses":
            continue
        if isinstance(value, int):
            bad += [(f.name, 0), (f.name, -2)]
        elif isinstance(value, tuple) and value and all(isinstance(v, int) for v in value):
            bad.append((f.name, (*value[:-1], -4)))
    return bad


@pytest.mark.parametrize("name", MODELS)
def test_zero_experts_and_negative_widths_are_one_line_errors(name):
    cfg = get_model_class(name).Config()
    bad = _bad_values(cfg)
    assert bad
    for field, value in bad:
        with pytest.raises(MtlbenchError) as err:
            make_config(name, {field: value})
        msg = str(err.value)
        assert "\n" not in msg and "out of range" in msg, msg


@pytest.mark.parametrize("name,override", [
    ("mmoe", {"n_experts": 0}), ("ml_mmoe", {"expert": ()}), ("cgc", {"shared_experts": 0}),
    ("ple", {"specific_experts": 0}), ("sluice", {"width": 10, "subspaces": 4}), ("sluice", {"ortho": -1.0}),
    ("cross_stitch", {"stitch_init": 1.5}), ("sluice", {"stitch_init": -0.1}),
])
def test_invalid_hyper_parameters_are_refused(name, override):
    with pytest.raises(MtlbenchError):
        make_config(name, override)


# ------------------------------------------------------------------ end to end


def test_run_trains_every_registered_model(tmp_path):
    suite = "synthetic[p=0.5,n_train=500,n_val=200,n_test=200]"
    summary = mtlbench.run(None, [suite], seeds=1, profile="quick", device="cpu", results_dir=tmp_path / "res")
    assert summary.failed == []
    allowed = {m for m in MODELS if skip_reason(m, mtlbench.load_suite(suite, mtlbench.get_profile("quick")).tasks) is None}
    assert allowed == set(MODELS) - {"esmm", "aitm"}  # the funnel models skip a suite without a funnel step
    done = {label.split("/")[1] for label in summary.done}
    assert allowed <= done <= set(MODELS)  # (= allowed once the runner applies skip_reason)
    records = mtlbench.load_records("quick", tmp_path / "res")
    assert {r["model"] for r in records} == done
    assert all(r["n_params"] > 0 and r["flops_per_sample"] > 0 for r in records)


# ------------------------------------------------------------------ matched default configurations
@pytest.mark.parametrize("name", mtlbench.list_models())
def test_every_default_is_matched_in_size_and_depth_to_the_reference(name, tiny_suite):
    """docs/protocol.md §4: on a suite, each model's default has the reference's dense parameter count
    (±20 %) and depth 3, and ``default_params`` uses exactly that configuration."""
    from mtlbench import get_profile
    from mtlbench.cost import dense_params
    from mtlbench.matching import REFERENCE, TOLERANCE, matched_default
    from mtlbench.params import default_params

    m = matched_default(name, tiny_suite.inputs, tiny_suite.tasks, tiny_suite.emb_dim)
    ref = matched_default(REFERENCE, tiny_suite.inputs, tiny_suite.tasks, tiny_suite.emb_dim)
    assert abs(m.dense_params / ref.dense_params - 1) <= TOLERANCE
    assert m.depth == 3
    rp = default_params(name, tiny_suite, get_profile("quick"))
    assert rp.model == m.config
    model = build_model(name, tiny_suite.inputs, tiny_suite.tasks, rp.model, rp.shared)
    assert dense_params(model) == m.dense_params


def test_shared_input_linear_equals_each_bank_on_its_own():
    torch.manual_seed(3)
    B, d_in = 9, 7
    banks = [LinearBank(4, d_in, 5), LinearBank(2, d_in, 3), LinearBank(1, d_in, 6)]  # experts, narrow gates, one gate
    x = torch.randn(B, d_in)
    fused = shared_input_linear(x, banks)
    g = [torch.randn_like(z) for z in fused]
    sum((z * gz).sum() for z, gz in zip(fused, g)).backward()
    fused_grads = [(b.weight.grad.clone(), b.bias.grad.clone()) for b in banks]
    for b in banks:
        b.zero_grad(set_to_none=True)
    alone = [b(x) for b in banks]
    sum((z * gz).sum() for z, gz in zip(alone, g)).backward()
    for z, a, b, (gw, gb) in zip(fused, alone, banks, fused_grads):
        assert z.shape == a.shape
        torch.testing.assert_close(z, a, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(gw, b.weight.grad, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(gb, b.bias.grad, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", ["mmoe", "omoe", "ml_mmoe", "cgc", "ple"])
def test_fused_first_layer_gives_the_unfused_outputs_gradients_and_gate_weights(name, monkeypatch):
    """mmoe/omoe/ml_mmoe/cgc/ple compute the experts' first layer and the gates reading x as one GEMM; the result is
    the separate banks' within float32 rounding, and the gate weights stay readable."""
    import mtlbench.baselines.ml_mmoe as ml_mmoe_module
    import mtlbench.baselines.mmoe as mmoe_module
    import mtlbench.nn as nn_module

    model = build(name, 3, **({"levels": 3} if name in ("ple", "ml_mmoe") else {}))
    x = batch(64)

    def run():
        model.zero_grad(set_to_none=True)
        out = model(*x)
        out.pow(2).sum().backward()
        return out.detach(), {k: p.grad.clone() for k, p in model.named_parameters()}, model.gate_weights()

    out, grads, gates = run()
    separate = lambda x, banks: [bank(x) for bank in banks]  # noqa: E731 - each bank its own GEMM
    monkeypatch.setattr(nn_module, "shared_input_linear", separate)
    monkeypatch.setattr(mmoe_module, "shared_input_linear", separate)
    monkeypatch.setattr(ml_mmoe_module, "shared_input_linear", separate)
    ref_out, ref_grads, ref_gates = run()
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    for k in grads:
        torch.testing.assert_close(grads[k], ref_grads[k], atol=1e-5, rtol=1e-5)
    assert list(gates) == list(ref_gates) and gates
    for k in gates:
        torch.testing.assert_close(gates[k], ref_gates[k], atol=1e-6, rtol=1e-5)
