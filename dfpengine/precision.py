"""Precision policies: which format each (layer role, pass) uses.

Layers carry `role` ("first", "last", "other") and `name`; ops ask
`current().gemm_format(layer, pass_)` and get a GemmFormat or None (FP32).
This module is the minimal FP32 policy; presets for the other formats register
themselves in `PRESETS`.
"""
import contextlib

PASSES = ("fprop", "bprop", "wtgrad")
ROLES = ("first", "last", "other")


class Policy:
    """Maps (layer, pass) to a GemmFormat; the FP32 policy maps everything to None."""

    name = "fp32"

    def gemm_format(self, layer, pass_):
        return None

    def set_progress(self, epoch=0, total_epochs=1, step=0, total_steps=1):
        """Training progress, for policies with schedules."""


PRESETS = {"fp32": Policy}
_stack = [Policy()]


def current():
    return _stack[-1]


def preset(name):
    """Return the policy registered as `name`; usable as a context manager."""
    try:
        factory = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown precision preset {name!r}; known: {sorted(PRESETS)}") from None
    return factory()


@contextlib.contextmanager
def use(policy):
    """Make `policy` (a Policy or a preset name) current inside the block."""
    if isinstance(policy, str):
        policy = preset(policy)
    _stack.append(policy)
    try:
        yield policy
    finally:
        _stack.pop()


Policy.__enter__ = lambda self: (_stack.append(self), self)[1]
Policy.__exit__ = lambda self, *exc: _stack.pop() and None
