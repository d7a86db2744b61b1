"""Element-wise arithmetic with numpy broadcasting; gradients are summed back to each input's shape."""
import numpy as np

from ..autograd import record
from ..tensor import Tensor, as_tensor


def unbroadcast(grad, shape):
    """Sum `grad` over the axes broadcasting added or stretched to reach it from `shape`."""
    if grad.shape == shape:
        return grad
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape)))) if grad.ndim > len(shape) else grad
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad


def _binary(a, b, forward, backward):
    a, b = as_tensor(a), as_tensor(b)
    out = Tensor(forward(a.numpy(), b.numpy()))
    return record(out, (a, b), lambda g: tuple(
        unbroadcast(grad, t.shape) if grad is not None else None
        for grad, t in zip(backward(g, a.numpy(), b.numpy()), (a, b))))


def add(a, b):
    return _binary(a, b, np.add, lambda g, x, y: (g, g))


def sub(a, b):
    return _binary(a, b, np.subtract, lambda g, x, y: (g, -g))


def mul(a, b):
    return _binary(a, b, np.multiply, lambda g, x, y: (g * y, g * x))


def div(a, b):
    return _binary(a, b, np.true_divide, lambda g, x, y: (g / y, -g * x / (y * y)))


def neg(a):
    return record(Tensor(-a.numpy()), (a,), lambda g: (-g,))


def pow(a, exponent):
    if not isinstance(exponent, (int, float)):
        raise TypeError(f"pow: expected a Python int or float exponent, received {type(exponent).__name__}")
    x = a.numpy()
    return record(Tensor(x ** exponent), (a,), lambda g: (g * exponent * x ** (exponent - 1),))


def exp(a):
    y = np.exp(a.numpy())
    return record(Tensor(y), (a,), lambda g: (g * y,))


def log(a):
    x = a.numpy()
    return record(Tensor(np.log(x)), (a,), lambda g: (g / x,))
