# Included by _fp32.pyx and _int.pyx: the `y_sums` argument of their conv forwards.

cdef double *plane_sums_pointer(sums, y_shape) except? NULL:
    """The data of `sums` (None: NULL) after checking it fits y's planes."""
    if sums is None:
        return NULL
    want = (y_shape[0], y_shape[1], 3)
    if (not isinstance(sums, np.ndarray) or sums.dtype != np.float64 or sums.shape != want
            or not sums.flags.c_contiguous or not sums.flags.writeable):
        raise ValueError(f"y_sums: expected a writable C-contiguous float64 array of shape {want}, "
                         f"received {getattr(sums, 'dtype', type(sums).__name__)} "
                         f"{getattr(sums, 'shape', '')}")
    return <double *>cnp.PyArray_DATA(<cnp.ndarray>sums)
