"""Float-format convs (fp8 and kin) a few images at a time in C (_fpemu_conv,
dfp_conv2d_fpemu_*) equal the im2col GEMM formulation (_im2col_conv, checked
against formats.floats.gemm_fp8 in test_lowp_routing) bit for bit: FPROP and
BPROP and WTGRAD (its sum over the batch in slices), several geometries and
image groupings, every ISA at 1 and 2 threads; stochastic rounding takes the
im2col GEMMs."""
import numpy as np
import pytest

from dfpengine import precision
from dfpengine._native import _fpemu_conv, _fpemu_ops, _im2col_conv, _lowp_streams, reference as ref
from dfpengine.formats import floats

IM2COL = _im2col_conv.conv_passes(_fpemu_ops.gemm_quantized)
GROUPS = _fpemu_conv.passes(_fpemu_ops.gemm_quantized)


def rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def case(n, c, h, o, k, geom, seed=0):
    x, w = rand((n, c, h, h), seed), rand((o, c, k, k), seed + 1)
    _, _, _, y_shape = ref._conv_geometry(x.shape, w.shape, *geom)
    return x, w, rand(y_shape, seed + 2)


def run(passes, x, w, dy, geom, fmt):
    _lowp_streams.reset(5)
    y = passes[0](x, w, None, *geom, fmt=fmt)
    dx = passes[1](dy, w, x.shape, *geom, fmt=fmt)
    dw = passes[2](x, dy, w.shape, *geom, fmt=fmt)
    return y, dx, dw, _lowp_streams.next_call()


GEOMS = {  # (n, c, h, o, kernel, (stride, padding, dilation))
    "3x3 same, 3 images of 64 pixels: one group": (3, 8, 8, 6, 3, ((1, 1), (1, 1), (1, 1))),
    "3x3 stride 2": (4, 5, 9, 7, 3, ((2, 2), (1, 1), (1, 1))),
    "1x1 stride 2": (2, 16, 8, 8, 1, ((2, 2), (0, 0), (1, 1))),
    "dilated, no pad": (2, 4, 12, 3, 3, ((1, 1), (0, 0), (2, 2))),
    "groups of 4 images of 256 pixels, then 1": (5, 2, 16, 3, 3, ((1, 1), (1, 1), (1, 1))),
    "images of 1156 pixels, one per group": (3, 2, 34, 2, 3, ((1, 1), (1, 1), (1, 1))),
    "100 pixels: wtgrad slices of 16 images": (18, 3, 10, 4, 3, ((1, 1), (1, 1), (1, 1))),
    "huge values: the fast kernel's bound fails": (4, 2, 16, 3, 3, ((1, 1), (1, 1), (1, 1)), 3e3),
}
FORMATS = {
    "fp8": precision.gemm_format_for("fp8"),
    "fp16_169 edges": precision.gemm_format_for("fp16_169"),
    "bf16, chunks of 16": floats.fp8_gemm_format(name="bf16", chunk=16),
}


@pytest.mark.parametrize("geom", GEOMS, ids=list(GEOMS))
@pytest.mark.parametrize("name", FORMATS, ids=list(FORMATS))
def test_groups_of_images_equal_the_im2col_gemm(geom, name, isa_threads):
    n, c, h, o, k, g, *scale = GEOMS[geom]
    x, w, dy = case(n, c, h, o, k, g)
    if scale:      # sums near the accumulator's max: saturation, the exact kernel
        x, w, dy = x * scale[0], w * scale[0], dy * scale[0]
    want, got = run(IM2COL, x, w, dy, g, FORMATS[name]), run(GROUPS, x, w, dy, g, FORMATS[name])
    for what, a, b in zip(("fprop", "bprop", "wtgrad"), got, want):
        assert np.array_equal(a.view(np.uint32), b.view(np.uint32)), what
    assert got[3] == want[3]   # one GEMM call index per pass, as the im2col GEMMs take


def test_c_path_only_for_nearest_rounding(monkeypatch):
    calls = []
    gemm = _fpemu_ops.gemm_quantized
    passes = _fpemu_conv.passes(lambda *a, **kw: calls.append(1) or gemm(*a, **kw))
    x, w, dy = case(2, 4, 8, 4, 3, ((1, 1), (1, 1), (1, 1)))
    run(passes, x, w, dy, ((1, 1), (1, 1), (1, 1)), FORMATS["fp8"])
    assert calls == []
    run(passes, x, w, dy, ((1, 1), (1, 1), (1, 1)), floats.fp8_gemm_format(rounding="stochastic"))
    assert calls == [1, 1, 1]


def test_bias_and_bad_input():
    fmt = FORMATS["fp8"]
    x, w, dy = case(2, 4, 8, 5, 3, ((1, 1), (1, 1), (1, 1)))
    bias = rand((5,), 9)
    fwd, bwd_data, _ = GROUPS
    plain = fwd(x, w, None, (1, 1), (1, 1), (1, 1), fmt=fmt)
    np.testing.assert_array_equal(fwd(x, w, bias, (1, 1), (1, 1), (1, 1), fmt=fmt),
                                  plain + bias[None, :, None, None])
    with pytest.raises(ValueError, match="dy"):
        bwd_data(dy[:, :3], w, x.shape, (1, 1), (1, 1), (1, 1), fmt=fmt)
    with pytest.raises(ValueError, match="w"):
        fwd(x, w[:, :3], None, (1, 1), (1, 1), (1, 1), fmt=fmt)
