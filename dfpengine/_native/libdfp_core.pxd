# Declarations from native/include/dfpengine.h (status, dispatch, threads, memory blocks).
# tests/test_capi.py checks every name here against the header.
from libc.stdint cimport uint64_t
cdef extern from "dfpengine.h" nogil:
    ctypedef enum dfp_status:
        DFP_OK
    ctypedef enum dfp_isa:
        DFP_ISA_SCALAR
        DFP_ISA_AVX2
        DFP_ISA_AVX512
        DFP_ISA_AVX512_VNNI
    const char *dfp_status_string(dfp_status status)
    const char *dfp_version()
    const char *dfp_isa_name(dfp_isa isa)
    dfp_status dfp_isa_from_name(const char *name, dfp_isa *isa)
    dfp_isa dfp_isa_compiled()
    dfp_isa dfp_isa_supported()
    dfp_isa dfp_isa_selected()
    dfp_status dfp_isa_select(dfp_isa isa)
    int dfp_num_threads()
    dfp_status dfp_set_num_threads(int num_threads)
    ctypedef enum dfp_peak_kind:
        DFP_PEAK_FP32_FMA
        DFP_PEAK_INT16_MADD
    dfp_status dfp_measure_peak(dfp_peak_kind kind, int threads, double *ops_per_s)
    void *dfp_block_alloc(size_t bytes)
    void *dfp_block_calloc(size_t count, size_t size)
    void *dfp_block_realloc(void *block, size_t bytes)
    void dfp_block_free(void *block)
    void dfp_block_cache_set_limit(size_t bytes)
    void dfp_block_cache_release()
    ctypedef struct dfp_block_cache_stats:
        size_t cached_bytes
        size_t cached_blocks
        size_t limit_bytes
        uint64_t hits
        uint64_t misses
    void dfp_block_cache_get_stats(dfp_block_cache_stats *stats)
