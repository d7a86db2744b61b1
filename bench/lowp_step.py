"""Training-step time of resnet20 (CIFAR size) per precision preset vs FP32.

Usage: python bench/lowp_step.py [batch] [steps] [presets...]
Prints the median step time and its ratio to FP32 (first step is warm-up)."""
import sys
import time

import numpy as np

import dfpengine
from dfpengine import model_zoo, nn, precision
from dfpengine.nn import functional as F
from dfpengine.optim import SGD


def step_times(preset, batch, steps):
    dfpengine.manual_seed(0)
    net = nn.utils.assign_layer_roles(model_zoo.create("resnet20", 10, 3, 32))
    opt = SGD(net.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = dfpengine.from_numpy(rng.standard_normal((batch, 3, 32, 32), np.float32))
    y = dfpengine.from_numpy(rng.integers(0, 10, batch))
    policy = precision.preset(preset)
    policy.set_progress(epoch=0, total_epochs=10)    # not the last epoch (boosters)
    times = []
    with precision.use(policy):
        for _ in range(steps + 1):
            t0 = time.perf_counter()
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
            times.append(time.perf_counter() - t0)
    return float(np.median(times[1:]))


def main():
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    presets = sys.argv[3:] or ["fp32", "fp8", "hbfp8", "hbfp6", "hbfp4", "boosters"]
    base = None
    for p in presets:
        t = step_times(p, batch, steps)
        base = base or t if p == "fp32" else base
        ratio = f"{t / base:6.2f}x" if base else "   n/a"
        print(f"{p:9s} {t * 1e3:9.1f} ms/step  {ratio}", flush=True)


if __name__ == "__main__":
    main()
