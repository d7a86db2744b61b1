# Batch norm and pooling glue, included into _fp32.pyx (same module).

# ---------------------------------------------------------------- batch norm

def batch_norm_stats(x):
    """Per-channel mean and biased variance over N, H, W (double sums, float32 results)."""
    x4 = _ref._bn_input("x", x)
    cdef int64_t n = x4.shape[0], ch = x4.shape[1], hw = x4.shape[2] * x4.shape[3]
    cdef cnp.ndarray mean = np.empty(ch, _F32)
    cdef cnp.ndarray var = np.empty(ch, _F32)
    cdef float *px = fp(x)
    cdef float *pm = fp(mean)
    cdef float *pv = fp(var)
    cdef int st
    with nogil:
        st = c.dfp_batch_norm_stats_f32(n, ch, hw, px, pm, pv)
    check(st, "batch_norm_stats")
    return mean, var


def batch_norm_stats_from_planes(sums, hw):
    """batch_norm_stats from the plane sums a conv forward wrote into `y_sums` ((N, C, 3)
    float64) for its output of H * W = hw pixels a plane: the same mean and variance, bit for
    bit, as batch_norm_stats on that output."""
    if (not isinstance(sums, np.ndarray) or sums.dtype != np.float64 or sums.ndim != 3
            or sums.shape[2] != 3 or not sums.flags.c_contiguous):
        raise ValueError(f"sums: expected a C-contiguous float64 array of shape (N, C, 3), received "
                         f"{getattr(sums, 'dtype', type(sums).__name__)} {getattr(sums, 'shape', '')}")
    if not isinstance(hw, int) or hw < 1:
        raise ValueError(f"hw: expected a positive int, received {hw!r}")
    cdef int64_t n = sums.shape[0], ch = sums.shape[1], h = hw
    cdef cnp.ndarray mean = np.empty(ch, _F32)
    cdef cnp.ndarray var = np.empty(ch, _F32)
    cdef double *ps = <double *>cnp.PyArray_DATA(<cnp.ndarray>sums)
    cdef float *pm = fp(mean)
    cdef float *pv = fp(var)
    cdef int st
    with nogil:
        st = c.dfp_batch_norm_stats_from_planes_f32(n, ch, h, ps, pm, pv)
    check(st, "batch_norm_stats_from_planes")
    return mean, var


def batch_norm_apply(x, scale, shift, relu=False):
    """`x * scale[c] + shift[c]`, then ReLU when `relu`."""
    x4 = _ref._bn_input("x", x)
    cdef int64_t n = x4.shape[0], ch = x4.shape[1], hw = x4.shape[2] * x4.shape[3]
    _ref._channels("scale", scale, ch)
    _ref._channels("shift", shift, ch)
    cdef cnp.ndarray y = np.empty(x.shape, _F32)
    cdef float *px = fp(x)
    cdef float *ps = fp(scale)
    cdef float *pb = fp(shift)
    cdef float *py = fp(y)
    cdef int r = bool(relu), st
    with nogil:
        st = c.dfp_batch_norm_apply_f32(n, ch, hw, px, ps, pb, r, py)
    check(st, "batch_norm_apply")
    return y


def batch_norm_backward(dy, x, mean, invstd, gamma):
    """Training-mode BN backward: `(dx, dgamma, dbeta)`."""
    x4 = _ref._bn_input("x", x)
    _ref._bn_input("dy", dy)
    if dy.shape != x.shape:
        raise ValueError(f"dy: expected shape {x.shape} (as x), received {dy.shape}")
    cdef int64_t n = x4.shape[0], ch = x4.shape[1], hw = x4.shape[2] * x4.shape[3]
    for name, v in (("mean", mean), ("invstd", invstd), ("gamma", gamma)):
        _ref._channels(name, v, ch)
    cdef cnp.ndarray dx = np.empty(x.shape, _F32)
    cdef cnp.ndarray dgamma = np.empty(ch, _F32)
    cdef cnp.ndarray dbeta = np.empty(ch, _F32)
    cdef float *pdy = fp(dy)
    cdef float *px = fp(x)
    cdef float *pm = fp(mean)
    cdef float *pi = fp(invstd)
    cdef float *pg = fp(gamma)
    cdef float *pdx = fp(dx)
    cdef float *pdg = fp(dgamma)
    cdef float *pdb = fp(dbeta)
    cdef int st
    with nogil:
        st = c.dfp_batch_norm_backward_f32(n, ch, hw, pdy, px, pm, pi, pg, pdx, pdg, pdb)
    check(st, "batch_norm_backward")
    return dx, dgamma, dbeta


cdef tuple _bn_like_x(x, names_arrays):
    """Validate x (NC or NCHW) and arrays of its shape; (n, c, hw)."""
    x4 = _ref._bn_input("x", x)
    for name, a in names_arrays:
        _ref._bn_input(name, a)
        if a.shape != x.shape:
            raise ValueError(f"{name}: expected shape {x.shape} (as x), received {a.shape}")
    return x4.shape[0], x4.shape[1], x4.shape[2] * x4.shape[3]


def batch_norm_relu_forward(x, scale, shift, residual=None):
    """`max(x * scale[c] + shift[c] (+ residual), 0)` in one pass, equal to the unfused ops."""
    cdef int64_t n, ch, hw
    n, ch, hw = _bn_like_x(x, () if residual is None else (("residual", residual),))
    _ref._channels("scale", scale, ch)
    _ref._channels("shift", shift, ch)
    cdef cnp.ndarray y = np.empty(x.shape, _F32)
    cdef float *px = fp(x)
    cdef float *ps = fp(scale)
    cdef float *pb = fp(shift)
    cdef float *pr = NULL if residual is None else fp(residual)
    cdef float *py = fp(y)
    cdef int st
    with nogil:
        st = c.dfp_batch_norm_relu_forward_f32(n, ch, hw, px, ps, pb, pr, py)
    check(st, "batch_norm_relu_forward")
    return y


def batch_norm_relu_backward(dy, y, x, mean, invstd, gamma, training=True, residual=False, scale=None,
                             shift=None):
    """`(dx, dgamma, dbeta, dresidual)` from dy and the saved output y; dresidual (the masked dy)
    only when `residual`, else None. Without a residual, y may be None with the forward's
    `scale` and `shift` given: the ReLU's mask is then recomputed from x (same mask, y never
    read, less memory traffic)."""
    cdef int64_t n, ch, hw
    if y is None and (scale is None or shift is None or residual):
        raise ValueError("batch_norm_relu_backward: without y, scale and shift are required "
                         "and residual must be False")
    n, ch, hw = _bn_like_x(x, (("dy", dy),) + ((("y", y),) if y is not None else ()))
    for name, v in (("mean", mean), ("invstd", invstd), ("gamma", gamma)) + (
            (("scale", scale), ("shift", shift)) if y is None else ()):
        _ref._channels(name, v, ch)
    cdef cnp.ndarray dx = np.empty(x.shape, _F32)
    cdef cnp.ndarray dres = np.empty(x.shape, _F32) if residual else None
    cdef cnp.ndarray dgamma = np.empty(ch, _F32)
    cdef cnp.ndarray dbeta = np.empty(ch, _F32)
    cdef float *pdy = fp(dy)
    cdef float *py = NULL if y is None else fp(y)
    cdef float *psc = NULL if y is not None else fp(scale)
    cdef float *psh = NULL if y is not None else fp(shift)
    cdef float *px = fp(x)
    cdef float *pm = fp(mean)
    cdef float *pi = fp(invstd)
    cdef float *pg = fp(gamma)
    cdef float *pdx = fp(dx)
    cdef float *pdr = NULL if dres is None else fp(dres)
    cdef float *pdg = fp(dgamma)
    cdef float *pdb = fp(dbeta)
    cdef int tr = bool(training), st
    with nogil:
        st = c.dfp_batch_norm_relu_backward_f32(n, ch, hw, pdy, py, px, psc, psh, pm, pi, pg, tr,
                                                pdx, pdr, pdg, pdb)
    check(st, "batch_norm_relu_backward")
    return dx, dgamma, dbeta, dres


# ------------------------------------------------------------------- pooling

cdef c.dfp_pool2d_shape _pool_shape(x_shape, kernel, stride, padding):
    cdef c.dfp_pool2d_shape s
    s.batch, s.channels, s.in_h, s.in_w = x_shape
    s.kernel_h, s.kernel_w = kernel
    s.stride_h, s.stride_w = stride
    s.pad_h, s.pad_w = padding
    return s


def max_pool2d_forward(x, kernel, stride, padding):
    """`(y, argmax)`: window maxima and the int32 index (into the H*W plane) of each."""
    _ref._array("x", x, ndim=4)
    kernel, stride, padding, (oh, ow) = _ref._pool_geometry(x.shape, kernel, stride, padding)
    cdef c.dfp_pool2d_shape s = _pool_shape(x.shape, kernel, stride, padding)
    cdef cnp.ndarray y = np.empty(x.shape[:2] + (oh, ow), _F32)
    cdef cnp.ndarray arg = np.empty(x.shape[:2] + (oh, ow), np.int32)
    cdef float *px = fp(x)
    cdef float *py = fp(y)
    cdef int32_t *pa = <int32_t *>cnp.PyArray_DATA(arg)
    cdef int st
    with nogil:
        st = c.dfp_max_pool2d_forward_f32(&s, px, py, pa)
    check(st, "max_pool2d_forward")
    return y, arg


def max_pool2d_backward(dy, argmax, x_shape):
    """Scatter-add each dy into its window's argmax position."""
    _ref._array("dy", dy, ndim=4)
    _ref._array("argmax", argmax, ndim=4, dtype=np.int32)
    n, ch, h, w = _ref._shape4("x_shape", x_shape)
    if argmax.shape != dy.shape or dy.shape[:2] != (n, ch):
        raise ValueError(f"argmax: expected shape {dy.shape} (as dy, with N, C of x_shape {x_shape}), "
                         f"received {argmax.shape}")
    cdef int64_t planes = n * ch, in_plane = h * w, out_plane = dy.shape[2] * dy.shape[3]
    cdef cnp.ndarray dx = np.empty((n, ch, h, w), _F32)
    cdef float *pdy = fp(dy)
    cdef int32_t *pa = <int32_t *>cnp.PyArray_DATA(argmax)
    cdef float *pdx = fp(dx)
    cdef int st
    with nogil:
        st = c.dfp_max_pool2d_backward_f32(planes, in_plane, out_plane, pdy, pa, pdx)
    if st == -3:
        raise ValueError(f"argmax: expected indices in [0, {h * w}), received "
                         f"[{argmax.min()}, {argmax.max()}]")
    check(st, "max_pool2d_backward")
    return dx


def avg_pool2d_forward(x, kernel, stride, padding):
    """Window means; zero padding counts in the divisor (count_include_pad=True)."""
    _ref._array("x", x, ndim=4)
    kernel, stride, padding, (oh, ow) = _ref._pool_geometry(x.shape, kernel, stride, padding)
    cdef c.dfp_pool2d_shape s = _pool_shape(x.shape, kernel, stride, padding)
    cdef cnp.ndarray y = np.empty(x.shape[:2] + (oh, ow), _F32)
    cdef float *px = fp(x)
    cdef float *py = fp(y)
    cdef int st
    with nogil:
        st = c.dfp_avg_pool2d_forward_f32(&s, px, py)
    check(st, "avg_pool2d_forward")
    return y


def avg_pool2d_backward(dy, x_shape, kernel, stride, padding):
    _ref._array("dy", dy, ndim=4)
    x_shape = _ref._shape4("x_shape", x_shape)
    kernel, stride, padding, (oh, ow) = _ref._pool_geometry(x_shape, kernel, stride, padding)
    if dy.shape != x_shape[:2] + (oh, ow):
        raise ValueError(f"dy: expected shape {x_shape[:2] + (oh, ow)}, received {dy.shape}")
    cdef c.dfp_pool2d_shape s = _pool_shape(x_shape, kernel, stride, padding)
    cdef cnp.ndarray dx = np.empty(x_shape, _F32)
    cdef float *pdy = fp(dy)
    cdef float *pdx = fp(dx)
    cdef int st
    with nogil:
        st = c.dfp_avg_pool2d_backward_f32(&s, pdy, pdx)
    check(st, "avg_pool2d_backward")
    return dx
