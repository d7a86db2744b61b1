"""Cython glue for the float formats section of the C API (rounding to narrow
float grids, codes, and the emulated low-precision GEMM).

Formats arrive as (exp_bits, man_bits, bias, saturate) tuples, or None for
"take as is" on GEMM inputs; names live in dfpengine.formats.floats."""
import numpy as np

cimport numpy as cnp
from libc.stdint cimport int16_t, int32_t, int64_t, uint64_t
from dfpengine._native.libdfp_core cimport dfp_status
from dfpengine._native.libdfp_emu cimport *
from dfpengine._native.libdfp_fp32 cimport dfp_conv2d_shape
from dfpengine._native._dispatch import check

cnp.import_array()

ROUNDINGS = {"nearest": DFP_ROUND_NEAREST, "stochastic": DFP_ROUND_STOCHASTIC}


cdef dfp_float_format to_c_format(spec, str what) except *:
    cdef dfp_float_format f
    if spec is None:
        f.exp_bits = f.man_bits = f.bias = f.saturate = 0
        return f
    try:
        f.exp_bits, f.man_bits, f.bias, f.saturate = (int(v) for v in spec)
    except (TypeError, ValueError):
        raise TypeError(f"{what}: expected (exp_bits, man_bits, bias, saturate), got {spec!r}") from None
    return f


cdef dfp_rounding to_c_rounding(str rounding, str what) except *:
    if rounding not in ROUNDINGS:
        raise ValueError(f"{what}: rounding must be one of {sorted(ROUNDINGS)}, got {rounding!r}")
    return <dfp_rounding>ROUNDINGS[rounding]


def _as_f32(x, str what):
    arr = np.asarray(x)
    if arr.dtype != np.float32:
        raise TypeError(f"{what}: expected float32 array, got {arr.dtype}")
    return np.ascontiguousarray(arr)


def code_dtype(spec):
    return np.uint8 if 1 + spec[0] + spec[1] <= 8 else np.uint16


def format_max(spec):
    cdef dfp_float_format f = to_c_format(spec, "format_max")
    cdef float v = 0
    check(dfp_float_format_max(&f, &v), "format_max")
    return float(v)


def float_round(x, spec, rounding="nearest", uint64_t seed=0, uint64_t stream=0, uint64_t index0=0):
    """x rounded onto the grid of `spec`, as a new float32 array of x's shape."""
    cdef dfp_float_format f = to_c_format(spec, "float_round")
    cdef dfp_rounding r = to_c_rounding(rounding, "float_round")
    cdef cnp.ndarray src = _as_f32(x, "float_round x")
    cdef cnp.ndarray dst = np.empty_like(src)
    cdef int64_t n = src.size
    cdef dfp_status st
    with nogil:
        st = dfp_float_round(&f, r, seed, stream, index0, <const float *>cnp.PyArray_DATA(src),
                             <float *>cnp.PyArray_DATA(dst), n)
    check(st, "float_round")
    return dst


def float_encode(x, spec, rounding="nearest", uint64_t seed=0, uint64_t stream=0, uint64_t index0=0):
    """Codes (uint8 or uint16) of x rounded to `spec`."""
    cdef dfp_float_format f = to_c_format(spec, "float_encode")
    cdef dfp_rounding r = to_c_rounding(rounding, "float_encode")
    cdef cnp.ndarray src = _as_f32(x, "float_encode x")
    cdef cnp.ndarray dst = np.empty(np.shape(src), dtype=code_dtype(spec))
    cdef int64_t n = src.size
    cdef dfp_status st
    with nogil:
        st = dfp_float_encode(&f, r, seed, stream, index0, <const float *>cnp.PyArray_DATA(src),
                              cnp.PyArray_DATA(dst), n)
    check(st, "float_encode")
    return dst


def float_decode(codes, spec):
    """Exact float32 values of `codes` (uint8 or uint16 as float_encode returns)."""
    cdef dfp_float_format f = to_c_format(spec, "float_decode")
    cdef cnp.ndarray src = np.ascontiguousarray(codes)
    if src.dtype != code_dtype(spec):
        raise TypeError(f"float_decode: codes must be {np.dtype(code_dtype(spec))}, got {src.dtype}")
    cdef cnp.ndarray dst = np.empty(np.shape(src), dtype=np.float32)
    cdef int64_t n = src.size
    cdef dfp_status st
    with nogil:
        st = dfp_float_decode(&f, cnp.PyArray_DATA(src), <float *>cnp.PyArray_DATA(dst), n)
    check(st, "float_decode")
    return dst


def gemm_fpemu(a, b, bint trans_a=False, bint trans_b=False, in_a=None, in_b=None, acc=None,
               in_rounding="nearest", acc_rounding="nearest", int64_t chunk=64,
               uint64_t seed=0, uint64_t stream=0):
    """op(a) @ op(b) with inputs rounded to in_a / in_b and every add rounded to acc
    (chunk-based accumulation, chunk products per chunk). See dfp_gemm_fpemu."""
    cdef cnp.ndarray A = _as_f32(a, "gemm_fpemu a")
    cdef cnp.ndarray B = _as_f32(b, "gemm_fpemu b")
    if A.ndim != 2 or B.ndim != 2:
        raise ValueError(f"gemm_fpemu: a and b must be 2-D, got {A.ndim}-D and {B.ndim}-D")
    cdef int64_t m = A.shape[1] if trans_a else A.shape[0]
    cdef int64_t k = A.shape[0] if trans_a else A.shape[1]
    cdef int64_t kb = B.shape[1] if trans_b else B.shape[0]
    cdef int64_t n = B.shape[0] if trans_b else B.shape[1]
    if k != kb:
        raise ValueError(f"gemm_fpemu: op(a) is {m}x{k} but op(b) is {kb}x{n}")
    if acc is None:
        raise ValueError("gemm_fpemu: acc format required")
    cdef dfp_fpemu_gemm_params p
    p.in_a = to_c_format(in_a, "gemm_fpemu in_a")
    p.in_b = to_c_format(in_b, "gemm_fpemu in_b")
    p.acc = to_c_format(acc, "gemm_fpemu acc")
    p.in_rounding = to_c_rounding(in_rounding, "gemm_fpemu in_rounding")
    p.acc_rounding = to_c_rounding(acc_rounding, "gemm_fpemu acc_rounding")
    p.chunk = chunk
    p.seed = seed
    p.stream = stream
    cdef cnp.ndarray C = np.empty((m, n), dtype=np.float32)   # every element is written
    cdef int64_t lda = max(A.shape[1], 1), ldb = max(B.shape[1], 1), ldc = max(n, 1)
    cdef dfp_status st
    with nogil:
        st = dfp_gemm_fpemu(trans_a, trans_b, m, n, k, <const float *>cnp.PyArray_DATA(A), lda,
                            <const float *>cnp.PyArray_DATA(B), ldb,
                            <float *>cnp.PyArray_DATA(C), ldc, &p)
    check(st, "gemm_fpemu")
    return C


def bfp_quantize(x, int block, int mag_bits, bint floor_exponent=False, rounding="stochastic",
                 uint64_t seed=0, uint64_t stream=0, bint codes=False):
    """Block floating point along the last axis of x (2-D view rows x cols).

    Returns y (float32, k * 2^scale_exp) or, with codes=True, (mant int16,
    scale_exp int32 of shape rows x ceil(cols/block)). See dfp_bfp_quantize."""
    cdef dfp_rounding r = to_c_rounding(rounding, "bfp_quantize")
    arr = np.asarray(x)
    # a transposed 2-D view (im2col's colsT read as cols) is quantised in place of
    # the contiguous copy numpy would make: same codes, one pass fewer
    cdef bint transposed = (arr.ndim == 2 and arr.dtype == np.float32 and not arr.flags.c_contiguous
                            and arr.T.flags.c_contiguous and arr.size > 0)
    cdef cnp.ndarray src = arr.T if transposed else _as_f32(x, "bfp_quantize x")
    shape = np.shape(arr) if transposed else np.shape(src)  # (wraparound is off: no negative indices)
    cdef Py_ssize_t nd = len(shape)
    cdef int64_t cols = shape[nd - 1] if nd else 1
    cdef int64_t rows = src.size // cols if cols else 0
    if block < 1:
        raise ValueError(f"bfp_quantize: block must be >= 1, got {block}")
    cdef int64_t nblocks = (cols + block - 1) // block
    cdef cnp.ndarray y = np.empty(shape, np.float32)
    cdef cnp.ndarray mant = np.empty(shape, np.int16)
    cdef cnp.ndarray exps = np.empty(tuple(shape[:nd - 1]) + (nblocks,), np.int32)
    cdef int16_t *mant_p = NULL
    cdef int32_t *exps_p = NULL
    cdef float *y_p = NULL
    if codes:
        mant_p = <int16_t *>cnp.PyArray_DATA(mant)
        exps_p = <int32_t *>cnp.PyArray_DATA(exps)
    else:
        y_p = <float *>cnp.PyArray_DATA(y)
    cdef const float *x_p = <const float *>cnp.PyArray_DATA(src)
    cdef int64_t ldx = (rows if rows > 1 else 1) if transposed else (cols if cols > 1 else 1)
    cdef dfp_status st
    with nogil:
        if transposed:
            st = dfp_bfp_quantize_transposed(x_p, rows, cols, ldx, block, mag_bits, floor_exponent,
                                             r, seed, stream, mant_p, exps_p, y_p)
        else:
            st = dfp_bfp_quantize(x_p, rows, cols, ldx, block, mag_bits, floor_exponent, r, seed,
                                  stream, mant_p, exps_p, y_p)
    check(st, "bfp_quantize")
    return (mant, exps) if codes else y


def gemm_bfp(ka, sa, kb, sb, int block):
    """A @ B^T from bfp_quantize codes of A (m x k) and B (n x k), blocks along k:
    exact integer block sums, scaled and added in FP32 in block order (dfp_gemm_bfp)."""
    cdef cnp.ndarray KA = np.ascontiguousarray(ka, np.int16)
    cdef cnp.ndarray KB = np.ascontiguousarray(kb, np.int16)
    cdef cnp.ndarray SA = np.ascontiguousarray(sa, np.int32)
    cdef cnp.ndarray SB = np.ascontiguousarray(sb, np.int32)
    if KA.ndim != 2 or KB.ndim != 2 or KA.shape[1] != KB.shape[1]:
        raise ValueError(f"gemm_bfp: mantissas must be m x k and n x k, got {np.shape(ka)} and {np.shape(kb)}")
    cdef int64_t m = KA.shape[0], n = KB.shape[0], k = KA.shape[1]
    if block < 1:
        raise ValueError(f"gemm_bfp: block must be >= 1, got {block}")
    nb = (k + block - 1) // block
    if np.shape(SA) != (m, nb) or np.shape(SB) != (n, nb):
        raise ValueError(f"gemm_bfp: scales must be {(m, nb)} and {(n, nb)}, got {np.shape(sa)} and {np.shape(sb)}")
    cdef cnp.ndarray C = np.zeros((m, n), dtype=np.float32)
    cdef int64_t ldc = max(n, 1)
    cdef dfp_status st
    with nogil:
        st = dfp_gemm_bfp(m, n, k, block, <const int16_t *>cnp.PyArray_DATA(KA),
                          <const int32_t *>cnp.PyArray_DATA(SA), <const int16_t *>cnp.PyArray_DATA(KB),
                          <const int32_t *>cnp.PyArray_DATA(SB), <float *>cnp.PyArray_DATA(C), ldc)
    check(st, "gemm_bfp")
    return C


cdef _bfp_operand(x, str what, dfp_bfp_operand *op, int block, int mag_bits, bint floor_exponent,
                  rounding, uint64_t seed, uint64_t stream):
    """Fill op from a 2-D float32 (rows x K) array or view; returns the array kept alive."""
    arr = np.asarray(x)
    if arr.dtype != np.float32 or arr.ndim != 2:
        raise TypeError(f"gemm_bfp_f32: {what} must be a 2-D float32 array, got {arr.dtype} with shape {arr.shape}")
    if not (arr.strides[1] == 4 or arr.strides[0] == 4) or any(s % 4 for s in arr.strides):
        arr = np.ascontiguousarray(arr)
    op.x = <const float *>cnp.PyArray_DATA(arr)
    op.row_stride = arr.strides[0] // 4
    op.k_stride = arr.strides[1] // 4
    if arr.shape[1] <= 1:          # a single column: either stride serves, make K the unit one
        op.k_stride = 1
        op.row_stride = max(op.row_stride, 1)
    elif arr.shape[0] <= 1 and op.k_stride != 1:
        arr = np.ascontiguousarray(arr)
        op.x = <const float *>cnp.PyArray_DATA(arr)
        op.row_stride, op.k_stride = arr.shape[1], 1
    op.block = block
    op.mag_bits = mag_bits
    op.floor_exponent = floor_exponent
    op.rounding = to_c_rounding(rounding, "gemm_bfp_f32")
    op.seed = seed
    op.stream = stream
    return arr


def gemm_bfp_f32(a, b, int block, int mag_a, bint floor_a, rounding_a, int mag_b, bint floor_b,
                 rounding_b, uint64_t seed=0, uint64_t stream_a=0, uint64_t stream_b=1):
    """A @ B^T for float32 A (m x k) and B (n x k) (transposed views welcome), both
    quantised to block floating point along k while packed (dfp_gemm_bfp_f32):
    equal to bfp_quantize(A, stream_a) and bfp_quantize(B, stream_b) then gemm_bfp."""
    cdef dfp_bfp_operand op_a, op_b
    if block < 1:
        raise ValueError(f"gemm_bfp_f32: block must be >= 1, got {block}")
    keep_a = _bfp_operand(a, "a", &op_a, block, mag_a, floor_a, rounding_a, seed, stream_a)
    keep_b = _bfp_operand(b, "b", &op_b, block, mag_b, floor_b, rounding_b, seed, stream_b)
    if keep_a.shape[1] != keep_b.shape[1]:
        raise ValueError(f"gemm_bfp_f32: a and b must be m x k and n x k, got {keep_a.shape} and {keep_b.shape}")
    cdef int64_t m = keep_a.shape[0], n = keep_b.shape[0], k = keep_a.shape[1]
    cdef cnp.ndarray C = np.empty((m, n), dtype=np.float32)
    cdef int64_t ldc = max(n, 1)
    cdef dfp_status st
    with nogil:
        st = dfp_gemm_bfp_f32(m, n, k, &op_a, &op_b, <float *>cnp.PyArray_DATA(C), ldc)
    check(st, "gemm_bfp_f32")
    return C


cdef dfp_conv2d_shape conv_shape(x_shape, int64_t kh, int64_t kw, stride, padding, dilation):
    cdef dfp_conv2d_shape s
    s.batch, s.in_channels, s.in_h, s.in_w = (int(v) for v in x_shape)
    s.out_channels = 1
    s.kernel_h, s.kernel_w = kh, kw
    s.stride_h, s.stride_w = stride
    s.pad_h, s.pad_w = padding
    s.dilation_h, s.dilation_w = dilation
    return s


def im2col(x, int64_t kh, int64_t kw, stride, padding, dilation, int64_t oh, int64_t ow):
    """Column matrix of the batch, (C*KH*KW) x (N*OH*OW) (dfp_conv2d_im2col_f32)."""
    cdef cnp.ndarray X = _as_f32(x, "im2col x")
    cdef dfp_conv2d_shape s = conv_shape(np.shape(X), kh, kw, stride, padding, dilation)
    cdef cnp.ndarray cols = np.empty((s.in_channels * kh * kw, s.batch * oh * ow), np.float32)
    cdef dfp_status st
    with nogil:
        st = dfp_conv2d_im2col_f32(&s, <const float *>cnp.PyArray_DATA(X), <float *>cnp.PyArray_DATA(cols))
    check(st, "im2col")
    return cols


def col2im(cols, x_shape, int64_t kh, int64_t kw, stride, padding, dilation):
    """dx (x_shape) from a column-matrix gradient laid out as im2col's (dfp_conv2d_col2im_f32)."""
    cdef cnp.ndarray C = _as_f32(cols, "col2im cols")
    cdef dfp_conv2d_shape s = conv_shape(x_shape, kh, kw, stride, padding, dilation)
    cdef cnp.ndarray dx = np.empty(tuple(x_shape), np.float32)
    cdef dfp_status st
    with nogil:
        st = dfp_conv2d_col2im_f32(&s, <const float *>cnp.PyArray_DATA(C), <float *>cnp.PyArray_DATA(dx))
    check(st, "col2im")
    return dx


include "_emu_conv.pxi"
