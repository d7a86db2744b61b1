"""Cython glue for the integer compute path: DFP16 quantisers and the
low-precision GEMM family (`gemm_quantized`, `conv2d_*_quantized`) that the
native layer routes to when a GemmFormat other than FP32 is given.

Stochastic rounding draws counter-based bits keyed by (seed, stream, element):
a GemmFormat with a `stream` key (set per step, layer and pass by the precision
policy) gives operand a stream 2*key and operand b 2*key+1, so a resumed run
draws what an uninterrupted one does; an unkeyed one takes the next number of a
process-wide counter. Either way a seeded run is reproducible on any ISA and
thread count. Flush and saturation counts accumulate in
`gemm_stats()` until `reset_gemm_stats()`.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int16_t, int32_t, int64_t, uint64_t

from dfpengine._native cimport libdfp_int as c
from dfpengine._native.libdfp_fp32 cimport dfp_conv2d_shape
from dfpengine._native._dispatch import check
from dfpengine._native import reference as _ref

cnp.import_array()

_ROUNDING = {"nearest": 0, "stochastic": 1, "biased": 2}
_GRAN = {"tensor": 0, "channel": 1, "block": 2}
_stats = {"flushes": 0, "chunk_len": 0, "saturations": 0, "calls": 0, "quantize_seconds": 0.0,
          "quantized": 0}
_stream = [0]


def gemm_stats():
    """Accumulated counters of the integer GEMMs: flushes, saturations, calls, last chunk_len,
    and of the DFP16 convolutions' FP32 -> INT16 passes: quantize_seconds, quantized (elements)."""
    return dict(_stats)


def reset_gemm_stats():
    for key in _stats:
        _stats[key] = 0


cdef _record(c.dfp_gemm_stats *st):
    _stats["flushes"] += st.flushes
    _stats["saturations"] += st.saturations
    _stats["chunk_len"] = st.chunk_len
    _stats["calls"] += 1
    _stats["quantize_seconds"] += st.quantize_ns * 1e-9
    _stats["quantized"] += st.quantized


cdef c.dfp_dfp16_params _params(shift, rounding, seed, stream) except *:
    if rounding not in _ROUNDING:
        raise ValueError(f"rounding: expected one of {tuple(_ROUNDING)}, received {rounding!r}")
    if not isinstance(shift, (int, np.integer)) or not 0 <= shift <= 3:
        raise ValueError(f"shift: expected an int in 0..3, received {shift!r}")
    cdef c.dfp_dfp16_params p
    p.shift = shift
    p.rounding = <c.dfp_rounding>_ROUNDING[rounding]
    p.seed = <uint64_t>(seed & 0xFFFFFFFFFFFFFFFF)
    p.stream = <uint64_t>(stream & 0xFFFFFFFFFFFFFFFF)
    p.expected_exponent = 0
    p.use_expected_exponent = 0
    return p


cdef c.dfp_dfp16_params _spec_params(spec, str what, fmt=None, int operand=0) except *:
    """Quantiser parameters of operand `operand` (0: a, 1: b) of `fmt`, whose FormatSpec is
    `spec`: the format's stream key, else a fresh stream of the counter per call."""
    if spec is None or getattr(spec, "name", None) != "dfp16":
        raise NotImplementedError(f"{what}: the integer module computes DFP16 operands; "
                                  f"received {getattr(spec, 'name', spec)!r}")
    key = getattr(fmt, "stream", None)
    if key is None:
        _stream[0] += 1
        stream = _stream[0]
    else:
        stream = 2 * key + operand
    return _params(spec.param("shift", 2), spec.rounding, spec.param("seed", 0), stream)


def _fmt(fmt, what):
    a, b = getattr(fmt, "a", None), getattr(fmt, "b", None)
    if a is None or b is None:
        raise TypeError(f"{what}: fmt: expected a GemmFormat, received {type(fmt).__name__}")
    return a, b


def _rows_cols(x, granularity):
    if granularity == "tensor":
        return 1, x.size
    rows = x.shape[0] if x.ndim else 1
    return rows, (x.size // rows if rows else 0)


def quantize_dfp16(x, shift=2, rounding="nearest", seed=0, stream=0, granularity="tensor",
                   block=64):
    """(q int16 with x's shape, exponents int32): x ~ q * 2^e.

    granularity "tensor": one exponent (shape ()); "channel": one per x.shape[0];
    "block": one per `block` consecutive elements of each channel's row, shape
    (channels, blocks)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if granularity not in _GRAN:
        raise ValueError(f"granularity: expected one of {tuple(_GRAN)}, received {granularity!r}")
    cdef c.dfp_dfp16_params p = _params(shift, rounding, seed, stream)
    cdef int64_t rows, cols
    rows, cols = _rows_cols(x, granularity)
    cdef int g = _GRAN[granularity]
    cdef int64_t blk = block
    if g == 2 and blk < 1:
        raise ValueError(f"block: expected a positive int, received {block!r}")
    cdef int64_t ne = c.dfp_dfp16_num_exponents(rows, cols, <c.dfp_granularity>g, blk)
    cdef cnp.ndarray q = np.empty(x.shape, np.int16)
    cdef cnp.ndarray e = np.empty(max(ne, 1), np.int32)
    cdef int64_t sat = 0
    cdef int st
    cdef cnp.ndarray x_ = x
    with nogil:
        st = c.dfp_dfp16_quantize(<float *>cnp.PyArray_DATA(x_), rows, cols, <c.dfp_granularity>g, blk,
                                  &p, <int16_t *>cnp.PyArray_DATA(q), <int32_t *>cnp.PyArray_DATA(e), &sat)
    check(st, "quantize_dfp16")
    if g == 0:
        return q, int(e[0])
    return q, (e if g == 1 else e.reshape(rows, -1))


def dequantize_dfp16(q, exponents, granularity="tensor", block=64):
    """float32 x = q * 2^e, exponents laid out as `quantize_dfp16` returns them."""
    q = np.ascontiguousarray(q, dtype=np.int16)
    e = np.ascontiguousarray(np.asarray(exponents, dtype=np.int32).reshape(-1))
    if granularity not in _GRAN:
        raise ValueError(f"granularity: expected one of {tuple(_GRAN)}, received {granularity!r}")
    cdef int64_t rows, cols
    rows, cols = _rows_cols(q, granularity)
    cdef int g = _GRAN[granularity]
    cdef int64_t blk = block
    if e.size != max(c.dfp_dfp16_num_exponents(rows, cols, <c.dfp_granularity>g, blk), 1):
        raise ValueError(f"exponents: {e.size} do not match q {q.shape} at granularity {granularity!r}")
    cdef cnp.ndarray x = np.empty(q.shape, np.float32)
    cdef int st
    cdef cnp.ndarray q_ = q
    cdef cnp.ndarray e_ = e
    with nogil:
        st = c.dfp_dfp16_dequantize(<int16_t *>cnp.PyArray_DATA(q_), <int32_t *>cnp.PyArray_DATA(e_),
                                    rows, cols, <c.dfp_granularity>g, blk, <float *>cnp.PyArray_DATA(x))
    check(st, "dequantize_dfp16")
    return x


def gemm_quantized(a, b, trans_a=False, trans_b=False, fmt=None):
    """`op(a) @ op(b)` with both operands quantised to DFP16 while packing."""
    _ref._array("a", a, ndim=2)
    _ref._array("b", b, ndim=2)
    fa, fb = _fmt(fmt, "gemm")
    cdef c.dfp_dfp16_params pa = _spec_params(fa, "gemm", fmt, 0)
    cdef c.dfp_dfp16_params pb = _spec_params(fb, "gemm", fmt, 1)
    cdef int ta = bool(trans_a), tb = bool(trans_b)
    cdef int64_t m = a.shape[1] if ta else a.shape[0]
    cdef int64_t k = a.shape[0] if ta else a.shape[1]
    cdef int64_t kb = b.shape[1] if tb else b.shape[0]
    cdef int64_t n = b.shape[0] if tb else b.shape[1]
    if k != kb:
        raise ValueError(f"gemm: inner dimensions differ: op(a) is {(m, k)}, op(b) is {(kb, n)}")
    cdef cnp.ndarray out = np.empty((m, n), np.float32)
    cdef int64_t lda = a.shape[1], ldb = b.shape[1]
    cdef c.dfp_gemm_stats st = [0, 0, 0, 0, 0]
    cdef int status
    cdef cnp.ndarray a_ = a
    cdef cnp.ndarray b_ = b
    with nogil:
        status = c.dfp_gemm_dfp16(ta, tb, m, n, k, <float *>cnp.PyArray_DATA(a_), lda,
                                  <float *>cnp.PyArray_DATA(b_), ldb, <float *>cnp.PyArray_DATA(out),
                                  n, 0, &pa, &pb, &st)
    check(status, "gemm")
    _record(&st)
    return out


def gemm_s16(a, b, int32_t ea=0, int32_t eb=0, stats=None):
    """2^(ea+eb) * a @ b for int16 a (m x k) and b (k x n) through the integer
    micro-kernels: INT32 sums over K chunks whose length the operands' maxima make
    overflow-free, flushed into FP32. -32768 is clamped to -32767 (the symmetric
    DFP16 range; counted as a saturation). stats: a dict to receive flushes,
    chunk_len and saturations of this call."""
    for name, v in (("a", a), ("b", b)):
        arr = np.asarray(v)
        if arr.dtype != np.int16 or arr.ndim != 2:
            raise TypeError(f"gemm_s16: {name} must be a 2-D int16 array, got {arr.dtype} with shape {arr.shape}")
    cdef cnp.ndarray a_ = np.ascontiguousarray(a)
    cdef cnp.ndarray b_ = np.ascontiguousarray(b)
    cdef int64_t m = a_.shape[0], k = a_.shape[1], n = b_.shape[1]
    if b_.shape[0] != k:
        raise ValueError(f"gemm_s16: inner dimensions differ: a is {(m, k)}, b is {np.shape(b)}")
    cdef cnp.ndarray out = np.empty((m, n), np.float32)
    cdef c.dfp_gemm_stats st = [0, 0, 0, 0, 0]
    cdef int status
    cdef int64_t lda = max(k, 1), ldb = max(n, 1), ldc = max(n, 1)
    with nogil:
        status = c.dfp_gemm_s16(0, 0, m, n, k, <int16_t *>cnp.PyArray_DATA(a_), lda, ea,
                                <int16_t *>cnp.PyArray_DATA(b_), ldb, eb,
                                <float *>cnp.PyArray_DATA(out), ldc, 0, &st)
    check(status, "gemm_s16")
    _record(&st)
    if stats is not None:
        stats.update(flushes=st.flushes, chunk_len=st.chunk_len, saturations=st.saturations)
    return out


include "_plane_sums.pxi"
include "_int_conv.pxi"
