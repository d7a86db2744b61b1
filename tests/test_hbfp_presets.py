"""HBFP / MX block quantiser (numerics.md 5.6) and precision presets with schedules."""
import numpy as np
import pytest

from dfpengine import precision
from dfpengine.formats import FormatSpec, GemmFormat, hbfp


def sample(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * np.exp2(rng.integers(-8, 8, shape[:-1] + (1,)))).astype(np.float32)


@pytest.mark.parametrize("name", ["hbfp8", "hbfp6", "hbfp4", "mx"])
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_values_on_block_grid(name, rounding):
    f = hbfp.block_format(name)
    x = sample((7, 200))
    k, s = hbfp.encode(x, name, rounding, seed=3)
    y = hbfp.quantize(x, name, rounding, seed=3)
    assert np.abs(k).max() <= 2 ** f.mag_bits - 1
    nb = s.shape[1]
    assert nb == -(-200 // f.block)
    scale = np.repeat(np.exp2(s.astype(np.float64)), f.block, axis=1)[:, :200]
    assert np.array_equal(y.astype(np.float64), k * scale)
    for b in range(nb):
        blk = np.abs(x[:, b * f.block:(b + 1) * f.block]).max(axis=1)
        if f.floor_exponent:                          # MX: k * 2^(E - (m - 1))
            assert np.array_equal(s[:, b], np.floor(np.log2(blk)) - (f.mag_bits - 1))
        else:
            assert np.array_equal(s[:, b], np.ceil(np.log2(blk)) - f.mag_bits)
    # error bound: one grid step (half for nearest)
    bound = scale * (0.5 if rounding == "nearest" else 1.0)
    clamp = np.abs(k) == 2 ** f.mag_bits - 1
    assert (np.abs(y - x)[~clamp] <= bound[~clamp]).all()


def test_mxint8_block_maximum_is_representable():
    """OCP MXINT8: shared E = floor(log2 max|x|), element k * 2^(E-6), |k| <= 127.
    The largest element of a block has k in [64, 128) and must not be clipped."""
    rng = np.random.default_rng(5)
    scale = np.exp2(rng.integers(-6, 6, (64, 1)))
    x = (rng.uniform(-1.98, 1.98, (64, 32)) * scale).astype(np.float32)   # below 127.5/64 * 2^E
    x[np.arange(64), rng.integers(0, 32, 64)] = (rng.uniform(1.0, 1.98, 64) * scale[:, 0]).astype(np.float32)
    k, s = hbfp.encode(x, "mx", "nearest")
    y = hbfp.quantize(x, "mx", "nearest")
    e = np.floor(np.log2(np.abs(x).max(axis=1)))
    assert np.array_equal(s[:, 0], e - 6)
    assert np.abs(k).max() <= 127
    # every element, the maximum included, within half a step 2^(E-6)
    assert (np.abs(y - x) <= np.exp2(e - 7)[:, None]).all()
    row = np.arange(64)
    assert (np.abs(k[row, np.abs(x).argmax(axis=1)]) >= 64).all()
    # exactly representable maxima come back unchanged: 1.5 * 2^E is k = 96
    z = np.zeros((1, 32), np.float32)
    z[0, 3], z[0, 7] = 1.5, -0.25
    assert np.array_equal(hbfp.quantize(z, "mx", "nearest"), z)


def test_blocks_are_independent():
    x = sample((3, 256))
    y = hbfp.quantize(x, "hbfp6", "nearest")
    x2 = x.copy()
    x2[:, 64:128] *= 1000
    y2 = hbfp.quantize(x2, "hbfp6", "nearest")
    keep = np.r_[0:64, 128:256]
    assert np.array_equal(y[:, keep], y2[:, keep])


def test_stochastic_is_unbiased_and_seeded():
    x = np.full((1, 64), 0.3, np.float32)
    x[0, 0] = 1.0                                     # E = 0, step 2^-3 for hbfp4
    ys = np.stack([hbfp.quantize(np.repeat(x, 2000, 0), "hbfp4", seed=s) for s in range(5)])
    mean = ys[..., 1:].astype(np.float64).mean()
    sigma = 2 ** -3 * np.sqrt(0.4 * 0.6 / ys[..., 1:].size)
    assert abs(mean - 0.3) < 3 * sigma
    assert np.array_equal(hbfp.quantize(x, "hbfp4", seed=1), hbfp.quantize(x, "hbfp4", seed=1))


def test_gemm_reference_tracks_fp32():
    a, w = sample((8, 256), 1), sample((6, 256), 2)
    ref = a @ w.T
    for name, tol in (("hbfp8", 0.1), ("hbfp4", 0.6)):
        err = np.abs(hbfp.gemm_reference(a, w, name, "nearest") - ref).max() / np.abs(ref).max()
        assert err < tol, name


def test_non_finite_input_raises():
    with pytest.raises(ValueError, match="NaN"):
        hbfp.quantize(np.array([[1.0, np.nan]], np.float32), "hbfp8")


class Layer:
    def __init__(self, role):
        self.role = role


def names(policy, pass_="fprop"):
    return [policy.format_name(Layer(r), pass_) for r in ("first", "other", "last")]


def test_presets_by_role():
    assert precision.preset("fp32").gemm_format(Layer("other"), "fprop") is None
    assert names(precision.preset("fp8")) == ["fp16_169", "fp8", "fp16_169"]
    assert names(precision.preset("hbfp8")) == ["hbfp8"] * 3
    g = precision.preset("fp8").gemm_format(Layer("other"), "bprop")
    assert isinstance(g, GemmFormat) and g.a.name == "fp8" and g.a.param("chunk") == 64
    h = precision.preset("hbfp6").gemm_format(Layer("other"), "wtgrad")
    assert h.a == FormatSpec("hbfp6", "stochastic") and hbfp.block_format(h.a).mag_bits == 5


def test_boosters_schedule():
    p = precision.preset("boosters")
    p.set_progress(epoch=0, total_epochs=90)
    assert names(p) == ["hbfp6", "hbfp4", "hbfp6"]
    p.set_progress(epoch=88, total_epochs=90)
    assert names(p) == ["hbfp6", "hbfp4", "hbfp6"]
    p.set_progress(epoch=89, total_epochs=90)
    assert names(p) == ["hbfp6"] * 3
    steps = precision.SchedulePolicy("t", "hbfp4", [precision.Rule("hbfp6", last_fraction=0.01)])
    steps.set_progress(step=989, total_steps=1000)
    assert names(steps) == ["hbfp4"] * 3
    steps.set_progress(step=990, total_steps=1000)
    assert names(steps) == ["hbfp6"] * 3


@pytest.mark.parametrize("name", ["hbfp8", "hbfp4", "mx"])
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_quantiser_bit_identical_across_isas_and_threads(name, rounding):
    """The SIMD block kernels equal the scalar reference (mantissas, scales, values),
    including blocks whose scale 2^-s is not a normal float (ldexpf fallback),
    ties, negative zeros and a ragged last block."""
    from dfpengine import _native
    rng = np.random.default_rng(9)
    x = sample((9, 333), 4)
    x[0, :64] *= np.float32(2.0 ** -140)               # scale exponent below -126
    x[1, :64] *= np.float32(2.0 ** 100)
    x[2, :40] = np.arange(40, dtype=np.float32) / 2.0  # exact ties at HBFP8 resolution
    x[3, 5:9] = -0.0
    x[4] = rng.integers(-3, 4, 333).astype(np.float32) * np.float32(0.125)
    before, threads = _native.isa_selected(), _native.get_num_threads()
    results = []
    try:
        for level in _native.isa_supported():
            _native.select_isa(level)
            for n in (1, 2):
                _native.set_num_threads(n)
                k, s = hbfp.encode(x, name, rounding, seed=5)
                results.append((level, k, s, hbfp.quantize(x, name, rounding, seed=5)))
    finally:
        _native.select_isa(before)
        _native.set_num_threads(threads)
    _, k0, s0, y0 = results[0]
    for level, k, s, y in results[1:]:
        assert np.array_equal(k, k0) and np.array_equal(s, s0), level
        assert np.array_equal(y.view(np.uint32), y0.view(np.uint32)), level


def test_quantiser_rejects_non_finite():
    x = sample((3, 100))
    for bad in (np.nan, np.inf, -np.inf):
        x2 = x.copy()
        x2[2, 77] = bad
        with pytest.raises(ValueError, match="NaN or infinity"):
            hbfp.quantize(x2, "hbfp8")


def test_formats_quantize_entry_point():
    """formats.quantize(x, tag, rounding=, seed=) for every float and block tag:
    .codes (uint8 for fp8) and .dequantize() equal to the per-family functions."""
    from dfpengine import formats
    from dfpengine.formats import floats
    x = sample((4, 100), 8)
    q = formats.quantize(x, "fp8")
    assert q.codes.dtype == np.uint8 and np.array_equal(q.dequantize(), floats.quantize(x, "fp8"))
    for tag in ("fp16_169", "fp16", "binary16", "bf16"):
        assert formats.quantize(x, tag).codes.dtype == np.uint16
        assert np.array_equal(formats.quantize(x, tag, seed=2, rounding="stochastic").dequantize(),
                              floats.quantize(x, tag, "stochastic", seed=2))
    for tag in ("hbfp8", "hbfp6", "hbfp4", "mx"):
        q = formats.quantize(x, tag, rounding="nearest", block=16)
        assert q.scale_exp.shape == (4, 7) and q.block == 16
        spec = hbfp.spec(tag, "nearest", block=16)
        assert np.array_equal(q.dequantize(), hbfp.quantize(x, spec, "nearest"))
    with pytest.raises(ValueError):
        formats.quantize(x, "int4")


@pytest.mark.parametrize("name", ["hbfp8", "mx"])
def test_block_exponent_at_powers_of_two_and_subnormals(name):
    """E = ceil(log2 max) (HBFP) or floor (MX), also when the maximum is an exact power
    of two (ceil == floor) and when the whole block is subnormal."""
    f = hbfp.block_format(name)
    maxima = np.array([1.0, 2.0 ** -20, 2.0 ** 30, 1.5, 3.0 * 2.0 ** -140, 2.0 ** -149, 2.0 ** -130,
                       np.nextafter(np.float32(2.0), np.float32(0))], np.float32)
    x = np.zeros((len(maxima), f.block), np.float32)
    x[:, 5] = -maxima
    x[:, 9] = maxima / 4
    _, s = hbfp.encode(x, name, "nearest")
    log2 = np.log2(maxima.astype(np.float64))
    want = np.floor(log2) - (f.mag_bits - 1) if f.floor_exponent else np.ceil(log2) - f.mag_bits
    assert np.array_equal(s[:, 0], want)


def test_format_at_answers_by_role_pass_and_progress():
    b = precision.preset("boosters")
    at = lambda role, pass_, epoch: b.format_at(role, pass_, epoch=epoch, total_epochs=10)
    assert [at("other", p, 8) for p in ("fprop", "bprop", "wtgrad")] == ["hbfp4"] * 3
    assert [at(r, "fprop", 8) for r in ("first", "last")] == ["hbfp6", "hbfp6"]
    assert at("other", "wtgrad", 9) == "hbfp6"                          # the last epoch
    assert b.epoch == 0 and b.total_epochs == 1                         # progress untouched
    assert b.format_at("other", "fprop", epoch=0, total_epochs=10, step=95, total_steps=100) == "hbfp4"
    frac = precision.SchedulePolicy("x", "hbfp4", [precision.Rule("hbfp6", last_fraction=0.1)])
    assert [frac.format_at("other", "fprop", step=s, total_steps=100) for s in (89, 90)] == ["hbfp4", "hbfp6"]
    assert precision.preset("fp8").format_at("first", "bprop") == "fp16_169"
    assert precision.preset("dfp16").format_at("other", "wtgrad") == "dfp16"
    assert precision.preset("fp32").format_at("last", "fprop") == "fp32"
    with pytest.raises(ValueError, match="role"):
        b.format_at("middle", "fprop")
    with pytest.raises(ValueError, match="pass_"):
        b.format_at("other", "backward")
