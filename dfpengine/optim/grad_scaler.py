"""Loss scaling for low-precision training (Micikevicius et al. 2018; used by
Wang et al. 2018 for FP8): small gradients underflow FP8 (smallest subnormal
2^-16), so the loss is multiplied by a scale S before backward and the
gradients are divided by S before the update.

`GradScaler` follows torch.cuda.amp.GradScaler's surface:

    scaler = GradScaler()                  # dynamic; GradScaler(1024.0, dynamic=False) is static
    scaler.scale(loss).backward()
    scaler.step(optimizer)                 # unscales (unless unscale_ was called), skips on inf/NaN
    scaler.update()                        # dynamic: backoff on inf/NaN, growth after N clean steps

Dynamic: a step whose gradients hold inf or NaN is skipped and S is multiplied
by `backoff_factor`; after `growth_interval` consecutive clean steps S is
multiplied by `growth_factor`. Static: S never changes (inf/NaN steps are
still skipped). Scales are powers of two by default, so unscaling is exact.
Note: the FP8 and FP16 (1,6,9) conversions saturate, so an overflow inside
a quantised GEMM input clips rather than becoming inf; the scaler reacts to
the inf/NaN that reach the FP32 gradients (the loss, FP32 layers, updates).
"""
import math

import numpy as np


class GradScaler:
    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, dynamic=True, enabled=True):
        if not (init_scale > 0 and math.isfinite(init_scale)):
            raise ValueError(f"GradScaler: init_scale must be a positive finite number, got {init_scale!r}")
        if growth_factor <= 1.0:
            raise ValueError(f"GradScaler: growth_factor must be > 1, got {growth_factor!r}")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"GradScaler: backoff_factor must be in (0, 1), got {backoff_factor!r}")
        if not isinstance(growth_interval, int) or growth_interval < 1:
            raise ValueError(f"GradScaler: growth_interval must be an int >= 1, got {growth_interval!r}")
        self._scale = float(init_scale)
        self.growth_factor, self.backoff_factor = float(growth_factor), float(backoff_factor)
        self.growth_interval, self.dynamic, self.enabled = growth_interval, bool(dynamic), bool(enabled)
        self._growth_tracker = 0
        self._found_inf = {}              # id(optimizer) -> bool, for this iteration

    def is_enabled(self):
        return self.enabled

    def get_scale(self):
        return self._scale if self.enabled else 1.0

    def scale(self, loss):
        """loss * S (a Tensor, so backward produces scaled gradients)."""
        return loss * self._scale if self.enabled else loss

    def unscale_(self, optimizer):
        """Divide the gradients of `optimizer`'s parameters by S in place; remember
        whether any of them is inf or NaN. At most once per step."""
        if not self.enabled:
            return
        if id(optimizer) in self._found_inf:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update()")
        inv = 1.0 / self._scale
        found = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.numpy()
                np.multiply(g, np.float32(inv), out=g)
                found = found or not bool(np.isfinite(g).all())
        self._found_inf[id(optimizer)] = found

    def step(self, optimizer):
        """optimizer.step() on unscaled gradients unless they hold inf/NaN; returns
        True when the step ran."""
        if not self.enabled:
            optimizer.step()
            return True
        if id(optimizer) not in self._found_inf:
            self.unscale_(optimizer)
        if self._found_inf[id(optimizer)]:
            return False
        optimizer.step()
        return True

    def update(self, new_scale=None):
        """End of iteration: set S to `new_scale`, or (dynamic) back off after an
        inf/NaN step and grow after `growth_interval` clean steps in a row."""
        if not self.enabled:
            return
        found_inf = any(self._found_inf.values())
        self._found_inf = {}
        if new_scale is not None:
            self._scale, self._growth_tracker = float(new_scale), 0
            return
        if not self.dynamic:
            return
        if found_inf:
            self._scale *= self.backoff_factor
            self._growth_tracker = 0
        else:
            self._growth_tracker += 1
            if self._growth_tracker == self.growth_interval:
                self._scale *= self.growth_factor
                self._growth_tracker = 0

    def state_dict(self):
        return {"scale": self._scale, "growth_factor": self.growth_factor,
                "backoff_factor": self.backoff_factor, "growth_interval": self.growth_interval,
                "dynamic": self.dynamic, "growth_tracker": self._growth_tracker}

    def load_state_dict(self, state):
        self._scale = float(state["scale"])
        self.growth_factor, self.backoff_factor = float(state["growth_factor"]), float(state["backoff_factor"])
        self.growth_interval, self.dynamic = int(state["growth_interval"]), bool(state["dynamic"])
        self._growth_tracker = int(state["growth_tracker"])
