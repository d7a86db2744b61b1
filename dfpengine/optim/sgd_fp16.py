"""SGD with FP16 (1,6,9) weights and momentum, stochastic rounding, no FP32 master
copy: the FP8-training weight update of Wang et al. 2018 (numerics.md 2).

Same formulas as `SGD`; every stored result (weight, momentum buffer) is
rounded to `fmt` after the FP32 computation of that step. Stochastic rounding
is keyed by (seed, stream, element) with a fresh stream per (step, parameter,
buffer), so a seeded run is reproducible on any ISA and thread count. With
`rounding="nearest"` an update below half an ulp never changes a weight: the
stall that stochastic rounding avoids.
"""
from ..formats import floats
from .sgd import SGD

# streams per step: 2 per parameter (weight, momentum); parameters per step below this
_STREAMS_PER_STEP = 1 << 24


class SGDFP16(SGD):
    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, fmt="fp16_169", rounding="stochastic", seed=0):
        super().__init__(params, lr, momentum, dampening, weight_decay, nesterov)
        self.fmt = floats.float_format(fmt)
        if rounding not in ("nearest", "stochastic"):
            raise ValueError(f"SGDFP16: rounding must be 'nearest' or 'stochastic', got {rounding!r}")
        self.rounding, self.seed = rounding, int(seed)
        for pid, p in enumerate(self._indexed_params()):   # weights live on the narrow grid
            w = p.numpy()
            w[...] = self._round(w, 0, pid, 0)

    def _round(self, x, step, pid, kind):
        """Round with the stream of (step, parameter, weight=0/momentum=1); step 0 is the
        initial rounding, so the step count lives in the state (and in state_dict)."""
        stream = step * _STREAMS_PER_STEP + 2 * pid + kind
        return floats.quantize(x, self.fmt, self.rounding, self.seed, stream)

    def _update(self):
        pid = -1
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            decay, nesterov = group["weight_decay"], group["nesterov"]
            for p in group["params"]:
                pid += 1
                if p.grad is None:
                    continue
                w, g = p.numpy(), p.grad.numpy()
                state = self.state.setdefault(p, {})
                step = state["step"] = state.get("step", 0) + 1
                if decay:
                    g = g + decay * w
                if momentum:
                    buf = state.get("momentum_buffer")
                    buf = g if buf is None else momentum * buf + (1 - dampening) * g
                    buf = state["momentum_buffer"] = self._round(buf, step, pid, 1)
                    g = g + momentum * buf if nesterov else buf
                w[...] = self._round(w - lr * g, step, pid, 0)
