"""Per-layer, per-pass timing of training steps.

Off by default: ops ask `scope()` at forward time, which returns None unless a
Profiler is active, and `region(None, ...)` is a shared no-op context, so an
unprofiled step pays one attribute read and one call per op.

When active, every region records wall time, arithmetic (ops: a multiply-add
counts 2), bytes moved (inputs read + outputs written, as a lower bound), and the
change in the integer GEMM's flush and saturation counters if the native layer
keeps them. The time a DFP16 convolution spends in its FP32 -> INT16 passes
(measured inside the native call) becomes a row of its own, kind "quantize",
taken out of the pass's row, whose GOP/s are then those of the integer
products. `summary()` aggregates by (layer, pass, kind); `chrome_trace()` gives
events for Perfetto / chrome://tracing (the quantise time drawn at the start of
its pass).
"""
import os
import threading
import time

_active = None
_names = threading.local()


class _NullRegion:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


_NULL = _NullRegion()


def scope():
    """Name of the innermost module being called, or None when profiling is off."""
    if _active is None:
        return None
    stack = getattr(_names, "stack", None)
    return stack[-1] if stack else "(top)"


def enter_module(module):
    """Called by Module.__call__ while a profiler is active."""
    stack = getattr(_names, "stack", None)
    if stack is None:
        stack = _names.stack = []
    stack.append(getattr(module, "_profile_name", type(module).__name__))


def exit_module():
    _names.stack.pop()


def region(name, pass_, kind, ops=0, nbytes=0):
    """Context timing one piece of work of layer `name` (None: profiling off)."""
    if name is None or _active is None:
        return _NULL
    return _Region(_active, name, pass_, kind, ops, nbytes)


def is_active():
    return _active is not None


# bytes a quantised element moves at least: its FP32 value read, its int16 code written
QUANTIZE_BYTES_PER_ELEMENT = 6


def _gemm_counters():
    from dfpengine import _native
    stats = getattr(_native, "gemm_stats", None)
    if stats is None:
        return (0, 0, 0.0, 0)
    s = stats()
    return (int(s.get("flushes", 0)), int(s.get("saturations", 0)),
            float(s.get("quantize_seconds", 0.0)), int(s.get("quantized", 0)))


class _Region:
    __slots__ = ("prof", "key", "ops", "nbytes", "t0", "c0")

    def __init__(self, prof, name, pass_, kind, ops, nbytes):
        self.prof, self.key, self.ops, self.nbytes = prof, (name, pass_, kind), ops, nbytes

    def __enter__(self):
        self.c0 = _gemm_counters()
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        t1 = time.perf_counter()
        c1 = _gemm_counters()
        t0, quant = self.t0, min(c1[2] - self.c0[2], t1 - self.t0)
        if quant > 0:
            name, pass_, _ = self.key
            self.prof._add((name, pass_, "quantize"), t0, t0 + quant, 0,
                           QUANTIZE_BYTES_PER_ELEMENT * (c1[3] - self.c0[3]), 0, 0)
            t0 += quant
        self.prof._add(self.key, t0, t1, self.ops, self.nbytes,
                       c1[0] - self.c0[0], c1[1] - self.c0[1])
        return False


class Profiler:
    """Context manager: `with Profiler(model) as prof: ...steps...; prof.summary()`."""

    def __init__(self, model=None):
        self.model = model
        self.events = []

    def __enter__(self):
        global _active
        if _active is not None:
            raise RuntimeError("a Profiler is already active")
        if self.model is not None:
            for name, module in self.model.named_modules():
                object.__setattr__(module, "_profile_name", name or type(module).__name__)
        self.origin = time.perf_counter()
        _active = self
        return self

    def __exit__(self, *exc):
        global _active
        _active = None
        return False

    def _add(self, key, t0, t1, ops, nbytes, flushes, saturations):
        self.events.append((key, t0, t1, ops, nbytes, flushes, saturations))

    def summary(self, steps=1, peaks=None):
        """Rows per (layer, pass, kind), in first-seen order, times per step.

        `peaks` maps kind -> peak ops/s of the selected ISA, for percent of peak.
        """
        rows = {}
        for (name, pass_, kind), t0, t1, ops, nbytes, flushes, sats in self.events:
            row = rows.setdefault((name, pass_, kind), dict(
                layer=name, pass_=pass_, kind=kind, seconds=0.0, ops=0, bytes=0,
                flushes=0, saturations=0, calls=0))
            row["seconds"] += t1 - t0
            row["ops"] += ops
            row["bytes"] += nbytes
            row["flushes"] += flushes
            row["saturations"] += sats
            row["calls"] += 1
        out = []
        for row in rows.values():
            for key in ("seconds", "ops", "bytes", "flushes", "saturations", "calls"):
                row[key] = row[key] / steps
            row["pass"] = row.pop("pass_")
            secs = row["seconds"]
            row["gops"] = row["ops"] / secs / 1e9 if secs > 0 and row["ops"] else 0.0
            peak = (peaks or {}).get(row["kind"])
            row["percent_of_peak"] = 100.0 * row["gops"] * 1e9 / peak if peak and row["gops"] else None
            out.append(row)
        return out

    def chrome_trace(self):
        """Trace events (complete events, microseconds) for Perfetto."""
        pid = os.getpid()
        return {"traceEvents": [
            {"name": f"{name} {pass_}", "cat": kind, "ph": "X", "pid": pid, "tid": 0,
             "ts": (t0 - self.origin) * 1e6, "dur": (t1 - t0) * 1e6,
             "args": {"ops": ops, "bytes": nbytes, "flushes": fl, "saturations": sat}}
            for (name, pass_, kind), t0, t1, ops, nbytes, fl, sat in self.events]}
