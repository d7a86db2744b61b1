"""The block cache under numpy's arrays (dfp_block_* and dfpengine._native._memory)."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import dfpengine
from dfpengine import capi, config
from dfpengine._native import _memory

MB = 1 << 20


def handler_name(array=None):
    multiarray = (getattr(np, "_core", None) or np.core).multiarray   # numpy 2, numpy 1.x
    return multiarray.get_handler_name() if array is None else multiarray.get_handler_name(array)


@pytest.fixture
def cache():
    """A cache emptied before and after the test, with the default limit back."""
    _memory.release()
    yield _memory
    _memory.set_limit(config.array_cache_bytes())
    _memory.release()


def test_numpy_arrays_use_the_cache_after_import():
    assert handler_name() == _memory.HANDLER_NAME
    assert handler_name(np.empty(10)) == _memory.HANDLER_NAME


def test_freed_large_block_is_reused(cache):
    a = np.empty(MB // 4, np.float32)
    address = a.ctypes.data
    del a
    kept = cache.stats()
    assert kept["cached_blocks"] == 1 and kept["cached_bytes"] >= MB
    b = np.empty(MB // 4, np.float32)
    after = cache.stats()
    assert b.ctypes.data == address
    assert after["hits"] == kept["hits"] + 1 and after["cached_blocks"] == 0


def test_small_blocks_are_not_kept(cache):
    del_me = np.empty(1000, np.float32)
    del del_me
    assert cache.stats()["cached_blocks"] == 0


def test_a_block_much_larger_than_asked_is_not_handed_out(cache):
    a = np.empty(4 * MB, np.uint8)
    del a
    b = np.empty(2 * MB, np.uint8)   # half the kept block: allocate anew
    assert cache.stats()["cached_blocks"] == 1
    del b


def test_zeros_from_a_reused_block_are_zero(cache):
    a = np.full(MB, 7.0, np.float32)
    del a
    z = np.zeros(MB, np.float32)
    assert cache.stats()["hits"] >= 1
    assert not z.any()


def test_large_arrays_are_64_byte_aligned(cache):
    for n in (MB, 3 * MB + 5, 17):
        assert np.empty(n, np.uint8).ctypes.data % 64 == 0


def test_resize_keeps_contents(cache):
    a = np.arange(MB, dtype=np.float32)
    a.resize(3 * MB, refcheck=False)
    assert np.array_equal(a[:MB], np.arange(MB, dtype=np.float32))
    a.resize(1000, refcheck=False)
    assert np.array_equal(a, np.arange(1000, dtype=np.float32))


def test_limit_bounds_kept_bytes_oldest_first(cache):
    cache.set_limit(3 * MB)
    arrays = [np.empty(MB, np.uint8) for _ in range(4)]
    first = arrays[0].ctypes.data
    while arrays:
        del arrays[0]    # freed in order: the first is the oldest kept
    s = cache.stats()
    assert s["cached_bytes"] == 3 * MB and s["cached_blocks"] == 3
    again = [np.empty(MB, np.uint8) for _ in range(3)]   # all three from the cache
    assert first not in [a.ctypes.data for a in again]   # the oldest went first
    cache.set_limit(0)
    assert cache.stats()["cached_bytes"] == 0
    del again
    assert cache.stats()["cached_blocks"] == 0


def test_release_frees_everything(cache):
    a = [np.empty(MB, np.uint8) for _ in range(3)]
    del a
    assert cache.stats()["cached_blocks"] == 3
    cache.release()
    assert cache.stats()["cached_bytes"] == 0


def test_set_limit_rejects_bad_values(cache):
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="cache limit"):
            cache.set_limit(bad)


def test_c_api_blocks_from_many_threads(cache):
    lib, ffi = capi.lib, capi.ffi
    errors = []

    def churn(seed):
        rng = np.random.default_rng(seed)
        for size in rng.integers(100_000, 3 * MB, 200):
            p = lib.dfp_block_alloc(int(size))
            if p == ffi.NULL:
                errors.append(size)
                continue
            buf = ffi.buffer(p, int(size))
            buf[0:1], buf[int(size) - 1:int(size)] = b"x", b"y"
            lib.dfp_block_free(p)
    threads = [threading.Thread(target=churn, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = ffi.new("dfp_block_cache_stats *")
    lib.dfp_block_cache_get_stats(s)
    assert not errors
    assert s.cached_bytes <= s.limit_bytes and s.hits + s.misses >= 800


def run_python(code, **env):
    full = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full)


def test_environment_turns_the_cache_off():
    r = run_python("import dfpengine, numpy as np\n"
                   "print((getattr(np, '_core', None) or np.core).multiarray.get_handler_name())",
                   DFPENGINE_ARRAY_CACHE_MB="0")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "default_allocator"


def test_environment_rejects_a_bad_limit():
    r = run_python("import dfpengine", DFPENGINE_ARRAY_CACHE_MB="lots")
    assert r.returncode != 0 and "DFPENGINE_ARRAY_CACHE_MB" in r.stderr


def test_training_step_reuses_its_arrays(cache):
    dfpengine.manual_seed(0)
    model = dfpengine.nn.Sequential(dfpengine.nn.Conv2d(3, 16, 3, padding=1), dfpengine.nn.ReLU())
    x = dfpengine.randn(32, 3, 32, 32)

    def step():
        model(x).sum().backward()
    step()
    before = cache.stats()
    step()
    after = cache.stats()
    assert after["misses"] == before["misses"] and after["hits"] > before["hits"]


def test_public_api_reports_and_empties(cache):
    a = np.empty(MB, np.uint8)
    del a
    assert dfpengine.memory_stats()["cached_bytes"] >= MB
    dfpengine.empty_cache()
    assert dfpengine.memory_stats()["cached_bytes"] == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_can_allocate(cache):
    kept = np.empty(MB, np.uint8)
    del kept
    pid = os.fork()
    if pid == 0:   # the child: allocate from the cache it inherited, then leave at once
        ok = np.empty(MB, np.uint8).ctypes.data % 64 == 0 and not np.zeros(2 * MB, np.uint8).any()
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
