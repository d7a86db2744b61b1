"""DFP16 convolution and linear passes against FP32: FPROP, BPROP and WTGRAD
agree within the quantisation error bound (each operand off by at most half an
ulp for nearest, one ulp for stochastic; propagated through the bilinear
product with absolute values), and are bit-identical across ISAs and threads."""
import numpy as np
import pytest

from dfpengine import _native, formats, precision
from dfpengine._native import _int, reference as ref

GEOMS = [  # x shape, w shape, stride, padding, dilation
    ((2, 3, 9, 11), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1)),
    ((3, 5, 12, 10), (6, 5, 3, 2), (2, 1), (0, 1), (1, 2)),
    ((2, 8, 7, 7), (16, 8, 1, 1), (1, 1), (0, 0), (1, 1)),
]


@pytest.fixture(autouse=True)
def _restore_dispatch():
    isa, threads = _native.isa_selected(), _native.get_num_threads()
    yield
    _native.select_isa(isa)
    _native.set_num_threads(threads)


def _ulp_err(t, rounding):
    _, e = _int.quantize_dfp16(t)
    return np.full(t.shape, (0.5 if rounding == "nearest" else 1.0) * 2.0 ** e, np.float32)


def _bound(f, u, v, ru, rv):
    """|f(u', v') - f(u, v)| for a bilinear f, |u' - u| <= du, |v' - v| <= dv."""
    du, dv = _ulp_err(u, ru), _ulp_err(v, rv)
    au, av = np.abs(u), np.abs(v)
    return f(du, av) + f(au, dv) + f(du, dv) + 1e-5 * f(au, av) + 1e-7


def _data(xs, ws, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws).astype(np.float32)


@pytest.mark.parametrize("geom", GEOMS)
def test_conv_passes_within_quantisation_bound(geom):
    xs, ws, st, pad, dil = geom
    x, w = _data(xs, ws)
    pol = precision.preset("dfp16")
    fp, bp, wg = (pol.gemm_format(None, p) for p in precision.PASSES)
    y = _int.conv2d_forward_quantized(x, w, None, st, pad, dil, fmt=fp)
    conv = lambda u, v: ref.conv2d_forward(u, v, None, st, pad, dil)
    assert np.all(np.abs(y - conv(x, w)) <= _bound(conv, x, w, "nearest", "nearest"))

    dy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    dx = _int.conv2d_backward_data_quantized(dy, w, xs, st, pad, dil, fmt=bp)
    bdata = lambda g, v: ref.conv2d_backward_data(g, v, xs, st, pad, dil)
    assert np.all(np.abs(dx - bdata(dy, w)) <= _bound(bdata, dy, w, "stochastic", "nearest"))

    dw = _int.conv2d_backward_weight_quantized(x, dy, ws, st, pad, dil, fmt=wg)
    bw = lambda g, u: ref.conv2d_backward_weight(u, g, ws, st, pad, dil)
    assert np.all(np.abs(dw - bw(dy, x)) <= _bound(bw, dy, x, "stochastic", "nearest"))


def test_linear_passes_within_quantisation_bound():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 100)).astype(np.float32)
    w = rng.standard_normal((10, 100)).astype(np.float32)
    g = rng.standard_normal((32, 10)).astype(np.float32)
    pol = precision.preset("dfp16")
    fp, bp, wg = (pol.gemm_format(None, p) for p in precision.PASSES)
    mm = lambda u, v: u @ v
    y = _int.gemm_quantized(x, w, trans_b=True, fmt=fp)
    assert np.all(np.abs(y - x @ w.T) <= _bound(lambda u, v: u @ v.T, x, w, "nearest", "nearest"))
    dx = _int.gemm_quantized(g, w, fmt=bp)
    assert np.all(np.abs(dx - g @ w) <= _bound(mm, g, w, "stochastic", "nearest"))
    dw = _int.gemm_quantized(g, x, trans_a=True, fmt=wg)
    assert np.all(np.abs(dw - g.T @ x) <= _bound(lambda u, v: u.T @ v, g, x, "stochastic", "nearest"))


def test_conv_bit_identical_across_isas_and_threads():
    xs, ws, st, pad, dil = GEOMS[1]
    x, w = _data(xs, ws, seed=4)
    fmt = precision.preset("dfp16").gemm_format(None, "wtgrad")
    dy = np.random.default_rng(5).standard_normal(ref.conv2d_forward(x, w, None, st, pad, dil).shape).astype(np.float32)
    outs = []
    for isa in _native.isa_supported():
        for threads in (1, 2):
            _native.select_isa(isa)
            _native.set_num_threads(threads)
            _int._stream[0] = 7
            outs.append((_int.conv2d_forward_quantized(x, w, None, st, pad, dil, fmt=fmt),
                         _int.conv2d_backward_data_quantized(dy, w, xs, st, pad, dil, fmt=fmt),
                         _int.conv2d_backward_weight_quantized(x, dy, ws, st, pad, dil, fmt=fmt)))
    for o in outs[1:]:
        for a, b in zip(o, outs[0]):
            assert np.array_equal(a.view(np.uint32), b.view(np.uint32))


def test_wtgrad_on_kept_fprop_codes_is_bit_identical(monkeypatch):
    """WTGRAD reads the codes FPROP kept for x (an int16 re-pairing, no second
    quantisation); the weights after two training steps equal those of a run that
    re-quantises x in WTGRAD, bit for bit, and the kept path did run."""
    import dfpengine
    from dfpengine import model_zoo, nn, optim
    from dfpengine.tensor import Tensor
    calls = []
    real = _int.conv2d_backward_weight_quantized

    def spy(*args, cache=None, **kw):
        calls.append(bool(cache and "dfp16_input" in cache))
        if cache:  # dy's codes kept by BPROP (other draws): tested in test_dfp16_conv_kernels
            cache.pop("dfp16_grad", None)
        return real(*args, cache=cache, **kw)

    def run(keep):
        monkeypatch.setattr(_int, "conv2d_backward_weight_quantized", spy)
        if not keep:
            monkeypatch.setattr(_native, "_cache_kw", lambda fmt, cache: {})
        rng = np.random.default_rng(0)
        dfpengine.manual_seed(0)
        model = model_zoo.create("resnet20", 10, 3, 16)
        nn.utils.assign_layer_roles(model)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        policy = precision.preset("dfp16")
        with precision.use(policy):
            for step in range(2):
                policy.set_progress(step=step)
                # odd batch: the last image pair of the WTGRAD layouts misses an image
                x = Tensor(rng.standard_normal((5, 3, 16, 16)).astype(np.float32))
                loss = nn.functional.cross_entropy(model(x), rng.integers(0, 10, 5))
                opt.zero_grad()
                loss.backward()
                opt.step()
        monkeypatch.undo()
        return [p.numpy().copy() for p in model.parameters()]

    kept = run(True)
    assert any(calls) and all(calls[1:])   # every conv but the first (no grad for the input)
    calls.clear()
    fresh = run(False)
    assert not any(calls)
    for a, b in zip(kept, fresh):
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32))
