"""cffi binding of the C API for apps that hold raw buffers.

The declarations are read from the installed copy of `native/include/dfpengine.h`
at import time, so the binding cannot drift from the header: preprocessor lines
and C++ guards are dropped, everything else is handed to cffi as is.

    from dfpengine import capi
    capi.check(capi.lib.dfp_sgemm(0, 0, m, n, k, 1.0, a, k, b, n, 0.0, c, n))

`lib` is the library `dfpengine._native` itself uses, so dispatch and thread
settings are shared with the Python engine.
"""
import os
import re

import cffi

_HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_native")
HEADER_PATH = os.path.join(_HERE, "dfpengine.h")
LIBRARY_PATH = os.path.join(_HERE, "libdfpengine.so")


def header_declarations(text):
    """The header as cffi's cdef accepts it: no preprocessor lines, no C++ guards."""
    text = re.sub(r"#ifdef __cplusplus.*?#endif", "", text, flags=re.S)
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    return "\n".join(lines)


class CapiError(RuntimeError):
    """A dfp_status other than DFP_OK, with the library's message."""

    def __init__(self, status, message):
        super().__init__(f"dfpengine C API error {status}: {message}")
        self.status = status


ffi = cffi.FFI()
with open(HEADER_PATH) as _f:
    ffi.cdef(header_declarations(_f.read()))
lib = ffi.dlopen(LIBRARY_PATH)


def check(status):
    """Raise CapiError for a failing status; return None for DFP_OK."""
    if status != lib.DFP_OK:
        raise CapiError(status, ffi.string(lib.dfp_status_string(status)).decode())


def float_ptr(array):
    """A `float *` into a C-contiguous float32 numpy array (borrowed: keep the array alive)."""
    if array.dtype.name != "float32" or not array.flags.c_contiguous:
        raise ValueError(f"expected a C-contiguous float32 array, got {array.dtype} "
                         f"(contiguous={array.flags.c_contiguous})")
    return ffi.cast("float *", ffi.from_buffer(array))
