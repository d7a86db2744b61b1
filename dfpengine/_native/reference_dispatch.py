"""The contract's dispatch and thread functions for a build without compiled
modules (re-exported by `reference`): one ISA level, "scalar", and a thread
count that is only remembered."""
import os

import numpy as np

ISA_LEVELS = ("scalar", "avx2", "avx512", "avx512_vnni")
_ISAS = ["scalar"]
_threads = [os.cpu_count() or 1]  # _native applies DFPENGINE_NUM_THREADS on import


def isa_compiled():
    return list(_ISAS)


def isa_supported():
    return list(_ISAS)


def isa_selected():
    return _ISAS[0]


def select_isa(name):
    if name not in ISA_LEVELS:
        raise ValueError(f"unknown ISA {name!r}; expected one of {', '.join(ISA_LEVELS)}")
    if name not in _ISAS:
        raise ValueError(f"ISA {name!r} is not supported by the numpy reference (only scalar)")


def set_num_threads(n):
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"number of threads must be a positive int, got {n!r}")
    _threads[0] = int(n)


def get_num_threads():
    return _threads[0]
