"""The low-precision presets execute: fp8 / hbfp* / boosters GEMMs and convs go
through their formats (equal to the format oracles), and a tiny conv net trains
a step under each preset close to, but not identical with, FP32."""
import numpy as np
import pytest

import dfpengine
from dfpengine import _native, nn, precision
from dfpengine._native import _lowp_streams, reference as ref
from dfpengine.formats import FormatSpec, GemmFormat, floats, hbfp
from dfpengine.nn import functional as F

FLOAT_TAGS = ("fp8", "fp16_169", "binary16", "bf16")
BLOCK_TAGS = ("hbfp8", "hbfp6", "hbfp4", "mx")


def rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("tag", FLOAT_TAGS)
@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, True)])
def test_float_gemm_is_the_fpemu_oracle(tag, trans_a, trans_b):
    fmt = precision.gemm_format_for(tag)
    a, b = rand((33, 150), 0), rand((150, 17), 1)
    _lowp_streams.reset()                          # call 0 uses the oracle's streams
    got = _native.gemm(a.T.copy() if trans_a else a, b.T.copy() if trans_b else b, trans_a, trans_b, fmt=fmt)
    np.testing.assert_array_equal(got, floats.gemm_fp8(a, b, fmt=fmt))
    assert not np.array_equal(got, a @ b)


@pytest.mark.parametrize("tag", BLOCK_TAGS)
@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, True)])
def test_block_gemm_is_the_integer_reference(tag, trans_a, trans_b):
    fmt = precision.gemm_format_for(tag)
    a, b_t = rand((33, 150), 2), rand((17, 150), 3)
    _lowp_streams.reset()
    got = _native.gemm(a.T.copy() if trans_a else a, b_t if trans_b else b_t.T.copy(),
                       trans_a, trans_b, fmt=fmt)
    np.testing.assert_array_equal(got, hbfp.gemm_reference(a, b_t, fmt.a))
    assert not np.allclose(got, a @ b_t.T, rtol=0, atol=1e-5)


def test_block_gemm_wide_mantissas_use_exact_int64_sums():
    # 15 magnitude bits, blocks of 64: 64 * (2^15 - 1)^2 overflows INT32
    from dfpengine._native import _emu
    k = np.full((2, 128), 32767, np.int16)
    s = np.zeros((2, 2), np.int32)
    np.testing.assert_array_equal(_emu.gemm_bfp(k, s, k, s, 64), np.float32(128 * 32767 ** 2))


@pytest.mark.parametrize("tag", ["hbfp4", "fp8"])
def test_stochastic_rounding_takes_fresh_streams_per_call(tag):
    fmt = precision.gemm_format_for(tag)
    if tag == "fp8":
        fmt = floats.fp8_gemm_format(rounding="stochastic")
    a, b = rand((8, 128), 8), rand((128, 8), 9)
    _lowp_streams.reset()
    first, second = _native.gemm(a, b, fmt=fmt), _native.gemm(a, b, fmt=fmt)
    assert not np.array_equal(first, second)
    _lowp_streams.reset()
    np.testing.assert_array_equal(_native.gemm(a, b, fmt=fmt), first)


def conv_oracle_gemm(tag):
    if tag in FLOAT_TAGS:
        return lambda a, b_t, fmt: floats.gemm_fp8(a, b_t, trans_b=True, fmt=fmt)
    return lambda a, b_t, fmt: hbfp.gemm_reference(a, b_t, fmt.a)


@pytest.mark.parametrize("tag", ["fp8", "hbfp8", "hbfp4"])
def test_conv_passes_are_the_gemm_oracle_on_im2col(tag):
    fmt, oracle = precision.gemm_format_for(tag), conv_oracle_gemm(tag)
    x, w = rand((2, 8, 7, 7), 4), rand((6, 8, 3, 3), 5)
    geom = ((2, 2), (1, 1), (1, 1))
    _, _, _, (n, o, oh, ow) = ref._conv_geometry(x.shape, w.shape, *geom)
    cols = ref._im2col(x, 3, 3, *geom, oh, ow)                          # (n*oh*ow, c*9)
    dy = rand((n, o, oh, ow), 6)
    dy_rows = np.ascontiguousarray(dy.transpose(0, 2, 3, 1).reshape(-1, o))
    same = np.testing.assert_array_equal           # bit-identical to the GEMM oracle
    _lowp_streams.reset()                          # each pass is one GEMM: call 0
    y = _native.conv2d_forward(x, w, None, *geom, fmt=fmt)
    w2 = w.reshape(o, -1)
    same(y.transpose(0, 2, 3, 1).reshape(-1, o), oracle(cols, w2, fmt))
    _lowp_streams.reset()
    dw = _native.conv2d_backward_weight(x, dy, w.shape, *geom, fmt=fmt)
    dy_t, cols_t = dy_rows.T.copy(), cols.T.copy()
    same(dw.reshape(o, -1), oracle(dy_t, cols_t, fmt))
    _lowp_streams.reset()
    dx = _native.conv2d_backward_data(dy, w, x.shape, *geom, fmt=fmt)
    # bprop: dcols^T = W^T @ dY^T, operands swapped (a = weight, b = dy), then col2im
    swapped = GemmFormat(FormatSpec(fmt.b.name, fmt.b.rounding, fmt.a.params), fmt.a)
    dcols = oracle(w2.T.copy(), dy_rows, swapped).T.reshape(n, oh, ow, -1)
    same(dx, col2im(dcols, x.shape, 3, 3, *geom))
    assert dx.shape == x.shape and np.isfinite(dx).all()
    assert not np.allclose(dx, ref.conv2d_backward_data(dy, w, x.shape, *geom), rtol=0, atol=1e-6)


def col2im(dcols, x_shape, kh, kw, stride, padding, dilation):
    """numpy col2im of dcols (n, oh, ow, c*kh*kw): overlapping taps added in FP32."""
    n, c, h, wd = x_shape
    oh, ow = dcols.shape[1:3]
    dcols = dcols.reshape(n, oh, ow, c, kh, kw)
    dxp = np.zeros((n, c, h + 2 * padding[0], wd + 2 * padding[1]), np.float32)
    for (i, j), rows, columns in ref._tap_slices(kh, kw, stride, padding, dilation, oh, ow):
        dxp[:, :, rows, columns] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + wd]


@pytest.mark.parametrize("geom", [((1, 1), (1, 1), (1, 1)), ((2, 1), (0, 2), (1, 2)), ((1, 1), (0, 0), (1, 1))])
def test_batch_im2col_col2im_match_numpy(geom):
    from dfpengine._native import _emu
    x = rand((3, 5, 9, 8), 10)
    _, _, _, (n, o, oh, ow) = ref._conv_geometry(x.shape, (4, 5, 3, 3), *geom)
    cols_t = _emu.im2col(x, 3, 3, *geom, oh, ow)
    np.testing.assert_array_equal(cols_t.T, ref._im2col(x, 3, 3, *geom, oh, ow))
    dcols = rand((n * oh * ow, 5 * 9), 11)
    dx = _emu.col2im(dcols.T.copy(), x.shape, 3, 3, *geom)
    np.testing.assert_allclose(dx, col2im(dcols.reshape(n, oh, ow, -1), x.shape, 3, 3, *geom), rtol=1e-6, atol=1e-6)


def tiny_net():
    dfpengine.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
                        nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))
    return nn.utils.assign_layer_roles(net)


def policy(name, epoch=0, total_epochs=10):
    """The preset at `epoch` of `total_epochs` (the default progress, epoch 0 of 1, is
    the last epoch, where boosters switch everything to HBFP6)."""
    p = precision.preset(name)
    p.set_progress(epoch=epoch, total_epochs=total_epochs)
    return p


def step(preset):
    preset = policy(preset) if isinstance(preset, str) else preset
    net = tiny_net()
    x = dfpengine.from_numpy(rand((4, 3, 8, 8), 7))
    y = dfpengine.from_numpy(np.array([0, 1, 2, 3]))
    with precision.use(preset):
        logits = net(x)
        F.cross_entropy(logits, y).backward()
    return logits.numpy(), [p.grad.numpy() for p in net.parameters()]


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# relative L2 error vs FP32 allowed per preset: logits, and each parameter gradient.
# Measured (seed 0): logits fp8 0.009, hbfp8 0.0025, hbfp4 0.04, boosters 0.018; worst
# gradient (first conv weight, dy has passed every quantised bprop, batch of 4)
# 0.24 / 0.14 / 0.67 / 0.48. Limits are about 2x those.
TOLERANCE = {"fp8": (0.03, 0.5), "hbfp8": (0.01, 0.3), "hbfp4": (0.1, 1.3), "boosters": (0.04, 1.0)}


@pytest.mark.parametrize("preset", sorted(TOLERANCE))
def test_preset_step_close_to_fp32_but_not_equal(preset):
    logits32, grads32 = step("fp32")
    logits, grads = step(preset)
    tol_y, tol_g = TOLERANCE[preset]
    assert 0 < rel(logits, logits32) < tol_y
    for g, g32 in zip(grads, grads32):
        assert np.isfinite(g).all() and rel(g, g32) < tol_g
    assert any(not np.array_equal(g, g32) for g, g32 in zip(grads, grads32))


def test_fewer_mantissa_bits_give_larger_errors():
    logits32, grads32 = step("fp32")
    err = {p: np.mean([rel(g, g32) for g, g32 in zip(step(p)[1], grads32)])
           for p in ("hbfp8", "boosters", "hbfp4")}
    assert err["hbfp8"] < err["boosters"] < err["hbfp4"]


def test_boosters_run_hbfp6_at_the_edges_and_hbfp4_inside(monkeypatch):
    seen = []
    real = _native._quantized

    def recording(fn, fmt):
        seen.append((fn, fmt.a.name, fmt.b.name))
        return real(fn, fmt)
    monkeypatch.setattr(_native, "_quantized", recording)
    step("boosters")
    # 4 GEMM layers (first conv, 2 inner convs, last linear); first has no bprop (input grad unused)
    tags = [t for _, t, _ in seen]
    assert all(a == b for _, a, b in seen)
    convs = [(fn, t) for fn, t, _ in seen if fn.startswith("conv2d")]
    gemms = [t for fn, t, _ in seen if fn == "gemm"]
    assert set(gemms) == {"hbfp6"}                                     # the last layer (Linear)
    assert ("conv2d_forward", "hbfp6") in convs and ("conv2d_forward", "hbfp4") in convs
    assert [t for fn, t in convs if fn == "conv2d_forward"] == ["hbfp6", "hbfp4", "hbfp4"]
    assert set(tags) == {"hbfp4", "hbfp6"}
    seen.clear()
    step(policy("boosters", epoch=9))                                   # last epoch: all HBFP6
    assert {t for _, t, _ in seen} == {"hbfp6"}


def test_fp8_keeps_first_and_last_layers_16_bit(monkeypatch):
    seen = []
    real = _native._quantized
    monkeypatch.setattr(_native, "_quantized", lambda fn, fmt: seen.append((fn, fmt.a.name)) or real(fn, fmt))
    step("fp8")
    assert [t for fn, t in seen if fn == "conv2d_forward"] == ["fp16_169", "fp8", "fp8"]
    assert {t for fn, t in seen if fn == "gemm"} == {"fp16_169"}
