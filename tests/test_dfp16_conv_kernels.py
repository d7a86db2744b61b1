"""DFP16 convolution kernel paths (direct FPROP, direct stride-1 BPROP, strided
BPROP as stride-1 phase convolutions or GEMM + col2im, image-pair WTGRAD in
fixed K slices): each pass
equals the exact (float64) conv of the quantised operands within the error of an
FP32 sum of its INT32 chunk flushes, and is bit-identical across every compiled
ISA and thread counts 1 and 2. The geometries reach odd batches (a WTGRAD image
pair with one missing image), odd channel counts (a zero channel in the pair
layout), several WTGRAD slices, padding larger or smaller than the kernel's
reach (the direct BPROP's own padding), strides and dilation, and output rows
a multiple of 16 (or 8, or padded to those) wide, where the VNNI kernel reads B
in place, and WTGRAD without row dilation, where VNNI reads the taps in place
(each compared with the packing ISAs)."""
import numpy as np
import pytest

from dfpengine import _native, formats, precision
from dfpengine._native import _int
from dfpengine._native import reference as ref

NEAREST = formats.GemmFormat(formats.dfp16(), formats.dfp16())

GEOMS = [  # x shape, w shape, stride, padding, dilation
    ((3, 16, 8, 8), (16, 16, 3, 3), (1, 1), (1, 1), (1, 1)),      # odd batch
    ((6, 2, 40, 40), (4, 2, 3, 3), (1, 1), (1, 1), (1, 1)),       # 3 WTGRAD slices
    ((5, 3, 33, 33), (8, 3, 3, 3), (1, 1), (1, 1), (1, 1)),       # odd everything
    ((2, 4, 9, 9), (6, 4, 5, 5), (1, 1), (0, 0), (1, 1)),         # dx 81 px, dy 25: BPROP by col2im
    ((2, 4, 14, 14), (6, 4, 5, 5), (1, 1), (0, 0), (1, 1)),       # dx 196 px, dy 100: direct (vw 16)
    ((2, 4, 40, 40), (6, 4, 3, 3), (1, 1), (0, 0), (1, 1)),       # direct BPROP, its padding 2
    ((2, 4, 9, 10), (5, 4, 3, 3), (1, 1), (2, 3), (2, 1)),        # dilation, wide pad
    ((4, 16, 16, 16), (32, 16, 3, 3), (2, 2), (1, 1), (1, 1)),    # stride 2
    ((2, 5, 7, 7), (40, 5, 1, 1), (1, 1), (0, 0), (1, 1)),        # 1x1, 40 outputs
    # output rows a multiple of 16 wide: VNNI reads B in place (no pixel packing)
    ((3, 5, 32, 32), (8, 5, 3, 3), (1, 1), (1, 1), (1, 1)),       # FPROP and BPROP in place
    ((2, 3, 20, 18), (4, 3, 3, 3), (2, 1), (1, 1), (1, 2)),       # in place, stride_h 2, dilation
    ((2, 6, 16, 48), (9, 6, 3, 3), (1, 1), (1, 1), (1, 1)),       # a panel's halves in two rows
    ((3, 4, 8, 8), (8, 4, 3, 3), (1, 1), (1, 1), (1, 1)),         # 8-wide rows: runs of 8 in place
    ((2, 3, 6, 24), (5, 3, 3, 3), (2, 1), (1, 1), (1, 1)),        # runs of 8, a last short block
    # VNNI WTGRAD reads the taps in place (channel-last x): full and partial column blocks
    ((3, 32, 12, 12), (8, 32, 3, 3), (1, 1), (1, 1), (1, 1)),     # 3 full column blocks per kh
    ((2, 16, 6, 6), (24, 16, 1, 1), (1, 1), (0, 0), (1, 1)),      # 1x1: one half block
    ((4, 48, 10, 10), (16, 48, 3, 3), (2, 2), (1, 1), (1, 1)),    # a last half block, stride 2
    ((5, 16, 34, 30), (8, 16, 3, 3), (1, 1), (1, 1), (1, 1)),     # 3 slices, odd batch
    ((2, 8, 10, 12), (4, 8, 3, 3), (1, 1), (2, 1), (2, 1)),       # row dilation, 24 of 32 columns
    # strided BPROP as stride-1 phase convs of dy (rows a multiple of 8 * stride wide)
    ((2, 8, 12, 48), (16, 8, 3, 3), (3, 3), (1, 1), (1, 1)),      # stride 3
    ((2, 8, 16, 32), (7, 8, 1, 1), (2, 2), (0, 0), (1, 1)),       # 1x1: phases without taps, odd O
    ((3, 4, 12, 16), (6, 4, 4, 4), (2, 2), (1, 1), (1, 1)),       # even kernel
    ((2, 6, 12, 16), (8, 6, 3, 3), (2, 1), (1, 1), (1, 1)),       # row stride only
    # FPROP with stride 2 along rows: VNNI reads a copy split into column phases
    ((2, 4, 10, 15), (8, 4, 3, 3), (2, 2), (1, 1), (1, 1)),       # odd padded width
]


@pytest.fixture(autouse=True)
def _restore_dispatch():
    isa, threads = _native.isa_selected(), _native.get_num_threads()
    yield
    _native.select_isa(isa)
    _native.set_num_threads(threads)


def _data(geom, seed=0):
    xs, ws, st, pad, dil = geom
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    ys = ref.conv2d_forward(x, w, None, st, pad, dil).shape
    dy = rng.standard_normal(ys).astype(np.float32)
    return x, w, dy


def _out_size(xs, ws, st, pad, dil):
    return tuple((xs[2 + i] + 2 * pad[i] - dil[i] * (ws[2 + i] - 1) - 1) // st[i] + 1 for i in (0, 1))


def _taps(xs, ws, st, pad, dil):
    """(kh, kw, row slice, col slice) into the padded input for each tap."""
    oh, ow = _out_size(xs, ws, st, pad, dil)
    for kh in range(ws[2]):
        for kw in range(ws[3]):
            h0, w0 = kh * dil[0], kw * dil[1]
            yield kh, kw, slice(h0, h0 + st[0] * (oh - 1) + 1, st[0]), slice(w0, w0 + st[1] * (ow - 1) + 1, st[1])


def _fwd64(x, w, st, pad, dil):
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    return sum(np.einsum("nchw,oc->nohw", xp[:, :, rs, cs], w[:, :, kh, kw])
               for kh, kw, rs, cs in _taps(x.shape, w.shape, st, pad, dil))


def _bdata64(dy, w, xs, st, pad, dil):
    dxp = np.zeros((xs[0], xs[1], xs[2] + 2 * pad[0], xs[3] + 2 * pad[1]))
    for kh, kw, rs, cs in _taps(xs, w.shape, st, pad, dil):
        dxp[:, :, rs, cs] += np.einsum("nohw,oc->nchw", dy, w[:, :, kh, kw])
    return dxp[:, :, pad[0]:pad[0] + xs[2], pad[1]:pad[1] + xs[3]]


def _bw64(x, dy, ws, st, pad, dil):
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    dw = np.zeros(ws)
    for kh, kw, rs, cs in _taps(x.shape, ws, st, pad, dil):
        dw[:, :, kh, kw] = np.einsum("nchw,nohw->oc", xp[:, :, rs, cs], dy)
    return dw


def _dequantised(t):
    q, e = _int.quantize_dfp16(t)
    return q.astype(np.float64) * 2.0 ** e


def _check_exact(out, f, u, v):
    """|out - f(Q(u), Q(v))| within an FP32 sum of the flushed chunk sums."""
    qu, qv = _dequantised(u), _dequantised(v)
    exact = f(qu, qv)
    absum = f(np.abs(qu), np.abs(qv))
    stats = _int.gemm_stats()
    terms = stats["flushes"] / out.size
    assert terms > 0  # (below 1 where outputs get no taps: a strided 1x1 conv's BPROP)
    tol = (2 * terms + 2) * 2.0 ** -24 * absum + 1e-30
    assert np.all(np.abs(out.astype(np.float64) - exact) <= tol)


@pytest.mark.parametrize("geom", GEOMS)
def test_passes_equal_exact_conv_of_quantised_operands(geom):
    xs, ws, st, pad, dil = geom
    x, w, dy = _data(geom)
    _native.set_num_threads(2)
    # float64 references checked against the FP32 reference first
    assert np.allclose(_fwd64(x, w, st, pad, dil), ref.conv2d_forward(x, w, None, st, pad, dil), atol=1e-3)
    assert np.allclose(_bdata64(dy, w, xs, st, pad, dil), ref.conv2d_backward_data(dy, w, xs, st, pad, dil), atol=1e-3)
    assert np.allclose(_bw64(x, dy, ws, st, pad, dil), ref.conv2d_backward_weight(x, dy, ws, st, pad, dil), atol=1e-2)
    fwd = lambda u, v: _fwd64(u, v, st, pad, dil)
    _int.reset_gemm_stats()
    y = _int.conv2d_forward_quantized(x, w, None, st, pad, dil, fmt=NEAREST)
    _check_exact(y, fwd, x, w)

    bdata = lambda g, v: _bdata64(g, v, xs, st, pad, dil)
    _int.reset_gemm_stats()
    dx = _int.conv2d_backward_data_quantized(dy, w, xs, st, pad, dil, fmt=NEAREST)
    _check_exact(dx, bdata, dy, w)

    bw = lambda g, u: _bw64(u, g, ws, st, pad, dil)
    _int.reset_gemm_stats()
    dw = _int.conv2d_backward_weight_quantized(x, dy, ws, st, pad, dil, fmt=NEAREST)
    _check_exact(dw, bw, dy, x)


@pytest.mark.parametrize("geom", GEOMS)
def test_passes_bit_identical_across_isas_and_threads(geom):
    xs, ws, st, pad, dil = geom
    x, w, dy = _data(geom, seed=3)
    fmt = precision.preset("dfp16").gemm_format(None, "wtgrad")  # stochastic dy
    outs = []
    for isa in _native.isa_supported():
        for threads in (1, 2):
            _native.select_isa(isa)
            _native.set_num_threads(threads)
            _int._stream[0] = 11
            outs.append((_int.conv2d_forward_quantized(x, w, None, st, pad, dil, fmt=fmt),
                         _int.conv2d_backward_data_quantized(dy, w, xs, st, pad, dil, fmt=fmt),
                         _int.conv2d_backward_weight_quantized(x, dy, ws, st, pad, dil, fmt=fmt)))
    assert len(outs) >= 2
    for o in outs[1:]:
        for a, b in zip(o, outs[0]):
            assert np.array_equal(a.view(np.uint32), b.view(np.uint32))


@pytest.mark.parametrize("geom", GEOMS)
def test_bprop_adding_into_a_gradient_equals_the_separate_add(geom):
    """BPROP with add_into (a tensor's second gradient, added in the epilogue, the phase
    interleave or after col2im) gives `total + dx` bit for bit, signed zeros and NaN
    included, on every ISA and at 1 and 2 threads, and returns the array it added into."""
    xs, ws, st, pad, dil = geom
    x, w, dy = _data(geom, seed=7)
    fmt = precision.preset("dfp16").gemm_format(None, "bprop")
    total = np.random.default_rng(8).standard_normal(xs).astype(np.float32)
    total.flat[::7] = -0.0
    total.flat[3] = np.nan
    for isa in _native.isa_supported():
        for threads in (1, 2):
            _native.select_isa(isa)
            _native.set_num_threads(threads)
            _int._stream[0] = 5
            dx = _int.conv2d_backward_data_quantized(dy, w, xs, st, pad, dil, fmt=fmt)
            into = total.copy()
            _int._stream[0] = 5
            out = _int.conv2d_backward_data_quantized(dy, w, xs, st, pad, dil, fmt=fmt, add_into=into)
            assert out is into, (isa, threads)
            assert np.array_equal((total + dx).view(np.uint32), into.view(np.uint32)), (isa, threads)


def test_bprop_add_into_rejects_bad_targets():
    xs, ws, st, pad, dil = GEOMS[0]
    x, w, dy = _data(GEOMS[0])
    with pytest.raises(ValueError, match="add_into has shape"):
        _int.conv2d_backward_data_quantized(dy, w, xs, st, pad, dil, fmt=NEAREST,
                                            add_into=np.zeros((1,) + xs[1:], np.float32))
    with pytest.raises(TypeError, match="add_into: expected dtype float32"):
        _int.conv2d_backward_data_quantized(dy, w, xs, st, pad, dil, fmt=NEAREST,
                                            add_into=np.zeros(xs, np.float64))
    frozen = np.zeros(xs, np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _int.conv2d_backward_data_quantized(dy, w, xs, st, pad, dil, fmt=NEAREST, add_into=frozen)


@pytest.mark.parametrize("geom", [GEOMS[0], GEOMS[3], GEOMS[7], GEOMS[2]])  # direct / col2im BPROP,
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])           # in place / packed WTGRAD
def test_wtgrad_on_codes_kept_by_fprop_and_bprop(geom, rounding):
    """dy quantised once, in BPROP, and its codes re-paired for WTGRAD: the weight
    gradient equals WTGRAD quantising dy itself with BPROP's stream (the same codes),
    bit for bit, on every ISA, for both BPROP layouts (direct and col2im)."""
    xs, ws, st, pad, dil = geom
    x, w, dy = _data(geom, seed=5)
    act = formats.GemmFormat(formats.dfp16(), formats.dfp16(), stream=7)
    grad = formats.GemmFormat(formats.dfp16(rounding=rounding), formats.dfp16(), stream=9)
    for isa in _native.isa_supported():
        _native.select_isa(isa)
        cache = {}
        _int.conv2d_forward_quantized(x, w, None, st, pad, dil, fmt=act, cache=cache)
        _int.conv2d_backward_data_quantized(dy, w, xs, st, pad, dil, fmt=grad, cache=cache)
        assert "dfp16_grad" in cache and "dfp16_input" in cache
        shared = _int.conv2d_backward_weight_quantized(x, dy, ws, st, pad, dil, fmt=grad, cache=cache)
        alone = _int.conv2d_backward_weight_quantized(x, dy, ws, st, pad, dil, fmt=grad)
        assert np.array_equal(shared.view(np.uint32), alone.view(np.uint32))
    # a dy format that differs from BPROP's is quantised afresh, not taken from the cache
    other = formats.GemmFormat(formats.dfp16(rounding=rounding, shift=1), formats.dfp16(), stream=9)
    fresh = _int.conv2d_backward_weight_quantized(x, dy, ws, st, pad, dil, fmt=other, cache=cache)
    assert np.array_equal(fresh.view(np.uint32),
                          _int.conv2d_backward_weight_quantized(x, dy, ws, st, pad, dil, fmt=other).view(np.uint32))


@pytest.mark.parametrize("geom", [
    ((4, 8, 8, 8), (16, 8, 3, 3), (1, 1), (1, 1), (1, 1)),     # dy rows 8 wide: flat steps
    ((2, 4, 12, 20), (6, 4, 3, 3), (1, 1), (1, 1), (1, 1)),    # rows 20 wide: a masked step per row
    GEOMS[7],                                                 # stride 2: BPROP by phases
    ((2, 4, 9, 9), (6, 4, 5, 5), (1, 1), (0, 0), (1, 1)),      # col2im BPROP: NCHW codes, re-paired
])
@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_bprop_keeps_the_same_dy_codes_on_every_isa(geom, rounding):
    """BPROP keeps dy's codes in WTGRAD's image-pair layout: on AVX-512 for even batches and
    channel counts the quantiser writes them in its pass over four planes, elsewhere they are
    re-paired from the channel pairs; codes, exponent and largest code are the same."""
    xs, ws, st, pad, dil = geom
    x, w, dy = _data(geom, seed=6)
    fmt = formats.GemmFormat(formats.dfp16(rounding=rounding), formats.dfp16(), stream=4)
    kept = []
    for isa in _native.isa_supported():
        for threads in (1, 2):
            _native.select_isa(isa)
            _native.set_num_threads(threads)
            cache = {}
            _int.conv2d_backward_data_quantized(dy, w, xs, st, pad, dil, fmt=fmt, cache=cache)
            key, pairs, exponent, max_abs = cache["dfp16_grad"]
            used = pairs.size - 64  # past the layout's 32 slack pairs (never read)
            kept.append((pairs[:used].copy(), exponent, max_abs))
    assert len(kept) >= 4
    for pairs, exponent, max_abs in kept[1:]:
        assert np.array_equal(pairs, kept[0][0]) and (exponent, max_abs) == kept[0][1:]


def test_tensor_quantiser_bit_identical_across_threads():
    x = np.random.default_rng(4).standard_normal(300_001).astype(np.float32)
    outs = []
    for threads in (1, 2):
        _native.set_num_threads(threads)
        outs.append(_int.quantize_dfp16(x, rounding="stochastic", seed=5, stream=3))
    assert outs[0][1] == outs[1][1]
    assert np.array_equal(outs[0][0], outs[1][0])


@pytest.mark.parametrize("geom", [GEOMS[0], GEOMS[7], GEOMS[9]])
def test_expected_exponent_gives_the_same_codes(geom):
    """A conv told the exponent its input or gradient is expected to get (the layer's last
    one) quantises in one pass when it is right and in two when it is wrong: the same
    results either way, and the exponents obtained are handed back for the next step."""
    xs, ws, st, pad, dil = geom
    x, w, dy = _data(geom, seed=5)
    fmt = precision.preset("dfp16").gemm_format(None, "bprop")  # stochastic dy, nearest w

    def passes(exps):
        _int._stream[0] = 21
        cache = {} if exps is None else {"exponents": exps}
        y = _int.conv2d_forward_quantized(x, w, None, st, pad, dil, fmt=NEAREST, cache=cache)
        dx = _int.conv2d_backward_data_quantized(dy, w, xs, st, pad, dil, fmt=fmt, cache=cache)
        return y, dx, cache

    y0, dx0, cache0 = passes(None)
    learned = {}
    passes(learned)
    assert set(learned) == {"x", "dy"}
    assert learned["x"] == cache0["dfp16_input"][2] and learned["dy"] == cache0["dfp16_grad"][2]
    for exps in ({"x": learned["x"], "dy": learned["dy"]},          # right
                 {"x": learned["x"] + 3, "dy": learned["dy"] - 2},  # wrong both ways
                 {"x": learned["x"] - 2, "dy": learned["dy"] + 3},  # (a first pass that saturates)
                 {"x": 500, "dy": -500}):                           # out of range: ignored
        y, dx, cache = passes(dict(exps))
        assert np.array_equal(y.view(np.uint32), y0.view(np.uint32))
        assert np.array_equal(dx.view(np.uint32), dx0.view(np.uint32))
        used = cache0["dfp16_grad"][1].size - 64  # past the layout's 32 slack pairs (never read)
        assert np.array_equal(cache["dfp16_grad"][1][:used], cache0["dfp16_grad"][1][:used])
        # x's exponent and largest |code| (the GEMM's chunk rule, taken while quantising)
        # are those of quantising x on its own
        q, e = _int.quantize_dfp16(x, shift=2, rounding="nearest")
        assert cache["dfp16_input"][2] == e
        assert cache["dfp16_input"][3] == np.abs(q.astype(np.int32)).max()
    bad = x.copy()
    bad.flat[7] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        _int.conv2d_forward_quantized(bad, w, None, st, pad, dil, fmt=NEAREST,
                                      cache={"exponents": dict(learned)})


def _chanpairs64(q, pad):
    """numpy write-out of the channel-pair layout: xp[n][cp][Hp][Wp][2] (a zero channel
    completes an odd count, a zero border of pad)."""
    n, c, h, w = q.shape
    qp = np.zeros((n, c + c % 2, h + 2 * pad[0], w + 2 * pad[1]), np.int16)
    qp[:, :c, pad[0]:pad[0] + h, pad[1]:pad[1] + w] = q
    return qp.reshape(n, (c + 1) // 2, 2, qp.shape[2], qp.shape[3]).transpose(0, 1, 3, 4, 2).ravel()


@pytest.mark.parametrize("geom", [GEOMS[0], GEOMS[2], GEOMS[6], GEOMS[9], GEOMS[12]])
@pytest.mark.parametrize("rounding,shift", [("nearest", 2), ("nearest", 0), ("biased", 0)])
def test_conv_quantiser_codes_equal_the_tensor_quantiser(geom, rounding, shift):
    """The codes FPROP keeps (x quantised straight into its padded channel-pair layout,
    in one pass per plane pair where the ISA has that kernel) are the tensor
    quantiser's codes laid out by numpy, with its exponent, largest |code| and
    saturation count, on every ISA (rows 8, 9, 16, 33 and 32 wide). Shift 0 leaves no
    headroom: values at the top round to 32768 and saturate."""
    xs, ws, st, pad, dil = geom
    x, w, _ = _data(geom, seed=8)
    x[0, 0, 0, :3] = [np.float32(2.0 ** 7 - 2.0 ** -10), -np.float32(2.0 ** 7 - 2.0 ** -9), 1.0]
    fmt = formats.GemmFormat(formats.dfp16(rounding=rounding, shift=shift), formats.dfp16())
    q, e = _int.quantize_dfp16(x, shift=shift, rounding=rounding)
    scaled = np.abs(x.astype(np.float64) * 2.0 ** -e)  # nearest: ties to even (32767.5 -> 32768)
    sat_expected = int(np.sum(scaled >= (32767.5 if rounding == "nearest" else 32767.25)))
    if shift == 0:
        assert sat_expected > 0
    for isa in _native.isa_supported():
        for threads in (1, 2):
            _native.select_isa(isa)
            _native.set_num_threads(threads)
            cache = {}
            _int.reset_gemm_stats()
            _int.conv2d_forward_quantized(x, w, None, st, pad, dil, fmt=fmt, cache=cache)
            sats = _int.gemm_stats()["saturations"]
            _, pairs, exponent, max_abs = cache["dfp16_input"]
            assert exponent == e and max_abs == np.abs(q.astype(np.int32)).max()
            body = _chanpairs64(q, pad)
            assert np.array_equal(pairs[:body.size], body), (isa, threads)
            assert not pairs[body.size:].any()
            assert sats == sat_expected, (isa, threads)
