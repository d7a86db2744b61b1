"""Every DFPENGINE_* environment variable, read in one place.

DFPENGINE_ISA          force a kernel level: scalar | avx2 | avx512 | avx512_vnni
DFPENGINE_NUM_THREADS  OpenMP threads for native kernels (default: all cores)
DFPENGINE_DATA_DIR     where `dfpengine train` looks for data sets before the defaults
DFPENGINE_ARRAY_CACHE_MB  MiB of freed large array memory kept for reuse (default 1024;
                       0 leaves numpy's own allocator in place)
"""
import os

ENV_VARS = ("DFPENGINE_ISA", "DFPENGINE_NUM_THREADS", "DFPENGINE_DATA_DIR", "DFPENGINE_ARRAY_CACHE_MB")

DEFAULT_ARRAY_CACHE_MB = 1024


def isa():
    return os.environ.get("DFPENGINE_ISA") or None


def num_threads():
    value = os.environ.get("DFPENGINE_NUM_THREADS")
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"DFPENGINE_NUM_THREADS must be a positive integer, got {value!r}")
    return n


def data_dir():
    return os.environ.get("DFPENGINE_DATA_DIR") or None


def array_cache_bytes():
    value = os.environ.get("DFPENGINE_ARRAY_CACHE_MB")
    if value is None or value == "":
        return DEFAULT_ARRAY_CACHE_MB << 20
    try:
        mb = int(value)
    except ValueError:
        mb = -1
    if mb < 0:
        raise ValueError(f"DFPENGINE_ARRAY_CACHE_MB must be a non-negative integer, got {value!r}")
    return mb << 20
