"""dfpengine: a CPU training engine for CNNs in low-precision formats, PyTorch-shaped.

The tensor layer and the native glue load eagerly: importing `.tensor` binds
the function `tensor` over the submodule of the same name, which a lazy load
could not guarantee, and a bad DFPENGINE_* setting should fail at import.
nn, optim, precision and formats load on first use.
"""
import importlib

from ._native import empty_cache, get_num_threads, memory_stats, set_num_threads
from .autograd import enable_grad, is_grad_enabled, no_grad
from .tensor import (Tensor, from_numpy, get_rng_state, manual_seed, ones, rand, randn,
                     set_rng_state, tensor, zeros)

__version__ = "0.1.0"

_SUBMODULES = ("nn", "optim", "precision", "formats", "ops")

__all__ = ["Tensor", "tensor", "zeros", "ones", "randn", "rand", "from_numpy", "manual_seed",
           "get_rng_state", "set_rng_state", "no_grad", "enable_grad", "is_grad_enabled",
           "set_num_threads", "get_num_threads", "empty_cache", "memory_stats", *_SUBMODULES, "__version__"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'dfpengine' has no attribute {name!r}")


def __dir__():
    return __all__
