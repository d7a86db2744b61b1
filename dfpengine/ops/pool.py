"""Pooling: max and average (native kernels), adaptive average (PyTorch's bin edges)."""
import numpy as np

from .. import _native, profiler
from ..autograd import record
from ..tensor import Tensor
from .conv import pair


def _geometry(kernel_size, stride, padding):
    kernel = pair("kernel_size", kernel_size)
    stride = kernel if stride is None else pair("stride", stride)
    return kernel, stride, pair("padding", padding)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    kernel, stride, padding = _geometry(kernel_size, stride, padding)
    xa = np.ascontiguousarray(x.numpy())
    name = profiler.scope()
    with profiler.region(name, "fprop", "pool", 0, 4 * xa.size):
        y, argmax = _native.max_pool2d_forward(xa, kernel, stride, padding)

    def backward(g):
        with profiler.region(name, "bprop", "pool", 0, 4 * xa.size):
            return (_native.max_pool2d_backward(np.ascontiguousarray(g), argmax, xa.shape),)
    return record(Tensor(y), (x,), backward)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Average pooling with count_include_pad=True (PyTorch's default)."""
    kernel, stride, padding = _geometry(kernel_size, stride, padding)
    xa = np.ascontiguousarray(x.numpy())
    y = _native.avg_pool2d_forward(xa, kernel, stride, padding)
    return record(Tensor(y), (x,), lambda g: (
        _native.avg_pool2d_backward(np.ascontiguousarray(g), xa.shape, kernel, stride, padding),))


def _bins(size, out):
    """(out, size) averaging matrix: bin i spans [floor(i*size/out), ceil((i+1)*size/out))."""
    i = np.arange(out)
    start, end = (i * size) // out, -((-(i + 1) * size) // out)
    j = np.arange(size)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return (inside / (end - start)[:, None]).astype(np.float32)


def adaptive_avg_pool2d(x, output_size):
    oh, ow = pair("output_size", output_size)
    if x.ndim != 4 or min(oh, ow) < 1:
        raise ValueError(f"adaptive_avg_pool2d: expected NCHW input and positive output size, "
                         f"received input {x.shape} and output_size {output_size}")
    if (oh, ow) == (1, 1):  # global average: a plain mean (einsum would call threaded BLAS,
        return _global_avg_pool2d(x)  # whose spinning workers then compete with the native kernels)
    rows, cols = _bins(x.shape[2], oh), _bins(x.shape[3], ow)
    y = np.einsum("ih,nchw,jw->ncij", rows, x.numpy(), cols, optimize=True)
    return record(Tensor(y.astype(np.float32)), (x,), lambda g: (
        np.einsum("ih,ncij,jw->nchw", rows, g, cols, optimize=True).astype(np.float32),))


def _global_avg_pool2d(x):
    n, c, h, w = x.shape
    y = x.numpy().reshape(n, c, h * w).mean(axis=2, dtype=np.float32).reshape(n, c, 1, 1)
    scale = np.float32(1.0 / (h * w))
    return record(Tensor(y), (x,), lambda g: (np.broadcast_to(g * scale, (n, c, h, w)).copy(),))
