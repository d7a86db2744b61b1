"""SGD with momentum, dampening, weight decay and Nesterov, exactly PyTorch's update:

    g = grad + weight_decay * p
    buf = g (first step)  or  momentum * buf + (1 - dampening) * g
    g = g + momentum * buf (nesterov)  or  buf
    p -= lr * g
"""
from .. import profiler
from .optimizer import Optimizer


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
            if value < 0.0:
                raise ValueError(f"SGD: invalid {name} {value} (expected >= 0)")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def step(self):
        with profiler.region("optimizer" if profiler.is_active() else None, "update", "optimizer"):
            self._update()

    def _update(self):
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            decay, nesterov = group["weight_decay"], group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                w, g = p.numpy(), p.grad.numpy()
                if decay:
                    g = g + decay * w
                if momentum:
                    state = self.state.setdefault(p, {})
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = g.copy()
                    else:
                        buf *= momentum
                        buf += (1 - dampening) * g
                    g = g + momentum * buf if nesterov else buf
                w -= lr * g
