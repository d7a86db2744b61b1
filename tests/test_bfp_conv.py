"""Block floating point convs computed image by image in C (_bfp_conv,
dfp_conv2d_bfp_*) equal the im2col GEMM formulation (_im2col_conv, itself
checked against the GEMM oracles in test_lowp_routing) bit for bit: every pass,
nearest and stochastic rounding, several geometries, every ISA at 1 and 2
threads; the shapes the C path does not take fall back to the same results."""
import numpy as np
import pytest

from dfpengine import _native, precision
from dfpengine._native import _bfp_conv, _hbfp_ops, _im2col_conv, _lowp_streams
from dfpengine.formats import FormatSpec, GemmFormat

IM2COL = _im2col_conv.conv_passes(_hbfp_ops.gemm_quantized)
IMAGES = _bfp_conv.passes(_hbfp_ops.gemm_quantized)


def rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def block_format(tag, block=None, rounding=None):
    base = precision.gemm_format_for(tag).a
    params = dict(base.params)
    if block:
        params["block"] = block
    spec = FormatSpec(base.name, rounding or base.rounding, tuple(sorted(params.items())))
    return GemmFormat(spec, spec)


def run_passes(passes, x, w, dy, geom, fmt):
    fwd, bwd_data, bwd_weight = passes
    out = []
    for i, call in enumerate((lambda: fwd(x, w, None, *geom, fmt=fmt),
                              lambda: bwd_data(dy, w, x.shape, *geom, fmt=fmt),
                              lambda: bwd_weight(x, dy, w.shape, *geom, fmt=fmt))):
        _lowp_streams.reset(10 + i)   # a call index away from 0: streams must follow it
        out.append(call())
    return out


def case(n, c, h, o, k, geom, seed=0):
    from dfpengine._native import reference as ref
    x, w = rand((n, c, h, h), seed), rand((o, c, k, k), seed + 1)
    _, _, _, y_shape = ref._conv_geometry(x.shape, w.shape, *geom)
    return x, w, rand(y_shape, seed + 2)


GEOMS = {  # (n, c, h, o, kernel, (stride, padding, dilation))
    "3x3 same": (3, 8, 8, 6, 3, ((1, 1), (1, 1), (1, 1))),
    "3x3 stride 2": (4, 5, 8, 7, 3, ((2, 2), (1, 1), (1, 1))),
    "1x1 stride 2": (2, 16, 8, 8, 1, ((2, 2), (0, 0), (1, 1))),
    "dilated, no pad": (2, 4, 12, 3, 3, ((1, 1), (0, 0), (2, 2))),
    "one image, odd size": (1, 3, 7, 4, 3, ((1, 1), (1, 1), (1, 1))),
    "wtgrad in groups of 4 images, then 1": (5, 2, 16, 3, 3, ((1, 1), (1, 1), (1, 1))),
    "28x28 (LeNet): 784 pixels, not whole blocks of 64": (9, 2, 28, 3, 5, ((1, 1), (2, 2), (1, 1))),
    # FPROP reads taps from the padded image in place when rows are runs of 16 pixels
    "taps in place: dilated, 16 wide": (2, 2, 20, 3, 3, ((1, 1), (0, 0), (2, 2))),
    "taps in place: row stride 2, 16 wide": (3, 3, 16, 4, 3, ((2, 1), (1, 1), (1, 1))),
    "taps in place: 32 wide, no pad": (2, 3, 34, 4, 3, ((1, 1), (0, 0), (1, 1))),
    # WTGRAD reads its im2col rows from padded images too: 144 taps = 5 panels,
    # threads split the channels, groups of 4 images side by side
    "taps in place: 16 channels, groups of images": (5, 16, 16, 8, 3, ((1, 1), (1, 1), (1, 1))),
}


@pytest.mark.parametrize("geom", GEOMS, ids=list(GEOMS))
@pytest.mark.parametrize("tag, block, rounding", [("hbfp4", 16, None), ("hbfp8", 16, "nearest"),
                                                  ("hbfp6", 64, None)])
def test_image_by_image_equals_the_im2col_gemm(geom, tag, block, rounding, isa_threads):
    n, c, h, o, k, g = GEOMS[geom]
    x, w, dy = case(n, c, h, o, k, g)
    fmt = block_format(tag, block, rounding)
    want = run_passes(IM2COL, x, w, dy, g, fmt)
    got = run_passes(IMAGES, x, w, dy, g, fmt)
    for name, a, b in zip(("fprop", "bprop", "wtgrad"), got, want):
        assert a.shape == b.shape, name
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32)), name


def test_the_c_path_runs_where_it_applies(monkeypatch):
    """Blocks of 16: every pass goes to C (the im2col GEMM is never called), also over 7x7
    images (49 pixels: WTGRAD's groups of images are whole blocks); an odd block falls back."""
    calls = []
    gemm = _hbfp_ops.gemm_quantized
    passes = _bfp_conv.passes(lambda *a, **kw: calls.append(1) or gemm(*a, **kw))
    fmt = block_format("hbfp4", 16)
    x, w, dy = case(2, 4, 8, 4, 3, ((1, 1), (1, 1), (1, 1)))
    run_passes(passes, x, w, dy, ((1, 1), (1, 1), (1, 1)), fmt)
    assert calls == []
    x, w, dy = case(2, 4, 7, 4, 3, ((1, 1), (1, 1), (1, 1)))
    run_passes(passes, x, w, dy, ((1, 1), (1, 1), (1, 1)), fmt)
    assert calls == []
    run_passes(passes, x, w, dy, ((1, 1), (1, 1), (1, 1)), block_format("hbfp4", 15))
    assert calls == [1, 1, 1]


def test_bias_is_added_per_channel():
    fmt = block_format("hbfp8", 16, "nearest")
    x, w, _ = case(2, 4, 8, 5, 3, ((1, 1), (1, 1), (1, 1)))
    bias = rand((5,), 9)
    fwd = IMAGES[0]
    _lowp_streams.reset()
    plain = fwd(x, w, None, (1, 1), (1, 1), (1, 1), fmt=fmt)
    _lowp_streams.reset()
    biased = fwd(x, w, bias, (1, 1), (1, 1), (1, 1), fmt=fmt)
    np.testing.assert_array_equal(biased, plain + bias[None, :, None, None])


def test_bad_input_names_the_problem():
    fmt = block_format("hbfp4", 16)
    x, w, dy = case(2, 4, 8, 4, 3, ((1, 1), (1, 1), (1, 1)))
    fwd, bwd_data, bwd_weight = IMAGES
    with pytest.raises(ValueError, match="dy"):
        bwd_data(dy[:, :3], w, x.shape, (1, 1), (1, 1), (1, 1), fmt=fmt)
    with pytest.raises(ValueError, match="dy"):
        bwd_weight(x, dy[:1], w.shape, (1, 1), (1, 1), (1, 1), fmt=fmt)
    bad = x.copy()
    bad[1, 2, 3, 4] = np.nan
    with pytest.raises(Exception, match="(?i)finite|nan"):
        fwd(bad, w, None, (1, 1), (1, 1), (1, 1), fmt=fmt)
    with pytest.raises(ValueError, match="block"):
        odd = GemmFormat(block_format("hbfp4", 16).a, block_format("hbfp4", 32).a)
        fwd(x, w, None, (1, 1), (1, 1), (1, 1), fmt=odd)
