"""Reverse-mode autograd: recording ops, grad mode, and the backward walk.

An op computes its output array, then calls `record(out, parents, backward)`:
`backward(grad_out)` returns one gradient array (or None) per parent. The walk
visits tensors in reverse topological order and adds each returned gradient
into its parent's running total, so a tensor used twice gets the sum. Totals of
intermediate tensors live only during the walk; leaves that require grad keep
theirs in `.grad`, added to what is there (accumulation across calls).
"""
import contextlib
import threading

import numpy as np

_mode = threading.local()


def is_grad_enabled():
    return getattr(_mode, "enabled", True)


@contextlib.contextmanager
def _grad_mode(enabled):
    previous = is_grad_enabled()
    _mode.enabled = enabled
    try:
        yield
    finally:
        _mode.enabled = previous


def no_grad():
    """Context manager: ops inside record no graph (evaluation, parameter updates)."""
    return _grad_mode(False)


def enable_grad():
    return _grad_mode(True)


def record(out, parents, backward, fresh=False, adds_into=None):
    """Make `out` a graph node when grad mode is on and some parent requires grad.

    Two promises an op may make, which let the walk skip a pass over a tensor with two
    consumers (a ResNet block's input): `fresh`, every array `backward` returns is new and
    held by nothing else, so the walk may add into it; `adds_into=i`, `backward(g, into=t)`
    adds parent i's gradient into the walk's running total t in place and returns t itself
    (rounded as t + gradient), when the walk offers one it owns."""
    if is_grad_enabled() and any(p.requires_grad for p in parents):
        out.requires_grad = True
        out._parents = tuple(parents)
        out._backward = backward
        if fresh:
            out._grad_fresh = True
        if adds_into is not None:
            out._adds_into = adds_into
    return out


def _topological_order(root):
    """Tensors reachable from `root` through recorded parents, each after all its consumers."""
    order, visited, stack = [], set(), [(root, False)]
    while stack:  # iterative DFS: deep nets would overflow Python's recursion limit
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        # the first parent is explored first, so it comes last in the walk: an op's later
        # inputs (a residual) get their gradients before its first input's chain (the block's
        # convs) reaches a tensor they share, and the conv then adds into that total
        for parent in reversed(node._parents):
            if parent.requires_grad and id(parent) not in visited:
                stack.append((parent, False))
    return order[::-1]


_NATIVE_ADD_MIN = 1 << 16   # elements: below this numpy's add beats a threaded call


def _sum(a, b):
    """Gradient of a tensor with two consumers (ResNet's residual inputs): large float32
    sums go through the threaded native add (a step held 12 ms of single-threaded numpy
    adds of 2-8 MB arrays)."""
    if (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.size >= _NATIVE_ADD_MIN
            and a.shape == b.shape and a.dtype == b.dtype == np.float32
            and a.flags.c_contiguous and b.flags.c_contiguous):
        from ._native import _fp32
        return _fp32.add(a, b)
    return a + b


def backward(root, gradient):
    """Accumulate d(root)/d(leaf), weighted by `gradient`, into every leaf's `.grad`."""
    from .tensor import Tensor

    if not root.requires_grad:
        raise RuntimeError("backward: the tensor does not require grad and has no graph")
    if gradient is None:
        if root.numpy().size != 1:
            raise RuntimeError(f"backward: grad can be implicitly created only for scalar outputs; "
                               f"pass gradient= for shape {root.shape}")
        gradient = np.ones(root.shape, dtype=np.float32)
    else:
        gradient = np.asarray(gradient.numpy() if isinstance(gradient, Tensor) else gradient,
                              dtype=np.float32)
        if gradient.shape != root.shape:
            raise ValueError(f"backward: gradient shape {gradient.shape} differs from tensor shape {root.shape}")
    totals = {id(root): gradient}
    owned = set()  # keys whose running total only this walk holds: ops may add into it
    with no_grad():
        for node in _topological_order(root):
            grad = totals.pop(id(node), None)
            owned.discard(id(node))
            if grad is None:
                continue
            if node._backward is None:
                node._accumulate_grad(grad)
                continue
            into = None
            if node._adds_into is not None and id(node._parents[node._adds_into]) in owned:
                into = totals[id(node._parents[node._adds_into])]
            grads = node._backward(grad) if into is None else node._backward(grad, into=into)
            for parent, parent_grad in zip(node._parents, grads):
                if parent_grad is None or not parent.requires_grad:
                    continue
                key = id(parent)
                if key not in totals:
                    totals[key] = parent_grad
                    if node._grad_fresh:
                        owned.add(key)
                elif parent_grad is not totals[key]:  # (else it was added into the total in place)
                    totals[key] = _sum(totals[key], parent_grad)
                    owned.add(key)
