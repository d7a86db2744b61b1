"""Ops: one module per family, each op computing forward and recording its backward.

Every op takes and returns Tensors; native kernels come from `dfpengine._native`.
"""
from . import activation, conv, elementwise, linear, loss, norm, pool, reduce, shape  # noqa: F401
