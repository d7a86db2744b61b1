"""The format the active precision policy gives each GEMM layer in each pass, for display."""
from dfpengine import nn, precision


def _describe(fmt):
    if fmt is None:
        return "fp32"
    def one(spec):
        return spec.name if spec.rounding == "nearest" else f"{spec.name}({spec.rounding})"
    a, b = one(fmt.a), one(fmt.b)
    return a if a == b else f"{a} x {b}"


def gemm_layers(model):
    """(name, module) of every convolution and linear layer, in forward-definition order."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def precision_rows(model, policy):
    """[(layer name, role, {pass: format description})] as `policy` maps them."""
    rows = []
    for name, layer in gemm_layers(model):
        formats = {p: _describe(policy.gemm_format(layer, p)) for p in precision.PASSES}
        rows.append((name, getattr(layer, "role", "-"), formats))
    return rows


def format_table(rows, policy_name):
    header = ("layer", "role") + precision.PASSES
    lines = [header] + [(name, role) + tuple(f[p] for p in precision.PASSES) for name, role, f in rows]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    text = [f"precision policy: {policy_name}"]
    text += ["  ".join(str(v).ljust(w) for v, w in zip(line, widths)).rstrip() for line in lines]
    return "\n".join(text)
