"""Batch norm statistics from plane sums taken by the conv forward (y_sums) while its output
is in cache: the same mean and variance as batch_norm_stats on that output, bit for bit, on
every ISA at 1 and 2 threads, in FP32 and DFP16, whichever images the threads split; and a
model's batch norm uses them from its second step on."""
import numpy as np
import pytest

import dfpengine
from dfpengine import _native, formats, nn, precision
from dfpengine._native import _fp32, _int, reference as ref
from dfpengine.ops import norm

GEOMS = [  # x shape, w shape, stride, padding, with bias
    ((3, 16, 8, 8), (16, 16, 3, 3), (1, 1), (1, 1), False),     # few images: threads share out tiles
    ((9, 16, 8, 8), (16, 16, 3, 3), (1, 1), (1, 1), False),     # enough: whole images, sums in the loop
    ((5, 16, 32, 32), (16, 16, 3, 3), (1, 1), (1, 1), False),   # ResNet stage 1, several tiles an image
    ((2, 6, 20, 32), (9, 6, 3, 3), (2, 2), (1, 1), False),      # stride 2
    ((3, 8, 7, 9), (4, 8, 1, 1), (1, 1), (0, 0), True),         # 1x1 with a bias: sums after it
    ((2, 3, 28, 28), (6, 3, 5, 5), (1, 1), (0, 0), False),      # LeNet's first conv (no in-place path)
]

DFP16 = formats.GemmFormat(formats.dfp16(), formats.dfp16())


def _case(geom, seed=0):
    xs, ws, st, pad, with_bias = geom
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(xs) * 2 + 1).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32) if with_bias else None
    return x, w, b, st, pad


def _same_bits(a, b):
    return np.array_equal(np.asarray(a).view(np.uint32), np.asarray(b).view(np.uint32))


@pytest.mark.parametrize("geom", GEOMS)
@pytest.mark.parametrize("fmt", [None, DFP16], ids=["fp32", "dfp16"])
def test_stats_from_conv_sums_equal_stats_of_its_output(isa_threads, geom, fmt):
    x, w, b, st, pad = _case(geom)
    plain = _native.conv2d_forward(x, w, b, st, pad, (1, 1), fmt=fmt)
    sums = np.full((x.shape[0], w.shape[0], 3), np.nan)
    y = _native.conv2d_forward(x, w, b, st, pad, (1, 1), fmt=fmt, y_sums=sums)
    assert _same_bits(y, plain)     # taking the sums changes no output
    hw = y.shape[2] * y.shape[3]
    mean, var = _native.batch_norm_stats_from_planes(sums, hw)
    m0, v0 = _native.batch_norm_stats(y)
    assert _same_bits(mean, m0) and _same_bits(var, v0)
    assert np.array_equal(sums[:, :, 0], y[:, :, 0, 0])   # each plane around its first value


def test_reference_merge_equals_native_and_float64_statistics():
    rng = np.random.default_rng(1)
    y = (rng.standard_normal((6, 5, 7, 3)) * 3 + 100).astype(np.float32)  # mean >> std
    sums = np.empty((6, 5, 3))
    planes = y.reshape(6, 5, -1).astype(np.float64)
    sums[:, :, 0] = planes[:, :, 0]
    d = planes - planes[:, :, :1]
    sums[:, :, 1], sums[:, :, 2] = d.sum(axis=2), (d * d).sum(axis=2)
    native, reference = _fp32.batch_norm_stats_from_planes(sums, 21), ref.batch_norm_stats_from_planes(sums, 21)
    assert _same_bits(native[0], reference[0]) and _same_bits(native[1], reference[1])
    m64, v64 = ref.batch_norm_stats(y)
    np.testing.assert_allclose(native[0], m64, rtol=1e-6)
    np.testing.assert_allclose(native[1], v64, rtol=1e-4)


@pytest.mark.parametrize("bad, match", [
    (np.empty((2, 4, 3), np.float32), "y_sums"),
    (np.empty((2, 5, 3)), "y_sums"),
    (np.empty((2, 4, 3))[:, :, ::-1], "y_sums"),
])
@pytest.mark.parametrize("fmt", [None, DFP16], ids=["fp32", "dfp16"])
def test_bad_sums_array_is_rejected(bad, match, fmt):
    x = np.ones((2, 3, 8, 8), np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match=match):
        _native.conv2d_forward(x, w, None, (1, 1), (1, 1), (1, 1), fmt=fmt, y_sums=bad)


def test_formats_without_sums_say_so():
    x = np.ones((2, 3, 8, 8), np.float32)
    w = np.ones((4, 3, 3, 3), np.float32)
    fp8 = formats.GemmFormat(formats.get("fp8"), formats.get("fp8"))
    assert not _native.writes_plane_sums(fp8)
    with pytest.raises(ValueError, match="y_sums is not available"):
        _native.conv2d_forward(x, w, None, (1, 1), (1, 1), (1, 1), fmt=fp8, y_sums=np.empty((2, 4, 3)))


@pytest.mark.parametrize("bad_hw, sums", [(0, np.zeros((1, 2, 3))), (4, np.zeros((1, 2, 2)))])
def test_merge_rejects_bad_input(bad_hw, sums):
    for fn in (_fp32.batch_norm_stats_from_planes, ref.batch_norm_stats_from_planes):
        with pytest.raises(ValueError):
            fn(sums, bad_hw)


@pytest.mark.parametrize("preset", ["fp32", "dfp16"])
def test_model_batch_norm_uses_conv_sums_from_second_step(preset, monkeypatch):
    dfpengine.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
    x = dfpengine.randn(4, 3, 16, 16)
    seen = []

    def spy(t, ta):
        stats = original(t, ta)
        seen.append((t.bn_plane_sums[2] is not None, _same_bits(stats[0], _native.batch_norm_stats(ta)[0])
                     and _same_bits(stats[1], _native.batch_norm_stats(ta)[1])))
        return stats
    original = norm._batch_statistics
    monkeypatch.setattr(norm, "_batch_statistics", spy)
    with precision.preset(preset):
        for _ in range(3):
            model(x).sum().backward()
        with dfpengine.no_grad():      # evaluation takes no sums
            model.eval()
            model(x)
    assert [s[0] for s in seen] == [False, True, True]
    assert all(s[1] for s in seen)


@pytest.mark.parametrize("preset", ["fp32", "dfp16"])
def test_zeroed_conv_output_is_not_summed_from_stale_sums(preset):
    """Tensor.zero_() between a conv and its batch norm drops the sums the conv took:
    batch norm then sums the zeros it reads (mean 0, variance 0: its output is beta,
    0), not the conv's old output."""
    dfpengine.manual_seed(0)
    conv, bn = nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)
    x = dfpengine.randn(4, 3, 16, 16)
    with precision.preset(preset):
        bn(conv(x))        # the batch norm marks the conv: sums from its next call
        y = conv(x)
        assert y.bn_plane_sums[2] is not None
        out = bn(y.zero_())
    np.testing.assert_array_equal(out.numpy(), np.zeros((4, 8, 16, 16), np.float32))
