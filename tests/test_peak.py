"""The library's arithmetic-peak micro-benchmark (dfp_measure_peak), used for
"percent of peak" by `dfpengine profile` and by dfp_bench."""
import json
import math

import pytest

from dfpengine import _native
from dfpengine._native import _dispatch


@pytest.fixture(autouse=True)
def _restore_dispatch():
    isa = _native.isa_selected()
    yield
    _native.select_isa(isa)


@pytest.mark.parametrize("kind", ["fp32", "int16"])
def test_every_isa_measures_a_finite_positive_peak(kind):
    for isa in _native.isa_supported():
        _native.select_isa(isa)
        ops = _dispatch.measure_peak(kind, 1)
        assert math.isfinite(ops) and ops > 1e8, (isa, kind, ops)


def test_simd_peaks_exceed_the_scalar_level():
    # SIMD chains do 8-32 lanes of work per instruction: even on a loaded machine
    # they clear the scalar chains by far, so a broken (folded or empty) chain shows.
    if len(_native.isa_supported()) < 2:
        pytest.skip("this CPU has only the scalar level")
    _native.select_isa("scalar")
    scalar = {k: _dispatch.measure_peak(k, 1) for k in ("fp32", "int16")}
    _native.select_isa(_native.isa_supported()[-1])
    for kind in ("fp32", "int16"):
        assert _dispatch.measure_peak(kind, 1) > 3 * scalar[kind], kind


@pytest.mark.parametrize("kind, threads", [("fp16", 1), ("int16", -1), ("int16", 1.5), ("fp32", True)])
def test_bad_arguments_raise(kind, threads):
    with pytest.raises(ValueError):
        _dispatch.measure_peak(kind, threads)


def test_profile_peak_cache_keeps_the_largest_measurement(tmp_path):
    """A peak measured while the cores were busy (too low) must not stick: the cache
    keeps the maximum over runs, and a later lower measurement does not replace it."""
    from dfpengine.cli.profile import measured_peaks
    path = str(tmp_path / "peaks.json")
    values = iter([1e9, 2e9, 5e9, 4e9, 3e9, 1e9])
    measure = lambda kind: next(values)   # noqa: E731  (fp32 then int16 per call)
    assert measured_peaks(path, measure) == {"fp32": 1e9, "dfp16": 2e9}
    assert measured_peaks(path, measure) == {"fp32": 5e9, "dfp16": 4e9}
    assert measured_peaks(path, measure) == {"fp32": 5e9, "dfp16": 4e9}
    with open(path) as f:
        assert list(json.load(f).values()) == [{"fp32": 5e9, "dfp16": 4e9}]
