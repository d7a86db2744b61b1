"""Numeric formats: one registry, used by the precision policy and the native glue.

A `FormatSpec` names a format and its parameters (rounding mode, shift, block);
a `GemmFormat` says which format each input of one GEMM pass gets. `None` in
place of a GemmFormat means plain FP32.
"""
import functools
from dataclasses import dataclass, field

ROUNDING_MODES = ("nearest", "stochastic", "biased")


@functools.lru_cache(maxsize=256)
def _params_dict(params):
    """A FormatSpec's params as a dict, built once per distinct tuple (read per GEMM call)."""
    return dict(params)


@dataclass(frozen=True)
class FormatSpec:
    name: str                      # registry tag: "fp32", "dfp16", "fp8", "hbfp", ...
    rounding: str = "nearest"
    params: tuple = ()             # sorted (key, value) pairs, hashable

    def param(self, key, default=None):
        try:
            return _params_dict(self.params).get(key, default)
        except TypeError:  # an unhashable value: no cache
            return dict(self.params).get(key, default)


@dataclass(frozen=True)
class GemmFormat:
    a: FormatSpec
    b: FormatSpec
    # stochastic-rounding stream key of this GEMM (precision.gemm_formats derives it from
    # step, layer and pass, so a resumed run draws the same numbers); None: the glue's
    # process-wide call counter
    stream: int = None


FP32 = FormatSpec("fp32")


# ---- DFP16 (dynamic fixed point: int16 mantissas, shared exponent) ----------

GRANULARITIES = ("tensor", "channel", "block")


def dfp16(rounding="nearest", shift=2, granularity="tensor", block=64, seed=0):
    """DFP16 spec: headroom `shift` (0..3), rounding mode, exponent granularity.

    The integer GEMMs use per-tensor exponents; "channel" and "block" are
    offered by the quantiser (`_native._int.quantize_dfp16`)."""
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding: expected one of {ROUNDING_MODES}, received {rounding!r}")
    if not isinstance(shift, int) or isinstance(shift, bool) or not 0 <= shift <= 3:
        raise ValueError(f"shift: expected an int in 0..3, received {shift!r}")
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity: expected one of {GRANULARITIES}, received {granularity!r}")
    params = {"shift": shift, "granularity": granularity, "block": int(block), "seed": int(seed)}
    return FormatSpec("dfp16", rounding, tuple(sorted(params.items())))


def fp32(**_):
    return FP32


REGISTRY = {"fp32": fp32, "dfp16": dfp16}


def get(name, **params):
    """A FormatSpec from its registry tag and parameters: `get("dfp16", rounding="stochastic")`."""
    try:
        factory = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; known: {sorted(REGISTRY)}") from None
    return factory(**params)


def register(name, factory):
    """Add a format factory (used by the other low-precision formats)."""
    REGISTRY[name] = factory


from . import floats, hbfp, mx  # noqa: E402,F401  (register fp8, fp16_169, fp16, binary16, bf16; hbfp*, mx, mxint8; mxfp8)
from .quantized import Quantized, quantize  # noqa: E402,F401  (every float / block tag)
