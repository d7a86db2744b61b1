"""Cython glue for dispatch, threads and status codes."""
from dfpengine._native.libdfp_core cimport *

ISA_LEVELS = ("scalar", "avx2", "avx512", "avx512_vnni")


cpdef check(int status, str what):
    """Raise a Python exception for a non-zero dfp_status, naming the call."""
    if status == 0:
        return
    msg = dfp_status_string(<dfp_status>status).decode()
    if status in (-1, -2, -3, -6):
        raise ValueError(f"{what}: {msg}")
    if status == -5:
        raise MemoryError(f"{what}: {msg}")
    raise RuntimeError(f"{what}: {msg}")


def version():
    return dfp_version().decode()


def isa_compiled():
    return list(ISA_LEVELS[:<int>dfp_isa_compiled() + 1])


def isa_supported():
    return list(ISA_LEVELS[:<int>dfp_isa_supported() + 1])


def isa_selected():
    return dfp_isa_name(dfp_isa_selected()).decode()


def select_isa(name):
    if name not in ISA_LEVELS:
        raise ValueError(f"unknown ISA {name!r}; expected one of {', '.join(ISA_LEVELS)}")
    cdef int level = ISA_LEVELS.index(name)
    cdef int status = dfp_isa_select(<dfp_isa>level)
    if status != 0:
        raise ValueError(f"ISA {name!r} is not supported on this CPU "
                         f"(supported: {', '.join(isa_supported())})")


def set_num_threads(n):
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"number of threads must be a positive int, got {n!r}")
    check(dfp_set_num_threads(n), "set_num_threads")


def get_num_threads():
    return dfp_num_threads()


PEAK_KINDS = {"fp32": DFP_PEAK_FP32_FMA, "int16": DFP_PEAK_INT16_MADD}


def measure_peak(kind, threads=0):
    """ops/s of the selected ISA's arithmetic ceiling ("fp32": FMA, "int16": the
    int16 multiply-add the integer GEMM uses), multiply-add = 2 ops, summed over
    `threads` threads (0: the current setting). Register-only chains, ~0.2 s."""
    if kind not in PEAK_KINDS:
        raise ValueError(f"unknown peak kind {kind!r}; expected one of {', '.join(PEAK_KINDS)}")
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
        raise ValueError(f"threads must be a non-negative int, got {threads!r}")
    cdef double ops = 0.0
    cdef int nt = threads
    cdef dfp_peak_kind k = PEAK_KINDS[kind]
    with nogil:
        status = dfp_measure_peak(k, nt, &ops)
    check(status, "measure_peak")
    return ops
