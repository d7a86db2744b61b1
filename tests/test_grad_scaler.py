"""Loss scaling (optim.GradScaler): static and dynamic, PyTorch-like surface."""
import numpy as np
import pytest

import dfpengine
from dfpengine import nn, precision
from dfpengine.nn import functional as F
from dfpengine.optim import SGD, GradScaler


def model_and_batch(seed=0):
    dfpengine.manual_seed(seed)
    net = nn.Linear(6, 3)
    rng = np.random.default_rng(seed)
    x = dfpengine.from_numpy(rng.standard_normal((5, 6)).astype(np.float32))
    y = dfpengine.from_numpy(np.array([0, 1, 2, 1, 0]))
    return net, x, y


def weights(net):
    return [p.numpy().copy() for p in net.parameters()]


def scaled_step(scaler, net, opt, x, y, poison=None):
    opt.zero_grad()
    scaler.scale(F.cross_entropy(net(x), y)).backward()
    if poison is not None:
        next(iter(net.parameters())).grad.numpy()[0, 0] = poison
    ran = scaler.step(opt)
    scaler.update()
    return ran


def test_scaled_backward_then_unscale_gives_the_plain_gradients():
    net, x, y = model_and_batch()
    F.cross_entropy(net(x), y).backward()
    plain = [p.grad.numpy().copy() for p in net.parameters()]
    opt = SGD(net.parameters(), lr=0.1)
    opt.zero_grad()
    scaler = GradScaler(init_scale=2.0 ** 12)
    scaler.scale(F.cross_entropy(net(x), y)).backward()
    assert not np.allclose(next(iter(net.parameters())).grad.numpy(), plain[0])
    scaler.unscale_(opt)
    for p, g in zip(net.parameters(), plain):
        np.testing.assert_array_equal(p.grad.numpy(), g)     # power-of-two scale: exact
    with pytest.raises(RuntimeError, match="already"):
        scaler.unscale_(opt)


@pytest.mark.parametrize("poison", [np.inf, -np.inf, np.nan])
def test_dynamic_backs_off_and_skips_the_step_on_overflow(poison):
    net, x, y = model_and_batch()
    opt = SGD(net.parameters(), lr=0.1)
    scaler = GradScaler(init_scale=1024.0, growth_interval=2)
    assert scaled_step(scaler, net, opt, x, y)                # clean: tracker 1
    before = weights(net)
    assert not scaled_step(scaler, net, opt, x, y, poison)     # skipped
    for w, w0 in zip(weights(net), before):
        np.testing.assert_array_equal(w, w0)
    assert scaler.get_scale() == 512.0
    assert scaled_step(scaler, net, opt, x, y)                 # tracker restarted at 0 -> 1
    assert scaler.get_scale() == 512.0
    assert any(not np.array_equal(w, w0) for w, w0 in zip(weights(net), before))


def test_dynamic_grows_after_growth_interval_clean_steps():
    net, x, y = model_and_batch()
    opt = SGD(net.parameters(), lr=0.01)
    scaler = GradScaler(init_scale=8.0, growth_factor=2.0, growth_interval=3)
    scales = []
    for _ in range(7):
        scaled_step(scaler, net, opt, x, y)
        scales.append(scaler.get_scale())
    assert scales == [8.0, 8.0, 16.0, 16.0, 16.0, 32.0, 32.0]


def test_static_scale_never_changes_but_inf_steps_are_skipped():
    net, x, y = model_and_batch()
    opt = SGD(net.parameters(), lr=0.1)
    scaler = GradScaler(init_scale=1000.0, dynamic=False, growth_interval=1)
    before = weights(net)
    assert not scaled_step(scaler, net, opt, x, y, np.inf)
    assert scaled_step(scaler, net, opt, x, y)
    assert scaler.get_scale() == 1000.0
    assert any(not np.array_equal(w, w0) for w, w0 in zip(weights(net), before))


def test_same_updates_as_unscaled_training():
    net_a, x, y = model_and_batch(3)
    net_b, _, _ = model_and_batch(3)
    opt_a, opt_b = SGD(net_a.parameters(), lr=0.1, momentum=0.9), SGD(net_b.parameters(), lr=0.1, momentum=0.9)
    scaler = GradScaler(init_scale=2.0 ** 8, growth_interval=2)
    for _ in range(4):
        opt_a.zero_grad()
        F.cross_entropy(net_a(x), y).backward()
        opt_a.step()
        scaled_step(scaler, net_b, opt_b, x, y)
    for wa, wb in zip(weights(net_a), weights(net_b)):
        np.testing.assert_array_equal(wa, wb)
    state = scaler.state_dict()
    other = GradScaler()
    other.load_state_dict(state)
    assert other.state_dict() == state and other.get_scale() == 2.0 ** 10


def test_bad_arguments():
    for kwargs in ({"init_scale": 0}, {"init_scale": float("inf")}, {"growth_factor": 1.0},
                   {"backoff_factor": 1.0}, {"growth_interval": 0}):
        with pytest.raises(ValueError):
            GradScaler(**kwargs)


def test_fp8_preset_uses_dynamic_loss_scaling():
    scaler = precision.preset("fp8").loss_scaler()
    assert isinstance(scaler, GradScaler) and scaler.dynamic
    assert scaler.get_scale() == precision.FP8_INIT_LOSS_SCALE
    for name in ("fp32", "dfp16", "hbfp8", "boosters"):
        assert precision.preset(name).loss_scaler() is None
    static = precision.SchedulePolicy("fp8_static", "fp8", loss_scale=512.0).loss_scaler()
    assert not static.dynamic and static.get_scale() == 512.0
