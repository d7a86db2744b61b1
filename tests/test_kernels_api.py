"""The public kernel entry points (dfpengine.kernels) and the stored forms of
formats.quantize for every tag the issues name: dfp16, fp8, fp16_169, fp16
(IEEE binary16), bf16, hbfp8/6/4, mxint8, mxfp8."""
import numpy as np
import pytest

from dfpengine import formats, kernels, nn, precision
from dfpengine.formats import floats, mx
from dfpengine.tensor import Tensor


def test_gemm_s16_is_exact_product_within_fp32_flush_error():
    rng = np.random.default_rng(0)
    a = rng.integers(-32767, 32768, (37, 300)).astype(np.int16)
    b = rng.integers(-32767, 32768, (300, 21)).astype(np.int16)
    st = {}
    got = kernels.gemm_s16(a, b, stats=st)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    absum = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    assert got.dtype == np.float32 and got.shape == (37, 21)
    assert st["flushes"] > 0 and st["chunk_len"] >= 2
    assert np.all(np.abs(got - exact) <= (st["flushes"] / got.size + 1) * 2.0 ** -24 * absum)


@pytest.mark.parametrize("value", [32767, -32767])
def test_gemm_s16_adversarial_k_2_20_never_wraps(value):
    k = 1 << 20
    a = np.full((2, k), value, np.int16)
    b = np.full((k, 3), 32767, np.int16)
    st = {}
    got = kernels.gemm_s16(a, b, stats=st)
    exact = float(k) * value * 32767.0
    # tolerance: an FP32 sum of the flushes (Higham: flushes per element * 2^-24 relative)
    flushes = st["flushes"] / got.size
    assert np.all(np.abs(got - exact) <= flushes * 2.0 ** -24 * abs(exact))
    assert np.sign(got).tolist() == [[np.sign(value)] * 3] * 2
    # a naive INT32 sum of the same products wraps
    naive = np.sum(np.full(k, value * 32767, np.int64)).astype(np.int32)
    assert np.sign(naive) != np.sign(exact) or abs(int(naive) - exact) > 1e9


def test_gemm_s16_bad_input():
    with pytest.raises(TypeError, match="int16"):
        kernels.gemm_s16(np.ones((2, 3), np.float32), np.ones((3, 2), np.int16))
    with pytest.raises(ValueError, match="inner dimensions"):
        kernels.gemm_s16(np.ones((2, 3), np.int16), np.ones((4, 2), np.int16))


def test_gemm_fp8_chunking_stops_swamping():
    rng = np.random.default_rng(1)
    a = np.abs(rng.standard_normal((4, 4096))).astype(np.float32)
    b = np.ones((4096, 2), np.float32)
    exact = floats.quantize(a, "fp8").astype(np.float64).sum(axis=1)[:, None]
    err1 = np.abs(kernels.gemm_fp8(a, b, chunk=1) - exact) / exact
    err64 = np.abs(kernels.gemm_fp8(a, b, chunk=64) - exact) / exact
    assert err1.min() > 0.05 and err64.max() < 0.01
    fmt = floats.fp8_gemm_format(acc="fp16_169", chunk=64)
    np.testing.assert_array_equal(kernels.gemm_fp8(a, b), floats.gemm_fp8(a, b, fmt=fmt))


def test_gemm_fp8_bad_input():
    a = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="chunk"):
        kernels.gemm_fp8(a, a.T.copy(), chunk=0)
    with pytest.raises(ValueError, match="unknown float format"):
        kernels.gemm_fp8(a, a.T.copy(), accumulator="fp12")
    with pytest.raises(TypeError, match="float32"):
        kernels.gemm_fp8(a.astype(np.float64), a.T.copy())


@pytest.mark.parametrize("rounding", ["nearest", "stochastic", "biased"])
def test_quantize_dfp16_stored_form(rounding):
    x = np.random.default_rng(2).standard_normal((16, 100)).astype(np.float32)
    q = formats.quantize(x, "dfp16", rounding=rounding, seed=0, shift=2)
    assert q.mantissa.dtype == np.int16 and q.mantissa.shape == x.shape
    assert isinstance(q.exponent, int)
    assert 2 ** 12 <= np.abs(q.mantissa).max() <= 2 ** 13        # headroom shift 2
    step = 2.0 ** q.exponent
    assert np.abs(q.dequantize() - x).max() <= (0.5 if rounding == "nearest" else 1.0) * step
    qc = formats.quantize(x, "dfp16", granularity="channel")
    assert np.shape(qc.exponent) == (16,)


def test_fp16_is_ieee_half_and_fp16_169_is_not():
    x = np.random.default_rng(3).standard_normal(1000).astype(np.float32) * 100
    np.testing.assert_array_equal(formats.quantize(x, "fp16").dequantize(), x.astype(np.float16).astype(np.float32))
    assert not np.array_equal(formats.quantize(x, "fp16_169").dequantize(), x.astype(np.float16).astype(np.float32))
    assert floats.float_format("fp16_169").max == (2 - 2 ** -9) * 2.0 ** 31


def test_mxint8_is_mx():
    x = np.random.default_rng(4).standard_normal((3, 96)).astype(np.float32)
    a, b = formats.quantize(x, "mxint8"), formats.quantize(x, "mx")
    np.testing.assert_array_equal(a.codes, b.codes)
    np.testing.assert_array_equal(a.dequantize(), b.dequantize())


def test_mxfp8_block_scale_and_e5m2_elements():
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((4, 70)) * np.exp2(rng.integers(-20, 20, (4, 1)))).astype(np.float32)
    q = formats.quantize(x, "mxfp8")
    assert q.codes.dtype == np.uint8 and q.scale_exp.shape == (4, 3) and q.block == 32
    y = q.dequantize()
    for b in range(3):
        blk = x[:, 32 * b:32 * (b + 1)]
        e = np.floor(np.log2(np.abs(blk).max(axis=1)))
        assert np.array_equal(q.scale_exp[:, b], e - 15)
        scaled = blk / np.exp2(e - 15)[:, None]               # block maximum in [2^15, 2^16)
        assert np.array_equal(y[:, 32 * b:32 * (b + 1)] / np.exp2(e - 15)[:, None],
                              floats.quantize(scaled.astype(np.float32), "fp8"))
    assert np.all(np.abs(y - x) <= 0.125 * np.abs(x) + 1e-30)  # 2 mantissa bits: half ulp <= 1/8
    with pytest.raises(ValueError, match="NaN"):
        formats.quantize(np.array([1.0, np.nan], np.float32), "mxfp8")


def test_mxfp8_trains_through_a_policy():
    from dfpengine import optim
    from dfpengine.nn import functional as F
    rng = np.random.default_rng(6)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    x = Tensor(rng.standard_normal((5, 1, 8, 8)).astype(np.float32))
    y = rng.integers(0, 3, 5)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with precision.use(precision.SchedulePolicy("mx", "mxfp8")):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    assert np.isfinite(float(loss.numpy()))
    assert all(np.isfinite(p.grad.numpy()).all() for p in model.parameters())
