"""Make `dfpengine.models` importable from a source checkout that is not installed;
the `isa_threads` fixture shared by the kernel tests."""
import pytest

from dfpengine import _native, model_zoo

model_zoo.package()

LEVELS = ["scalar", "avx2", "avx512", "avx512_vnni"]


@pytest.fixture(params=[(lvl, t) for lvl in LEVELS for t in (1, 2)], ids=lambda p: f"{p[0]}-{p[1]}t")
def isa_threads(request):
    """Each ISA level this CPU supports, at 1 and 2 threads; restores the dispatch after."""
    level, threads = request.param
    if level not in _native.isa_supported():
        pytest.skip(f"{level} is not supported by this CPU (supported: {_native.isa_supported()})")
    isa0, t0 = _native.isa_selected(), _native.get_num_threads()
    _native.select_isa(level)
    _native.set_num_threads(threads)
    yield request.param
    _native.select_isa(isa0)
    _native.set_num_threads(t0)
