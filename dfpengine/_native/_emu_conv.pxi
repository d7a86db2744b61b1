# Included by _emu.pyx: the emulated-format convolutions computed image by image
# (dfp_conv2d_bfp_*) or a few images at a time (dfp_conv2d_fpemu_*), one
# wrapper per family and a thin def per pass.


cdef dfp_bfp_format _bfp_format(spec, str what) except *:
    """(block, mag_bits, floor_exponent, rounding, seed, stream) -> dfp_bfp_format."""
    cdef dfp_bfp_format f
    block, mag_bits, floor_exponent, rounding, seed, stream = spec
    f.block, f.mag_bits, f.floor_exponent = int(block), int(mag_bits), bool(floor_exponent)
    f.rounding = to_c_rounding(rounding, what)
    f.seed, f.stream = int(seed), int(stream)
    return f


cdef dfp_conv2d_shape _bfp_conv_shape(x_shape, w_shape, stride, padding, dilation):
    cdef dfp_conv2d_shape s = conv_shape(x_shape, int(w_shape[2]), int(w_shape[3]), stride, padding, dilation)
    s.out_channels = int(w_shape[0])
    return s


ctypedef dfp_status (*bfp_conv_fn)(const dfp_conv2d_shape *, const float *, const dfp_bfp_format *,
                                   const float *, const dfp_bfp_format *, float *) noexcept nogil


cdef _bfp_conv(bfp_conv_fn fn, str what, dfp_conv2d_shape s, p, fp, q, fq, out_shape):
    """One dfp_conv2d_bfp_* pass: inputs p, q (float32) with formats fp, fq; a new output."""
    cdef cnp.ndarray P = _as_f32(p, f"{what} input")
    cdef cnp.ndarray Q = _as_f32(q, f"{what} input")
    cdef dfp_bfp_format cp = _bfp_format(fp, what), cq = _bfp_format(fq, what)
    cdef cnp.ndarray out = np.empty(tuple(out_shape), np.float32)
    cdef dfp_status st
    with nogil:
        st = fn(&s, <const float *>cnp.PyArray_DATA(P), &cp, <const float *>cnp.PyArray_DATA(Q), &cq,
                <float *>cnp.PyArray_DATA(out))
    check(st, what)
    return out


def conv_bfp_forward(x, w, stride, padding, dilation, y_shape, fx, fw):
    """y (y_shape, NCHW) of the conv in block floating point (dfp_conv2d_bfp_forward);
    fx, fw: (block, mag_bits, floor_exponent, rounding, seed, stream) of x and w."""
    s = _bfp_conv_shape(np.shape(x), np.shape(w), stride, padding, dilation)
    return _bfp_conv(dfp_conv2d_bfp_forward, "conv_bfp_forward", s, x, fx, w, fw, y_shape)


def conv_bfp_backward_data(dy, w, x_shape, stride, padding, dilation, fdy, fw):
    """dx (x_shape) of the conv in block floating point (dfp_conv2d_bfp_backward_data)."""
    s = _bfp_conv_shape(x_shape, np.shape(w), stride, padding, dilation)
    return _bfp_conv(dfp_conv2d_bfp_backward_data, "conv_bfp_backward_data", s, dy, fdy, w, fw, x_shape)


def conv_bfp_backward_weight(x, dy, w_shape, stride, padding, dilation, fx, fdy):
    """dw (w_shape) of the conv in block floating point (dfp_conv2d_bfp_backward_weight)."""
    s = _bfp_conv_shape(np.shape(x), w_shape, stride, padding, dilation)
    return _bfp_conv(dfp_conv2d_bfp_backward_weight, "conv_bfp_backward_weight", s, x, fx, dy, fdy, w_shape)


cdef dfp_fpemu_gemm_params _fpemu_params(in_a, in_b, acc, int64_t chunk, str what) except *:
    """Nearest-rounding GEMM params of the image-wise float-format convs."""
    cdef dfp_fpemu_gemm_params p
    p.in_a = to_c_format(in_a, what)
    p.in_b = to_c_format(in_b, what)
    p.acc = to_c_format(acc, what)
    p.in_rounding = DFP_ROUND_NEAREST
    p.acc_rounding = DFP_ROUND_NEAREST
    p.chunk = chunk
    p.seed = 0
    p.stream = 0
    return p


ctypedef dfp_status (*fpemu_conv_fn)(const dfp_conv2d_shape *, const float *, const float *,
                                     const dfp_fpemu_gemm_params *, float *) noexcept nogil


cdef _fpemu_conv(fpemu_conv_fn fn, str what, dfp_conv2d_shape s, p, q, in_p, in_q, acc, int64_t chunk,
                 out_shape):
    """One dfp_conv2d_fpemu_* pass: inputs p, q (float32) rounded to in_p, in_q; a new output."""
    cdef cnp.ndarray P = _as_f32(p, f"{what} input")
    cdef cnp.ndarray Q = _as_f32(q, f"{what} input")
    cdef dfp_fpemu_gemm_params prm = _fpemu_params(in_p, in_q, acc, chunk, what)
    cdef cnp.ndarray out = np.empty(tuple(out_shape), np.float32)
    cdef dfp_status st
    with nogil:
        st = fn(&s, <const float *>cnp.PyArray_DATA(P), <const float *>cnp.PyArray_DATA(Q), &prm,
                <float *>cnp.PyArray_DATA(out))
    check(st, what)
    return out


def conv_fpemu_forward(x, w, stride, padding, dilation, y_shape, in_x, in_w, acc, int64_t chunk):
    """y (y_shape, NCHW) of the conv in an emulated float format, nearest rounding
    (dfp_conv2d_fpemu_forward); in_x, in_w, acc: (exp_bits, man_bits, bias, saturate)."""
    s = _bfp_conv_shape(np.shape(x), np.shape(w), stride, padding, dilation)
    return _fpemu_conv(dfp_conv2d_fpemu_forward, "conv_fpemu_forward", s, x, w, in_x, in_w, acc, chunk,
                       y_shape)


def conv_fpemu_backward_data(dy, w, x_shape, stride, padding, dilation, in_dy, in_w, acc, int64_t chunk):
    """dx (x_shape) of the conv in an emulated float format, nearest rounding
    (dfp_conv2d_fpemu_backward_data)."""
    s = _bfp_conv_shape(x_shape, np.shape(w), stride, padding, dilation)
    return _fpemu_conv(dfp_conv2d_fpemu_backward_data, "conv_fpemu_backward_data", s, dy, w, in_dy, in_w,
                       acc, chunk, x_shape)


def conv_fpemu_backward_weight(x, dy, w_shape, stride, padding, dilation, in_dy, in_x, acc, int64_t chunk):
    """dw (w_shape) of the conv in an emulated float format, nearest rounding
    (dfp_conv2d_fpemu_backward_weight); in_dy is dy's format, in_x x's."""
    s = _bfp_conv_shape(np.shape(x), w_shape, stride, padding, dilation)
    # the C function takes (x, dy) with p->in_a = dy's format
    return _fpemu_conv(dfp_conv2d_fpemu_backward_weight, "conv_fpemu_backward_weight", s, x, dy, in_dy,
                       in_x, acc, chunk, w_shape)
