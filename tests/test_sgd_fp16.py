"""FP16 (1,6,9) stochastic-rounding SGD: numerics.md 2, "stochastic weight update"."""
import numpy as np
import pytest

from dfpengine.formats import floats
from dfpengine.nn.module import Parameter
from dfpengine.optim import SGD, SGDFP16
from dfpengine.tensor import Tensor

ULP_AT_ONE = 2.0 ** -9   # FP16 (1,6,9) ulp in [1, 2)


def one_param(n=100_000, value=1.5):  # mid-binade: the ulp is the same either side
    p = Parameter(np.full(n, value, np.float32))
    p.grad = Tensor(np.full(n, 1.0, np.float32))
    return p


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_tenth_of_an_ulp_update(rounding):
    p = one_param()
    opt = SGDFP16([p], lr=0.1 * ULP_AT_ONE, rounding=rounding, seed=1)
    opt.step()
    changed = (p.numpy() != 1.5).mean()
    if rounding == "nearest":
        assert changed == 0.0                   # never changes: stalls forever
    else:
        sigma = np.sqrt(0.1 * 0.9 / p.numpy().size)
        assert abs(changed - 0.1) < 3 * sigma    # changes with probability ~0.1
        assert set(np.unique(p.numpy())) == {np.float32(1.5), np.float32(1.5 - ULP_AT_ONE)}


def test_mean_drift_matches_fp32():
    p, q = one_param(20_000), one_param(20_000)
    lr = 0.1 * ULP_AT_ONE
    low, ref = SGDFP16([p], lr=lr, seed=2), SGD([q], lr=lr)
    for _ in range(50):
        low.step()
        ref.step()
    drift, drift_ref = 1.5 - p.numpy().astype(np.float64).mean(), 1.5 - q.numpy().mean()
    assert abs(drift - drift_ref) < 0.03 * drift_ref
    assert np.array_equal(floats.quantize(p.numpy(), "fp16_169"), p.numpy())


def test_momentum_buffer_on_grid_and_seeded():
    runs = []
    for _ in range(2):
        rng = np.random.default_rng(0)
        p = Parameter(rng.standard_normal(1000).astype(np.float32))
        opt = SGDFP16([p], lr=0.01, momentum=0.9, weight_decay=1e-4, seed=5)
        for _ in range(3):
            p.grad = Tensor(rng.standard_normal(1000).astype(np.float32))
            opt.step()
        buf = opt.state[p]["momentum_buffer"]
        assert np.array_equal(floats.quantize(buf, "fp16_169"), buf)
        assert opt.state[p]["step"] == 3
        runs.append(p.numpy().copy())
    assert np.array_equal(runs[0], runs[1])
