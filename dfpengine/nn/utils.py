"""Model helpers that the precision policy relies on."""


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
