"""Stochastic-rounding streams for the float/block format providers.

Every quantised GEMM (a conv pass is one GEMM) gets a call index: the stream key
its GemmFormat carries (precision.gemm_formats sets it from step, layer and pass,
so a run resumed from a checkpoint draws the same numbers), else the next value
of a process-wide counter. Either way
seeded stochastic rounding draws fresh, reproducible random numbers for every
layer and step instead of one dither pattern reused everywhere. The seed is the
format's `seed` param (default 0); the call index picks the streams. Call
index 0 uses the streams of the oracles (`gemm_fp8`: 0; `hbfp.gemm_reference`:
0 for op(a), 1 for op(b)), which is what the tests compare after `reset()`.
"""
import itertools

_calls = itertools.count()


def reset(start=0):
    """Restart the call index (tests; a run restarting from a checkpoint)."""
    global _calls
    _calls = itertools.count(start)


def next_call(fmt=None):
    """Call index of this GEMM: `fmt`'s stream key when the precision policy set one
    (step, layer and pass: the same after a resume), else the next of the counter."""
    key = getattr(fmt, "stream", None)
    return next(_calls) if key is None else key


def seed(fmt):
    return int(fmt.a.param("seed", 0))
