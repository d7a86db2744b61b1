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


class DFP16Policy(Policy):
    """DFP16 (Das et al. 2018) for every conv/linear GEMM, all roles and passes.

    Operand order per pass: fprop (act, weight), bprop (grad, weight), wtgrad
    (grad, act). Activations and weights round to nearest (ties to even): they
    are re-quantised every step and nearest has the smallest error. Gradients
    round stochastically: many of them are a small fraction of the tensor's max
    and nearest would bias them towards zero step after step; stochastic
    rounding is unbiased, and its counter-based bits keep seeded runs
    reproducible. Headroom shift 2 (13 magnitude bits) as in the paper.
    Master weights, SGD and batch norm stay FP32 (outside this policy)."""

    name = "dfp16"

    def __init__(self, shift=2, act_rounding="nearest", weight_rounding="nearest",
                 grad_rounding="stochastic", seed=0):
        from dfpengine import formats
        act = formats.dfp16(rounding=act_rounding, shift=shift, seed=seed)
        weight = formats.dfp16(rounding=weight_rounding, shift=shift, seed=seed)
        grad = formats.dfp16(rounding=grad_rounding, shift=shift, seed=seed)
        self._formats = {"fprop": formats.GemmFormat(act, weight),
                         "bprop": formats.GemmFormat(grad, weight),
                         "wtgrad": formats.GemmFormat(grad, act)}

    def gemm_format(self, layer, pass_):
        if pass_ not in PASSES:
            raise ValueError(f"pass_: expected one of {PASSES}, received {pass_!r}")
        return self._formats[pass_]


PRESETS = {"fp32": Policy, "dfp16": DFP16Policy}
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
