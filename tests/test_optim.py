"""SGD against hand-written PyTorch formulas; schedulers against their closed forms."""
import math

import numpy as np
import pytest

import dfpengine as dfp
from dfpengine import nn
from dfpengine.optim import SGD
from dfpengine.optim.lr_scheduler import CosineAnnealingLR, MultiStepLR, StepLR

GRADS = [np.array([0.5, -1.0, 2.0], np.float32), np.array([-0.25, 0.75, 1.0], np.float32),
         np.array([1.5, 0.5, -2.0], np.float32)]


def run_sgd(**options):
    p = nn.Parameter(np.array([1.0, -2.0, 3.0], np.float32))
    opt = SGD([p], **options)
    for g in GRADS:
        p.grad = dfp.tensor(g)
        opt.step()
    return p.numpy()


def by_hand(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    w, buf = np.array([1.0, -2.0, 3.0]), None
    for g in GRADS:
        d = g + weight_decay * w
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        w = w - lr * d
    return w


@pytest.mark.parametrize("options", [
    dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.05, momentum=0.9, dampening=0.5),
    dict(lr=0.1, momentum=0.8, nesterov=True), dict(lr=0.1, weight_decay=0.01),
    dict(lr=0.2, momentum=0.9, weight_decay=0.1, nesterov=True)])
def test_sgd_matches_pytorch_formulas(options):
    np.testing.assert_allclose(run_sgd(**options), by_hand(**options), rtol=1e-6)


def test_sgd_skips_params_without_grad_and_validates():
    p = nn.Parameter(np.ones(2))
    SGD([p], lr=1.0).step()
    np.testing.assert_array_equal(p.numpy(), [1, 1])
    with pytest.raises(ValueError, match="Nesterov"):
        SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="lr"):
        SGD([p], lr=-1)
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)


def test_param_groups_and_zero_grad():
    a, b = nn.Parameter(np.ones(1)), nn.Parameter(np.ones(1))
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    for p in (a, b):
        p.grad = dfp.ones(1)
    opt.step()
    np.testing.assert_allclose([a.item(), b.item()], [0.9, 0.0])
    opt.zero_grad(set_to_none=False)
    assert a.grad.item() == 0
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_optimizer_state_dict_round_trip():
    p = nn.Parameter(np.ones(3))
    opt = SGD([p], lr=0.1, momentum=0.9)
    p.grad = dfp.ones(3)
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0] and isinstance(sd["state"][0]["momentum_buffer"], np.ndarray)
    q = nn.Parameter(p.numpy().copy())
    other = SGD([q], lr=0.5, momentum=0.9)
    other.load_state_dict(sd)
    assert other.param_groups[0]["lr"] == 0.1
    for param, optimizer in ((p, opt), (q, other)):
        param.grad = dfp.ones(3)
        optimizer.step()
    np.testing.assert_array_equal(p.numpy(), q.numpy())
    sd["state"][0]["momentum_buffer"][0] = 99  # the saved copy is independent
    assert other.state[q]["momentum_buffer"][0] != 99
    with pytest.raises(ValueError, match="groups"):
        SGD([{"params": [p]}, {"params": [q]}], lr=0.1).load_state_dict(sd)


def lrs(scheduler_cls, epochs, **kwargs):
    opt = SGD([nn.Parameter(np.ones(1))], lr=0.5)
    sched = scheduler_cls(opt, **kwargs)
    seen = []
    for _ in range(epochs):
        seen.append(opt.param_groups[0]["lr"])
        assert sched.get_last_lr() == [seen[-1]]
        sched.step()
    return seen


def test_step_lr_sequence():
    assert lrs(StepLR, 7, step_size=3, gamma=0.1) == pytest.approx(
        [0.5, 0.5, 0.5, 0.05, 0.05, 0.05, 0.005])


def test_multistep_lr_sequence():
    assert lrs(MultiStepLR, 7, milestones=[4, 2], gamma=0.5) == pytest.approx(
        [0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.125])


def test_cosine_annealing_sequence():
    expected = [0.01 + (0.5 - 0.01) * (1 + math.cos(math.pi * t / 5)) / 2 for t in range(6)]
    got = lrs(CosineAnnealingLR, 6, T_max=5, eta_min=0.01)
    assert got == pytest.approx(expected) and got[-1] == pytest.approx(0.01)


def test_scheduler_state_dict_resumes():
    opt = SGD([nn.Parameter(np.ones(1))], lr=1.0)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        sched.step()
    saved = sched.state_dict()
    assert "optimizer" not in saved and saved["last_epoch"] == 3
    opt2 = SGD([nn.Parameter(np.ones(1))], lr=1.0)
    resumed = StepLR(opt2, step_size=2, gamma=0.5)
    resumed.load_state_dict(saved)
    resumed.step()
    sched.step()
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 0.25
