"""DFP16 quantiser: bounds, rounding statistics (numerics.md section 5, items
2 and 4), saturation, and bit-identical output across ISAs and thread counts."""
import numpy as np
import pytest

from dfpengine import _native, formats
from dfpengine._native import _int

ROUNDINGS = ("nearest", "stochastic", "biased")


def _isas():
    return _native.isa_supported()


@pytest.fixture(autouse=True)
def _restore_dispatch():
    isa, threads = _native.isa_selected(), _native.get_num_threads()
    yield
    _native.select_isa(isa)
    _native.set_num_threads(threads)


@pytest.mark.parametrize("shift", [0, 1, 2, 3])
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_max_magnitude_and_error_bound(shift, rounding):
    x = (np.random.default_rng(shift).standard_normal(10007) * 3.7).astype(np.float32)
    q, e = _int.quantize_dfp16(x, shift=shift, rounding=rounding, seed=5)
    qmax = int(np.abs(q.astype(np.int32)).max())
    assert 2 ** (14 - shift) <= qmax <= min(2 ** (15 - shift), 32767)
    err = np.abs(_int.dequantize_dfp16(q, e).astype(np.float64) - x)
    ulp = 2.0 ** e
    assert err.max() <= (0.5 if rounding == "nearest" else 1.0) * ulp
    assert err.max() <= 2.0 ** -(14 - shift) * np.abs(x).max()


def test_saturates_never_wraps():
    # shift 0: the maximum 32767.5 ulp rounds (ties to even) to 32768, clamped to 32767
    x = np.array([32767.5, -32767.5, 1.0], np.float32)
    q, e = _int.quantize_dfp16(x, shift=0)
    assert e == 0 and q.tolist() == [32767, -32767, 1]


def test_nearest_ties_to_even_and_biased_quarter():
    # max 4096 at shift 2 gives e = 0: one ulp is 1.0
    x = np.array([4096, 0.5, 1.5, 2.5, -2.5, -0.5, 0.25, 0.24, -0.25, -0.24, 1.75], np.float32)
    q, e = _int.quantize_dfp16(x, rounding="nearest")
    assert e == 0
    assert q[1:6].tolist() == [0, 2, 2, -2, 0]
    q, e = _int.quantize_dfp16(x, rounding="biased")
    assert q[6:].tolist() == [1, 0, -1, 0, 2]


@pytest.mark.parametrize("frac", [0.1, 0.37, 0.5, 0.93])
def test_stochastic_mean_within_three_sigma(frac):
    n = 100_000
    x = np.full(n + 1, 7 + frac, np.float32)
    x[0] = 4096  # e = 0
    q, e = _int.quantize_dfp16(x, rounding="stochastic", seed=11, stream=3)
    vals = q[1:].astype(np.float64)
    assert set(np.unique(vals)) <= {7.0, 8.0}
    sigma = np.sqrt(frac * (1 - frac) / n)
    assert abs(vals.mean() - (7 + frac)) <= 3 * sigma
    q2, _ = _int.quantize_dfp16(x, rounding="stochastic", seed=12, stream=3)
    assert not np.array_equal(q, q2)  # the seed matters


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("granularity", ["tensor", "channel", "block"])
def test_bit_identical_across_isas_and_threads(rounding, granularity):
    x = np.random.default_rng(1).standard_normal((37, 1001)).astype(np.float32)
    x[3] *= 100
    results = []
    for isa in _isas():
        for threads in (1, 2):
            _native.select_isa(isa)
            _native.set_num_threads(threads)
            results.append(_int.quantize_dfp16(x, rounding=rounding, seed=9, stream=4,
                                               granularity=granularity, block=64))
    q0, e0 = results[0]
    for q, e in results[1:]:
        assert np.array_equal(q, q0) and np.array_equal(e, e0)


def test_per_channel_and_block_exponents_follow_their_group():
    x = np.ones((3, 130), np.float32) * np.array([[1.0], [1000.0], [0.001]], np.float32)
    x[1, 70] = 5000.0
    q, e = _int.quantize_dfp16(x, granularity="channel")
    assert e.shape == (3,) and e[1] > e[0] > e[2]
    q, eb = _int.quantize_dfp16(x, granularity="block", block=64)
    assert eb.shape == (3, 3) and eb[1, 1] > eb[1, 0]
    back = _int.dequantize_dfp16(q, eb, granularity="block", block=64)
    assert np.allclose(back, x, rtol=2 ** -12)


def test_bad_input():
    with pytest.raises(ValueError):
        _int.quantize_dfp16(np.array([1.0, np.nan], np.float32))
    with pytest.raises(ValueError):
        _int.quantize_dfp16(np.ones(4, np.float32), shift=4)
    with pytest.raises(ValueError):
        _int.quantize_dfp16(np.ones(4, np.float32), rounding="up")
    with pytest.raises(ValueError):
        formats.dfp16(rounding="up")
    assert formats.get("dfp16", rounding="stochastic").rounding == "stochastic"
