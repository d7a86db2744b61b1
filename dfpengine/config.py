"""Every DFPENGINE_* environment variable, read in one place.

DFPENGINE_ISA          force a kernel level: scalar | avx2 | avx512 | avx512_vnni
DFPENGINE_NUM_THREADS  OpenMP threads for native kernels (default: all cores)
DFPENGINE_DATA_DIR     where `dfpengine train` looks for data sets before the defaults
"""
import os

ENV_VARS = ("DFPENGINE_ISA", "DFPENGINE_NUM_THREADS", "DFPENGINE_DATA_DIR")


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
