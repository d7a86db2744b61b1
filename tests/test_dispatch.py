"""Runtime dispatch, threads and `dfpengine info` as a user sees them."""
import json
import os
import subprocess
import sys

import pytest

from dfpengine import _native

LEVELS = ["scalar", "avx2", "avx512", "avx512_vnni"]


def run_python(code, **env):
    full_env = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, timeout=120)


def test_levels_are_ordered_prefixes():
    compiled, supported = _native.isa_compiled(), _native.isa_supported()
    assert compiled == LEVELS[:len(compiled)]
    assert supported == LEVELS[:len(supported)]
    assert len(supported) <= len(compiled)
    assert _native.isa_selected() in supported


@pytest.mark.parametrize("level", LEVELS)
def test_select_each_level(level):
    before = _native.isa_selected()
    try:
        if level in _native.isa_supported():
            _native.select_isa(level)
            assert _native.isa_selected() == level
        else:
            with pytest.raises(ValueError, match="not supported"):
                _native.select_isa(level)
    finally:
        _native.select_isa(before)


def test_unknown_isa_name():
    with pytest.raises(ValueError, match="unknown ISA 'sse9'"):
        _native.select_isa("sse9")


def test_environment_forces_level():
    out = run_python("from dfpengine import _native; print(_native.isa_selected())",
                     DFPENGINE_ISA="scalar")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "scalar"


def test_environment_unknown_level_is_a_clear_error():
    out = run_python("import dfpengine", DFPENGINE_ISA="avx1024")
    assert out.returncode != 0
    assert "DFPENGINE_ISA=avx1024" in out.stderr and "unknown ISA" in out.stderr


@pytest.mark.parametrize("bad", [0, -1, 2.5, "2", True])
def test_set_num_threads_rejects(bad):
    with pytest.raises(ValueError, match="positive int"):
        _native.set_num_threads(bad)


def test_set_num_threads_round_trip():
    before = _native.get_num_threads()
    try:
        _native.set_num_threads(1)
        assert _native.get_num_threads() == 1
    finally:
        _native.set_num_threads(before)


def test_environment_threads():
    out = run_python("import dfpengine; print(dfpengine.get_num_threads())",
                     DFPENGINE_NUM_THREADS="1")
    assert out.stdout.strip() == "1", out.stderr
    bad = run_python("import dfpengine", DFPENGINE_NUM_THREADS="many")
    assert bad.returncode != 0 and "DFPENGINE_NUM_THREADS" in bad.stderr


def test_info_json_schema():
    out = subprocess.run([sys.executable, "-m", "dfpengine.cli", "info", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("version", "isa_compiled", "isa_supported", "isa_selected", "threads"):
        assert key in info
    assert info["isa_selected"] in info["isa_supported"]
    assert isinstance(info["threads"], int) and info["threads"] >= 1


def _spincount_after_import(env):
    import os
    import subprocess
    import sys
    full = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", "import os, dfpengine; "
                          "print(os.environ.get('GOMP_SPINCOUNT', '-'))"],
                         env=full, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_openmp_spin_is_bounded_unless_the_user_chose_a_policy():
    assert _spincount_after_import({}) == "10000"
    assert _spincount_after_import({"OMP_WAIT_POLICY": "active"}) == "-"
    assert _spincount_after_import({"GOMP_SPINCOUNT": "5"}) == "5"
