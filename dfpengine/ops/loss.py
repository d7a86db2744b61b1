"""Losses: log_softmax, nll_loss, cross_entropy (= nll_loss of log_softmax).

NaN rule: the losses raise ValueError when their input holds NaN (or +inf
logits, which make NaN), because a NaN loss is where a diverging run must stop
with a message, not carry on silently. Element-wise ops and kernels propagate
NaN without checking.
"""
import numpy as np

from ..autograd import record
from ..tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def log_softmax(x, dim):
    a = x.numpy()
    shifted = a - a.max(axis=dim, keepdims=True)
    y = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    return record(Tensor(y), (x,), lambda g: (g - np.exp(y) * g.sum(axis=dim, keepdims=True),))


def _labels(target, n, classes, name):
    t = target.numpy() if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer class indices as target, received dtype {t.dtype}")
    if t.shape != (n,):
        raise ValueError(f"{name}: expected target of shape ({n},), received {t.shape}")
    if n and (t.min() < 0 or t.max() >= classes):
        raise ValueError(f"{name}: expected target classes in [0, {classes}), "
                         f"received values in [{t.min()}, {t.max()}]")
    return t


def _check_input(x, name, what):
    if x.ndim != 2:
        raise ValueError(f"{name}: expected {what} of shape (N, C), received {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name}: expected a non-empty batch of {what}, received shape {x.shape}")
    if np.isnan(x.numpy()).any():
        raise ValueError(f"{name}: {what} contain NaN ({int(np.isnan(x.numpy()).sum())} values)")


def nll_loss(log_probs, target, reduction="mean"):
    if reduction not in REDUCTIONS:
        raise ValueError(f"nll_loss: expected reduction in {REDUCTIONS}, received {reduction!r}")
    _check_input(log_probs, "nll_loss", "log-probabilities")
    n, classes = log_probs.shape
    t = _labels(target, n, classes, "nll_loss")
    rows = np.arange(n)
    picked = -log_probs.numpy()[rows, t]
    value = {"mean": picked.mean(dtype=np.float32), "sum": picked.sum(), "none": picked}[reduction]
    weight = np.float32(1.0 / n) if reduction == "mean" else np.float32(1.0)

    def backward(g):
        d = np.zeros((n, classes), dtype=np.float32)
        d[rows, t] = -g * weight
        return (d,)
    return record(Tensor(np.asarray(value, dtype=np.float32)), (log_probs,), backward)


def cross_entropy(logits, target, reduction="mean"):
    _check_input(logits, "cross_entropy", "logits")
    if np.isposinf(logits.numpy()).any():
        raise ValueError("cross_entropy: logits contain +inf, which makes the loss NaN")
    return nll_loss(log_softmax(logits, 1), target, reduction)
