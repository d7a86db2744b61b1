"""Native glue: the functions of docs/native_contract.md.

Each name comes from the first compiled (Cython) module that defines it; names
no compiled module provides fall back to the numpy reference, and are listed in
`REFERENCE_ONLY` so tests and `dfpengine info` can show it.
"""
import importlib
import os

import numpy as np

from . import reference


def _openmp_defaults():
    """Bounded OpenMP spin-waiting unless the user chose a policy.

    libgomp's default spins ~300k iterations at the end of every parallel
    region. On a shared server (more runnable threads than cores) a spinning
    thread steals the core its partner needs and a step that takes 50 ms quiet
    takes seconds (measured: resnet20 DFP16 step 16 vs 61 images/s, lenet5 480
    vs 4270, at load 5 on 2 cores). A short spin then sleep costs microseconds
    per region when cores are free. libgomp reads these variables when it is
    loaded, i.e. at the import of the first compiled module below."""
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = "10000"


_openmp_defaults()

CONTRACT = (
    "gemm", "conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight",
    "relu_forward", "relu_backward",
    "batch_norm_stats", "batch_norm_stats_from_planes", "batch_norm_apply", "batch_norm_backward",
    "batch_norm_relu_forward", "batch_norm_relu_backward",
    "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d_forward", "avg_pool2d_backward",
    "subsample_pad", "subsample_pad_backward",
    "isa_compiled", "isa_supported", "isa_selected", "select_isa",
    "set_num_threads", "get_num_threads",
)

# compiled modules, in order of preference; each is optional while the engine grows
_COMPILED = ("_dispatch", "_fp32", "_int")

_modules = []
for _name in _COMPILED:
    try:
        _modules.append(importlib.import_module(f"{__name__}.{_name}"))
    except ImportError:
        pass

REFERENCE_ONLY = []
for _fn in CONTRACT:
    for _mod in _modules:
        if hasattr(_mod, _fn):
            globals()[_fn] = getattr(_mod, _fn)
            break
    else:
        if hasattr(reference, _fn):
            globals()[_fn] = getattr(reference, _fn)
            REFERENCE_ONLY.append(_fn)


def _apply_environment():
    """A forced ISA the CPU lacks is an error, not a silent fallback."""
    from dfpengine import config
    forced = config.isa()
    if forced:
        try:
            select_isa(forced)
        except ValueError as exc:
            raise RuntimeError(f"DFPENGINE_ISA={forced}: {exc}") from None
    threads = config.num_threads()
    if threads:
        set_num_threads(threads)
    _install_array_cache(config.array_cache_bytes())


try:  # the block cache under numpy's arrays (optional while the engine grows, as above)
    from . import _memory
except ImportError:
    _memory = None


def empty_cache():
    """Free the array memory the block cache keeps for reuse (arrays in use stay)."""
    if _memory is not None:
        _memory.release()


def memory_stats():
    """The block cache's counters: cached_bytes and cached_blocks (kept for reuse now),
    limit_bytes, hits and misses (large allocations served from kept blocks, or not)."""
    if _memory is None:
        return {"cached_bytes": 0, "cached_blocks": 0, "limit_bytes": 0, "hits": 0, "misses": 0}
    return _memory.stats()


def _install_array_cache(limit):
    """numpy arrays allocated in this context through the library's block cache
    (see _memory), unless its limit is 0 or the module is not built."""
    if _memory is None:
        return
    _memory.set_limit(limit)
    if limit:
        _memory.install()


# ---- low-precision routing ---------------------------------------------------
# The GEMM-family contract functions take `fmt`; FP32 goes to the functions
# above, any other format to the `*_quantized` functions of the compiled module
# that implements it (keyed by the format tag of the GEMM's first operand).
# Float formats and block formats are served by Python modules over C kernels
# (FP8-emulation GEMM; BFP quantiser + integer block GEMM); see their docstrings.
QUANTIZED_PROVIDERS = {"dfp16": "_int"}
QUANTIZED_PROVIDERS.update(dict.fromkeys(("fp8", "fp16_169", "fp16", "binary16", "bf16"), "_fpemu_ops"))
QUANTIZED_PROVIDERS.update(dict.fromkeys(("hbfp", "hbfp8", "hbfp6", "hbfp4", "mx", "mxint8"), "_hbfp_ops"))
QUANTIZED_PROVIDERS["mxfp8"] = "_mx_ops"

try:  # INT32 flush and saturation counters of the integer GEMM (read by the profiler)
    from ._int import gemm_stats, reset_gemm_stats
except ImportError:
    pass

_fp32_impl = {fn: globals()[fn] for fn in
              ("gemm", "conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight")}


def _is_fp32(fmt):
    return fmt is None or (fmt.a.name == "fp32" and fmt.b.name == "fp32")


def _tag(fmt):
    """The format tag that picks a GEMM's provider: its first non-FP32 operand's."""
    return fmt.a.name if fmt.a.name != "fp32" else fmt.b.name


_PROVIDERS = {}  # format tag -> its provider module, imported once


def _quantized(fn, fmt):
    tag = _tag(fmt)
    module = _PROVIDERS.get(tag)
    if module is None:
        name = QUANTIZED_PROVIDERS.get(tag)
        if name is None:
            raise NotImplementedError(f"no native GEMM for format {tag!r}; "
                                      f"implemented: fp32, {', '.join(sorted(QUANTIZED_PROVIDERS))}")
        module = _PROVIDERS[tag] = importlib.import_module(f"{__name__}.{name}")
    return getattr(module, fn + "_quantized")


def gemm(a, b, trans_a=False, trans_b=False, fmt=None):
    if _is_fp32(fmt):
        return _fp32_impl["gemm"](a, b, trans_a, trans_b)
    return _quantized("gemm", fmt)(a, b, trans_a, trans_b, fmt)


def _integer(fmt):
    """Whether the integer module (`_int`) serves this format."""
    return not _is_fp32(fmt) and QUANTIZED_PROVIDERS.get(_tag(fmt)) == "_int"


def _cache_kw(fmt, cache):
    """The integer module keeps a conv input's codes from FPROP, and its output gradient's
    from BPROP, for WTGRAD (`cache`, a dict the conv op holds between its passes); the
    other providers take no cache."""
    return {"cache": cache} if cache is not None and _integer(fmt) else {}


def fuses_bn_relu(fmt):
    """Whether conv2d_forward with this format applies `bn_relu` inside its quantiser."""
    return _integer(fmt)


def writes_plane_sums(fmt):
    """Whether conv2d_forward with this format takes `y_sums` (batch norm's plane sums of its
    output, summed while the output is in cache; see batch_norm_stats_from_planes)."""
    return (_is_fp32(fmt) and "conv2d_forward" not in REFERENCE_ONLY) or _integer(fmt)


def conv2d_forward(x, w, bias, stride, padding, dilation, fmt=None, cache=None, bn_relu=None,
                   y_sums=None):
    """The conv; with bn_relu = (scale, shift) (per channel), of batch norm's output
    relu(x * scale + shift), which the integer module quantises without storing it; with
    (scale, shift, residual, out), of relu(x * scale + shift + residual) (residual None:
    none), also written into `out`. With `y_sums` (where writes_plane_sums(fmt)), batch
    norm's plane sums of the output are written there."""
    sums_kw = {}
    if y_sums is not None:
        if not writes_plane_sums(fmt):
            raise ValueError(f"conv2d_forward: y_sums is not available for format {_tag(fmt)!r}")
        sums_kw = {"y_sums": y_sums}
    if bn_relu is not None:
        if fuses_bn_relu(fmt):
            return _quantized("conv2d_forward", fmt)(x, w, bias, stride, padding, dilation, fmt,
                                                     bn_relu=bn_relu, **_cache_kw(fmt, cache), **sums_kw)
        scale, shift, residual, out = tuple(bn_relu) + (None, None) if len(bn_relu) == 2 else bn_relu
        x = batch_norm_relu_forward(x, scale, shift, residual)
        if out is not None:
            out[...] = x
    if _is_fp32(fmt):
        return _fp32_impl["conv2d_forward"](x, w, bias, stride, padding, dilation, **sums_kw)
    return _quantized("conv2d_forward", fmt)(x, w, bias, stride, padding, dilation, fmt,
                                             **_cache_kw(fmt, cache), **sums_kw)


def conv2d_backward_data(dy, w, x_shape, stride, padding, dilation, fmt=None, cache=None,
                         add_into=None):
    """The data gradient; with `add_into` (a float32 array of x's shape) it is added into that
    array, rounded as `add_into + dx`, and the array is returned. The integer module adds in
    its epilogue; other formats compute dx, then add it in place."""
    if add_into is not None and _integer(fmt):
        return _quantized("conv2d_backward_data", fmt)(dy, w, x_shape, stride, padding, dilation, fmt,
                                                       add_into=add_into, **_cache_kw(fmt, cache))
    if _is_fp32(fmt):
        dx = _fp32_impl["conv2d_backward_data"](dy, w, x_shape, stride, padding, dilation)
    else:
        dx = _quantized("conv2d_backward_data", fmt)(dy, w, x_shape, stride, padding, dilation, fmt,
                                                     **_cache_kw(fmt, cache))
    if add_into is None:
        return dx
    if add_into.shape != dx.shape or add_into.dtype != dx.dtype:
        raise ValueError(f"conv2d_backward_data: add_into has shape {add_into.shape} and dtype "
                         f"{add_into.dtype}, expected {dx.shape} {dx.dtype}")
    return _add_in_place(add_into, dx)


def _add_in_place(total, part):
    """total += part (float32, one shape): the threaded native add when it is built."""
    try:
        from ._fp32 import add as native_add
    except ImportError:
        return np.add(total, part, out=total)
    return native_add(total, part, out=total)


def conv2d_backward_weight(x, dy, w_shape, stride, padding, dilation, fmt=None, cache=None):
    """x: the input array, or an object with `shape` and `numpy()` giving it on demand (an input
    the integer module's FPROP never stored: asked only where its kept codes cannot serve)."""
    if not isinstance(x, np.ndarray) and not fuses_bn_relu(fmt):
        x = np.ascontiguousarray(x.numpy())
    if _is_fp32(fmt):
        return _fp32_impl["conv2d_backward_weight"](x, dy, w_shape, stride, padding, dilation)
    return _quantized("conv2d_backward_weight", fmt)(x, dy, w_shape, stride, padding, dilation, fmt,
                                                     **_cache_kw(fmt, cache))


_apply_environment()
