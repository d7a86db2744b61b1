"""Modules: registration, state_dict, BN modes, init, containers, roles, policy plumbing, learning."""
from collections import OrderedDict

import numpy as np
import pytest

import dfpengine as dfp
from dfpengine import nn, precision
from dfpengine.nn import functional as F


def count(module):
    return sum(p.numel() for p in module.parameters())


def small_net():
    return nn.Sequential(OrderedDict([
        ("features", nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())),
        ("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", nn.Linear(4, 2))]))


def test_parameter_counts():
    assert count(nn.Conv2d(3, 16, 3)) == 448
    assert count(nn.Conv2d(3, 16, 3, bias=False)) == 432
    assert count(nn.Linear(10, 5)) == 55
    assert count(nn.BatchNorm2d(8)) == 16 and count(nn.BatchNorm2d(8, affine=False)) == 0


def test_state_dict_uses_dotted_pytorch_names():
    assert list(small_net().state_dict()) == [
        "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
        "features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked",
        "fc.weight", "fc.bias"]
    assert small_net().state_dict()["features.1.num_batches_tracked"].dtype == np.int64


def test_load_state_dict_round_trip_copies_in_place():
    a, b = small_net(), small_net()
    weight = b.fc.weight
    assert b.load_state_dict(a.state_dict()) == ([], [])
    assert b.fc.weight is weight
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x, y, err_msg=name)


def test_load_state_dict_strict_reports_every_problem_at_once():
    net = small_net()
    sd = net.state_dict()
    del sd["fc.bias"], sd["features.1.running_var"]
    sd["extra.weight"] = np.zeros(1)
    sd["fc.weight"] = np.zeros((3, 4), np.float32)
    before = net.features[0].weight.numpy().copy()
    sd["features.0.weight"] = before + 1
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    message = str(info.value)
    for key in ("fc.bias", "features.1.running_var", "extra.weight", "size mismatch for fc.weight"):
        assert key in message
    np.testing.assert_array_equal(net.features[0].weight.numpy(), before)  # nothing half-loaded
    del sd["fc.weight"]
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert missing == ["features.1.running_var", "fc.weight", "fc.bias"] and unexpected == ["extra.weight"]
    np.testing.assert_array_equal(net.features[0].weight.numpy(), before + 1)


def test_registration_traversal_and_buffers():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(2, 2)
            self.scale = nn.Parameter(np.ones(1))
            self.register_buffer("steps", dfp.zeros(1))
            self.register_buffer("scratch", dfp.zeros(1), persistent=False)
            self.note = "plain attribute"
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["scale", "body.weight", "body.bias"]
    assert [n for n, _ in net.named_buffers()] == ["steps", "scratch"]
    assert "scratch" not in net.state_dict() and "steps" in net.state_dict()
    assert [n for n, _ in net.named_modules()] == ["", "body"] and list(net.children()) == [net.body]
    net.body = None
    assert count(net) == 1
    with pytest.raises(TypeError):
        net.scale = np.zeros(1)


def test_train_eval_recurse_and_zero_grad():
    net = small_net()
    assert net.eval() is net and not net.features[1].training
    assert net.train().features[1].training
    F.cross_entropy(net(dfp.randn(2, 3, 4, 4)), dfp.tensor([0, 1])).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_batch_norm_train_updates_running_stats_and_eval_uses_them():
    bn = nn.BatchNorm2d(3, momentum=0.25)
    x = dfp.randn(4, 3, 2, 2) * 3 + 1
    y = bn(x).numpy()
    xs = x.numpy().astype(np.float64)
    mean, var = xs.mean((0, 2, 3)), xs.var((0, 2, 3))
    np.testing.assert_allclose(y.mean((0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.25 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.75 + 0.25 * var * 16 / 15, rtol=1e-5)
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    rm, rv = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    expected = (xs - rm[None, :, None, None]) / np.sqrt(rv[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(bn(x).numpy(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(bn.running_mean.numpy(), rm)


def test_batch_norm_cumulative_average_and_no_running_stats():
    bn = nn.BatchNorm1d(2, momentum=None)
    a, b = dfp.randn(5, 2), dfp.randn(5, 2)
    bn(a), bn(b)
    expected = (a.numpy().mean(0) + b.numpy().mean(0)) / 2
    np.testing.assert_allclose(bn.running_mean.numpy(), expected, rtol=1e-5, atol=1e-6)
    free = nn.BatchNorm2d(2, track_running_stats=False).eval()
    assert "running_mean" not in free.state_dict()
    np.testing.assert_allclose(free(dfp.randn(3, 2, 2, 2)).numpy().mean((0, 2, 3)), 0, atol=1e-5)


def test_init_bounds_follow_pytorch():
    conv = nn.Conv2d(4, 8, 3)
    bound = 1 / np.sqrt(4 * 9)
    assert np.abs(conv.weight.numpy()).max() <= bound and np.abs(conv.weight.numpy()).max() > 0.8 * bound
    assert np.abs(conv.bias.numpy()).max() <= bound


def test_dropout_scales_in_training_and_is_identity_in_eval():
    drop = nn.Dropout(0.25)
    x = dfp.ones(1000)
    y = drop(x).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)} and 0.6 < (y > 0).mean() < 0.9
    assert drop.eval()(x) is x


def test_sequential_and_module_list_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear) and len(seq[:2]) == 2
    assert seq(dfp.randn(4, 2)).shape == (4, 1)
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]


def test_assign_layer_roles_marks_first_and_last():
    net = nn.utils.assign_layer_roles(small_net())
    assert (net.features[0].role, net.features[0].name) == ("first", "features.0")
    assert (net.fc.role, net.fc.name) == ("last", "fc")
    assert nn.Linear(1, 1).role == "other"


def test_layers_ask_the_policy_for_every_pass():
    class Recorder(precision.Policy):
        name = "recorder"

        def __init__(self):
            self.asked = []

        def gemm_format(self, layer, pass_):
            self.asked.append((layer.name, pass_))
            return None
    net = nn.utils.assign_layer_roles(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 1)))
    with precision.use(Recorder()) as policy:
        net(dfp.randn(1, 1, 3, 3)).sum().backward()
    assert policy.asked == [("0", p) for p in precision.PASSES] + [("2", p) for p in precision.PASSES]


def train(model, x, y, steps, lr):
    opt = dfp.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_mlp_learns_a_separable_problem():
    dfp.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)  # XOR-like: needs the hidden layer
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
    losses = train(model, dfp.tensor(x), dfp.tensor(y), 50, 0.1)
    assert losses[-1] < 0.3 * losses[0]


def test_conv_net_learns_a_separable_problem():
    dfp.manual_seed(0)
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 32)
    x = rng.standard_normal((32, 1, 6, 6)).astype(np.float32) * 0.5
    x[y == 1, :, :, :3] += 1.0  # class 1 is bright on the left half
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(36, 2))
    losses = train(model, dfp.tensor(x), dfp.tensor(y), 50, 0.05)
    assert losses[-1] < 0.2 * losses[0]
    model.eval()
    with dfp.no_grad():
        assert (model(dfp.tensor(x)).argmax(1).numpy() == y).mean() > 0.9


@pytest.mark.parametrize("shape,stride,before,after", [
    ((2, 3, 8, 8), 2, 1, 2), ((3, 16, 32, 32), 2, 8, 8), ((1, 4, 7, 9), 3, 0, 5), ((2, 5, 5, 6), 1, 2, 0),
    ((2, 2, 1, 1), 2, 0, 0)])
def test_subsample_pad_equals_slicing_then_pad(isa_threads, shape, stride, before, after):
    """The fused option-A shortcut gives the numbers of slicing then `pad`, forward and
    backward, at every ISA and thread count (odd sizes, stride 1 and 3, no padding)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape, dtype=np.float32)
    fused_in, ref_in = dfp.tensor(x, requires_grad=True), dfp.tensor(x, requires_grad=True)
    fused = F.subsample_pad(fused_in, stride, before, after)
    ref = F.pad(ref_in[:, :, ::stride, ::stride], (0, 0, 0, 0, before, after))
    np.testing.assert_array_equal(fused.numpy(), ref.numpy())
    g = rng.standard_normal(fused.shape, dtype=np.float32)
    fused.backward(g)
    ref.backward(g)
    np.testing.assert_array_equal(fused_in.grad.numpy(), ref_in.grad.numpy())
    for bad in ((0, 0, 0), (2, -1, 0), (2, 0, 1.5)):
        with pytest.raises(ValueError, match="subsample_pad"):
            F.subsample_pad(dfp.tensor(x), *bad)
    with pytest.raises(ValueError, match="NCHW"):
        F.subsample_pad(dfp.tensor(x[0]), stride, before, after)
    from dfpengine import _native
    with pytest.raises(ValueError, match="subsample_pad_backward: expected stride >= 1"):
        _native.subsample_pad_backward(g, shape, 0, before, after)


def test_pad_matches_numpy_and_checks_its_argument():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    y = F.pad(dfp.tensor(x), (1, 2, 0, 1), value=-1.0).numpy()
    np.testing.assert_array_equal(y, np.pad(x, ((0, 0), (0, 1), (1, 2)), constant_values=-1.0))
    for bad in ((1,), (1, -1), (1, 2, 3, 4, 5, 6, 7, 8), (1.5, 1)):
        with pytest.raises(ValueError, match="pad"):
            F.pad(dfp.tensor(x), bad)
