"""ESMM and AITM (issue 27): the entire-space loss view, their structure, the calibrator, and the rule that
says on which suites they run."""
from __future__ import annotations


import pytest
import torch
from torch.nn import functional as F

from mtlbench import MtlbenchError, get_profile, load_suite
from mtlbench.data import InputSpec, TaskSpec, validate_suite_data
from mtlbench.entire_space import entire_space_view
from mtlbench.loss import masked_task_losses
from mtlbench.model import SharedConfig, build_model, list_models, make_config, skip_reason

INPUTS = InputSpec(num_names=("a", "b"), cat_names=("u",), cat_cardinalities=(6,))
FUNNEL = (TaskSpec("ctr", "binary"), TaskSpec("cvr", "binary", after="ctr"))
PLAIN = (TaskSpec("y1", "regression"), TaskSpec("y2", "binary"))
BINARY = torch.tensor([True, True])


def build(name: str, tasks=FUNNEL, seed: int = 0, **cfg):
    torch.manual_seed(seed)
    small = {"esmm": dict(hidden=(16, 8)), "aitm": dict(tower=(16, 8))}[name]
    return build_model(name, INPUTS, tasks, make_config(name, {**small, **cfg}), SharedConfig(emb_dim=4))


def batch(B: int = 64, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x_num, x_cat = torch.randn(B, 2, generator=g), torch.randint(0, 6, (B, 1), generator=g)
    click = (torch.rand(B, generator=g) < 0.4).float()
    conv = click * (torch.rand(B, generator=g) < 0.5).float()
    y = torch.stack([click, conv], 1)  # [B, 2]
    mask = torch.stack([torch.ones(B, dtype=torch.bool), click == 1], 1)
    return x_num, x_cat, y, mask


# ------------------------------------------------------------------ the rule
def test_funnel_models_run_only_on_suites_with_a_funnel_step():
    assert skip_reason("esmm", FUNNEL) is None and skip_reason("aitm", FUNNEL) is None
    for name in ("esmm", "aitm"):
        reason = skip_reason(name, PLAIN)
        assert reason and "\n" not in reason and "funnel" in reason
    assert all(skip_reason(m, PLAIN) is None for m in list_models() if m not in ("esmm", "aitm"))
    funnel = load_suite("funnel[n_train=3000,n_val=3000,n_test=3000]", get_profile("quick"))
    assert funnel.tasks[1].after == "ctr" and skip_reason("esmm", funnel.tasks) is None


def test_run_and_tune_leave_funnel_models_out_off_the_funnel_and_say_so(tmp_path):
    from conftest import TINY

    import mtlbench

    s = mtlbench.run(["esmm", "hard_sharing"], [TINY], seeds=1, results_dir=tmp_path, device="cpu")
    assert len(s.done) == 1 and s.skipped == []  # not applicable is not "already done"
    assert len(s.not_applicable) == 1 and s.not_applicable[0].startswith(f"{TINY}/esmm (")
    notes: list[str] = []
    from mtlbench.tuning import tune

    studies = tune(["aitm", "hard_sharing"], [TINY], n_trials=1, results_dir=tmp_path, device="cpu", notify=notes.append)
    assert [x["model"] for x in studies] == ["hard_sharing"]
    assert any(n.startswith(f"not tuned: {TINY}/aitm (") for n in notes)
    assert not list((tmp_path / "quick" / "studies").glob("aitm@*"))


def test_a_funnel_step_whose_mask_is_not_its_predecessors_positives_is_refused():
    data = load_suite("funnel[n_train=3000,n_val=3000,n_test=3000]", get_profile("quick"))
    data.val.mask[:, 1] = True  # conversions "observed" without a click
    with pytest.raises(MtlbenchError, match="not the positives of 'ctr'"):
        validate_suite_data(data)
    data.val.mask[:, 1] = data.val.y[:, 0] == 1
    data.tasks = (TaskSpec("ctr", "binary"), TaskSpec("cvr", "binary", after="cvr"))
    with pytest.raises(MtlbenchError, match="not an earlier binary task"):
        validate_suite_data(data)


# ------------------------------------------------------------------ the entire-space view
def test_entire_space_view_is_the_joint_over_the_predecessors_sample_space():
    _, _, y, mask = batch()
    y = torch.where(mask, y, torch.full_like(y, float("nan")))  # labels outside a sample space may be NaN
    out = torch.randn(64, 2)
    v_out, v_y, v_mask = entire_space_view(FUNNEL, out, y, mask)
    torch.testing.assert_close(v_out[:, 0], out[:, 0])
    torch.testing.assert_close(torch.sigmoid(v_out[:, 1]), torch.sigmoid(out[:, 0]) * torch.sigmoid(out[:, 1]))
    assert torch.equal(v_mask[:, 1], mask[:, 0]) and torch.equal(v_y[:, 0], y[:, 0])
    assert torch.equal(v_y[:, 1], torch.nan_to_num(y[:, 1]) * y[:, 0])  # click·conversion, 0 without a click
    three = (*FUNNEL, TaskSpec("repeat", "binary", after="cvr"))
    out3 = torch.randn(64, 3)
    v3, _, m3 = entire_space_view(three, out3, torch.zeros(64, 3), torch.ones(64, 3, dtype=torch.bool))
    torch.testing.assert_close(torch.sigmoid(v3[:, 2]), torch.sigmoid(out3).prod(1))
    assert entire_space_view(PLAIN, out, y, mask)[0] is out


@pytest.mark.parametrize("name", ["esmm", "aitm"])
def test_the_conversion_output_learns_from_unclicked_impressions(name):
    """ESMM's point: pCVR gets a gradient from impressions without a click (through pCTR·pCVR), which the
    plain masked loss never gives it."""
    model = build(name)
    x_num, x_cat, y, mask = batch()
    unclicked = ~mask[:, 1]
    out = model(x_num[unclicked], x_cat[unclicked])
    plain = masked_task_losses(out, y[unclicked], mask[unclicked], BINARY)
    assert float(plain[1].detach()) == 0.0
    entire = model.task_losses(out, y[unclicked], mask[unclicked], BINARY)
    assert float(entire[1].detach()) > 0
    last = model.nets.bank.layers[-1] if name == "esmm" else model.heads
    grad = torch.autograd.grad(entire[1], last.weight)[0]
    assert grad[1].abs().sum() > 0  # the conversion network's output layer


def test_task_losses_is_the_masked_loss_for_every_other_model():
    model = build_model("mmoe", INPUTS, FUNNEL, make_config("mmoe", dict(n_experts=2, expert=(8,), tower=(4,))), SharedConfig(emb_dim=4))
    x_num, x_cat, y, mask = batch()
    out = model(x_num, x_cat)
    torch.testing.assert_close(model.task_losses(out, y, mask, BINARY), masked_task_losses(out, y, mask, BINARY))


# ------------------------------------------------------------------ structure
def _changes(model, perturb) -> set[int]:
    x_num, x_cat, _, _ = batch()
    model.eval()
    with torch.no_grad():
        before = model(x_num, x_cat)
        perturb(model)
        diff = (model(x_num, x_cat) - before).abs().amax(0)
    return {k for k in range(before.shape[1]) if diff[k] > 1e-5}


def test_esmm_networks_are_separate_and_share_the_embeddings():
    model = build("esmm")

    def net(k):
        return lambda m: [layer.weight[k].add_(0.5) for layer in m.nets.bank.layers]

    assert _changes(model, net(0)) == {0}
    assert _changes(model, net(1)) == {1}
    assert _changes(model, lambda m: m.encoder.embedding.weight.add_(0.5)) == {0, 1}


def test_aitm_transfers_information_forward_only():
    model = build("aitm", tasks=(TaskSpec("a", "binary"), TaskSpec("b", "binary"), TaskSpec("c", "binary")))

    def tower(k):
        return lambda m: m.towers.layers[0].weight[k].add_(0.5)

    assert _changes(model, tower(0)) == {0, 1, 2}
    assert _changes(model, tower(1)) == {1, 2}
    assert _changes(model, tower(2)) == {2}
    assert _changes(model, lambda m: m.transfer.weight[1].add_(0.5)) == {2}


def test_aitm_attention_mixes_the_transferred_and_the_own_representation():
    model = build("aitm")
    g = torch.Generator().manual_seed(3)
    z_prev, q = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    p = torch.relu(z_prev @ model.transfer.weight[0] + model.transfer.bias[0])
    w, b = model.attention.weight, model.attention.bias
    h1, h2, h3 = ([u @ w[c] + b[c] for u in (p, q)] for c in range(3))
    scores = torch.stack([(h1[i] * h2[i]).sum(-1) for i in range(2)]) / 8 ** 0.5  # [2, B]
    att = torch.softmax(scores, 0)
    expected = att[0, :, None] * h3[0] + att[1, :, None] * h3[1]
    torch.testing.assert_close(model.ait(1, z_prev, q), expected)


def test_aitm_outputs_the_conditional_and_trains_the_end_to_end_probability():
    model = build("aitm")
    x_num, x_cat, y, mask = batch()
    out = model(x_num, x_cat)
    logits = model._logits  # l_1, l_2
    below = logits[:, 1] < logits[:, 0] - 1e-3
    assert below.any()
    joint = torch.sigmoid(out[:, 0]) * torch.sigmoid(out[:, 1])
    torch.testing.assert_close(joint[below], torch.sigmoid(logits[below, 1]), atol=1e-5, rtol=1e-4)
    v_out, _, _ = model.loss_view(out, y, mask)
    torch.testing.assert_close(v_out[below, 1], logits[below, 1], atol=1e-4, rtol=1e-4)


def test_aitm_calibrator_goes_through_aux_loss():
    model = build("aitm", calibrator=0.6)
    x_num, x_cat, _, _ = batch()
    model(x_num, x_cat)
    p = torch.sigmoid(model._logits)
    torch.testing.assert_close(model.aux_loss(), 0.6 * F.relu(p[:, 1] - p[:, 0]).mean())
    with torch.no_grad():  # a conversion head far above the click head: the calibrator pulls it down
        model.heads.bias[1].fill_(5.0)
        model.heads.bias[0].fill_(-5.0)
    model(x_num, x_cat)
    aux = model.aux_loss()
    assert aux > 0.5
    aux.backward()
    assert model.heads.bias.grad[1].item() > 0 and model.heads.bias.grad[0].item() < 0
    plain = build("aitm", tasks=PLAIN)
    plain(x_num, x_cat)
    assert float(plain.aux_loss()) == 0.0  # no funnel step, no calibrator
    assert float(build("aitm", calibrator=0.0).aux_loss()) == 0.0


def test_fit_trains_through_the_models_loss_view(monkeypatch):
    from mtlbench.train import TrainConfig, fit

    data = load_suite("funnel[n_train=3000,n_val=3000,n_test=3000]", get_profile("quick"))
    model = build_model("esmm", data.inputs, data.tasks, make_config("esmm", dict(hidden=(8,))), SharedConfig(emb_dim=4))
    calls = []
    original = type(model).loss_view
    monkeypatch.setattr(type(model), "loss_view", lambda self, *a: calls.append(1) or original(self, *a))
    fit(model, data, TrainConfig(max_epochs=1, batch_size=1024), seed=0, device=torch.device("cpu"), evaluate_test=False)
    assert calls
