"""Activations: relu (native) and dropout (inverted: kept values scaled by 1/(1-p))."""
import numpy as np

from .. import _native, profiler
from ..autograd import record
from ..tensor import Tensor, default_generator


def relu(x):
    xa = np.ascontiguousarray(x.numpy())
    name = profiler.scope()
    with profiler.region(name, "fprop", "relu", 0, 9 * xa.size):
        y, mask = _native.relu_forward(xa)

    def backward(g):
        with profiler.region(name, "bprop", "relu", 0, 9 * xa.size):
            return (_native.relu_backward(np.ascontiguousarray(g), mask),)
    return record(Tensor(y), (x,), backward)


def dropout(x, p=0.5, training=True):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: expected probability p in [0, 1], received {p}")
    if not training or p == 0.0:
        return x
    keep = default_generator().random(x.shape, dtype=np.float32) >= np.float32(p)
    scale = np.float32(0.0 if p == 1.0 else 1.0 / (1.0 - p))
    mask = keep * scale
    return record(Tensor(x.numpy() * mask), (x,), lambda g: (g * mask,))
