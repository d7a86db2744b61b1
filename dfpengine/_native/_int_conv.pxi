# DFP16 convolution passes of _int (included there): FPROP, BPROP and WTGRAD with the
# codes of x and dy kept between them.

cdef dfp_conv2d_shape _conv_shape(x_shape, w_shape, stride, padding, dilation):
    cdef dfp_conv2d_shape s
    s.batch, s.in_channels, s.in_h, s.in_w = x_shape
    s.out_channels, _, s.kernel_h, s.kernel_w = w_shape
    s.stride_h, s.stride_w = stride
    s.pad_h, s.pad_w = padding
    s.dilation_h, s.dilation_w = dilation
    return s


def _kept_key(spec, x_shape, geometry):
    """What a kept conv input must match to stand in for WTGRAD's own quantisation of x:
    deterministic rounding (nearest, biased: the same codes whatever the stream), shift,
    shape and geometry."""
    if spec.rounding not in ("nearest", "biased"):
        return None
    return (spec.rounding, spec.param("shift", 2), tuple(x_shape), geometry)


cdef _expect(c.dfp_dfp16_params *p, cache, str tensor):
    """Quantise `tensor` ("x" or "dy") with the exponent it got last time, when the cache
    carries an "exponents" dict (the layer's, kept across steps by the conv op): same codes,
    one read of the FP32 tensor fewer when the exponent has not changed."""
    exps = cache.get("exponents") if cache is not None else None
    if exps is not None and tensor in exps:
        p.expected_exponent = exps[tensor]
        p.use_expected_exponent = 1


def _remember(cache, str tensor, int exponent):
    exps = cache.get("exponents") if cache is not None else None
    if exps is not None:
        exps[tensor] = exponent


cdef _bn_relu_input(bn_relu, x, c.dfp_bn_relu_input *bn):
    """bn_relu = None, (scale, shift) or (scale, shift, residual, out), checked against x,
    as the C struct (pointers NULL where absent)."""
    bn.scale = bn.shift = bn.residual = NULL
    bn.out = NULL
    if bn_relu is None:
        return
    scale, shift, residual, out = tuple(bn_relu) + (None, None) if len(bn_relu) == 2 else bn_relu
    _ref._channels("bn_relu scale", scale, x.shape[1])
    _ref._channels("bn_relu shift", shift, x.shape[1])
    for name, a in (("bn_relu residual", residual), ("bn_relu out", out)):
        if a is not None:
            _ref._array(name, a)
            if a.shape != x.shape:
                raise ValueError(f"conv2d_forward: {name} has shape {a.shape}, expected x's {x.shape}")
    if out is not None and (not out.flags.writeable or np.may_share_memory(out, x)
                            or (residual is not None and np.may_share_memory(out, residual))):
        raise ValueError("conv2d_forward: bn_relu out must be writeable and apart from x and residual")
    bn.scale = <float *>cnp.PyArray_DATA(<cnp.ndarray>scale)
    bn.shift = <float *>cnp.PyArray_DATA(<cnp.ndarray>shift)
    if residual is not None:
        bn.residual = <float *>cnp.PyArray_DATA(<cnp.ndarray>residual)
    if out is not None:
        bn.out = <float *>cnp.PyArray_DATA(<cnp.ndarray>out)


def conv2d_forward_quantized(x, w, bias, stride, padding, dilation, fmt=None, cache=None, bn_relu=None,
                             y_sums=None):
    """DFP16 conv forward: fmt.a is the activation's format, fmt.b the weight's.
    With a dict `cache`, x's codes are kept there for conv2d_backward_weight_quantized
    of the same layer (which then skips re-quantising x), and an "exponents" dict in it
    (see _expect) supplies and receives x's exponent. With bn_relu = (scale, shift), per
    channel, the conv's input is batch norm's relu(x * scale + shift), computed inside the
    quantiser (rounded as batch_norm_relu_forward) and never stored as FP32; with
    (scale, shift, residual, out), relu(x * scale + shift + residual) (residual None: none),
    also written into `out` (float32, x's shape) in the same pass. With `y_sums` (float64,
    (N, O, 3)), batch norm's plane sums of y are written there (as the FP32 conv does)."""
    _ref._array("x", x, ndim=4)
    _ref._array("w", w, ndim=4)
    fa, fb = _fmt(fmt, "conv2d_forward")
    stride, padding, dilation, y_shape = _ref._conv_geometry(x.shape, w.shape, stride, padding, dilation)
    cdef float *pbias = NULL
    if bias is not None:
        _ref._channels("bias", bias, w.shape[0])
        pbias = <float *>cnp.PyArray_DATA(<cnp.ndarray>bias)
    cdef c.dfp_bn_relu_input bn
    _bn_relu_input(bn_relu, x, &bn)
    cdef c.dfp_dfp16_params px = _spec_params(fa, "conv2d_forward", fmt, 0)
    cdef c.dfp_dfp16_params pw = _spec_params(fb, "conv2d_forward", fmt, 1)
    _expect(&px, cache, "x")
    cdef dfp_conv2d_shape s = _conv_shape(x.shape, w.shape, stride, padding, dilation)
    cdef cnp.ndarray y = np.empty(y_shape, np.float32)
    cdef double *psums = plane_sums_pointer(y_sums, y_shape)
    cdef c.dfp_gemm_stats st = [0, 0, 0, 0, 0]
    cdef int status
    cdef cnp.ndarray x_ = x
    cdef cnp.ndarray w_ = w
    cdef c.dfp_dfp16_input kept
    cdef c.dfp_dfp16_input *pkept = NULL
    key = _kept_key(fa, x.shape, (stride, padding, dilation)) if cache is not None else None
    cdef cnp.ndarray pairs
    if key is not None:
        pairs = np.empty(c.dfp_conv2d_dfp16_input_size(&s), np.int16)
        kept.pairs = <int16_t *>cnp.PyArray_DATA(pairs)
        pkept = &kept
    with nogil:
        if bn.scale:
            status = c.dfp_conv2d_forward_dfp16_bn_relu(&s, <float *>cnp.PyArray_DATA(x_), &bn,
                                                        <float *>cnp.PyArray_DATA(w_), pbias,
                                                        <float *>cnp.PyArray_DATA(y), &px, &pw, &st, pkept,
                                                        psums)
        else:
            status = c.dfp_conv2d_forward_dfp16_keep(&s, <float *>cnp.PyArray_DATA(x_),
                                                     <float *>cnp.PyArray_DATA(w_), pbias,
                                                     <float *>cnp.PyArray_DATA(y), &px, &pw, &st, pkept,
                                                     psums)
    check(status, "conv2d_forward")
    _record(&st)
    if key is not None:
        cache["dfp16_input"] = (key, pairs, kept.exponent, kept.max_abs)
        _remember(cache, "x", kept.exponent)
    return y


def _grad_key(spec, dy_shape, geometry):
    """What dy's codes kept by BPROP must match to serve WTGRAD of the same layer: rounding
    and shift (WTGRAD then multiplies BPROP's codes, stochastic draws included: the
    gradient is quantised once, as in Das et al.), shape and geometry."""
    return (spec.rounding, spec.param("shift", 2), tuple(dy_shape), geometry)


def conv2d_backward_data_quantized(dy, w, x_shape, stride, padding, dilation, fmt=None, cache=None,
                                   add_into=None):
    """DFP16 data gradient: fmt.a is dy's format, fmt.b the weight's. With a dict `cache`,
    dy's codes are kept there for conv2d_backward_weight_quantized of the same layer. With
    `add_into` (float32, C-contiguous, x's shape) the gradient is added into that array, each
    element rounded once as `add_into + dx` would be, and the array is returned."""
    _ref._array("w", w, ndim=4)
    x_shape = _ref._shape4("x_shape", x_shape)
    fa, fb = _fmt(fmt, "conv2d_backward_data")
    stride, padding, dilation, y_shape = _ref._conv_geometry(x_shape, w.shape, stride, padding, dilation)
    _ref._check_dy(dy, y_shape)
    cdef c.dfp_dfp16_params pdy = _spec_params(fa, "conv2d_backward_data", fmt, 0)
    cdef c.dfp_dfp16_params pw = _spec_params(fb, "conv2d_backward_data", fmt, 1)
    _expect(&pdy, cache, "dy")
    cdef dfp_conv2d_shape s = _conv_shape(x_shape, w.shape, stride, padding, dilation)
    cdef cnp.ndarray dx
    if add_into is None:
        dx = np.empty(x_shape, np.float32)
    else:
        _ref._array("add_into", add_into)
        if add_into.shape != tuple(x_shape):
            raise ValueError(f"conv2d_backward_data: add_into has shape {add_into.shape}, "
                             f"expected x's {tuple(x_shape)}")
        if not add_into.flags.writeable:
            raise ValueError("conv2d_backward_data: add_into is read-only")
        if np.may_share_memory(add_into, dy) or np.may_share_memory(add_into, w):
            raise ValueError("conv2d_backward_data: add_into overlaps dy or w")
        dx = add_into
    cdef int accumulate = add_into is not None
    cdef c.dfp_gemm_stats st = [0, 0, 0, 0, 0]
    cdef int status
    cdef cnp.ndarray dy_ = dy
    cdef cnp.ndarray w_ = w
    cdef c.dfp_dfp16_input kept
    cdef c.dfp_dfp16_input *pkept = NULL
    cdef cnp.ndarray pairs
    if cache is not None:
        pairs = np.empty(c.dfp_conv2d_dfp16_grad_size(&s), np.int16)
        kept.pairs = <int16_t *>cnp.PyArray_DATA(pairs)
        pkept = &kept
    with nogil:
        if accumulate:
            status = c.dfp_conv2d_backward_data_dfp16_add(&s, <float *>cnp.PyArray_DATA(dy_),
                                                          <float *>cnp.PyArray_DATA(w_),
                                                          <float *>cnp.PyArray_DATA(dx), &pdy, &pw, &st,
                                                          pkept)
        else:
            status = c.dfp_conv2d_backward_data_dfp16_keep(&s, <float *>cnp.PyArray_DATA(dy_),
                                                           <float *>cnp.PyArray_DATA(w_),
                                                           <float *>cnp.PyArray_DATA(dx), &pdy, &pw, &st,
                                                           pkept)
    check(status, "conv2d_backward_data")
    _record(&st)
    if cache is not None:
        cache["dfp16_grad"] = (_grad_key(fa, dy.shape, (stride, padding, dilation)), pairs,
                               kept.exponent, kept.max_abs)
        _remember(cache, "dy", kept.exponent)
    return dx


def conv2d_backward_weight_quantized(x, dy, w_shape, stride, padding, dilation, fmt=None, cache=None):
    """DFP16 weight gradient: fmt.a is dy's format, fmt.b the activation's (act x grad).
    Reuses x's codes kept by the forward pass in `cache` when they are the same codes, and
    then dy's codes kept by the data gradient when the formats agree. x is the input array,
    or an object with `shape` and `numpy()` (an input the forward pass never stored as
    FP32), asked for its array only when the kept codes cannot serve."""
    if isinstance(x, np.ndarray):
        _ref._array("x", x, ndim=4)
    w_shape = _ref._shape4("w_shape", w_shape)
    fa, fb = _fmt(fmt, "conv2d_backward_weight")
    stride, padding, dilation, y_shape = _ref._conv_geometry(x.shape, w_shape, stride, padding, dilation)
    _ref._check_dy(dy, y_shape)
    cdef c.dfp_dfp16_params pdy = _spec_params(fa, "conv2d_backward_weight", fmt, 0)
    cdef c.dfp_dfp16_params px = _spec_params(fb, "conv2d_backward_weight", fmt, 1)
    cdef dfp_conv2d_shape s = _conv_shape(x.shape, w_shape, stride, padding, dilation)
    cdef cnp.ndarray dw = np.empty(w_shape, np.float32)
    cdef c.dfp_gemm_stats st = [0, 0, 0, 0, 0]
    cdef int status
    cdef cnp.ndarray x_
    cdef cnp.ndarray dy_ = dy
    cdef c.dfp_dfp16_input kept
    cdef cnp.ndarray pairs
    cdef c.dfp_dfp16_input kept_dy
    cdef cnp.ndarray dy_pairs
    entry = cache.get("dfp16_input") if cache is not None else None
    grad = cache.get("dfp16_grad") if cache is not None else None
    if entry is not None and entry[0] == _kept_key(fb, x.shape, (stride, padding, dilation)):
        pairs = entry[1]
        kept.pairs = <int16_t *>cnp.PyArray_DATA(pairs)
        kept.exponent, kept.max_abs = entry[2], entry[3]
        if grad is not None and grad[0] == _grad_key(fa, dy.shape, (stride, padding, dilation)):
            dy_pairs = grad[1]
            kept_dy.pairs = <int16_t *>cnp.PyArray_DATA(dy_pairs)
            kept_dy.exponent, kept_dy.max_abs = grad[2], grad[3]
            with nogil:
                status = c.dfp_conv2d_backward_weight_dfp16_codes(&s, &kept, &kept_dy,
                                                                  <float *>cnp.PyArray_DATA(dw), &st)
            check(status, "conv2d_backward_weight")
            _record(&st)
            return dw
        with nogil:
            status = c.dfp_conv2d_backward_weight_dfp16_kept(&s, &kept, <float *>cnp.PyArray_DATA(dy_),
                                                             <float *>cnp.PyArray_DATA(dw), &pdy, &st)
        check(status, "conv2d_backward_weight")
        _record(&st)
        return dw
    x_ = x if isinstance(x, np.ndarray) else _ref._array("x", x.numpy(), ndim=4)
    with nogil:
        status = c.dfp_conv2d_backward_weight_dfp16(&s, <float *>cnp.PyArray_DATA(x_),
                                                    <float *>cnp.PyArray_DATA(dy_),
                                                    <float *>cnp.PyArray_DATA(dw), &px, &pdy, &st)
    check(status, "conv2d_backward_weight")
    _record(&st)
    return dw
