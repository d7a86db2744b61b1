"""A tensor with two consumers (a ResNet block's input: conv1 and the residual) gets the sum
of their gradients. When the walk owns the first gradient (a new array from an op that
promises it), the conv's BPROP adds its dx into it in place instead of a separate pass.
These tests check the sum is the one the separate add gives, bit for bit, that the fusion
happens where it should, and that an array held elsewhere is never written."""
import numpy as np
import pytest

import dfpengine
from dfpengine import _native, nn, precision
from dfpengine._native import _int
from dfpengine.nn import functional as F


@pytest.fixture
def bprop_calls(monkeypatch):
    """Counts conv BPROP calls that add into a running total, and those that do not."""
    calls = {"add_into": 0, "plain": 0}
    original = _native.conv2d_backward_data

    def counting(*args, add_into=None, **kwargs):
        calls["plain" if add_into is None else "add_into"] += 1
        return original(*args, add_into=add_into, **kwargs)
    monkeypatch.setattr(_native, "conv2d_backward_data", counting)
    return calls


def _block_grad(preset, residual_through_mul, downsample=False, seed=0):
    """d/dx0 of sum(r * relu(bn(conv(h)) + s(h'))), h = relu(x0), h' = h (or h * 1: the same
    numbers through an op that makes no promise about its gradient arrays); s is the identity,
    or with `downsample` a stride-2 conv and ResNet's subsample-and-pad shortcut."""
    rng = np.random.default_rng(seed)
    x0 = dfpengine.tensor(rng.standard_normal((4, 8, 12, 12)).astype(np.float32), requires_grad=True)
    out_ch, stride = (16, 2) if downsample else (8, 1)
    conv = nn.Conv2d(8, out_ch, 3, stride=stride, padding=1, bias=False)
    conv.weight.numpy()[...] = rng.standard_normal(conv.weight.shape).astype(np.float32) * 0.2
    bn = nn.BatchNorm2d(out_ch)
    r = rng.standard_normal((4, out_ch, 12 // stride, 12 // stride)).astype(np.float32)
    _int._stream[0] = 0  # unkeyed GEMMs take stochastic-rounding streams from this counter
    with precision.use(precision.preset(preset)):
        h = F.relu(x0)
        res = h * 1.0 if residual_through_mul else h
        if downsample:
            res = F.subsample_pad(res, 2, 4, 4)
        y = bn(conv(h), relu=True, residual=res)
        (y * dfpengine.tensor(r)).sum().backward()
    return x0.grad.numpy().copy(), conv.weight.grad.numpy().copy()


@pytest.mark.parametrize("preset", ["fp32", "dfp16"])
@pytest.mark.parametrize("downsample", [False, True])
def test_conv_adds_into_the_residual_gradient_bit_for_bit(preset, downsample, bprop_calls):
    fused = _block_grad(preset, residual_through_mul=False, downsample=downsample)
    assert bprop_calls == {"add_into": 1, "plain": 0}
    separate = _block_grad(preset, residual_through_mul=True, downsample=downsample)
    assert bprop_calls == {"add_into": 1, "plain": 1}
    for a, b in zip(fused, separate):
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32))


def test_a_gradient_held_by_another_consumer_is_not_added_into(bprop_calls):
    """out = conv(h) + h: add's backward hands the same array g to both parents, so g is
    both the conv's dy and h's first gradient; adding into it would corrupt the conv."""
    rng = np.random.default_rng(1)
    x0 = dfpengine.tensor(rng.standard_normal((2, 4, 8, 8)).astype(np.float32), requires_grad=True)
    w = dfpengine.tensor(rng.standard_normal((4, 4, 3, 3)).astype(np.float32), requires_grad=True)
    g = rng.standard_normal((2, 4, 8, 8)).astype(np.float32)
    h = F.relu(x0)
    (F.conv2d(h, w, padding=1) + h).backward(g)
    assert bprop_calls == {"add_into": 0, "plain": 1}
    hv = np.maximum(x0.numpy(), 0)
    dh = g + _native.conv2d_backward_data(g, w.numpy(), hv.shape, (1, 1), (1, 1), (1, 1))
    assert np.array_equal(x0.grad.numpy(), np.where(x0.numpy() > 0, dh, 0))


def test_add_into_of_a_non_integer_format_adds_after_the_pass():
    """Formats without a fused add compute dx, then add it in place (rounded the same)."""
    rng = np.random.default_rng(2)
    dy = rng.standard_normal((2, 6, 5, 5)).astype(np.float32)
    w = rng.standard_normal((6, 3, 3, 3)).astype(np.float32)
    total = rng.standard_normal((2, 3, 7, 7)).astype(np.float32)
    dx = _native.conv2d_backward_data(dy, w, total.shape, (1, 1), (0, 0), (1, 1))
    into = total.copy()
    out = _native.conv2d_backward_data(dy, w, total.shape, (1, 1), (0, 0), (1, 1), add_into=into)
    assert out is into
    assert np.array_equal((total + dx).view(np.uint32), into.view(np.uint32))
    with pytest.raises(ValueError, match="add_into has shape"):
        _native.conv2d_backward_data(dy, w, total.shape, (1, 1), (0, 0), (1, 1),
                                     add_into=np.zeros((2, 3, 7, 6), np.float32))
