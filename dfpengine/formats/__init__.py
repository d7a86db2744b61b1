"""Numeric formats: one registry, used by the precision policy and the native glue.

A `FormatSpec` names a format and its parameters (rounding mode, shift, block);
a `GemmFormat` says which format each input of one GEMM pass gets. `None` in
place of a GemmFormat means plain FP32.
"""
from dataclasses import dataclass, field

ROUNDING_MODES = ("nearest", "stochastic", "biased")


@dataclass(frozen=True)
class FormatSpec:
    name: str                      # registry tag: "fp32", "dfp16", "fp8", "hbfp", ...
    rounding: str = "nearest"
    params: tuple = ()             # sorted (key, value) pairs, hashable

    def param(self, key, default=None):
        return dict(self.params).get(key, default)


@dataclass(frozen=True)
class GemmFormat:
    a: FormatSpec
    b: FormatSpec


FP32 = FormatSpec("fp32")

# name -> format description object, filled by the family modules below; every
# place that names a format (policies, glue, CLI, tests) looks it up here.
REGISTRY = {}


def register(name, fmt):
    if name in REGISTRY and REGISTRY[name] != fmt:
        raise ValueError(f"format {name!r} registered twice")
    REGISTRY[name] = fmt


def lookup(name):
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; known: {sorted(REGISTRY)}") from None


from . import floats, hbfp  # noqa: E402,F401  (register fp8, fp16, binary16, bf16; hbfp*, mx)
