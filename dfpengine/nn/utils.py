"""Model helpers: layer roles for the precision policy, and the batch-norm + ReLU fusion switch."""
import contextlib

_fusion = {"enabled": True}


def fusion_enabled():
    """Whether BatchNorm layers asked for a following ReLU (and residual add) run the fused op."""
    return _fusion["enabled"]


@contextlib.contextmanager
def fusion(enabled):
    """Context manager: `with nn.utils.fusion(False):` runs batch norm, add and ReLU as separate
    ops (the reference the fused op is tested against). Numbers are the same either way."""
    previous = _fusion["enabled"]
    _fusion["enabled"] = bool(enabled)
    try:
        yield
    finally:
        _fusion["enabled"] = previous


def assign_layer_roles(model):
    """Set `name` (dotted, as in named_modules) on every module, and `role` on every Conv2d/Linear:
    "first" and "last" for the first and last in definition order, "other" for the rest.
    A model with a single such layer marks it "first"."""
    from .layers import _GemmLayer

    gemm_layers = []
    for name, module in model.named_modules():
        module.name = name
        if isinstance(module, _GemmLayer):
            module.role = "other"
            gemm_layers.append(module)
    if gemm_layers:
        gemm_layers[-1].role = "last"
        gemm_layers[0].role = "first"
    return model
